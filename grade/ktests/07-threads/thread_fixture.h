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

/* How long waits in tests may last before they fail. */
#define TEST_TICK_WAIT_PERIODS 5   /* PIT periods to wait for a tick: 50 ms at 100 Hz */
#define TEST_JOIN_DEADLINE_MS  500 /* for a thread that should be done well before */

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
 * (counted as wraps of its counter). True if it did.
 */
bool wait_for_tick_after(uint64_t from, int periods);

/* Stop and restart the timer's interrupts at the PIC (its mask bit), so that only yields
 * switch threads in between. Never block (join, sleep, lock) while it is paused. */
void timer_pause(void);
void timer_resume(void);

/*
 * Wait (sleeping a tick at a time) until th has exited, for at most ms milliseconds; then
 * join it and store its exit value in *value (may be NULL). If it does not exit in time,
 * fail the test with `what` and th's state, leave th alone (it cannot be freed while it
 * runs) and return false.
 */
bool join_within(struct ktest *t, struct thread *th, uint64_t ms, int *value, const char *what);

/* "RUNNABLE", "BLOCKED", ... for messages. */
const char *thread_state_name(enum thread_state s);
