/*
 * Lab 07, step 8: preemption. The threads here never yield: only the timer can take the CPU
 * from them. Every loop ends at a tick deadline, so a kernel without preemption fails the
 * tests instead of hanging in them.
 */
#include "irq.h"
#include "thread_fixture.h"

#define SPIN_TICKS    10 /* 100 ms of two threads spinning */
#define MIN_HANDOVERS 4	 /* times the CPU went from one spinner to the other, at the least */
#define HOG_MAX_TICKS 50 /* the hog gives up after this, preempted or not */
#define EXACT_TRIES   3	 /* a measure exact to the tick must come out right once in these */

struct spinner {
	const char *name;
	struct tick_deadline until; /* each its own: it reads the PIT as it spins */
	volatile uint64_t count;
};

static struct spinner *last_spinner; /* which spinner counted last */
static int handovers;

static int spin(void *arg)
{
	struct spinner *s = arg;

	while (!tick_deadline_passed(&s->until)) {
		s->count++;
		if (last_spinner != s) { /* the other one ran since our last count */
			last_spinner = s;
			handovers++;
		}
	}
	return 0;
}

/*
 * Two threads count for 100 ms without ever yielding while main waits in thread_join: both
 * make progress, and the CPU goes back and forth between them, about once a tick.
 */
KTEST(preempt, cpu_bound_threads_take_turns, 4)
{
	if (!threads_and_timer_require(t))
		return;
	struct spinner a = {.name = "spin-a"}, b = {.name = "spin-b"};

	tick_deadline_start(&a.until, SPIN_TICKS);
	b.until = a.until;

	last_spinner = NULL;
	handovers = 0;
	struct thread *ta = thread_create(a.name, spin, &a);
	struct thread *tb = thread_create(b.name, spin, &b);
	if (ta)
		thread_join(ta);
	if (tb)
		thread_join(tb);
	ASSERT_TRUE(t, ta && tb);
	if (tick_deadline_stalled(&a.until) || tick_deadline_stalled(&b.until))
		fail_timer_stopped(t, tick_deadline_stalled(&a.until) ? &a.until : &b.until,
				   "while two threads spun");
	else if (!a.count || !b.count)
		FAIL(t,
		     "spin-a counted %lu and spin-b %lu in %d ticks: one never ran while the other "
		     "spun, so the timer preempted nobody (thread_tick's preempt, labs/07-threads/"
		     "thread.c)",
		     a.count, b.count, SPIN_TICKS);
	else if (handovers < MIN_HANDOVERS)
		FAIL(t,
		     "the CPU went from one spinner to the other only %d times in %d ticks: a "
		     "thread should be preempted after THREAD_SLICE_TICKS (%d) when another is "
		     "runnable",
		     handovers, SPIN_TICKS, THREAD_SLICE_TICKS);
}

static volatile bool hog_stop;
static struct tick_deadline hog_give_up;

static int hog(void *arg)
{
	(void)arg;
	tick_deadline_start(&hog_give_up, HOG_MAX_TICKS);
	while (!hog_stop && !tick_deadline_passed(&hog_give_up))
		cpu_relax();
	return hog_stop;
}

/*
 * Main yields to a thread that spins until main tells it to stop: main gets the CPU back
 * only by preemption, within a slice (and a tick for the slice that was running).
 */
KTEST(preempt, a_spinning_thread_gives_the_cpu_back, 3)
{
	uint64_t waited = 0, longest = 0;

	if (!threads_and_timer_require(t))
		return;
	/* Exactly one slice, at least once in three tries (each started right after a tick):
	 * a tick may fall just before a yield, or the host keep QEMU waiting so that ticks come
	 * late and in a burst, but not three times running. A scheduler that preempts late or
	 * never does so every time. */
	for (int try = 0; try < EXACT_TRIES; try++) {
		hog_stop = false;
		struct thread *th = thread_create("hog", hog, NULL);
		ASSERT_NOT_NULL(t, th);
		wait_for_tick_after(timer_ticks(), TEST_TICK_WAIT_PERIODS);
		uint64_t before = timer_ticks();
		thread_yield(); /* the hog runs; only the timer brings main back */
		waited = timer_ticks() - before;
		hog_stop = true;
		int stopped_by_main = thread_join(th);
		if (tick_deadline_stalled(&hog_give_up)) {
			fail_timer_stopped(t, &hog_give_up,
					   "while a thread spun and main waited to run");
			return;
		}
		EXPECT_TRUE(t, stopped_by_main);
		if (waited == THREAD_SLICE_TICKS)
			return;
		longest = MAX(longest, waited);
	}
	if (longest > THREAD_SLICE_TICKS + 1)
		FAIL(t,
		     "main got the CPU back up to %lu ticks after it yielded to a spinning thread, "
		     "never after exactly one slice in %d tries: a thread should be preempted after "
		     "THREAD_SLICE_TICKS (%d) when another is runnable",
		     longest, EXACT_TRIES, THREAD_SLICE_TICKS);
	else
		FAIL(t,
		     "main got the CPU back %lu ticks after it yielded to a spinning thread, each of "
		     "%d times: a slice is THREAD_SLICE_TICKS (%d) ticks. Does preempt count it "
		     "down right?",
		     waited, EXACT_TRIES, THREAD_SLICE_TICKS);
}
