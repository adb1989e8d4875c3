/*
 * Lab 07, step 9: sleeping. A sleeper is off the run queue until its tick; the tick that
 * wakes it lets it run at once when the CPU is idle, so "when it woke" is measured in ticks.
 */
#include "irq.h"
#include "ktest.h"
#include "layer_access.h"
#include "thread_fixture.h"

#define SLEEPERS	      6
#define SLEEP_SPACING	      3 /* ticks between two sleepers' deadlines */
#define SLEEP_FIRST	      2 /* ticks: the shortest sleep */
#define LONG_SLEEP_MS	      80
#define LOOK_EVERY_MS	      10
#define LOOKS		      5
#define MAX_YIELDS	      100
#define EXACT_TRIES	      3 /* a measure exact to the tick must come out right once in these */
#define SPIN_AFTER_WAKE_TICKS 3
#define TWINS		      4 /* sleepers due on the same tick */
#define TWIN_TICKS	      2

static struct thread *looked_at;
static volatile int state_seen;

static int look_at_it(void *arg)
{
	(void)arg;
	state_seen = (int)looked_at->state;
	return 0;
}

/*
 * Main alone: a sleep of n ticks ends on the tick n (or n + 1 if a tick came in between),
 * and exactly on n at least once in three tries, each started right after a tick: a sleeper
 * wakes on the tick it is due, not the one after. First, thread_sleep(0) is a yield: the
 * thread that runs meanwhile finds main RUNNABLE, not SLEEPING (interrupts are off from the
 * create to the sleep, so that only the sleep lets the thread run).
 */
KTEST(sleep, main_sleeps_for_its_ticks, 2)
{
	static const uint64_t ms[] = {10, 25, 40};

	if (!threads_and_timer_require(t))
		return;
	looked_at = thread_current();
	state_seen = -1;
	unsigned long flags = irq_save();
	struct thread *looker = thread_create("looker", look_at_it, NULL);
	if (looker)
		thread_sleep(0);
	irq_restore(flags);
	ASSERT_NOT_NULL(t, looker);
	if (!join_within(t, looker, TEST_JOIN_DEADLINE_MS, NULL, "main slept 0 ms"))
		return;
	if (state_seen != THREAD_RUNNABLE)
		FAIL(t,
		     "during thread_sleep(0) main was %s, not RUNNABLE: a sleep of 0 ticks is "
		     "thread_yield (thread.h), main goes to the back of the run queue",
		     state_seen < 0 ? "never looked at" : thread_state_name(state_seen));
	for (unsigned i = 0; i < ARRAY_SIZE(ms); i++) {
		uint64_t n = timer_ms_to_ticks(ms[i]), slept = 0;
		bool exact = false;

		for (int try = 0; try < EXACT_TRIES && !exact; try++) {
			wait_for_tick_after(timer_ticks(), TEST_TICK_WAIT_PERIODS);
			uint64_t start = timer_ticks();
			thread_sleep(ms[i]);
			slept = timer_ticks() - start;
			if (slept < n || slept > n + 1) {
				FAIL(t, "thread_sleep(%lu) lasted %lu ticks, not %lu (or %lu)",
				     ms[i], slept, n, n + 1);
				return;
			}
			exact = slept == n;
		}
		if (!exact)
			FAIL(t,
			     "thread_sleep(%lu) lasted %lu ticks each of %d times, not %lu: a sleeper "
			     "is due on the tick start + %lu, and wakes on it, not on the tick after",
			     ms[i], slept, EXACT_TRIES, n, n);
	}

	/*
	 * Woken, main took the CPU from the idle thread. The idle thread is then on no queue, and
	 * while main spins it does not run: it runs only when the run queue is empty (thread.h).
	 */
	struct thread *idle = threads_idle_thread();
	ASSERT_NOT_NULL(t, idle);
	thread_sleep(TIMER_MS_PER_TICK);
	const struct list_node *next = idle->link.next;
	bool queued = next && next != &idle->link && next != LIST_POISON_NEXT;
	uint64_t idle_runs = idle->kstate.runs;
	struct tick_deadline d;
	tick_deadline_start(&d, SPIN_AFTER_WAKE_TICKS);
	while (!tick_deadline_passed(&d))
		cpu_relax();
	if (queued)
		FAIL(t,
		     "after main woke from a sleep, the idle thread was on a queue (its link points "
		     "at %p): the idle thread is never on the run queue",
		     (const void *)next);
	else if (idle->kstate.runs != idle_runs)
		FAIL(t,
		     "the idle thread ran %lu times while main spun for %d ticks: it must run only "
		     "when no other thread can, never from the run queue",
		     idle->kstate.runs - idle_runs, SPIN_AFTER_WAKE_TICKS);
}

struct sleeper {
	uint64_t ticks;	      /* how long it sleeps */
	uint64_t start, woke; /* timer_ticks() before and after */
};

static struct sleeper sleepers[SLEEPERS];
static int wake_order[SLEEPERS], woken;

static int sleep_and_note(void *arg)
{
	struct sleeper *s = &sleepers[(intptr_t)arg];

	s->start = timer_ticks();
	thread_sleep(s->ticks * TIMER_MS_PER_TICK);
	s->woke = timer_ticks();
	unsigned long flags = irq_save();
	wake_order[woken++] = (int)(intptr_t)arg;
	irq_restore(flags);
	return 0;
}

struct twin {
	int slept_as;	    /* how many twins went to sleep before it */
	uint64_t due, woke; /* its wake_tick, and timer_ticks() when it ran again */
	int woke_as;	    /* how many twins ran again before it */
};

static struct twin twins[TWINS];
static int twins_asleep, twins_awake;

static int sleep_as_a_twin(void *arg)
{
	struct twin *w = &twins[(intptr_t)arg];
	unsigned long flags = irq_save(); /* the note and the sleep in one step */

	w->slept_as = twins_asleep++;
	thread_sleep(TWIN_TICKS * TIMER_MS_PER_TICK);
	w->woke = timer_ticks();
	w->due = thread_current()->wake_tick;
	w->woke_as = twins_awake++;
	irq_restore(flags);
	return 0;
}

/*
 * Four threads go to sleep for the same ticks while the timer is paused, so all are due on
 * the same tick: that tick wakes every one of them (each runs on it, or the tick after if the
 * tick ended while the others ran), in the order they went to sleep.
 */
static void twins_wake_together_in_order(struct ktest *t)
{
	struct thread *th[TWINS];
	int asleep = 0;

	twins_asleep = twins_awake = 0;
	timer_pause();
	for (int i = 0; i < TWINS; i++)
		th[i] = thread_create("twin", sleep_as_a_twin, (void *)(intptr_t)i);
	for (int i = 0; i < MAX_YIELDS && asleep < TWINS; i++) {
		thread_yield();
		asleep = 0;
		for (int k = 0; k < TWINS; k++)
			asleep += th[k] && th[k]->state == THREAD_SLEEPING;
	}
	timer_resume();
	for (int i = 0; i < TWINS; i++)
		if (th[i])
			join_within(t, th[i], TEST_JOIN_DEADLINE_MS, NULL,
				    "its sleep should be over");
	if (asleep != TWINS || twins_awake != TWINS) {
		FAIL(t, "of %d threads that went to sleep for %d ticks, %d slept and %d woke",
		     TWINS, TWIN_TICKS, asleep, twins_awake);
		return;
	}
	for (int i = 0; i < TWINS; i++) {
		const struct twin *w = &twins[i];
		if (w->woke > w->due + 1) {
			FAIL(t,
			     "%d threads were due on tick %lu, but the one that went to sleep as "
			     "number %d ran again only on tick %lu: every sleeper whose tick has come "
			     "wakes on that tick, not one per tick",
			     TWINS, w->due, w->slept_as + 1, w->woke);
			return;
		}
	}
	for (int i = 0; i < TWINS; i++)
		if (twins[i].woke_as != twins[i].slept_as) {
			FAIL(t,
			     "%d threads were due on the same tick, and the one that went to sleep "
			     "as number %d woke as number %d: sleepers due on the same tick wake in "
			     "the order they went to sleep (a new one goes after those of its tick)",
			     TWINS, twins[i].slept_as + 1, twins[i].woke_as + 1);
			return;
		}
}

/*
 * Six threads, created in a random order, sleep for 2, 5, 8, ... ticks: each wakes on its
 * deadline (start + its ticks, or one tick later if a tick fell between its start and its
 * sleep), and they wake in the order of their deadlines. Then four due on the same tick
 * all wake on it, first asleep first woken.
 */
KTEST(sleep, sleepers_wake_in_deadline_order, 4)
{
	struct thread *th[SLEEPERS];
	int order[SLEEPERS];

	if (!threads_and_timer_require(t))
		return;
	for (int i = 0; i < SLEEPERS; i++)
		order[i] = i;
	for (int i = SLEEPERS - 1; i > 0; i--) { /* a random order of creation (Fisher-Yates) */
		int j = (int)ktest_random_range(t, 0, (uint64_t)i), x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	if (order[0] == 0 && order[1] == 1) { /* never shortest first: the queue must sort */
		order[0] = 1;
		order[1] = 0;
	}
	woken = 0;
	for (int i = 0; i < SLEEPERS; i++)
		sleepers[i] = (struct sleeper){SLEEP_FIRST + SLEEP_SPACING * (uint64_t)i, 0, 0};
	for (int i = 0; i < SLEEPERS; i++)
		th[order[i]] = thread_create("sleeper", sleep_and_note, (void *)(intptr_t)order[i]);
	for (int i = 0; i < SLEEPERS; i++)
		if (th[i])
			join_within(t, th[i], TEST_JOIN_DEADLINE_MS, NULL,
				    "its sleep should be over");
	if (woken != SLEEPERS) {
		FAIL(t, "only %d of %d sleepers woke up", woken, SLEEPERS);
		return;
	}
	for (int i = 0; i < SLEEPERS; i++) {
		const struct sleeper *s = &sleepers[i];
		uint64_t due = s->start + s->ticks;
		if (s->woke < due || s->woke > due + 1)
			FAIL(t,
			     "the sleeper of %lu ticks started on tick %lu, so was due on tick %lu "
			     "(or %lu), but woke on tick %lu",
			     s->ticks, s->start, due, due + 1, s->woke);
	}
	for (int i = 1; i < SLEEPERS; i++) {
		const struct sleeper *a = &sleepers[wake_order[i - 1]],
				     *b = &sleepers[wake_order[i]];
		/* deadlines known to the tick: compare those at least two apart */
		if (a->start + a->ticks >= b->start + b->ticks + 2)
			FAIL(t,
			     "the sleeper due on tick %lu woke after the one due on tick %lu: sleepers "
			     "must wake in deadline order",
			     b->start + b->ticks, a->start + a->ticks);
	}
	twins_wake_together_in_order(t);
}

static struct thread *long_sleeper;

static int sleep_long(void *arg)
{
	(void)arg;
	thread_sleep(LONG_SLEEP_MS);
	return 0;
}

/*
 * While a thread sleeps it is SLEEPING and is never switched to, and when every thread
 * sleeps the idle thread runs (halting the CPU): sleeping costs no CPU.
 */
KTEST(sleep, a_sleeper_uses_no_cpu, 3)
{
	if (!threads_and_timer_require(t))
		return;
	long_sleeper = thread_create("long-sleeper", sleep_long, NULL);
	ASSERT_NOT_NULL(t, long_sleeper);
	for (int i = 0; i < MAX_YIELDS && long_sleeper->state != THREAD_SLEEPING; i++)
		thread_yield(); /* it starts and goes to sleep */
	uint64_t runs = long_sleeper->kstate.runs;
	struct thread *idle = threads_idle_thread();
	uint64_t idle_runs = idle ? idle->kstate.runs : 0;
	int looked = 0, asleep = 0;

	for (int i = 0; i < LOOKS; i++) {
		thread_sleep(LOOK_EVERY_MS);
		if (long_sleeper->state == THREAD_EXITED)
			break;
		looked++;
		asleep += long_sleeper->state == THREAD_SLEEPING;
	}
	uint64_t runs_meanwhile = long_sleeper->kstate.runs - runs;
	idle = threads_idle_thread();
	uint64_t idle_meanwhile = idle ? idle->kstate.runs - idle_runs : 0;
	join_within(t, long_sleeper, TEST_JOIN_DEADLINE_MS, NULL, "its sleep should be over");
	EXPECT_GT(t, looked, 0);
	if (asleep != looked)
		FAIL(t, "the sleeping thread was SLEEPING only %d of the %d times main looked",
		     asleep, looked);
	if (looked == LOOKS && runs_meanwhile > 0)
		FAIL(t,
		     "the sleeping thread was switched to %lu times while it slept: a sleeper "
		     "must stay off the run queue until its tick",
		     runs_meanwhile);
	if (idle_meanwhile == 0)
		FAIL(t, "while main and the other thread both slept the idle thread never ran");
}
