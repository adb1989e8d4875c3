/*
 * Catching the ways a piece of code can stop early, so that one failure costs one test and
 * not the whole boot:
 *
 *   KTRY_TODO   the code reached a TODO(...) a student has not written yet (todo.h)
 *   KTRY_PANIC  it called panic()
 *   KTRY_ABORT  a test's ASSERT_* failed (ktest.h)
 *   KTRY_FAULT  the CPU raised an exception (divide error, page fault, ...) in it
 *
 * ktry_call runs a function with a catch point that accepts the kinds in `mask`. Catch points
 * nest: a kind goes to the innermost one that accepts it. Code that raises while no catch
 * point accepts its kind carries on as if none existed (a panic halts the kernel).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "kjmp.h"

enum ktry_kind {
	KTRY_TODO = 1u << 0,
	KTRY_PANIC = 1u << 1,
	KTRY_ABORT = 1u << 2,
	KTRY_FAULT = 1u << 3,
	KTRY_ANY = 0xf,
};

#define KTRY_MSG_MAX   512
#define KTRY_TRACE_MAX 8

/* What stopped the code, when something did. */
struct ktry_result {
	enum ktry_kind kind;
	char msg[KTRY_MSG_MAX];
	/* For KTRY_FAULT: the CPU's record of the exception. */
	uint64_t vector, error, rip, cr2;
	/* For KTRY_FAULT and KTRY_PANIC: the return addresses of the frames that led there, the
	 * innermost first (the caller of the function that faulted or panicked), as far as the
	 * catch point; the stack is gone once the catch point has been jumped back to. */
	uint64_t trace[KTRY_TRACE_MAX];
	int trace_len;
};

struct ktry {
	kjmp_buf jb;
	unsigned mask;
	struct ktry *prev;
	int trap_depth;	      /* trap nesting when the catch point was set */
	unsigned long rflags; /* interrupt flag to restore after a catch */
	struct ktry_result res;
};

/*
 * Run fn(arg). Returns 0 if it returned normally; otherwise the kind that stopped it, with
 * the details in *res (res may be NULL).
 */
int ktry_call(void (*fn)(void *arg), void *arg, unsigned mask, struct ktry_result *res);

/*
 * Lower-level form for macros that must stay in their caller's frame (EXPECT_PANIC):
 *     ktry_push(&k, mask);
 *     if (kjmp_set(k.jb) == 0) { ...; ktry_pop(&k); } else { ...k.res... }
 * After a catch the catch point is already popped.
 */
void ktry_push(struct ktry *k, unsigned mask);
void ktry_pop(struct ktry *k);

/*
 * Stop the current code with `kind` if a catch point accepts it: does not return then.
 * Returns if none does, and the caller goes on with its own handling (panic halts).
 */
void ktry_raise(enum ktry_kind kind, const char *msg);

/* ktry_raise with the frames from rsp and rbp (the code that stopped) kept in res.trace. */
void ktry_raise_traced(enum ktry_kind kind, const char *msg, uint64_t rsp, uint64_t rbp);

/* A CPU fault (kernel/trap.c): the trap frame's record, and its rsp and rbp for the trace. */
void ktry_raise_fault(const char *msg, uint64_t vector, uint64_t error, uint64_t rip, uint64_t cr2,
		      uint64_t rsp, uint64_t rbp);

/* Raise again what a catch point caught (its kind, message, record and trace), for a test that
 * caught it only to clean up first: as if it had not been caught. */
void ktry_raise_again(const struct ktry_result *r);

/* True if a catch point would take `kind` raised right now. */
bool ktry_would_catch(enum ktry_kind kind);

/*
 * The innermost catch point of the running code (NULL: none), and setting it. Each thread has
 * its own chain of catch points on its own stack, so the scheduler saves the chain of the
 * thread that stops and sets the one of the thread that runs next (kernel/layers/07-threads/kstate.c).
 */
struct ktry *ktry_chain(void);
void ktry_set_chain(struct ktry *top);
