/*
 * Kernel threads (see kernel/thread.h): records from kmalloc, stacks from kstack.c, a
 * round-robin run queue, a sleep queue ordered by deadline, and the switches between them.
 *
 * How it works. `current` is the running thread. Every other thread that can run waits on
 * the run queue, first in first out. schedule() is the one place that switches: its caller
 * has already said what becomes of the current thread (set its state and, if it is to run
 * again, queued it), and schedule() takes the thread at the front of the run queue (or the
 * idle thread if there is none) and switches to it. So:
 *
 *     thread_yield   current -> back of the run queue (RUNNABLE), schedule()
 *     thread_sleep   current -> sleep queue (SLEEPING), schedule()
 *     thread_block   current -> a wait queue (BLOCKED), schedule()
 *     thread_join    current waits for a thread to exit (BLOCKED), schedule()
 *     thread_exit    current is EXITED for good, its joiner -> run queue, schedule()
 *     thread_tick    (timer interrupt) sleepers due -> run queue; when the slice is over,
 *                    current -> back of the run queue, schedule()
 *
 * Worked example: main creates A and B, then joins A; A and B yield in a loop.
 *
 *     run queue     current   what happens
 *     [A B]         main      thread_join(A): main BLOCKED (A's joiner), schedule()
 *     [B]           A         A starts in thread_start, yields: A to the back
 *     [A]           B         B yields
 *     [B]           A         A returns from fn: thread_exit wakes main (to the back)
 *     [main]        B         B yields
 *     [B]           main      thread_join frees A's stack and record, returns its value
 *
 * Every queue is changed with interrupts disabled, and every switch happens with them
 * disabled: each thread's irq_save/irq_restore pair brackets its own switch, and a new
 * thread turns them on when it starts (thread_start).
 */
#include <string.h>
#include "heap.h"
#include "irq.h"
#include "kstack.h"
#include "panic.h"
#include "thread.h"
#include "timer.h"
#include "todo.h"
#include "x86.h"

static struct thread *current;		    /* RUNNING */
static struct thread *main_thread __unused; /* the boot code, on the boot stack */
static struct thread *idle __unused;	    /* runs when the run queue is empty; never on it */
/* The records of those two: they live as long as the kernel, so not from the heap. */
static struct thread main_record __unused, idle_record __unused;
static struct list_node run_queue;   /* RUNNABLE, the next to run at the front */
static struct list_node sleep_queue; /* SLEEPING, the earliest wake_tick at the front */
static unsigned slice_left __unused; /* ticks the current thread may still run */

struct thread *thread_current(void)
{
	return current;
}

/*
 * Given: hand the CPU from current to next (interrupts disabled). Helpers marked __unused
 * are called only by code you write.
 */
static __unused void switch_to(struct thread *next)
{
	struct thread *prev = current;

	if (next == prev)
		return;
	current = next;
	thread_kstate_switch(prev, next); /* the kernel's part: catch points, trap depth */
	context_switch(&prev->context, next->context);
	/* Running again as prev: a later switch_to chose it. */
}

/*
 * Given: where a new thread starts. The first switch to it "returns" here from
 * context_switch, with interrupts disabled like every switch.
 */
static __unused __noreturn void thread_start(void)
{
	sti();
	thread_exit(thread_run_body(current));
}

/* The name, cut to fit. */
static __unused void set_name(struct thread *t, const char *name)
{
	size_t n = strnlen(name, THREAD_NAME_MAX - 1);

	memcpy(t->name, name, n);
	t->name[n] = '\0';
}

/*
 * Step 5: give t, a record with every field cleared, its name, function, a stack
 * (kstack_alloc) and a first context whose switch will start thread_start. t stays on no
 * queue. Returns 0, or -1 if there is no stack.
 */
static __unused int thread_setup(struct thread *t, const char *name, int (*fn)(void *arg),
				 void *arg)
{
	TODO("step 5: kstack_alloc t's stack, set its name/fn/arg, build a struct context at the stack's top whose rip is thread_start, point t->context at it");
}

/* Step 5: the code running now becomes "main"; the idle thread is made (not queued). */
void thread_init(void)
{
	list_init(&run_queue);
	list_init(&sleep_queue);
	TODO("step 5: main_record becomes the thread \"main\" (RUNNING, the boot stack, slot -1) and current; idle_record the idle thread (thread_setup with thread_idle_main)");
}

/* Step 5: t is runnable: to the back of the run queue (the idle thread never goes there). */
static __unused void make_runnable(struct thread *t)
{
	TODO("step 5: mark t THREAD_RUNNABLE and add it at the back of run_queue, unless it is the idle thread");
}

/* Step 5: a new thread from the heap, at the back of the run queue. */
struct thread *thread_create(const char *name, int (*fn)(void *arg), void *arg)
{
	TODO("step 5: kmalloc a struct thread and clear it, thread_setup it (kfree it if that fails), then make_runnable with interrupts disabled");
}

/*
 * Step 6: the current thread has stopped running (its state says why; if it is to run again
 * it is on the run queue already). Run the front of the run queue, or the idle thread when
 * the queue is empty. Interrupts disabled.
 */
static __unused void schedule(void)
{
	TODO("step 6: take the thread at the front of run_queue (the idle thread if it is empty), mark it THREAD_RUNNING, give it a full slice, switch_to it");
}

/* Step 6: to the back of the queue, and let the front run. */
void thread_yield(void)
{
	TODO("step 6: with interrupts disabled, make_runnable(current), then schedule()");
}

/* Step 7: EXITED, the joiner woken, and never back. */
void thread_exit(int value)
{
	TODO("step 7: disable interrupts for good, record value, mark current THREAD_EXITED, make its joiner runnable, schedule()");
	panic("thread_exit: thread '%s' runs again after it exited", current->name);
}

/* Step 7: wait, blocked, for t to exit; then free it and return its exit value. */
int thread_join(struct thread *t)
{
	TODO("step 7: become t's joiner and block (THREAD_BLOCKED, schedule) until t is THREAD_EXITED; then kstack_free its stack, kfree it, return its exit value");
}

/*
 * Step 8: preemption, from the timer interrupt (interrupts disabled). When the current
 * thread has used up its slice (or is the idle thread) and another thread is runnable, it
 * goes to the back of the run queue and the front runs. This one starts empty rather than
 * with a to-do marker: it runs in the timer interrupt, where reaching one would stop the
 * kernel. Until it is written, nothing is preempted.
 */
static void preempt(void)
{
}

/*
 * Step 9: sleep until a tick: into the sleep queue, which stays ordered by wake_tick (after
 * the sleepers due at the same tick: first come, first woken), then schedule().
 */
void thread_sleep(uint64_t ms)
{
	TODO("step 9: wake_tick = now + timer_ms_to_ticks(ms); insert current into sleep_queue in wake_tick order (after equal ones), THREAD_SLEEPING, schedule(); 0 ticks: just yield");
}

/*
 * Step 9: from the timer interrupt: every sleeper whose tick has come goes to the run queue,
 * front of the sleep queue first. This one starts empty too (see preempt).
 */
static void wake_sleepers(void)
{
}

/* Given: every tick, the sleepers first, so that one due now can take the CPU at once. */
void thread_tick(void)
{
	if (!current)
		return; /* before thread_init */
	wake_sleepers();
	preempt();
}

void wait_queue_init(struct wait_queue *wq)
{
	list_init(&wq->threads);
}

bool wait_queue_empty(const struct wait_queue *wq)
{
	return list_empty(&wq->threads);
}

/* Step 10: BLOCKED at the back of wq; another thread runs until thread_wake_one picks us. */
void thread_block(struct wait_queue *wq)
{
	if (irq_enabled())
		panic("thread_block: called with interrupts enabled (a wakeup could be lost)");
	TODO("step 10: mark current THREAD_BLOCKED, add it at the back of wq->threads, schedule()");
}

/* Step 10: the front of wq to the run queue. */
struct thread *thread_wake_one(struct wait_queue *wq)
{
	TODO("step 10: take the thread at the front of wq->threads (NULL if none), make_runnable it, return it");
}
