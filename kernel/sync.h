/*
 * Sleeping locks for threads: a mutex and a counting semaphore, each with a wait queue
 * (thread.h). Lab 07 writes them (labs/07-threads/sync.c). A thread that cannot go on is
 * BLOCKED on the queue and uses no CPU until the holder wakes it; the wakeup hands the
 * mutex (or the semaphore's unit) directly to the woken thread, first come first served.
 *
 *     struct mutex m;                  struct semaphore items;
 *     mutex_init(&m);                  semaphore_init(&items, 0);
 *     mutex_lock(&m);                  semaphore_down(&items);   // waits for an item
 *     ...one thread at a time...       ...
 *     mutex_unlock(&m);                semaphore_up(&items);     // one more item
 *
 * Threads only: not from an interrupt handler or the idle thread, which must never block.
 */
#pragma once

#include <stdbool.h>
#include "thread.h"

struct mutex {
	struct thread *owner; /* NULL when free */
	struct wait_queue waiters;
};

struct semaphore {
	unsigned count; /* units available right now */
	struct wait_queue waiters;
};

/* A free mutex. */
void mutex_init(struct mutex *m);

/*
 * Take m: at once if it is free, else block on its wait queue until mutex_unlock hands it
 * over. Panics "mutex_lock: ..." if the caller holds m already (it would wait for itself).
 */
void mutex_lock(struct mutex *m);

/*
 * Give m up: to the first waiter, which becomes its owner and runnable, or free it if none
 * waits. Panics "mutex_unlock: ..." if the caller does not hold m.
 */
void mutex_unlock(struct mutex *m);

/* A semaphore holding count units. */
void semaphore_init(struct semaphore *s, unsigned count);

/* Take a unit: at once if count > 0, else block until semaphore_up gives one to this thread. */
void semaphore_down(struct semaphore *s);

/* Add a unit: to the first waiter (which becomes runnable), or to count if none waits. */
void semaphore_up(struct semaphore *s);
