/* The helpers of thread_fixture.h. */
#include "irq.h"
#include "kprintf.h"
#include "pic.h"
#include "thread_fixture.h"
#include "x86.h"

/* A failure with the reason alone: the helper's own file and line would say nothing. */
static void fail_because(struct ktest *t, const char *what, const char *why)
{
	char msg[KTRY_MSG_MAX];

	ksnprintf(msg, sizeof(msg), "%s: %s", what, why);
	ktest_fail_msg(t, msg);
}

bool threads_require(struct ktest *t)
{
	const char *why = threads_unavailable();

	if (why)
		fail_because(t, "the kernel has no threads", why);
	return why == NULL;
}

uint16_t pit_read_count(void)
{
	unsigned long flags = irq_save();

	outb(PIT_COMMAND, PIT_SELECT_CHANNEL0 | PIT_ACCESS_LATCH);
	uint8_t lo = inb(PIT_CHANNEL0);
	uint8_t hi = inb(PIT_CHANNEL0);
	irq_restore(flags);
	return (uint16_t)(lo | hi << 8);
}

bool wait_for_tick_after(uint64_t from, int periods)
{
	uint16_t last = pit_read_count();
	int wraps = 0;

	while (timer_ticks() == from) {
		uint16_t now = pit_read_count();

		if (now > last && ++wraps > periods) /* counting down: up means it started over */
			return timer_ticks() != from;
		last = now;
		cpu_relax();
	}
	return true;
}

void tick_deadline_start(struct tick_deadline *d, uint64_t ticks)
{
	d->start = timer_ticks();
	d->until = d->start + ticks;
	d->periods_left = (int)ticks + TEST_TICK_WAIT_PERIODS;
	d->last = pit_read_count();
	d->stalled = false;
	d->stalled_at = d->start;
}

bool tick_deadline_passed(struct tick_deadline *d)
{
	if (timer_ticks() >= d->until)
		return true;
	uint16_t now = pit_read_count();

	if (now > d->last && --d->periods_left < 0) { /* counting down: up means it started over */
		d->stalled_at = timer_ticks();
		d->stalled = d->stalled_at < d->until;
	}
	d->last = now;
	return d->stalled;
}

void fail_timer_stopped(struct ktest *t, const struct tick_deadline *d, const char *when)
{
	FAIL(t,
	     "the timer stopped %s: the ticks stayed at %lu (from %lu) for %lu PIT periods. Does "
	     "timer_interrupt (labs/07-threads/timer.c) send the EOI before thread_tick, which may "
	     "switch threads? Until it does, the PIC holds IRQ 0 back",
	     when, d->stalled_at, d->start, d->until - d->start + TEST_TICK_WAIT_PERIODS);
}

bool timer_require(struct ktest *t)
{
	const char *why = timer_unavailable();

	if (why) {
		fail_because(t, "the timer is not running", why);
		return false;
	}
	if (!irq_enabled()) {
		FAIL(t, "interrupts are disabled in the test: something left them off");
		return false;
	}
	/* Two ticks in a row: a timer without its EOI ticks once, and may just be doing that. */
	for (int i = 0; i < 2; i++) {
		uint64_t before = timer_ticks();
		if (!wait_for_tick_after(before, TEST_TICK_WAIT_PERIODS)) {
			FAIL(t,
			     "no timer tick for %d periods of the PIT (its counter kept running): the "
			     "tick count stays at %lu. Does timer_interrupt (labs/07-threads/timer.c) "
			     "send the PIC its EOI, and before thread_tick? Without it the PIC "
			     "delivers IRQ 0 once and never again",
			     TEST_TICK_WAIT_PERIODS, before);
			return false;
		}
	}
	return true;
}

bool threads_and_timer_require(struct ktest *t)
{
	return threads_require(t) && timer_require(t);
}

void timer_pause(void)
{
	unsigned long flags = irq_save();

	outb(PIC1_DATA, inb(PIC1_DATA) | (1u << IRQ_TIMER));
	irq_restore(flags);
}

void timer_resume(void)
{
	unsigned long flags = irq_save();

	outb(PIC1_DATA, inb(PIC1_DATA) & (uint8_t) ~(1u << IRQ_TIMER));
	irq_restore(flags);
}

const char *thread_state_name(enum thread_state s)
{
	switch (s) {
	case THREAD_RUNNABLE:
		return "RUNNABLE";
	case THREAD_RUNNING:
		return "RUNNING";
	case THREAD_SLEEPING:
		return "SLEEPING";
	case THREAD_BLOCKED:
		return "BLOCKED";
	case THREAD_EXITED:
		return "EXITED";
	}
	return "(not a state)";
}

bool join_within(struct ktest *t, struct thread *th, uint64_t ms, int *value, const char *what)
{
	uint64_t deadline = timer_ticks() + timer_ms_to_ticks(ms);

	while (th->state != THREAD_EXITED && timer_ticks() < deadline)
		thread_sleep(TIMER_MS_PER_TICK);
	if (th->state != THREAD_EXITED) {
		FAIL(t, "thread '%s' is still %s %lu ms after %s", th->name,
		     thread_state_name(th->state), ms, what);
		return false;
	}
	int v = thread_join(th);
	if (value)
		*value = v;
	return true;
}
