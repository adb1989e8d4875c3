/*
 * Lab 07, step 8: preemption. The threads here never yield: only the timer can take the CPU
 * from them. Every loop ends at a tick deadline, so a kernel without preemption fails the
 * tests instead of hanging in them.
 */
#include "irq.h"
#include "thread_fixture.h"

#define SPIN_TICKS	      10 /* 100 ms of two threads spinning */
#define MIN_HANDOVERS	      4 /* times the CPU went from one spinner to the other, at the least */
#define HOG_MAX_TICKS	      50 /* the hog gives up after this, preempted or not */
#define EXACT_TRIES	      3	 /* a measure exact to the tick must come out right once in these */
#define WAKER_SLEEP_TICKS     3
#define LONE_SPIN_SLACK_TICKS 5 /* main spins alone this long after the waker's tick */

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

struct waker {
	uint64_t due, ran; /* its wake_tick, and the tick it ran on once woken */
	volatile bool done;
};

static int sleep_then_note(void *arg)
{
	struct waker *w = arg;

	thread_sleep(WAKER_SLEEP_TICKS * TIMER_MS_PER_TICK);
	w->ran = timer_ticks();
	w->due = thread_current()->wake_tick;
	w->done = true;
	return 0;
}

/*
 * Two threads count for 100 ms without ever yielding while main waits in thread_join: both
 * make progress, and the CPU goes back and forth between them, about once a tick. A third
 * thread sleeps meanwhile: woken on its tick, it goes to the back of the run queue, behind
 * the spinner that was waiting there, so it runs a slice after its tick, not on it.
 */
KTEST(preempt, cpu_bound_threads_take_turns, 4)
{
	if (!threads_and_timer_require(t))
		return;
	struct spinner a = {.name = "spin-a"}, b = {.name = "spin-b"};
	struct waker w = {0, 0, false};

	tick_deadline_start(&a.until, SPIN_TICKS);
	b.until = a.until;

	last_spinner = NULL;
	handovers = 0;
	struct thread *tw = thread_create("waker", sleep_then_note, &w);
	struct thread *ta = thread_create(a.name, spin, &a);
	struct thread *tb = thread_create(b.name, spin, &b);
	if (ta)
		thread_join(ta);
	if (tb)
		thread_join(tb);
	if (tw)
		join_within(t, tw, TEST_JOIN_DEADLINE_MS, NULL, "its sleep should be over");
	ASSERT_TRUE(t, ta && tb && tw);
	/* A stopped timer first: every other check below follows from it. */
	if (tick_deadline_stalled(&a.until) || tick_deadline_stalled(&b.until)) {
		fail_timer_stopped(t, tick_deadline_stalled(&a.until) ? &a.until : &b.until,
				   "while two threads spun");
		return;
	}
	if (w.done && w.ran < w.due + THREAD_SLICE_TICKS && a.count && b.count)
		FAIL(t,
		     "a thread due on tick %lu ran on tick %lu, while two spinners took turns: a "
		     "woken sleeper goes to the back of the run queue (thread.h), behind the "
		     "spinner waiting there, and runs a slice later",
		     w.due, w.ran);
	if (!a.count || !b.count)
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
 * Main spins alone, nothing else runnable, while a thread sleeps; the thread wakes, and
 * gets the CPU within a slice though main never yields: a slice that ran out with nobody
 * else to run starts again, and is over after THREAD_SLICE_TICKS more. False (the test
 * failed) if not.
 */
static bool a_woken_thread_preempts_a_lone_spinner(struct ktest *t)
{
	struct waker w = {0, 0, false};
	struct tick_deadline d;

	struct thread *th = thread_create("waker", sleep_then_note, &w);
	ASSERT_NOT_NULL(t, th);
	thread_yield(); /* it runs and goes to sleep */
	tick_deadline_start(&d, WAKER_SLEEP_TICKS + LONE_SPIN_SLACK_TICKS);
	while (!w.done && !tick_deadline_passed(&d))
		cpu_relax();
	bool ran = w.done; /* before the join lets it run */
	join_within(t, th, TEST_JOIN_DEADLINE_MS, NULL, "its sleep should be over");
	if (tick_deadline_stalled(&d)) {
		fail_timer_stopped(t, &d, "while main spun alone");
		return false;
	}
	if (!ran) {
		FAIL(t,
		     "main spun alone while a thread slept %d ticks, and the thread never got the "
		     "CPU back in the %d ticks main spun: when preempt finds nobody else runnable, "
		     "the running thread gets a new slice (slice_left), so that a thread woken "
		     "later preempts it one slice on",
		     WAKER_SLEEP_TICKS, WAKER_SLEEP_TICKS + LONE_SPIN_SLACK_TICKS);
		return false;
	}
	return true;
}

/*
 * Main yields to a thread that spins until main tells it to stop: main gets the CPU back
 * only by preemption, after exactly one slice, and the tick that ended it is counted. First
 * the other way round: a thread that wakes while main spins alone preempts main.
 */
KTEST(preempt, a_spinning_thread_gives_the_cpu_back, 3)
{
	uint64_t waited = 0, longest = 0;

	if (!threads_and_timer_require(t) || !a_woken_thread_preempts_a_lone_spinner(t))
		return;
	/* Exactly one slice, at least once in three tries (each started right after a tick). The
	 * count and the yield are one step, with interrupts off: main yields to a hog that has
	 * never run, and reads the count as soon as it is back, so the tick that preempted the
	 * hog is the one main sees. A scheduler that preempts late or never does so every time. */
	for (int try = 0; try < EXACT_TRIES; try++) {
		hog_stop = false;
		wait_for_tick_after(timer_ticks(), TEST_TICK_WAIT_PERIODS);
		unsigned long flags = irq_save();
		struct thread *th = thread_create("hog", hog, NULL);
		uint64_t before = timer_ticks();
		if (th)
			thread_yield(); /* the hog runs; only the timer brings main back */
		waited = timer_ticks() - before;
		irq_restore(flags);
		ASSERT_NOT_NULL(t, th);
		hog_stop = true;
		int stopped_by_main = thread_join(th);
		if (tick_deadline_stalled(&hog_give_up)) {
			fail_timer_stopped(t, &hog_give_up,
					   "while a thread spun and main waited to run");
			return;
		}
		EXPECT_TRUE(t, stopped_by_main);
		if (waited == 0) {
			FAIL(t,
			     "main got the CPU back from a spinning thread that only the timer could "
			     "preempt, and the tick count had not moved: the tick that preempted it was "
			     "not counted yet. timer_interrupt counts the tick (ticks++) before "
			     "thread_tick, which may switch to another thread");
			return;
		}
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
