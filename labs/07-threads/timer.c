/*
 * The timer (see kernel/timer.h): the PIT's channel 0 as a rate generator at TIMER_HZ, and
 * its interrupt, which counts ticks and drives the scheduler.
 */
#include "pic.h"
#include "thread.h"
#include "timer.h"
#include "todo.h"
#include "trap.h"
#include "x86.h"

/* Written only by timer_interrupt; a 64-bit load is atomic on x86_64, so readers need no lock. */
static volatile uint64_t ticks;

uint64_t timer_ticks(void)
{
	return ticks;
}

/*
 * Step 2: one command byte to PIT_COMMAND (channel 0, low byte then high byte, mode 2,
 * binary), the divisor to PIT_CHANNEL0 low byte first, the handler for the timer's vector,
 * and IRQ_TIMER unmasked.
 */
void timer_init(unsigned hz)
{
	TODO("step 2: program PIT channel 0 (mode 2, low/high byte) with the divisor for hz, register timer_interrupt for its vector, unmask IRQ_TIMER");
}

/* Step 2: EOI first, then count the tick, then the scheduler's turn. */
void timer_interrupt(struct trap_frame *tf)
{
	(void)tf;
	TODO("step 2: send the EOI for IRQ_TIMER, add one to ticks, call thread_tick()");
}
