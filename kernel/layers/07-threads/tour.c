/*
 * Layer 07's part of the tour: two threads taking turns, preemption, sleeping in deadline
 * order, and a race that a mutex fixes; each part ends with a note if it reaches a TODO.
 */
#include "irq.h"
#include "kprintf.h"
#include "ktry.h"
#include "layer_access.h"
#include "local.h"
#include "paging.h"
#include "pic.h"
#include "sync.h"
#include "timer.h"

#define TOUR_TURNS	 3
#define TOUR_SPIN_TICKS	 10
#define TOUR_RACE_ROUNDS 5
#define TOUR_LOG_MAX	 160

static char tour_log[TOUR_LOG_MAX];
static size_t tour_log_len;

static void tour_note(const char *fmt, const char *name, int n)
{
	unsigned long flags = irq_save();

	tour_log_len += (size_t)ksnprintf(tour_log + tour_log_len, TOUR_LOG_MAX - tour_log_len, fmt,
					  name, n);
	if (tour_log_len >= TOUR_LOG_MAX)
		tour_log_len = TOUR_LOG_MAX - 1;
	irq_restore(flags);
}

static int tour_ping(void *arg)
{
	for (int i = 1; i <= TOUR_TURNS; i++) {
		tour_note("%s %d, ", arg, i);
		thread_yield();
	}
	return 0;
}

/* Two threads take turns through thread_yield, the timer masked so that only yields switch. */
static void tour_yield(void *arg)
{
	(void)arg;
	tour_log_len = 0;
	pic_mask(IRQ_TIMER);
	struct thread *a = thread_create("ping", tour_ping, "ping");
	struct thread *b = thread_create("pong", tour_ping, "pong");
	for (int i = 0; a && b && i < 4 * TOUR_TURNS; i++)
		thread_yield();
	pic_unmask(IRQ_TIMER);
	if (a)
		thread_join(a);
	if (b)
		thread_join(b);
	kprintf("yield: two threads take turns, each yielding after every line: %s...\n", tour_log);
}

struct spinner {
	volatile uint64_t count;
	uint64_t until;
	uint64_t runs; /* how many times the thread was switched to */
};

static int tour_spin(void *arg)
{
	struct spinner *s = arg;

	while (timer_ticks() < s->until) /* never yields: only the timer takes the CPU away */
		s->count++;
	s->runs = thread_current()->kstate.runs;
	return 0;
}

static void tour_preemption(void *arg)
{
	struct spinner s[2] = {{0, timer_ticks() + TOUR_SPIN_TICKS, 0}, {0, 0, 0}};

	(void)arg;
	s[1].until = s[0].until;
	struct thread *a = thread_create("spin-a", tour_spin, &s[0]);
	struct thread *b = thread_create("spin-b", tour_spin, &s[1]);
	if (a)
		thread_join(a);
	if (b)
		thread_join(b);
	kprintf("preemption: two threads count for %d ms, never yielding: spin-a to %lu, spin-b "
		"to %lu; the timer gave them the CPU in turns (%lu and %lu times)\n",
		TOUR_SPIN_TICKS * TIMER_MS_PER_TICK, s[0].count, s[1].count, s[0].runs, s[1].runs);
}

/*
 * Three naps of 300, 100 and 200 ms: deadlines ten ticks apart, so that the order they are due
 * in does not depend on how fast the threads got going (on a busy host a tick or two can pass
 * between their starts). The tour says the order they woke in, and whether it was the order of
 * their deadlines.
 */
#define TOUR_NAPS 3

static const int tour_naps[TOUR_NAPS] = {300, 100, 200};
static int tour_woke[TOUR_NAPS]; /* the naps' ms, in the order they woke */
static int tour_nwoke;

static int tour_nap(void *arg)
{
	int ms = (int)(intptr_t)arg;

	thread_sleep((uint64_t)ms);
	unsigned long flags = irq_save();

	if (tour_nwoke < TOUR_NAPS)
		tour_woke[tour_nwoke++] = ms;
	irq_restore(flags);
	return 0;
}

static void tour_sleep(void *arg)
{
	struct thread *t[TOUR_NAPS];
	bool in_order = true;

	(void)arg;
	tour_log_len = 0;
	tour_nwoke = 0;
	for (int i = 0; i < TOUR_NAPS; i++)
		t[i] = thread_create("nap", tour_nap, (void *)(intptr_t)tour_naps[i]);
	for (int i = 0; i < TOUR_NAPS; i++)
		if (t[i])
			thread_join(t[i]);
	for (int i = 0; i < tour_nwoke; i++) {
		tour_note(i == 0 ? "%s-%d woke first, " : "then %s-%d, ", "nap", tour_woke[i]);
		if (i > 0 && tour_woke[i] < tour_woke[i - 1])
			in_order = false;
	}
	kprintf("sleep: three threads sleep 300, 100 and 200 ms (the CPU idles meanwhile): %s%s\n",
		tour_log,
		tour_nwoke < TOUR_NAPS ? "and not all of them woke"
		: in_order	       ? "in order of their deadlines"
				       : "NOT in order of their deadlines");
}

struct race {
	volatile int counter;
	struct mutex *lock; /* NULL: no lock */
};

/* counter++, the slow way: read, let a whole time slice pass, write back. */
static int tour_racer(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < TOUR_RACE_ROUNDS; i++) {
		if (r->lock)
			mutex_lock(r->lock);
		int v = r->counter;
		uint64_t t0 = timer_ticks();
		while (timer_ticks() - t0 < THREAD_SLICE_TICKS) /* preempted in here */
			cpu_relax();
		r->counter = v + 1;
		if (r->lock)
			mutex_unlock(r->lock);
	}
	return 0;
}

static int tour_race_once(struct mutex *m)
{
	struct race r = {0, m};
	struct thread *a = thread_create("racer-a", tour_racer, &r);
	struct thread *b = thread_create("racer-b", tour_racer, &r);

	if (a)
		thread_join(a);
	if (b)
		thread_join(b);
	return a && b ? r.counter : -1;
}

static void tour_race(void *arg)
{
	struct mutex m;

	(void)arg;
	mutex_init(&m);
	int without = tour_race_once(NULL), with = tour_race_once(&m);
	kprintf("race: two threads each add 1 to a counter %d times (read it, wait a tick, write "
		"it back): without a mutex it ends at %d, with one at %d\n",
		TOUR_RACE_ROUNDS, without, with);
}

/* One part of the tour; a TODO it reaches ends that part with a note. */
static void tour_step(void (*fn)(void *))
{
	struct ktry_result res;

	if (ktry_call(fn, NULL, KTRY_TODO, &res))
		kprintf("  (stopped: %s)\n", res.msg);
}

void threads_tour(void)
{
	if (!threads_up) {
		kprintf("no threads yet: %s\n", threads_unavailable());
		return;
	}
	struct thread *me = thread_current();
	uint64_t frames = kframes_free();
	kprintf("running: thread '%s' (the boot code), stack 0x%lx-0x%lx; thread stacks are %lu "
		"KiB at 0x%lx, each above an unmapped guard page\n",
		me->name, me->stack.bottom, me->stack.top, THREAD_STACK_SIZE >> 10, KSTACKS_BASE);
	tour_step(tour_yield);
	if (!timer_up) {
		kprintf("no timer yet (%s): no preemption, no sleep\n", timer_unavailable());
		return;
	}
	tour_step(tour_preemption);
	tour_step(tour_sleep);
	tour_step(tour_race);
	uint64_t left = kframes_free();
	size_t slots = kstack_slots_used();

	if (left == frames)
		kprintf("every thread joined: %lu frames free, as before the tour", left);
	else
		kprintf("every thread joined: %lu frames free, %lu %s than before the tour (%lu)",
			left, left < frames ? frames - left : left - frames,
			left < frames ? "fewer" : "more", frames);
	kprintf("; stack slots in use: %zu%s\n", slots, slots == 1 ? " (the idle thread's)" : "");
}
