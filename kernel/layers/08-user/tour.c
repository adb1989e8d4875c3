/*
 * Layer 08's part of the tour: a program says hello from ring 3, one program started twice
 * lands at two different places (ASLR), one that breaks the rules is ended while the kernel
 * goes on, and every frame comes back.
 */
#include "kprintf.h"
#include "layer.h"
#include "local.h"
#include "paging.h"

#define TOUR_OUT_MAX 512

/* Start name with its arguments, wait for it, show what it printed and how it ended. */
static void tour_run(const char *name, int argc, const char *const argv[])
{
	static char buf[TOUR_OUT_MAX];
	struct program_output out = {buf, sizeof(buf), 0, 0};
	int err = 0;
	struct program *p = program_start(name, argc, argv, &out, &err);

	if (!p) {
		kprintf("  %s: could not start it (error %d)\n", name, err);
		return;
	}
	program_join(p);
	if (out.len)
		kprintf("  %s (pid %d) wrote: %.*s%s", name, p->pid, (int)out.len, buf,
			buf[out.len - 1] == '\n' ? "" : "\n");
	else
		kprintf("  %s (pid %d) wrote nothing\n", name, p->pid);
	if (p->end == PROGRAM_EXITED)
		kprintf("  and exited with status %d\n", p->status);
	else
		kprintf("  and was ended by the kernel (%s)\n",
			p->end == PROGRAM_FAULTED ? "the report is above" : p->note);
	program_free(p);
}

static void tour_programs(void)
{
	static const char *const hello[] = {"hello", "ring", "3"};
	static const char *const layout[] = {"layout"};
	static const char *const fault[] = {"fault", "null-write"};
	uint64_t frames = kframes_free();

	kprintf("%zu programs in the kernel image:", user_image_count());
	for (size_t i = 0; i < user_image_count(); i++)
		kprintf(" %s", user_image_at(i)->name);
	kprintf("\n");
	kprintf("a program, with arguments, in a space of its own:\n");
	tour_run("hello", 3, hello);
	kprintf("the same program started twice (ASLR: new places at every start):\n");
	tour_run("layout", 1, layout);
	tour_run("layout", 1, layout);
	kprintf("a program that writes through a null pointer:\n");
	tour_run("fault", 2, fault);
	kprintf("every program gone: %lu frames free, as before the first (%lu)\n", kframes_free(),
		frames);
}

void user_tour(void)
{
	const char *why = programs_unavailable();

	if (why) {
		kprintf("no programs yet: %s\n", why);
		return;
	}
	LAB_STEP("08-user: the tour", tour_programs());
}
