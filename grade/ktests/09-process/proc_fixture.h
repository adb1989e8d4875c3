/*
 * Helpers for the lab 09 tests (kernel only): running a process tree with a deadline, a
 * parent's address space built from a program of user/ without running it, and leak checks
 * that count frames, processes and programs. Lab 08's helpers (user_fixture.h) are used too.
 *
 * Every wait has a deadline: a process tree that hangs is killed, and the test fails saying
 * so, with what the processes wrote and the process table. A tree that can never end (a
 * process blocked in wait with only zombie children: nobody will wake it) is killed after
 * half a second, not at the deadline, so that its test, and those after it, keep their time.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "../08-user/user_fixture.h"
#include "cow.h"
#include "frameref.h"
#include "ktest.h"
#include "process.h"

#define TEST_PROC_DEADLINE_MS 3000 /* for a process tree that should be done well before */
#define TEST_LONG_DEADLINE_MS 8000 /* for a thousand forks or execs (a second or less) */

/* True if processes can run at this boot; else the test fails saying why, and false. */
bool procs_require(struct ktest *t);

/* True if every frame passes through the counts (step 2 works); else fail saying why. */
bool counts_require(struct ktest *t);

/*
 * Start name with argv (argv[0] = name) as a process of its own (as init, if as_init: then
 * orphans go to it), its output and its descendants' into o, and wait for it to end, at most
 * ms. True with its status in *status when it ended; false (the test failed, every process
 * killed and reaped) when it could not start or did not end. What was typed on the console
 * (tty_type) before is its input; what is left of it afterwards is dropped.
 */
bool proc_run(struct ktest *t, const char *name, int argc, const char *const argv[], bool as_init,
	      struct test_output *o, uint64_t ms, int *status);

/* The pid of the process proc_run started last. */
extern int proc_last_pid;

/*
 * Run a test program's mode (forktest, exectest) and expect it to exit 0 having printed
 * "<name> <mode>: ok": else fail, quoting how it ended and what it wrote. as_init: started as
 * init. True if it passed.
 */
bool proc_expect_ok(struct ktest *t, const char *name, int argc, const char *const argv[],
		    bool as_init);
/* The same with a deadline of ms (a long run: a thousand forks). */
bool proc_expect_ok_within(struct ktest *t, const char *name, int argc, const char *const argv[],
			   bool as_init, uint64_t ms);

/* Frames (the kernel heap's counted as free), processes and programs now, to compare after:
 * the first call of a boot runs a process tree first, so that the kernel heap has grown. */
struct proc_leaks {
	uint64_t frames;
	size_t procs, programs;
};
void proc_leaks_start(struct ktest *t, struct proc_leaks *l);
uint64_t proc_frames_now(void); /* the frames proc_leaks counts */
void proc_leaks_check(struct ktest *t, const struct proc_leaks *l, const char *what);

/* ---- spaces, without a process --------------------------------------------------------- */

/*
 * Load the program name (with no arguments) into s, as exec would, and write `fill` into
 * every writable page through the direct map, so that each page is known. False (test
 * failed) if it could not.
 */
bool space_load(struct ktest *t, struct uspace *s, const char *name, uint8_t fill);

/* The first writable page of s at or above va (0: none). */
uint64_t space_writable_page(const struct uspace *s, uint64_t va);

/* The leaf entry of va in s, or 0. */
uint64_t space_pte(const struct uspace *s, uint64_t va);

/* Make s the live space (CR3) with interrupts off, and back (NULL: the kernel's). */
unsigned long space_enter(const struct uspace *s);
void space_leave(unsigned long flags);
