/*
 * What the kernel keeps for each thread (thread.h's "the kernel gives a few pieces"): the state
 * that must follow a thread across switches, how a thread's body runs inside a test, and the
 * body of the idle thread with its deadlock watch.
 *
 * Per-thread kernel state. Two things the kernel keeps for "the code running now" must follow
 * each thread, or a test that starts threads could not fail cleanly: ktry's chain of catch
 * points (ktry.h), which lives on the stack of the thread that set them, and trap_depth
 * (trap.h), which is 1 inside a preempted thread's timer interrupt and 0 in a thread that
 * yielded. thread_kstate_switch() saves both in the thread that stops and loads those of the
 * thread that runs; schedule() calls it right before context_switch. A layer above may have
 * more to do at every switch (layer 08 loads the next thread's address space): it sets a hook
 * (switch_hook.h), called last. A new thread starts with
 * none of either; while a test runs, thread_run_body() gives it a catch point of its own, so
 * a TODO in a thread fails the test that started it, with the thread's name.
 *
 * Deadlock watch. The idle thread panics when nothing will ever run again: at once if the
 * timer is off or masked (no interrupt can wake anybody), and while a test runs, when nothing
 * but the idle thread has run for DEADLOCK_TICKS (every thread waits for a wakeup that will
 * not come: a lost wakeup, a thread dropped from the run queue). It first lists every thread
 * with what it waits for, so the report names the culprit sooner and more clearly than the
 * grader's timeout would.
 */
#include "irq.h"
#include "kprintf.h"
#include "ktest_running.h"
#include "ktry.h"
#include "local.h"
#include "panic.h"
#include "pic.h"
#include "switch_hook.h"
#include "timer.h"
#include "trap.h"
#include "x86.h"

#define DEADLOCK_TICKS	   (TIMER_HZ / 2) /* half a second of nothing but the idle thread */
#define THREAD_FAILED_EXIT (-1)		  /* the exit value of a thread a test failure stopped */

static struct thread *main_thread, *idle_thread;
static uint64_t idle_since;		 /* the tick when the idle thread last started running */
static thread_switch_hook_t switch_hook; /* a layer above's (switch_hook.h), or NULL */

void threads_note_main(struct thread *main)
{
	main_thread = main;
}

struct thread *threads_idle_thread(void)
{
	return idle_thread;
}

/*
 * A thread's first switch: its kernel part must be as thread_create's clear left it. Junk there
 * (kmalloc's memory keeps what it held) would load another thread's catch points and trap
 * depth, and the thread would crash somewhere far from the cause.
 */
static void check_first_run(const struct thread *next)
{
	const struct thread_kstate *k = &next->kstate;

	if (!kstack_slot_first_run(next->stack.slot) || kstack_slot_owner(next->stack.slot) != next)
		return;
	if (k->ktry_top || k->trap_depth || k->runs)
		panic("thread '%s' starts with junk in its record (kstate: catch points %p, trap "
		      "depth %d, runs %lu): thread_create must clear the whole struct thread it gets "
		      "from kmalloc, whose memory keeps what it held before",
		      next->name, (void *)k->ktry_top, k->trap_depth, k->runs);
}

void thread_kstate_switch(struct thread *prev, struct thread *next)
{
	check_first_run(next);
	prev->kstate.ktry_top = ktry_chain();
	prev->kstate.trap_depth = trap_depth;
	ktry_set_chain(next->kstate.ktry_top);
	trap_depth = next->kstate.trap_depth;
	next->kstate.runs++;
	if (next == idle_thread)
		idle_since = timer_up ? timer_ticks() : 0;
	if (switch_hook)
		switch_hook(prev, next);
}

thread_switch_hook_t threads_set_switch_hook(thread_switch_hook_t hook)
{
	thread_switch_hook_t old = switch_hook;

	switch_hook = hook;
	return old;
}

struct body_call {
	struct thread *self;
	int value;
};

static void call_body(void *arg)
{
	struct body_call *c = arg;

	c->value = c->self->fn(c->self->arg);
}

int thread_run_body(struct thread *self)
{
	if (!ktest_running() || self->fn == thread_idle_main)
		return self->fn(self->arg);

	struct body_call c = {self, 0};
	struct ktry_result res;
	int kind = ktry_call(call_body, &c, KTRY_ANY, &res);

	if (kind == 0)
		return c.value;
	if (kind != KTRY_ABORT) { /* a failed ASSERT has recorded itself already */
		char msg[KTRY_MSG_MAX];

		ksnprintf(msg, sizeof(msg), "in thread '%s': %s%s", self->name,
			  kind == KTRY_PANIC ? "panic: " : "", res.msg);
		if (ktest_running()) {
			ktest_fail_running(msg);
			ktest_trace_running(&res);
		} else
			kprintf("threads: %s (the thread exits)\n", msg);
	}
	return THREAD_FAILED_EXIT;
}

/* ---- the idle thread and the deadlock watch -------------------------------------------------- */

/* True if the timer's line is masked at the PIC (a test paused it). */
static bool timer_masked(void)
{
	return inb(PIC1_DATA) & (1u << IRQ_TIMER);
}

/* The thread t is joining, if it is blocked in thread_join: the thread whose joiner it is. */
static struct thread *joined_by(const struct thread *t)
{
	for (int s = 0; s < THREAD_SLOTS; s++) {
		struct thread *u = kstack_slot_owner(s);
		if (u && u->joiner == t)
			return u;
	}
	return NULL;
}

/*
 * Print each thread that waits, with what it waits for; return a sleeper whose wake tick has
 * passed (a sleeper nobody woke), or NULL; and in *runnable a thread that is RUNNABLE, which
 * the idle thread should never see (or NULL).
 */
static struct thread *report_waiting(uint64_t now, struct thread **runnable)
{
	struct thread *overdue = NULL;

	*runnable = NULL;

	kprintf("threads at tick %lu:\n", now);
	for (int s = -1; s < THREAD_SLOTS; s++) {
		struct thread *t = s < 0 ? main_thread : kstack_slot_owner(s), *j;

		if (!t || t == idle_thread || t->state == THREAD_EXITED)
			continue;
		if (t->state == THREAD_SLEEPING) {
			kprintf("  '%s' SLEEPING, due at tick %lu%s\n", t->name, t->wake_tick,
				t->wake_tick <= now ? ": overdue" : "");
			if (t->wake_tick <= now && !overdue)
				overdue = t;
		} else if (t->state == THREAD_BLOCKED && (j = joined_by(t)) != NULL) {
			kprintf("  '%s' BLOCKED in thread_join on '%s' (%s)\n", t->name, j->name,
				j->state == THREAD_EXITED
					? "which has exited: nobody woke the joiner"
					: "which waits too");
		} else {
			kprintf("  '%s' %s\n", t->name,
				t->state == THREAD_BLOCKED ? "BLOCKED on a wait queue (a mutex, a "
							     "semaphore)"
				: t->state == THREAD_RUNNABLE
					? "RUNNABLE, yet the scheduler never runs it"
					: "RUNNING?");
			if (t->state == THREAD_RUNNABLE && !*runnable)
				*runnable = t;
		}
	}
	return overdue;
}

/*
 * The idle thread runs: nothing else can. Panic if nothing ever will again: without the timer
 * (or with its line masked) no interrupt can wake a sleeper or preempt anyone, and while a
 * test runs, half a second of nothing but the idle thread means every thread waits for a wakeup
 * that will not come. Either way, say which test is stuck and who waits for what.
 */
static void check_deadlock(void)
{
	const char *test = ktest_running();
	bool no_timer = !timer_up || timer_masked();
	/* Both at one moment: a tick between the two reads switches back into this thread and
	 * moves idle_since past the tick count read before it (which would look like a wait of
	 * 2^64 ticks). */
	unsigned long flags = irq_save();
	uint64_t now = timer_up ? timer_ticks() : 0, since = idle_since;

	irq_restore(flags);
	if (!no_timer && !(test && now - since >= DEADLOCK_TICKS))
		return;
	struct thread *runnable, *overdue = report_waiting(now, &runnable);

	if (runnable)
		panic("thread_idle_main: deadlock in %s: '%s' is RUNNABLE, yet the idle thread runs%s: "
		      "schedule picks the idle thread only when the run queue is empty. Is the idle "
		      "thread on the run queue (it never goes there), or '%s' left off it?",
		      test ? test : "(no test)", runnable->name,
		      no_timer ? (timer_up ? ", with the timer masked" : ", with no timer")
			       : " (for half a second)",
		      runnable->name);
	if (no_timer)
		panic("thread_idle_main: deadlock in %s: every thread is blocked or asleep, and with "
		      "the timer %s nothing can wake them",
		      test ? test : "(no test)", timer_up ? "masked" : "off");
	if (overdue)
		panic("thread_idle_main: deadlock in %s: '%s' is SLEEPING, due at tick %lu, now %lu: "
		      "does wake_sleepers run on every tick, and wake every sleeper whose tick has "
		      "come?",
		      test, overdue->name, overdue->wake_tick, now);
	panic("thread_idle_main: deadlock in %s: for %d ms nothing but the idle thread ran; every "
	      "other thread is blocked or asleep with nobody left to wake it (a lost wakeup, or a "
	      "thread dropped from the run queue? the list above says who waits for what)",
	      test, DEADLOCK_TICKS * TIMER_MS_PER_TICK);
}

int thread_idle_main(void *arg)
{
	(void)arg;
	idle_thread = thread_current();
	idle_since = timer_up ? timer_ticks() : 0;
	for (;;) {
		check_deadlock();
		hlt(); /* interrupts are on: the next tick wakes it */
	}
}
