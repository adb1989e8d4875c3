/*
 * Scenario bench_yield: instructions per context switch (checkpoint 07 on), counted with the
 * time-stamp counter under -icount (icount.h). Two threads hand the CPU to each other with
 * thread_yield: this one and a partner it creates, YIELD_ROUNDS times each while timed, so
 * every yield is one switch.
 *
 * The lines marked ADAPT follow lab 07's interface (kernel/thread.h): a thread's function
 * takes an argument and returns its exit value, which thread_join returns. If that interface
 * changes and the bench kernel of checkpoint 07 no longer builds, `make bench` says so; fix
 * those lines, nothing else.
 */
#include "icount.h"
#include "kprintf.h"
#include "ktest.h"

#if CHECKPOINT >= 7 && __has_include("thread.h")
#include "thread.h"

#define YIELD_ROUNDS 500

static int yield_partner(void *arg) /* ADAPT */
{
	(void)arg;
	for (int i = 0; i <= YIELD_ROUNDS; i++) /* one more: the yield that lets the timing start */
		thread_yield();			/* ADAPT */
	return 0;
}

KTEST_SCENARIO(bench_yield)
{
	struct thread *partner = thread_create("bench-yield", yield_partner, NULL); /* ADAPT */

	if (!partner) {
		kprintf("bench: yield failed to create a thread\n");
		return;
	}
	thread_yield(); /* the partner starts; from here each yield is a switch there and back */
	uint64_t start = bench_ticks();
	for (int i = 0; i < YIELD_ROUNDS; i++)
		thread_yield();
	uint64_t ticks = bench_ticks() - start;
	thread_join(partner); /* ADAPT */
	kprintf("bench: yield switches=%d ticks=%lu\n", 2 * YIELD_ROUNDS, ticks);
}

#endif
