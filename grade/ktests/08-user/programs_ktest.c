/*
 * Lab 08, all steps together: programs side by side with each other and with kernel threads,
 * a program that never stops, registers across system calls, and many starts that must leave
 * nothing behind.
 */
#include <string.h>
#include "heap.h"
#include "kprintf.h"
#include "thread.h"
#include "timer.h"
#include "user_fixture.h"

#define SPIN_WATCH_MS 50
#define SIDE_BY_SIDE  3
#define STARTS	      40

/* A program that loops in ring 3 without a system call is preempted like any thread (the test
 * sleeps and wakes meanwhile) and can be killed. */
KTEST(programs, a_spinning_program_is_preempted_and_killed, 4)
{
	static const char *const argv[] = {"spin"};
	struct test_output *o = kmalloc(sizeof(*o));
	struct test_leaks l;
	int err = 0;
	char how[TEST_HOW_MAX];

	ASSERT_NOT_NULL(t, o);
	if (!programs_require(t)) {
		kfree(o);
		return;
	}
	test_leaks_start(t, &l);
	memset(o, 0, sizeof(*o));
	o->out = (struct program_output){o->buf, TEST_OUT_MAX, 0, 0};
	struct program *p = program_start("spin", 1, argv, &o->out, &err);
	if (!p) {
		FAIL(t, "program_start(\"spin\") failed: %d", err);
		kfree(o);
		return;
	}
	/* While the test sleeps spin has the CPU; the test runs again only if the timer takes it
	 * from spin in ring 3, and spin goes on after the test sleeps again. */
	uint64_t start = timer_ticks();
	thread_sleep(SPIN_WATCH_MS);
	uint64_t runs = p->thread->kstate.runs;
	thread_sleep(SPIN_WATCH_MS);
	EXPECT_GE(t, timer_ticks() - start, 2 * timer_ms_to_ticks(SPIN_WATCH_MS));
	/* Ended already: then how often it ran says nothing of preemption, nor its end of a kill. */
	bool ended = p->state != PROGRAM_RUNNING;
	if (ended)
		FAIL(t, "spin should run until killed, but after %d ms it had %s; it wrote: %s",
		     2 * SPIN_WATCH_MS, test_how_it_ended(p, how, sizeof(how)), o->buf);
	else if (runs == 0 || p->thread->kstate.runs <= runs)
		FAIL(t,
		     "spin's thread ran %lu times, then %lu: it does not get the CPU back after "
		     "being preempted in ring 3",
		     runs, p->thread->kstate.runs);
	program_kill(p);
	if (test_join_within(t, p, TEST_PROGRAM_DEADLINE_MS)) {
		if (!ended)
			EXPECT_EQ(t, p->end, PROGRAM_KILLED);
		program_free(p);
	}
	test_leaks_check(t, &l, "spin, killed");
	kfree(o);
}

/* Three programs at once, each sleeping and writing in turn: each one's output is its own. */
KTEST(programs, programs_run_side_by_side, 3)
{
	static const char *const argv[] = {"sleepy", "20", "5"};
	struct program *p[SIDE_BY_SIDE];
	struct test_output *o = kmalloc(SIDE_BY_SIDE * sizeof(*o));
	struct test_leaks l;
	char how[TEST_HOW_MAX];
	int err;

	ASSERT_NOT_NULL(t, o);
	if (!programs_require(t)) {
		kfree(o);
		return;
	}
	test_leaks_start(t, &l);
	for (int i = 0; i < SIDE_BY_SIDE; i++) {
		memset(&o[i], 0, sizeof(o[i]));
		o[i].out = (struct program_output){o[i].buf, TEST_OUT_MAX, 0, 0};
		p[i] = program_start("sleepy", 3, argv, &o[i].out, &err);
		if (!p[i])
			FAIL(t, "program_start failed: %d", err);
	}
	for (int i = 0; i < SIDE_BY_SIDE; i++) {
		if (!p[i] || !test_join_within(t, p[i], TEST_PROGRAM_DEADLINE_MS))
			continue;
		o[i].buf[o[i].out.len] = '\0';
		if (p[i]->end != PROGRAM_EXITED || p[i]->status != 0 || strcmp(o[i].buf, ".....\n"))
			FAIL(t, "sleepy %d %s and wrote \"%s\", not \".....\\n\"", i,
			     test_how_it_ended(p[i], how, sizeof(how)), o[i].buf);
		program_free(p[i]);
	}
	test_leaks_check(t, &l, "three sleepy programs");
	kfree(o);
}

/* Every register but rax, rcx and r11 survives a system call, rsp included; and a program
 * that sets the direction flag does not make the kernel copy backwards. */
KTEST(programs, registers_survive_system_calls, 3)
{
	static const char *const argv[] = {"regs"};
	struct test_output o;
	char how[TEST_HOW_MAX];

	if (!programs_require(t))
		return;
	struct program *p = test_run(t, "regs", 1, argv, &o, TEST_PROGRAM_DEADLINE_MS);
	if (!p)
		return;
	if (p->end != PROGRAM_EXITED || p->status != 0)
		FAIL(t, "regs %s; it wrote: %s", test_how_it_ended(p, how, sizeof(how)), o.buf);
	if (!strstr(o.buf, "regs: written with DF set\n"))
		FAIL(t, "the line regs wrote with DF set came out as: %s", o.buf);
	program_free(p);
}

/* Many starts, each program ending its own way: nothing left behind. */
KTEST(programs, many_starts_leave_nothing, 3)
{
	static const char *const hello[] = {"hello", "x"}, *const crash[] = {"fault", "null-read"};
	struct test_output o;
	struct test_leaks l;
	char how[TEST_HOW_MAX];
	bool bad = false;

	if (!programs_require(t))
		return;
	test_leaks_start(t, &l);
	for (int i = 0; i < STARTS && !bad; i++) {
		bool ok = i % 2 == 0;
		struct program *p = test_run(t, ok ? "hello" : "fault", 2, ok ? hello : crash, &o,
					     TEST_PROGRAM_DEADLINE_MS);
		if (!p)
			return;
		bad = ok ? p->end != PROGRAM_EXITED : p->end != PROGRAM_FAULTED;
		if (bad)
			FAIL(t, "start %d: %s %s", i, ok ? "hello" : "fault null-read",
			     test_how_it_ended(p, how, sizeof(how)));
		program_free(p);
	}
	test_leaks_check(t, &l, "40 programs");
}

/* Starting what is not there, or what is not a program: an error, nothing kept. */
KTEST(programs, a_bad_start_is_an_error, 2)
{
	static const char *const argv[] = {"x"};
	struct test_leaks l;
	int err = 0;

	if (!programs_require(t))
		return;
	test_leaks_start(t, &l);
	EXPECT_NULL(t, program_start("no-such-program", 1, argv, NULL, &err));
	EXPECT_EQ(t, err, -ENOENT);
	test_leaks_check(t, &l, "a start that failed");
}
