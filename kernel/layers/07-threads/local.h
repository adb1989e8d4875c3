/* Shared by the files of layer 07 only (kernel/layers/07-threads). */
#pragma once

#include <stdbool.h>
#include "thread.h"

/* What came up at boot (init.c): threads (thread_init), the timer (PIC, PIT, interrupts on). */
extern bool threads_up, timer_up;

/* The stack slots' owners, for the deadlock report (slots.c): the owner of slot s, or NULL. */
struct thread *kstack_slot_owner(int slot);

/* True the first time it is asked about a slot handed out since (slots.c): the first switch to
 * the thread whose stack is there. */
bool kstack_slot_first_run(int slot);

/* The guard-page lookup kernel/trap.c calls for a fault (slots.c). */
bool kstack_guard_owner(uint64_t addr, char *buf, size_t size);

/* Remember the thread thread_init made of the boot code (kstate.c), for the deadlock report. */
void threads_note_main(struct thread *main);

/* This layer's part of the tour (tour.c). */
void threads_tour(void);
