/*
 * Lab 09, all steps together: fork's semantics from the inside, a fork bomb, fork with no
 * memory, bad pointers, and the shell (leaks_ktest.c has the thousand forks and execs).
 */
#include <string.h>
#include "heap.h"
#include "irq.h"
#include "kprintf.h"
#include "proc_fixture.h"

#define PRESSURE_STEPS 64 /* frames left free, 0 up to this, until a fork works */

static bool run_mode(struct ktest *t, const char *name, const char *mode, const char *n)
{
	const char *argv[] = {name, mode, n};

	return proc_expect_ok(t, name, n ? 3 : 2, argv, false);
}

/* The launch hook of the fork tests: the new child runs (the run queue's order: it is ahead
 * of its parent now) before fork goes on. */
static void child_runs_first(struct process *child)
{
	(void)child;
	thread_yield();
}

/* forktest's mode with every child run before its fork returns in the parent: a child that
 * finds its memory or its registers not yet set up (rax set after proc_launch) fails. */
static void run_child_first(struct ktest *t, const char *mode)
{
	proc_set_launch_hook(child_runs_first);
	run_mode(t, "forktest", mode, NULL);
	proc_set_launch_hook(NULL);
}

/* After each test, however it ended (a panic skips the rest of it): no hook. */
static void no_launch_hook(struct ktest *t)
{
	(void)t;
	proc_set_launch_hook(NULL);
}

KTEST_SUITE(process, NULL, no_launch_hook);

KTEST(process, a_child_sees_its_parents_memory, 2)
{
	if (procs_require(t))
		run_child_first(t, "share");
}

KTEST(process, writes_after_fork_are_private_both_ways, 3)
{
	if (procs_require(t))
		run_child_first(t, "private");
}

/* Each process forks the next until the table is full: exactly the free slots are used,
 * fork says -EAGAIN, everything is reaped, and the kernel goes on. */
KTEST(process, a_fork_bomb_stops_at_the_process_limit, 3)
{
	static const char *const argv[] = {"forktest", "chain"};
	struct test_output *o = kmalloc(sizeof(*o));
	struct proc_leaks l;
	int status = -1;

	ASSERT_NOT_NULL(t, o);
	if (!procs_require(t)) {
		kfree(o);
		return;
	}
	proc_leaks_start(t, &l);
	long room = PROC_MAX - (long)proc_count() - 2; /* forktest and the chain's first */
	char want[96];
	ksnprintf(want, sizeof(want), "forktest chain: %ld processes below this one", room + 1);
	if (proc_run(t, "forktest", 2, argv, false, o, TEST_PROC_DEADLINE_MS, &status)) {
		if (status != 0 || !strstr(o->buf, "forktest chain: ok"))
			FAIL(t, "forktest chain ended with status 0x%x and wrote: %s", status,
			     o->buf);
		else if (!strstr(o->buf, want))
			FAIL(t,
			     "the table has %d slots and %ld were free for the chain; forktest wrote: "
			     "%s",
			     PROC_MAX, room + 1, o->buf);
	}
	proc_leaks_check(t, &l, "a fork bomb");
	run_mode(t, "forktest", "share", NULL);
	kfree(o);
}

static char pressure_problem[KTRY_MSG_MAX];
static int pressure_failures;

/* System call 56 of forktest pressure: fork with 0, 1, 2, ... frames left until it works;
 * each fork that fails must say -ENOMEM and keep nothing. Interrupts stay off from the hog to
 * the unhog: a timer tick there could run the child of the fork that worked while no frame is
 * free, and its first write to a shared page would fault for want of a frame to copy it. */
static long fork_under_pressure(struct syscall_frame *f)
{
	struct process *pr = proc_current();

	for (uint64_t k = 0; k <= PRESSURE_STEPS; k++) {
		uint64_t frames = proc_frames_now();
		size_t procs = proc_count(), programs = program_count();

		unsigned long flags = irq_save();
		frames_hog(k);
		int r = proc_fork(pr, f);
		frames_unhog();
		irq_restore(flags);
		if (r > 0)
			return r;
		if (r != -ENOMEM) {
			ksnprintf(pressure_problem, sizeof(pressure_problem),
				  "with %lu frames free, fork returned %d, not -ENOMEM", k, r);
			return r;
		}
		pressure_failures++;
		if (proc_frames_now() != frames || proc_count() != procs ||
		    program_count() != programs) {
			ksnprintf(
				pressure_problem, sizeof(pressure_problem),
				"with %lu frames free, fork failed (-ENOMEM) but kept %ld frames, %ld "
				"slots and %ld programs: a fork that fails gives back all it took",
				k, (long)(frames - proc_frames_now()), (long)(proc_count() - procs),
				(long)(program_count() - programs));
			return -ENOMEM;
		}
	}
	ksnprintf(pressure_problem, sizeof(pressure_problem),
		  "fork still failed with %d frames free", PRESSURE_STEPS);
	return -ENOMEM;
}

KTEST(process, fork_without_memory_fails_and_keeps_nothing, 3)
{
	struct proc_leaks l;

	if (!procs_require(t))
		return;
	proc_leaks_start(t, &l);
	pressure_problem[0] = '\0';
	pressure_failures = 0;
	syscall_fn_t old = test_syscall_set(TEST_SYS_A, fork_under_pressure);
	run_mode(t, "forktest", "pressure", NULL);
	test_syscall_set(TEST_SYS_A, old);
	if (pressure_problem[0])
		FAIL(t, "%s", pressure_problem);
	EXPECT_GT(t, pressure_failures, 0);
	proc_leaks_check(t, &l, "forks under memory pressure");
}

/* Every bad address on every pointer of lab 09's calls (forktest hostile): refused with the
 * right error, the kernel survives, and every frame comes back. */
KTEST(process, bad_pointers_are_refused, 2)
{
	struct proc_leaks l;

	if (!procs_require(t))
		return;
	proc_leaks_start(t, &l);
	run_mode(t, "forktest", "hostile", NULL);
	proc_leaks_check(t, &l, "forktest hostile");
}

/* init runs sh, which reads what the test types: commands, their statuses, exit. */
KTEST(process, the_shell_runs_commands, 3)
{
	static const char *const argv[] = {"init", "sh"};
	static const char *const want[] = {
		"$ echo one two\none two\n",
		"$ hello x\nhello from ring 3: I am 'hello', pid ",
		"with 1 argument: 'x'\nsh: hello: exit status 1\n",
		"$ nosuch\nsh: nosuch: no such program\n",
		"$ fault null-read\nsh: fault: ended by #PF page fault\n",
		"$ forktest nochild\nforktest nochild: ok",
		"$ exit 5\n",
	};
	struct test_output *o = kmalloc(sizeof(*o));
	struct proc_leaks l;
	int status = -1;

	ASSERT_NOT_NULL(t, o);
	if (!procs_require(t)) {
		kfree(o);
		return;
	}
	proc_leaks_start(t, &l);
	tty_type("echo one two\nhello x\nnosuch\nfault null-read\nforktest nochild\nexit 5\necho "
		 "not reached\n");
	if (proc_run(t, "init", 2, argv, true, o, TEST_PROC_DEADLINE_MS, &status)) {
		const char *at = o->buf;
		for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
			const char *found = strstr(at, want[i]);
			if (!found) {
				FAIL(t, "the shell's session lacks \"%s\" (in order); it was: %s",
				     want[i], o->buf);
				break;
			}
			at = found + strlen(want[i]);
		}
		if (status != WAIT_STATUS_EXITED(5))
			FAIL(t,
			     "init sh ended with status 0x%x, not exit status 5 (the shell's "
			     "`exit 5`)",
			     status);
	}
	/* without exit, the end of the input ends the shell, with the last command's status */
	tty_type("hello a b\n");
	if (proc_run(t, "init", 2, argv, true, o, TEST_PROC_DEADLINE_MS, &status)) {
		if (status != WAIT_STATUS_EXITED(2) || !strstr(o->buf, "$ exit\n"))
			FAIL(t,
			     "at the end of its input the shell should exit with the last status (2); "
			     "init sh ended with 0x%x and wrote: %s",
			     status, o->buf);
	}
	proc_leaks_check(t, &l, "two shell sessions");
	kfree(o);
}
