/*
 * Turning interrupts off and back on around a critical section. The kernel runs on one CPU,
 * so with interrupts off nothing else can run until they are on again: no timer tick, so no
 * preemption. That is the kernel's lock for short sections (the heap, the frame allocator,
 * the run queue).
 *
 *     unsigned long flags = irq_save();   // off, remembering whether they were on
 *     ...                                 // nothing else runs here
 *     irq_restore(flags);                 // on again only if they were on before
 *
 * Sections nest: an inner irq_save finds interrupts off already, so its irq_restore leaves
 * them off, and only the outermost irq_restore turns them on.
 */
#pragma once

#include <stdbool.h>
#include "x86.h"

/* Disable interrupts; returns the flags to give irq_restore. */
static inline unsigned long irq_save(void)
{
	unsigned long flags = read_rflags();

	cli();
	return flags;
}

/* Enable interrupts again if they were enabled when irq_save returned flags. */
static inline void irq_restore(unsigned long flags)
{
	if (flags & RFLAGS_IF)
		sti();
}

/* True if interrupts are enabled right now. */
static inline bool irq_enabled(void)
{
	return (read_rflags() & RFLAGS_IF) != 0;
}
