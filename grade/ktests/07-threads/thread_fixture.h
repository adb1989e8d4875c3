/*
 * Helpers for the lab 07 tests (kernel only): what a test needs before it starts threads,
 * ways to wait that cannot hang, and the PIT read directly, as an independent clock.
 *
 * A test of threads must never wait forever for a thread that is broken: every wait here
 * has a deadline, and ends the test with a message saying what the thread was doing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "ktest.h"
#include "layer_access.h"
#include "thread.h"
#include "timer.h"

/*
 * How long waits in tests may last before they fail. A wait for a tick watches the PIT's
 * counter, which follows the host's clock. QEMU raises IRQ 0 from a thread of its own, which
 * a busy host may run late, so a tick can come many periods late through no fault of the
 * kernel's. A wait gives up after TEST_TICK_WAIT_PERIODS only if the PIC itself holds IRQ 0
 * back (in service, never ended by an EOI; or masked). Otherwise it gives up after
 * TEST_TICK_PATIENCE_PERIODS, and after the first such wait every later one stops at
 * TEST_TICK_WAIT_PERIODS too, so that a timer that really stopped fails each test quickly.
 */
#define TEST_TICK_WAIT_PERIODS	   5   /* PIT periods: 50 ms at 100 Hz */
#define TEST_TICK_PATIENCE_PERIODS 100 /* a second */
#define TEST_JOIN_DEADLINE_MS	   500 /* for a thread that should be done well before */

/* True once thread_init has run at boot; else the test fails saying why, and returns false. */
bool threads_require(struct ktest *t);

/*
 * True if the timer ticks: it was brought up at boot, and two ticks in a row each arrive
 * within TEST_TICK_WAIT_PERIODS periods of the PIT (watched on its counter, a clock that needs
 * no interrupt). Else the test fails saying what is wrong, and false.
 */
bool timer_require(struct ktest *t);

/* threads_require and timer_require. */
bool threads_and_timer_require(struct ktest *t);

/* Channel 0's current count, latched and read (low byte, then high byte). */
uint16_t pit_read_count(void);

/*
 * Busy-wait until timer_ticks() differs from `from`, for at most `periods` periods of the PIT
 * (counted as wraps of its counter) while the PIC holds IRQ 0 back, and as long as the
 * patience above while it does not. True if it did.
 */
bool wait_for_tick_after(uint64_t from, int periods);

/*
 * Why the PICs let no interrupt of line irq (0-15) reach the CPU now, or NULL: it is in
 * service (delivered, and no EOI ended it) or masked, at its PIC or, for a line of the slave,
 * on the master's cascade line.
 */
const char *irq_held_back(int irq);

/* Why no timer interrupt can reach the CPU now (irq_held_back(IRQ_TIMER)), or NULL. */
const char *timer_held_back(void);

/*
 * A deadline in ticks for a loop that waits on the timer, which also ends if the timer stops:
 * tick_deadline_passed() is true once timer_ticks() reaches it, or once the PIT's counter (a
 * clock that needs no interrupt) has gone through as many periods and TEST_TICK_WAIT_PERIODS
 * more while the PIC holds IRQ 0 back (else the patience above). A loop calls it often (at
 * least once a period), as its condition.
 *
 *     struct tick_deadline d;
 *     tick_deadline_start(&d, 10);
 *     while (!tick_deadline_passed(&d))
 *             count++;
 *     if (tick_deadline_stalled(&d))
 *             fail_timer_stopped(t, &d, "while two threads spun");
 */
struct tick_deadline {
	uint64_t start, until; /* in ticks */
	uint16_t last;	       /* the PIT's count when last looked at */
	bool stalled;
	uint64_t stalled_at; /* the tick count when the PIT said the timer had stopped */
	int periods;	     /* how many periods of the PIT had passed by then */
	const char *held;    /* what held IRQ 0 back then (timer_held_back), or NULL */
};

void tick_deadline_start(struct tick_deadline *d, uint64_t ticks);
bool tick_deadline_passed(struct tick_deadline *d);

/* True if the deadline ended on the PIT's clock, the ticks short of it: the timer stopped. */
static inline bool tick_deadline_stalled(const struct tick_deadline *d)
{
	return d->stalled;
}

/* Fail t: the timer stopped ticking during the wait d (`when` says which), and why it may have. */
void fail_timer_stopped(struct ktest *t, const struct tick_deadline *d, const char *when);

/* Stop and restart the timer's interrupts at the PIC (its mask bit), so that only yields
 * switch threads in between. Never block (join, sleep, lock) while it is paused. */
void timer_pause(void);
void timer_resume(void);

/* Wait (sleeping a tick at a time) until th has exited, for at most ms milliseconds: true if
 * it did. */
bool exits_within(struct thread *th, uint64_t ms);

/*
 * Wait (sleeping a tick at a time) until th has exited, for at most ms milliseconds; then
 * join it and store its exit value in *value (may be NULL). If it does not exit in time,
 * fail the test with `what` and th's state, leave th alone (it cannot be freed while it
 * runs) and return false.
 */
bool join_within(struct ktest *t, struct thread *th, uint64_t ms, int *value, const char *what);

/* "RUNNABLE", "BLOCKED", ... for messages. */
const char *thread_state_name(enum thread_state s);
