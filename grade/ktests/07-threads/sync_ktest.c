/*
 * Lab 07, steps 10 and 11: the mutex and the semaphore. The race: two threads add 1 to a
 * shared counter by reading it, waiting a whole time slice, and writing it back. The wait is
 * a window the timer's preemption always lands in (it lasts until a tick has passed), so
 * without the mutex the other thread reads the same old value and one update is lost, every
 * time; with it the other thread blocks until the update is done.
 */
#include "irq.h"
#include "sync.h"
#include "thread_fixture.h"

#define RACERS	    2
#define RACE_ROUNDS 5
#define HOLD_TICKS  3 /* how long the holder keeps the mutex while another waits */
#define QUEUERS	    3
#define SEM_UNITS   2
#define SEM_TAKERS  3
#define ITEMS	    40
#define SLOTS	    4
#define MAX_YIELDS  100 /* to let a thread reach the point where it blocks */

/* Yield until th is BLOCKED (or has exited), at most MAX_YIELDS times; true if it is. */
static bool yield_until_blocked(struct thread *th)
{
	for (int i = 0; i < MAX_YIELDS && th->state != THREAD_BLOCKED; i++) {
		if (th->state == THREAD_EXITED)
			return false;
		thread_yield();
	}
	return th->state == THREAD_BLOCKED;
}

/* ---- the race --------------------------------------------------------------------------- */

struct race {
	volatile int counter;
	struct mutex *lock; /* NULL: none */
};

/* Spin until the tick count has moved on by a whole slice: the window. (Or until the PIT says
 * the timer has stopped: then the test ends, and the grader says why.) */
static void wait_a_slice(void)
{
	struct tick_deadline d;

	tick_deadline_start(&d, THREAD_SLICE_TICKS);
	while (!tick_deadline_passed(&d))
		cpu_relax();
}

static int racer(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < RACE_ROUNDS; i++) {
		if (r->lock)
			mutex_lock(r->lock);
		int v = r->counter; /* read */
		wait_a_slice();	    /* ... preempted in here ... */
		r->counter = v + 1; /* write back */
		if (r->lock)
			mutex_unlock(r->lock);
	}
	return 0;
}

/* Fail t for a racer th that did not finish: with what the mutex shows, when it shows why. */
static void racer_stuck(struct ktest *t, const struct thread *th, const struct mutex *m)
{
	if (m && !m->owner && !list_empty(&m->waiters.threads))
		FAIL(t,
		     "thread '%s' is still %s %d ms after the race should be over, and the mutex is "
		     "free (owner NULL) while racers wait on it: a lost wakeup. When threads wait, "
		     "mutex_unlock hands the mutex to the first of them (thread_wake_one) and makes "
		     "it the owner, instead of only clearing the owner",
		     th->name, thread_state_name(th->state), TEST_JOIN_DEADLINE_MS);
	else
		FAIL(t, "thread '%s' is still %s %d ms after the race should be over", th->name,
		     thread_state_name(th->state), TEST_JOIN_DEADLINE_MS);
}

/* Run the racers over r; false (the test failed) if one did not finish. */
static bool race(struct ktest *t, struct race *r)
{
	struct thread *th[RACERS];
	bool ok = true;

	for (int i = 0; i < RACERS; i++)
		th[i] = thread_create("racer", racer, r);
	for (int i = 0; i < RACERS; i++) {
		if (!th[i]) {
			FAIL(t, "thread_create returned NULL");
			ok = false;
		} else if (!exits_within(th[i], TEST_JOIN_DEADLINE_MS)) {
			racer_stuck(t, th[i], r->lock); /* left alone: it cannot be freed */
			ok = false;
		} else {
			thread_join(th[i]);
		}
	}
	return ok;
}

/* Without a lock, preemption inside the read-modify-write loses updates. */
KTEST(mutex, without_it_updates_are_lost, 2)
{
	static struct race r; /* static: a racer the test gave up on may still write to it */

	r = (struct race){0, NULL};
	if (!threads_and_timer_require(t) || !race(t, &r))
		return;
	if (r.counter >= RACERS * RACE_ROUNDS)
		FAIL(t,
		     "the counter reached %d without a lock: no update was lost, so no thread was "
		     "preempted inside its read-modify-write (is thread_tick preempting?)",
		     r.counter);
}

/* With the mutex around it, every update counts. */
KTEST(mutex, keeps_a_shared_counter_exact, 4)
{
	static struct mutex m;
	static struct race r;

	if (!threads_and_timer_require(t))
		return;
	mutex_init(&m);
	r = (struct race){0, &m};
	if (!race(t, &r))
		return;
	EXPECT_EQ(t, r.counter, RACERS * RACE_ROUNDS);
	EXPECT_NULL(t, m.owner);
}

/* ---- blocking and handing over ------------------------------------------------------------ */

static struct mutex held;
static struct thread *waiter;
static volatile int waiter_states_blocked, waiter_looks;
static volatile uint64_t waiter_runs_during_hold;
static struct thread *owner_after_unlock;

static int wait_for_it(void *arg)
{
	(void)arg;
	mutex_lock(&held);
	mutex_unlock(&held);
	return 0;
}

static int hold_it(void *arg)
{
	(void)arg;
	mutex_lock(&held);
	waiter = thread_create("waiter", wait_for_it, NULL);
	if (!waiter) {
		mutex_unlock(&held);
		return -1;
	}
	for (int i = 0; i < MAX_YIELDS && waiter->state != THREAD_BLOCKED; i++)
		thread_yield(); /* the waiter runs and calls mutex_lock */
	uint64_t runs = waiter->kstate.runs;
	struct tick_deadline hold;

	tick_deadline_start(&hold, HOLD_TICKS);
	while (!tick_deadline_passed(
		&hold)) { /* hold it: the timer preempts us, the waiter must not run */
		waiter_looks++;
		waiter_states_blocked += waiter->state == THREAD_BLOCKED;
		wait_a_slice();
	}
	waiter_runs_during_hold = waiter->kstate.runs - runs;
	unsigned long flags = irq_save();
	mutex_unlock(&held);
	owner_after_unlock = held.owner; /* before anybody else runs */
	irq_restore(flags);
	return 0;
}

/*
 * A thread that finds the mutex held is BLOCKED, not run again while the holder keeps it
 * (even though the holder is preempted every tick), and the unlock hands the mutex straight
 * to it.
 */
KTEST(mutex, a_waiter_blocks_and_gets_it_next, 4)
{
	if (!threads_and_timer_require(t))
		return;
	mutex_init(&held);
	waiter = NULL;
	waiter_looks = waiter_states_blocked = 0;
	owner_after_unlock = NULL;
	struct thread *holder = thread_create("holder", hold_it, NULL);
	ASSERT_NOT_NULL(t, holder);
	if (!join_within(t, holder, TEST_JOIN_DEADLINE_MS, NULL, "it held the mutex long enough"))
		return;
	ASSERT_NOT_NULL(t, waiter);
	struct thread *w = waiter;
	bool handed = owner_after_unlock == w;
	if (!join_within(t, w, TEST_JOIN_DEADLINE_MS, NULL,
			 "the mutex it waits for was unlocked (a lost wakeup?)"))
		return;
	if (waiter_states_blocked != waiter_looks)
		FAIL(t,
		     "while the mutex was held, the waiter was BLOCKED only %d of the %d times the "
		     "holder looked: a waiter must block on the wait queue, not spin or yield",
		     waiter_states_blocked, waiter_looks);
	if (waiter_runs_during_hold)
		FAIL(t, "the waiter was switched to %lu times while the mutex was held",
		     waiter_runs_during_hold);
	if (!handed)
		FAIL(t, "right after mutex_unlock the owner was not the waiter: unlock hands the "
			"mutex to the first waiter");
	EXPECT_NULL(t, held.owner);
}

static struct mutex line;
static int served[QUEUERS], nserved;

static int queue_up(void *arg)
{
	mutex_lock(&line);
	served[nserved++] = (int)(intptr_t)arg;
	mutex_unlock(&line);
	return 0;
}

/* Waiters get the mutex in the order they came: first come, first served. */
KTEST(mutex, waiters_are_served_in_order, 2)
{
	struct thread *th[QUEUERS];

	if (!threads_and_timer_require(t))
		return;
	mutex_init(&line);
	nserved = 0;
	mutex_lock(&line);
	for (int i = 0; i < QUEUERS; i++) {
		th[i] = thread_create("queuer", queue_up, (void *)(intptr_t)i);
		if (th[i] && !yield_until_blocked(th[i])) /* until it waits in line */
			FAIL(t, "waiter %d is %s, not BLOCKED, while the mutex is held", i,
			     thread_state_name(th[i]->state));
	}
	mutex_unlock(&line);
	for (int i = 0; i < QUEUERS; i++)
		if (th[i])
			join_within(t, th[i], TEST_JOIN_DEADLINE_MS, NULL,
				    "the mutex was unlocked");
	EXPECT_EQ(t, nserved, QUEUERS);
	for (int i = 0; i < nserved; i++)
		if (served[i] != i)
			FAIL(t, "waiter %d got the mutex as number %d", served[i], i + 1);
}

/* Unlocking a mutex one does not hold, or locking one twice, is a bug: a panic. */
KTEST(mutex, misuse_panics, 1)
{
	struct mutex m;

	if (!threads_require(t))
		return;
	mutex_init(&m);
	EXPECT_PANIC(t, "mutex_unlock", mutex_unlock(&m));
	mutex_lock(&m);
	EXPECT_PANIC(t, "mutex_lock", mutex_lock(&m));
	mutex_unlock(&m);
	EXPECT_NULL(t, m.owner);
}

/* ---- the semaphore ---------------------------------------------------------------------- */

static struct semaphore units;
static volatile int got_unit[SEM_TAKERS];

static int take_unit(void *arg)
{
	semaphore_down(&units);
	got_unit[(intptr_t)arg] = 1;
	return 0;
}

/*
 * A semaphore of 2: two takers pass, the third blocks until semaphore_up. Which one blocks is
 * the scheduler's choice (a tick may reorder them), so the test only asks that exactly one does.
 */
KTEST(semaphore, counts_down_then_blocks, 3)
{
	struct thread *th[SEM_TAKERS];
	int got = 0, blocked = -1;

	if (!threads_and_timer_require(t))
		return;
	semaphore_init(&units, SEM_UNITS);
	for (int i = 0; i < SEM_TAKERS; i++) {
		got_unit[i] = 0;
		th[i] = thread_create("taker", take_unit, (void *)(intptr_t)i);
		ASSERT_NOT_NULL(t, th[i]);
	}
	/* should be: two takers noted their unit, one is BLOCKED in semaphore_down */
	for (int i = 0; i < MAX_YIELDS; i++) {
		got = 0;
		blocked = -1;
		for (int k = 0; k < SEM_TAKERS; k++) {
			got += got_unit[k];
			if (th[k]->state == THREAD_BLOCKED)
				blocked = k;
		}
		if (got == SEM_UNITS && blocked >= 0)
			break;
		thread_yield();
	}
	EXPECT_EQ(t, got, SEM_UNITS);
	if (blocked < 0)
		FAIL(t, "with both units taken, no taker is BLOCKED: they are %s, %s and %s",
		     thread_state_name(th[0]->state), thread_state_name(th[1]->state),
		     thread_state_name(th[2]->state));
	EXPECT_EQ(t, units.count, 0);
	semaphore_up(&units);
	for (int i = 0; i < SEM_TAKERS; i++)
		join_within(t, th[i], TEST_JOIN_DEADLINE_MS, NULL, "semaphore_up gave a unit");
	for (int i = 0; i < SEM_TAKERS; i++)
		EXPECT_EQ(t, got_unit[i], 1);
	EXPECT_EQ(t, units.count, 0);
	semaphore_up(&units);
	EXPECT_EQ(t, units.count, 1);
}

static int ring[SLOTS], head, tail;
static struct semaphore empty_slots, full_slots;
static struct mutex ring_lock;
static int received[ITEMS], nreceived;

static int produce(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITEMS; i++) {
		semaphore_down(&empty_slots);
		mutex_lock(&ring_lock);
		ring[head++ % SLOTS] = i;
		mutex_unlock(&ring_lock);
		semaphore_up(&full_slots);
	}
	return 0;
}

static int consume(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITEMS; i++) {
		semaphore_down(&full_slots);
		mutex_lock(&ring_lock);
		received[nreceived++] = ring[tail++ % SLOTS];
		mutex_unlock(&ring_lock);
		semaphore_up(&empty_slots);
		if (i % 7 == 0)
			thread_yield();
	}
	return 0;
}

/* A ring of 4 slots between a producer and a consumer: all 40 items arrive, in order. */
KTEST(semaphore, producer_and_consumer_keep_every_item, 3)
{
	if (!threads_and_timer_require(t))
		return;
	head = tail = nreceived = 0;
	semaphore_init(&empty_slots, SLOTS);
	semaphore_init(&full_slots, 0);
	mutex_init(&ring_lock);
	struct thread *c = thread_create("consumer", consume, NULL);
	struct thread *p = thread_create("producer", produce, NULL);
	ASSERT_TRUE(t, c && p);
	join_within(t, p, TEST_JOIN_DEADLINE_MS, NULL, "it should have produced everything");
	join_within(t, c, TEST_JOIN_DEADLINE_MS, NULL, "it should have consumed everything");
	EXPECT_EQ(t, nreceived, ITEMS);
	for (int i = 0; i < nreceived; i++)
		if (received[i] != i) {
			FAIL(t, "item %d arrived as number %d", received[i], i + 1);
			break;
		}
}
