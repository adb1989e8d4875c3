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

#define OCW3_READ_IRR 0x0a /* what a read of the command port gives: requests (the default) */
#define OCW3_READ_ISR 0x0b /* ... or the lines in service */

/* The lines of one PIC in service and masked. */
static void pic_state(uint16_t command, uint16_t data, uint8_t *in_service, uint8_t *masked)
{
	unsigned long flags = irq_save();

	outb(command, OCW3_READ_ISR);
	*in_service = inb(command);
	outb(command, OCW3_READ_IRR);
	*masked = inb(data);
	irq_restore(flags);
}

const char *irq_held_back(int irq)
{
	static char why[96];
	uint8_t in_service, masked;
	int line = irq;

	if (irq >= 8) {
		pic_state(PIC2_COMMAND, PIC2_DATA, &in_service, &masked);
		line = irq - 8;
		if (in_service & (1u << line) || masked & (1u << line)) {
			ksnprintf(why, sizeof(why), "IRQ %d is %s at the slave PIC", irq,
				  in_service & (1u << line) ? "still in service (no EOI ended it)"
							    : "masked");
			return why;
		}
		line = PIC_IRQ_CASCADE;
	}
	pic_state(PIC1_COMMAND, PIC1_DATA, &in_service, &masked);
	if (in_service & (1u << line) || masked & (1u << line)) {
		ksnprintf(why, sizeof(why), "IRQ %d is %s at the master PIC%s", line,
			  in_service & (1u << line) ? "still in service (no EOI ended it)"
						    : "masked",
			  irq >= 8 ? " (the slave's cascade line)" : "");
		return why;
	}
	return NULL;
}

const char *timer_held_back(void)
{
	return irq_held_back(IRQ_TIMER);
}

static bool timer_seen_stopped; /* a wait ran out of patience with nothing holding IRQ 0 */

/* After `periods` periods of the PIT without the tick waited for (and `allowed` to wait
 * while the PIC holds IRQ 0 back): true if the wait is over. */
static bool waited_enough(int periods, int allowed)
{
	if (periods <= allowed)
		return false;
	if (timer_held_back() || timer_seen_stopped)
		return true;
	if (periods <= allowed - TEST_TICK_WAIT_PERIODS + TEST_TICK_PATIENCE_PERIODS)
		return false;
	timer_seen_stopped = true;
	return true;
}

bool wait_for_tick_after(uint64_t from, int periods)
{
	uint16_t last = pit_read_count();
	int wraps = 0;

	while (timer_ticks() == from) {
		uint16_t now = pit_read_count();

		/* counting down: up means it started over */
		if (now > last && waited_enough(++wraps, periods))
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
	d->periods = 0;
	d->last = pit_read_count();
	d->stalled = false;
	d->stalled_at = d->start;
	d->held = NULL;
}

bool tick_deadline_passed(struct tick_deadline *d)
{
	if (timer_ticks() >= d->until)
		return true;
	uint16_t now = pit_read_count();

	/* counting down: up means it started over */
	if (now > d->last &&
	    waited_enough(++d->periods, (int)(d->until - d->start) + TEST_TICK_WAIT_PERIODS)) {
		d->stalled_at = timer_ticks();
		d->stalled = d->stalled_at < d->until;
		d->held = timer_held_back();
	}
	d->last = now;
	return d->stalled;
}

void fail_timer_stopped(struct ktest *t, const struct tick_deadline *d, const char *when)
{
	if (d->held)
		FAIL(t,
		     "the timer stopped %s: the ticks stayed at %lu (from %lu) for %d PIT periods, "
		     "and %s. Does timer_interrupt (labs/07-threads/timer.c) send the EOI before "
		     "thread_tick, which may switch threads? Until it does, the PIC holds IRQ 0 back",
		     when, d->stalled_at, d->start, d->periods, d->held);
	else
		FAIL(t,
		     "the timer stopped %s: the ticks stayed at %lu (from %lu) for %d PIT periods, "
		     "though the PIC holds IRQ 0 back in no way (not in service, not masked). Does "
		     "timer_interrupt (labs/07-threads/timer.c) count every tick?",
		     when, d->stalled_at, d->start, d->periods);
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
		if (wait_for_tick_after(before, TEST_TICK_WAIT_PERIODS))
			continue;
		const char *held = timer_held_back();
		if (held)
			FAIL(t,
			     "no timer tick for %d periods of the PIT (its counter kept running): the "
			     "tick count stays at %lu, and %s. Does timer_interrupt "
			     "(labs/07-threads/timer.c) send the PIC its EOI, and before thread_tick? "
			     "Without it the PIC delivers IRQ 0 once and never again",
			     TEST_TICK_WAIT_PERIODS, before, held);
		else
			FAIL(t,
			     "no timer tick counted in up to %d periods of the PIT (its counter kept "
			     "running), though the PIC holds IRQ 0 back in no way (not in service, not "
			     "masked): the tick count stays at %lu. Does timer_interrupt "
			     "(labs/07-threads/timer.c) count each tick?",
			     TEST_TICK_PATIENCE_PERIODS, before);
		return false;
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

bool exits_within(struct thread *th, uint64_t ms)
{
	uint64_t deadline = timer_ticks() + timer_ms_to_ticks(ms);

	while (th->state != THREAD_EXITED && timer_ticks() < deadline)
		thread_sleep(TIMER_MS_PER_TICK);
	return th->state == THREAD_EXITED;
}

bool join_within(struct ktest *t, struct thread *th, uint64_t ms, int *value, const char *what)
{
	if (!exits_within(th, ms)) {
		FAIL(t, "thread '%s' is still %s %lu ms after %s", th->name,
		     thread_state_name(th->state), ms, what);
		return false;
	}
	int v = thread_join(th);
	if (value)
		*value = v;
	return true;
}
