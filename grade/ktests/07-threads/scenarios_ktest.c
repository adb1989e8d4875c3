/*
 * Lab 07 scenarios, judged by the grader from the console (grade/tests/test_07_threads.py):
 * a thread that overflows its stack.
 */
#include "cmdline.h"
#include "kprintf.h"
#include "ktest.h"
#include "layer_access.h"
#include "thread.h"

#define DIVE_FRAME 512

/* Read through volatile so the recursion below cannot be proved endless. */
static volatile uint64_t dive_limit = ~0UL;

static uint64_t dive(uint64_t depth)
{
	volatile uint8_t frame[DIVE_FRAME];

	frame[0] = (uint8_t)depth;
	if (depth >= dive_limit)
		return 0;
	return dive(depth + 1) + frame[0];
}

static int diver(void *arg)
{
	(void)arg;
	return (int)dive(0);
}

/*
 * A thread (named by overflow_thread= on the command line) recurses with 512-byte frames
 * until it runs off the bottom of its stack: the guard page must stop it, and the kernel
 * must say whose stack it was.
 */
KTEST_SCENARIO(thread_stack_overflow)
{
	char name[THREAD_NAME_MAX] = "deep-diver";
	const char *why = threads_unavailable();

	if (why) {
		kprintf("scenario thread_stack_overflow: the kernel has no threads: %s\n", why);
		return;
	}
	cmdline_get("overflow_thread", name, sizeof(name));
	struct thread *th = thread_create(name, diver, NULL);
	if (!th) {
		kprintf("scenario thread_stack_overflow: thread_create failed\n");
		return;
	}
	kprintf("scenario thread_stack_overflow: thread '%s' recurses on a %lu KiB stack\n",
		th->name, THREAD_STACK_SIZE >> 10);
	int depth = thread_join(th);
	kprintf("scenario thread_stack_overflow: the thread came back from depth %d\n", depth);
}
