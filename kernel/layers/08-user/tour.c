/*
 * Layer 08's part of the tour: a program says hello from ring 3, one program started twice
 * lands at two different places (ASLR), one that breaks the rules is ended while the kernel
 * goes on, and every frame comes back. It says what it saw: the same places twice, or frames
 * that did not come back, where that is what happened.
 */
#include "kprintf.h"
#include "layer.h"
#include "local.h"
#include "paging.h"

#define TOUR_OUT_MAX 512

/* Start name with its arguments, wait for it, show what it printed and how it ended. Its
 * first registers (where it started, and its stack) go to *start, where start is not NULL. */
static void tour_run(const char *name, int argc, const char *const argv[],
		     struct syscall_frame *start)
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
	if (start)
		*start = p->start_frame;
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
	uint64_t frames = kframes_free(), left;
	struct syscall_frame first = {0}, second = {0};

	kprintf("%zu programs in the kernel image:", user_image_count());
	for (size_t i = 0; i < user_image_count(); i++)
		kprintf(" %s", user_image_at(i)->name);
	kprintf("\n");
	kprintf("a program, with arguments, in a space of its own:\n");
	tour_run("hello", 3, hello, NULL);
	kprintf("the same program started twice:\n");
	tour_run("layout", 1, layout, &first);
	tour_run("layout", 1, layout, &second);
	if (first.rip && first.rip != second.rip && first.rsp != second.rsp)
		kprintf("  two starts, two layouts (ASLR: new places at every start)\n");
	else if (first.rip && first.rip == second.rip)
		kprintf("  two starts, the same places: the layout is not randomized (aslr_choose)\n");
	kprintf("a program that writes through a null pointer:\n");
	tour_run("fault", 2, fault, NULL);
	left = kframes_free();
	if (left == frames)
		kprintf("every program gone: %lu frames free, as before the first\n", left);
	else
		kprintf("every program gone: %lu frames free, %lu %s than before the first (%lu)\n",
			left, left < frames ? frames - left : left - frames,
			left < frames ? "fewer" : "more", frames);
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
