/*
 * What layer 07 offers the layers above it at every thread switch: a hook, called with
 * interrupts disabled right before the switch from prev to next, after the kernel's own
 * per-thread state has been saved and loaded (kstate.c). Layer 08 loads there the address
 * space and kernel stack of the program thread that runs next.
 */
#pragma once

#include "thread.h"

typedef void (*thread_switch_hook_t)(struct thread *prev, struct thread *next);

/*
 * Call hook at every switch from now on. Returns the hook it replaces (NULL: none), which the
 * new one should call too, so that several layers can each have one.
 */
thread_switch_hook_t threads_set_switch_hook(thread_switch_hook_t hook);
