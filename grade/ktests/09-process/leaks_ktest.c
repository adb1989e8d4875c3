/*
 * Lab 09, all steps together, at length: a thousand forks, a thousand execs, and nothing left
 * behind: the frames, the process table and the program records as they were.
 */
#include "proc_fixture.h"

KTEST(leaks, a_thousand_forks_leave_nothing_behind, 3)
{
	static const char *const argv[] = {"forktest", "cycles", "1000"};
	struct proc_leaks l;

	if (!procs_require(t))
		return;
	proc_leaks_start(t, &l);
	proc_expect_ok_within(t, "forktest", 3, argv, false, TEST_LONG_DEADLINE_MS);
	proc_leaks_check(t, &l, "1000 forks, exits and waits");
}

KTEST(leaks, a_thousand_execs_leave_nothing_behind, 3)
{
	static const char *const argv[] = {"exectest", "loop", "1000"};
	struct proc_leaks l;

	if (!procs_require(t))
		return;
	proc_leaks_start(t, &l);
	proc_expect_ok_within(t, "exectest", 3, argv, false, TEST_LONG_DEADLINE_MS);
	proc_leaks_check(t, &l, "1000 execs (each gives the old address space back)");
}
