/*
 * Kernel threads: lab 07 writes them (labs/07-threads/thread.c); the kernel gives a few
 * pieces (the end of this file, kernel/layers/07-threads).
 *
 * A thread is a struct thread (from kmalloc; the two that live as long as the kernel, main
 * and idle, are static), a stack (kstack.h: frames from the buddy allocator, above a guard
 * page) and, while it is not running, a struct context saved on that stack (context.h). One CPU runs one thread at a time, `current`; the others wait in
 * one of these states:
 *
 *            thread_create                 thread_exit
 *                 |                            |
 *                 v        scheduled           v
 *     +----> RUNNABLE  -----------------> RUNNING -----> EXITED --(thread_join frees it)
 *     |     (run queue) <-----------------   |
 *     |                 yield, preempted     | thread_sleep, thread_block, thread_join
 *     |                                      v
 *     +----- woken: by the tick ------- SLEEPING (sleep queue, by deadline)
 *            or thread_wake_one        BLOCKED  (a wait queue, or waiting in join)
 *
 * Scheduling is round robin: the run queue is FIFO, a thread that yields or is preempted
 * goes to its back, and the timer (timer.h) preempts the running thread when it has run
 * THREAD_SLICE_TICKS ticks and another thread is runnable. When nothing is runnable the idle
 * thread runs; it halts the CPU until the next interrupt. It is never on the run queue.
 *
 * Every switch happens with interrupts disabled, in schedule(): from thread_yield, sleep,
 * block, join and exit (which disable them), or from the timer interrupt (interrupt gates
 * disable them). A preempted thread is switched away from inside its timer interrupt; when
 * it runs again it returns from the interrupt (trap_common's iretq) where it was stopped.
 *
 * Locking: on one CPU, "interrupts disabled" (irq.h) is the lock of every queue here.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "compiler.h"
#include "context.h"
#include "kstack.h"
#include "list.h"

struct ktry;

#define THREAD_NAME_MAX	   24 /* with the NUL: longer names are cut */
#define THREAD_SLICE_TICKS 1  /* ticks a thread runs before another runnable one gets the CPU */

enum thread_state {
	THREAD_RUNNABLE, /* on the run queue, waiting for the CPU */
	THREAD_RUNNING,	 /* on the CPU: current */
	THREAD_SLEEPING, /* on the sleep queue until the tick wake_tick */
	THREAD_BLOCKED,	 /* on a wait queue, or in thread_join until its thread exits */
	THREAD_EXITED,	 /* finished; its stack and record wait for thread_join */
};

/* The kernel's own per-thread state (kernel/layers/07-threads saves and restores it at every
 * switch). */
struct thread_kstate {
	struct ktry *ktry_top; /* the thread's catch points (ktry.h) */
	int trap_depth;	       /* how many traps it is inside (trap.h) */
	uint64_t runs;	       /* how many times it was switched to */
};

struct thread {
	struct context *context; /* saved by context_switch while the thread is not running */
	enum thread_state state;
	char name[THREAD_NAME_MAX];
	struct kstack stack;
	struct list_node link; /* in the run queue, the sleep queue or one wait queue */

	int (*fn)(void *arg); /* what it runs, and its argument */
	void *arg;
	uint64_t wake_tick;    /* SLEEPING: the tick to wake at */
	int exit_value;	       /* EXITED: what fn returned or thread_exit was given */
	struct thread *joiner; /* the thread blocked in thread_join on this one, or NULL */

	struct thread_kstate kstate; /* the kernel's: leave it alone */
};

/*
 * Make the code that runs now (kernel_main, on the boot stack) the thread "main", RUNNING,
 * and create the idle thread (body thread_idle_main, kept off the run queue); both records
 * are static. Interrupts must be disabled. Panics "thread_init: ..." if the idle thread gets
 * no stack.
 */
void thread_init(void);

/*
 * A new thread, RUNNABLE at the back of the run queue, that will run fn(arg) and then exit
 * with what fn returns. name is copied (cut to THREAD_NAME_MAX - 1 characters). Returns NULL,
 * with nothing allocated, when there is no memory or no stack slot.
 */
struct thread *thread_create(const char *name, int (*fn)(void *arg), void *arg);

/* The running thread. */
struct thread *thread_current(void);

/* Go to the back of the run queue and run the thread at its front (may be the caller). */
void thread_yield(void);

/*
 * Sleep until the tick count has grown by n = timer_ms_to_ticks(ms), ms rounded up to whole
 * ticks: between n - 1 and n ticks (10 ms each at 100 Hz), plus the wait for the CPU. The thread is SLEEPING, off the run queue, all
 * that time: it costs no CPU. thread_sleep(0) is thread_yield(). Not from the idle thread.
 */
void thread_sleep(uint64_t ms);

/*
 * Stop the current thread for good: it is EXITED with `value`, its joiner (if any) becomes
 * runnable, and the CPU goes to the next thread. Returning from a thread's fn does the same.
 * Panics "thread_exit: ..." in the main or the idle thread.
 */
__noreturn void thread_exit(int value);

/*
 * Wait until t has exited (blocked, without using the CPU), then free its stack and record
 * and return its exit value. t must not be used afterwards. Panics "thread_join: ..." when t
 * is the caller, the main or idle thread, or another thread is already waiting for it.
 */
int thread_join(struct thread *t);

/*
 * The timer calls this on every tick, with interrupts disabled: wake the sleepers whose tick
 * has come (to the back of the run queue, in deadline order) and preempt the running thread
 * when its time slice is over (or it is the idle thread) and another thread is runnable.
 * Does nothing before thread_init.
 */
void thread_tick(void);

/* ---- wait queues: how sync.c blocks and wakes threads (interrupts disabled) -------------- */

/* Threads BLOCKED on something (a mutex, a semaphore), first come first served. */
struct wait_queue {
	struct list_node threads;
};

void wait_queue_init(struct wait_queue *wq);

/* True if no thread waits on wq. */
bool wait_queue_empty(const struct wait_queue *wq);

/*
 * Block the current thread at the back of wq and run another; returns once thread_wake_one
 * picked it. Interrupts must be disabled (and stay so across the call): the caller's test of
 * its condition and the block are then one step, and no wakeup can fall between them.
 */
void thread_block(struct wait_queue *wq);

/* Make the thread at the front of wq runnable (back of the run queue); return it, or NULL if
 * wq is empty. Interrupts must be disabled. */
struct thread *thread_wake_one(struct wait_queue *wq);

/* ---- given by the kernel (kernel/layers/07-threads) ----------------------------------------- */

/*
 * The body of the idle thread: halt the CPU until the next interrupt, forever. (While a test
 * runs it also notices a deadlock: when nothing but the idle thread has run for half a second,
 * every thread is blocked or asleep with nobody left to wake it, and the kernel panics
 * saying so.)
 */
int thread_idle_main(void *arg);

/*
 * Run self->fn(self->arg) and return what it returns. A new thread starts here (from
 * thread_start in thread.c). While a test runs, a TODO, failed ASSERT, panic or fault in the
 * thread fails that test (with the thread's name) and the thread exits; outside tests they
 * stop the kernel as anywhere else.
 */
int thread_run_body(struct thread *self);

/*
 * The switch from prev to next is about to happen (interrupts disabled): save the kernel's
 * per-thread state of prev (its catch points and trap depth) and load next's. schedule()
 * calls it right before context_switch.
 */
void thread_kstate_switch(struct thread *prev, struct thread *next);
