/*
 * Scenario bench_syscall: the round trip of a null system call, from a program in ring 3
 * (checkpoint 08 on). It runs the program bench of user/ (user/bench.c), which times 1000
 * getpid system calls and the same loop without them with the time-stamp counter, and prints
 *     bench: syscall calls=1000 ticks=T empty=E
 * Under -icount (icount.h) the difference per call is the instructions of one round trip:
 * syscall, the kernel's entry, dispatch, getpid, the way back, sysret.
 *
 * The lines marked ADAPT follow the interface of kernel/program.h; if it changes and the bench
 * kernel of checkpoint 08 no longer builds, `make bench` says so: fix those lines.
 */
#include "icount.h"
#include "kprintf.h"
#include "ktest.h"

#if CHECKPOINT >= 8 && __has_include("program.h")
#include "program.h"

KTEST_SCENARIO(bench_syscall)
{
	static const char *const argv[] = {"bench", "1000"};
	int err = 0;
	struct program *p = program_start("bench", 2, argv, NULL, &err); /* ADAPT */

	if (!p) {
		kprintf("bench: syscall failed to start the program bench (error %d)\n", err);
		return;
	}
	program_wait(p); /* ADAPT */
}

#endif
