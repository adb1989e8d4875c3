/*
 * The timer: channel 0 of the 8253/8254 programmable interval timer (PIT) raises IRQ 0
 * TIMER_HZ times a second, and every interrupt is one tick. Lab 07 writes this
 * (labs/07-threads/timer.c); the scheduler's sense of time, preemption and sleeping all
 * come from it.
 *
 * The PIT counts down from a divisor at PIT_FREQUENCY_HZ (1.193182 MHz, a quarter of the
 * 14.31818 MHz crystal of the first PC); in mode 2, "rate generator", it raises its output
 * each time the count reaches 1 and starts again from the divisor. So the divisor sets the
 * rate:
 *
 *     divisor = PIT_FREQUENCY_HZ / TIMER_HZ = 1193182 / 100 = 11931.82, written as 11932
 *     one tick every 11932 / 1193182 s = 10.0002 ms
 *
 * The divisor is 16 bits (0 stands for 65536), so the slowest rate is about 18.2 Hz.
 */
#pragma once

#include <stdint.h>
#include "trap.h"

#define PIT_FREQUENCY_HZ  1193182
#define TIMER_HZ	  100
#define TIMER_MS_PER_TICK (1000 / TIMER_HZ)

#define PIT_CHANNEL0	  0x40 /* channel 0's counter: the divisor in, the count out */
#define PIT_COMMAND	  0x43 /* mode/command register (write only) */

/* Bits of a command byte: which channel, how its counter is accessed, which mode. */
#define PIT_SELECT_CHANNEL0 (0u << 6)
#define PIT_ACCESS_LATCH    (0u << 4) /* latch the count for reading (no mode follows) */
#define PIT_ACCESS_LOHI	    (3u << 4) /* counter read/written low byte, then high byte */
#define PIT_MODE_RATE	    (2u << 1) /* mode 2: rate generator */
#define PIT_BINARY	    0u	      /* count in binary, not BCD */
/* Read-back command: latch the status byte of channel 0 (but not its count). */
#define PIT_READBACK_STATUS0 0xe2

_Static_assert(TIMER_HZ > PIT_FREQUENCY_HZ / 65536 && TIMER_HZ <= 1000,
	       "TIMER_HZ out of the PIT's range (or sub-millisecond)");

/*
 * Start the timer: program channel 0 in mode 2 (rate generator, binary, low byte then high
 * byte) with the divisor closest to PIT_FREQUENCY_HZ / hz, route vector
 * PIC_VECTOR_BASE + IRQ_TIMER to timer_interrupt (trap_register), and unmask IRQ_TIMER at
 * the PIC. Call it with interrupts disabled, after pic_init; the kernel enables interrupts.
 */
void timer_init(unsigned hz);

/*
 * The handler of the timer's vector (interrupts off): send the PIC its EOI first (the
 * scheduler may switch to another thread before this one returns), count the tick, then call
 * thread_tick(), which wakes sleepers and preempts.
 */
void timer_interrupt(struct trap_frame *tf);

/* Ticks since timer_init: the kernel's clock, in units of 1/TIMER_HZ s. */
uint64_t timer_ticks(void);

/* ms milliseconds in ticks, rounded up: 1 ms is 1 tick, 10 ms 1 tick, 11 ms 2 ticks. */
static inline uint64_t timer_ms_to_ticks(uint64_t ms)
{
	return (ms * TIMER_HZ + 999) / 1000;
}
