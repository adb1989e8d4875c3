/*
 * Lab 08 scenarios, judged by the grader from the console (grade/tests/test_08_user.py): the
 * layouts of a program started twice, as the kernel signs them, for the grader to compare
 * across boots with the same or another aslr.seed.
 */
#include "attest.h"
#include "kprintf.h"
#include "ktest.h"
#include "program.h"

#define LAYOUT_STARTS 2

KTEST_SCENARIO(aslr_layouts)
{
	static const char *const argv[] = {"layout"};
	const char *why = programs_unavailable();

	if (why) {
		kprintf("scenario aslr_layouts: programs cannot run: %s\n", why);
		return;
	}
	for (int i = 0; i < LAYOUT_STARTS; i++) {
		int err = 0;
		struct program *p = program_start("layout", 1, argv, NULL, &err);

		if (!p) {
			kprintf("scenario aslr_layouts: program_start failed: %d\n", err);
			return;
		}
		program_join(p);
		const struct user_layout *l = &p->space.layout;
		attest_printf("aslr layout start=%d base=0x%lx heap=0x%lx stack=0x%lx exit=%d", i,
			      l->load_base, l->heap_start, l->stack_top,
			      p->end == PROGRAM_EXITED ? p->status : -1);
		program_free(p);
	}
}
