/*
 * Lab 08, step 6: the system calls, made by the programs of user/ (so every step before this
 * one must work too). What a program wrote is captured (test_output) and compared.
 */
#include <string.h>
#include "heap.h"
#include "irq.h"
#include "kprintf.h"
#include "pic.h"
#include "thread.h"
#include "timer.h"
#include "trap.h"
#include "user_fixture.h"

#define SLEEP_MS     100
#define YIELDS	     20
#define MAX_LOOPS    1000
#define MIN_HANDOFFS (YIELDS / 2)
#define HOG_LEAVE    (2 * 1024 * 1024 / PAGE_SIZE) /* frames free for memtest exhaust */

/* exit's status, write's bytes and getpid's number come back as the program sent them. */
KTEST(syscalls, exit_write_and_getpid, 4)
{
	static const char *const argv[] = {"hello", "one", "two words"};
	struct test_output o;
	char want[160], how[TEST_HOW_MAX];

	if (!programs_require(t))
		return;
	struct program *p = test_run(t, "hello", 3, argv, &o, TEST_PROGRAM_DEADLINE_MS);
	if (!p)
		return;
	ksnprintf(want, sizeof(want),
		  "hello from ring 3: I am 'hello', pid %d, with 2 arguments: 'one', 'two words'\n",
		  p->pid);
	if (p->end != PROGRAM_EXITED || p->status != 2)
		FAIL(t, "hello %s; expected it to exit with status 2 (its argument count)",
		     test_how_it_ended(p, how, sizeof(how)));
	if (strcmp(o.buf, want))
		FAIL(t, "hello wrote \"%s\", expected \"%s\"", o.buf, want);
	program_free(p);
}

/* sleep lasts its time, and a sleeping program costs no CPU: the idle thread runs. */
KTEST(syscalls, sleep_takes_its_time_off_the_cpu, 3)
{
	static const char *const argv[] = {"sleepy", "100", "1"};
	struct test_output o;
	char how[TEST_HOW_MAX];

	if (!programs_require(t))
		return;
	struct thread *idle = threads_idle_thread();
	uint64_t idle_runs = idle ? idle->kstate.runs : 0, start = timer_ticks();
	struct program *p = test_run(t, "sleepy", 3, argv, &o, TEST_PROGRAM_DEADLINE_MS);
	if (!p)
		return;
	uint64_t took = timer_ticks() - start;
	if (p->end != PROGRAM_EXITED || p->status != 0)
		FAIL(t, "sleepy %s", test_how_it_ended(p, how, sizeof(how)));
	if (took < timer_ms_to_ticks(SLEEP_MS))
		FAIL(t, "a program that sleeps %d ms was done after %lu ticks (%d ms each)",
		     SLEEP_MS, took, TIMER_MS_PER_TICK);
	idle = threads_idle_thread();
	if (!idle || idle->kstate.runs == idle_runs)
		FAIL(t, "the idle thread never ran while the only program slept");
	program_free(p);
}

/* Timer paused: only yields switch threads. A program that yields YIELDS times hands the CPU
 * to the test that many times. */
KTEST(syscalls, yield_hands_the_cpu_over, 3)
{
	static const char *const argv[] = {"sleepy", "0", "20"};
	int err = 0, loops = 0;

	if (!programs_require(t))
		return;
	struct test_output *o = kmalloc(sizeof(*o));
	ASSERT_NOT_NULL(t, o);
	memset(o, 0, sizeof(*o));
	o->out = (struct program_output){o->buf, TEST_OUT_MAX, 0, 0};
	pic_mask(IRQ_TIMER);
	struct program *p = program_start("sleepy", 3, argv, &o->out, &err);
	while (p && p->state != PROGRAM_ENDED && loops < MAX_LOOPS) {
		thread_yield();
		loops++;
	}
	pic_unmask(IRQ_TIMER);
	if (!p) {
		FAIL(t, "program_start(\"sleepy\") failed: %d", err);
		kfree(o);
		return;
	}
	bool ended = test_join_within(t, p, TEST_PROGRAM_DEADLINE_MS);
	if (ended && loops < MIN_HANDOFFS)
		FAIL(t,
		     "a program that yields %d times gave the CPU back to the test %d times: does "
		     "sys_yield call thread_yield?",
		     YIELDS, loops);
	if (ended)
		program_free(p);
	kfree(o);
}

/* True if addr is in the part of p's space the heap may grow into. */
static bool in_heap(const struct program *p, uint64_t addr)
{
	const struct user_layout *l = &p->space.layout;

	return addr >= l->heap_start && addr - l->heap_start < USER_HEAP_MAX;
}

/* The heap: many malloc/free in the program (lab 04's heap over sbrk), sbrk by hand. */
KTEST(syscalls, sbrk_grows_and_shrinks_the_heap, 4)
{
	static const char *const argv[] = {"memtest"};
	struct test_output o;
	struct test_leaks l;
	char how[TEST_HOW_MAX];

	if (!programs_require(t))
		return;
	test_leaks_start(t, &l);
	struct program *p = test_run(t, "memtest", 1, argv, &o, TEST_PROGRAM_DEADLINE_MS);
	if (!p)
		return;
	if (p->end != PROGRAM_EXITED && p->fault.vector == VEC_PF && in_heap(p, p->fault.cr2))
		FAIL(t,
		     "memtest %s; a page fault in the heap: sbrk must map every page up to the "
		     "break, and a shrink unmap only pages wholly above the new break; it wrote: %s",
		     test_how_it_ended(p, how, sizeof(how)), o.buf);
	else if (p->end != PROGRAM_EXITED || p->status != 0)
		FAIL(t, "memtest %s; it wrote: %s", test_how_it_ended(p, how, sizeof(how)), o.buf);
	program_free(p);
	test_leaks_check(t, &l, "memtest");
}

/* Asking for more heap than there is memory: -ENOMEM, not a panic; all of it comes back. */
KTEST(syscalls, sbrk_past_memory_is_enomem, 3)
{
	static const char *const argv[] = {"memtest", "exhaust"};
	struct test_output o;
	struct test_leaks l;
	char how[TEST_HOW_MAX];

	if (!programs_require(t))
		return;
	test_leaks_start(t, &l);
	frames_hog(HOG_LEAVE); /* so that the heap runs out after a few MiB, not 100 */
	struct program *p = test_run(t, "memtest", 2, argv, &o, TEST_PROGRAM_DEADLINE_MS);
	frames_unhog();
	if (!p)
		return;
	if (p->end != PROGRAM_EXITED || p->status != 0)
		FAIL(t, "memtest exhaust %s; it wrote: %s", test_how_it_ended(p, how, sizeof(how)),
		     o.buf);
	program_free(p);
	test_leaks_check(t, &l, "memtest exhaust");
	void *k = kmalloc(PAGE_SIZE);
	EXPECT_NOT_NULL(t, k);
	kfree(k);
}

/* Every bad pointer, length, fd and number the hostile program tries: refused with the
 * right error, and the kernel survives it all. */
KTEST(syscalls, hostile_arguments_are_refused, 5)
{
	static const char *const argv[] = {"hostile"};
	struct test_output o;
	struct test_leaks l;
	char how[TEST_HOW_MAX];

	if (!programs_require(t))
		return;
	test_leaks_start(t, &l);
	struct program *p = test_run(t, "hostile", 1, argv, &o, TEST_PROGRAM_DEADLINE_MS);
	if (!p)
		return;
	if (p->end != PROGRAM_EXITED || p->status != 0)
		FAIL(t, "hostile %s; it wrote:\n%s", test_how_it_ended(p, how, sizeof(how)), o.buf);
	program_free(p);
	test_leaks_check(t, &l, "hostile");
}
