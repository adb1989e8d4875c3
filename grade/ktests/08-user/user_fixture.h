/*
 * Helpers for the lab 08 tests (kernel only): running a program with a deadline, a space and a
 * program built by hand with lab 02's functions alone (so that the tests of steps 1, 2 and 5
 * need neither lab 08's address spaces nor its loader), and leak checks.
 *
 * Every wait has a deadline: a program that hangs is killed and the test fails saying so.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "ktest.h"
#include "layer_access.h"
#include "program.h"

#define TEST_PROGRAM_DEADLINE_MS 2000 /* for a program that should be done well before */
#define TEST_OUT_MAX		 2048

/* True if programs can run at this boot (and the timer ticks, for the deadlines); else the
 * test fails saying why, and false. */
bool programs_require(struct ktest *t);

/* True if step 1 (segments), step 2 (syscall_init) came up at boot; else fail saying why. */
bool segments_require(struct ktest *t);
bool syscalls_require(struct ktest *t);

/* What a program wrote (fds 1 and 2), for tests to read: out.buf is buf. */
struct test_output {
	struct program_output out;
	char buf[TEST_OUT_MAX + 1]; /* NUL-terminated by test_run */
};

/*
 * Start the image name with argv (argv[0] = name, given or not: argc counts what is passed)
 * and wait for it to end, at most ms milliseconds (then kill it, wait a little more, and fail).
 * Returns the program, joined (its space given back), for the test to read and program_free;
 * or NULL after failing the test (it could not start, or never ended).
 */
struct program *test_run(struct ktest *t, const char *name, int argc, const char *const argv[],
			 struct test_output *o, uint64_t ms);

/* Wait up to ms for p to end: true if it did (then it is joined), false (test failed) if not. */
bool test_join_within(struct ktest *t, struct program *p, uint64_t ms);

/* "exited with status 3", "ended by a fault: <report>", ... for messages; a page fault's
 * report also says where its address is (uspace_where). buf: TEST_HOW_MAX bytes. */
const char *test_how_it_ended(const struct program *p, char *buf, size_t size);
#define TEST_HOW_MAX (PROGRAM_NOTE_MAX + 160)

/* Frames and programs now, to compare after: run a program once first, so that the kernel
 * heap has grown to what a program needs and later runs leave the count alone. */
struct test_leaks {
	uint64_t frames;
	size_t programs;
};
void test_leaks_start(struct ktest *t, struct test_leaks *l);
/* Fail the test if frames or programs differ from l (what = what ran in between). */
void test_leaks_check(struct ktest *t, const struct test_leaks *l, const char *what);

/*
 * Take the kernel's free frames, in large blocks (cheap), until only `leave` are free: running
 * out of memory without filling it. frames_unhog gives them all back.
 */
void frames_hog(uint64_t leave);
void frames_unhog(void);

/* ---- a program made by hand: lab 02's vm functions, no lab 08 address space or loader ---- */

#define HAND_CODE_VA  0x0000000000400000UL /* the code page: user, read, execute */
#define HAND_DATA_VA  0x0000000000401000UL /* a data page: user, read, write, no-execute */
#define HAND_RO_VA    0x0000000000402000UL /* a read-only page: user, read, no-execute */
#define HAND_PAIR_VA  0x0000000000404000UL /* two data pages in a row */
#define HAND_STACK_VA 0x00007ff000000000UL /* one stack page; the page under it is unmapped */
#define HAND_PAGES    6

/*
 * Build s by hand: vm_init, the kernel half copied, and the pages above (fresh zeroed frames),
 * with code[0 .. len) at HAND_CODE_VA. Returns false (test failed) if there is no memory.
 */
bool hand_space_build(struct ktest *t, struct uspace *s, const void *code, size_t len);

/* Give back every page and table of a space hand_space_build made (if lab 08 has not). */
void hand_space_free(struct uspace *s);

/*
 * Run code as a program, in a hand-made space, starting at HAND_CODE_VA with rsp at the top of
 * the stack page and the given rdi. Its space stays the test's (space_borrowed). Returns the
 * program joined (the caller reads it, then hand_program_free), or NULL (test failed).
 */
struct program *hand_program_run(struct ktest *t, const void *code, size_t len, uint64_t rdi);
void hand_program_free(struct program *p);

/* Read or write len bytes at va of a space, through the direct map, whatever the permissions;
 * false if a page is not mapped. */
bool space_peek(const struct uspace *s, uint64_t va, void *dst, size_t len);
bool space_poke(const struct uspace *s, uint64_t va, const void *src, size_t len);

/*
 * What is wrong with e, the page table entry of a program's page that should be present, the
 * program's, and writable or executable as asked: "not the program's (no PTE_USER)", say; NULL
 * if nothing is.
 */
const char *test_user_entry_wrong(uint64_t e, bool writable, bool executable);

/* Replace the handler of system call nr for a test; returns the one it replaces. */
syscall_fn_t test_syscall_set(unsigned nr, syscall_fn_t fn);

/* Numbers the tests borrow (no system call of 08 uses them). */
#define TEST_SYS_A 56
#define TEST_SYS_B 57
#define TEST_SYS_C 58
