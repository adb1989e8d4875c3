/*
 * Lab 07, steps 5 to 7: creating threads, running them in turns, exit and join. The timer
 * may preempt any of them at any time (unless a test pauses it), so the tests check what
 * must hold however the ticks fall.
 */
#include <string.h>
#include "irq.h"
#include "kheap_check.h"
#include "kstack.h"
#include "paging.h"
#include "thread_fixture.h"

#define RETURN_VALUE 42
#define TURNS	     5
#define TURN_LOG_MAX 64
#define EXIT_VALUE   77
#define EXIT_DEPTH   3
#define JOIN_LOOKS   3
#define MANY	     1000
#define MAX_YIELDS   100 /* to let a short thread finish, preempted or not */
#define LONG_NAME    "a-name-much-longer-than-a-record-holds"

static int return_arg(void *arg)
{
	return (int)(intptr_t)arg;
}

/* The pages of [start, end) that something maps, counted. */
static int mapped_pages(uint64_t start, uint64_t end)
{
	int n = 0;

	for (uint64_t va = start; va < end; va += PAGE_SIZE)
		n += vm_translate(&kernel_vm, va) != VM_NOT_MAPPED;
	return n;
}

/* The code that ran kernel_main is the thread "main", on the boot stack. */
KTEST(threads, main_is_the_boot_code, 1)
{
	uint64_t rsp;

	if (!threads_require(t))
		return;
	struct thread *me = thread_current();
	ASSERT_NOT_NULL(t, me);
	EXPECT_STREQ(t, me->name, "main");
	EXPECT_EQ(t, me->state, THREAD_RUNNING);
	EXPECT_EQ(t, me->stack.slot, -1);
	EXPECT_EQ(t, me->stack.bottom, (uint64_t)__stack_bottom);
	EXPECT_EQ(t, me->stack.top, (uint64_t)__stack_top);
	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	EXPECT_TRUE(t, rsp >= me->stack.bottom && rsp < me->stack.top);
}

/*
 * The fields of a new record that thread_create's clear leaves at 0 until they are used: a
 * record with junk there (kmalloc's memory keeps what it held before) wakes a joiner that
 * does not exist, or starts with the kernel's catch points and trap depth of another thread.
 */
static void expect_cleared(struct ktest *t, const struct thread *th)
{
	const struct {
		const char *field;
		uint64_t value;
	} fields[] = {
		{"joiner", (uint64_t)th->joiner},
		{"exit_value", (uint64_t)(uint32_t)th->exit_value},
		{"wake_tick", th->wake_tick},
		{"kstate.ktry_top", (uint64_t)th->kstate.ktry_top},
		{"kstate.trap_depth", (uint64_t)(uint32_t)th->kstate.trap_depth},
		{"kstate.runs", th->kstate.runs},
	};

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (fields[i].value) {
			FAIL(t,
			     "a new thread's %s is 0x%lx, left from what its memory held before: "
			     "thread_create must clear the whole record it gets from kmalloc",
			     fields[i].field, fields[i].value);
			return;
		}
}

/*
 * A new thread waits on the run queue with a stack of its own, at whose top a struct
 * context is ready for its first switch (laid out as kernel/context.h draws it). Every
 * other field starts cleared, even in memory that held something else.
 */
KTEST(threads, create_builds_a_first_context, 3)
{
	if (!threads_require(t))
		return;
	unsigned long flags = irq_save(); /* no tick: nothing runs it before we look */
	/* Junk where the record will be: a heap gives back the block freed last, as a rule. */
	void *junk = kmalloc(sizeof(struct thread));
	ASSERT_NOT_NULL(t, junk);
	memset(junk, 0xa5, sizeof(struct thread));
	kfree(junk);
	struct thread *th = thread_create("fresh", return_arg, (void *)RETURN_VALUE);
	ASSERT_NOT_NULL(t, th);
	expect_cleared(t, th);
	EXPECT_EQ(t, th->state, THREAD_RUNNABLE);
	EXPECT_STREQ(t, th->name, "fresh");
	EXPECT_TRUE(t, kstack_slot_owner(th->stack.slot) == th);
	EXPECT_EQ(t, th->stack.top, kstack_slot_base(th->stack.slot) + THREAD_SLOT_SIZE);
	EXPECT_EQ(t, ((uint64_t *)th->stack.top)[-1], 0);
	EXPECT_EQ(t, (uint64_t)th->context,
		  th->stack.top - sizeof(uint64_t) - sizeof(struct context));
	EXPECT_TRUE(t, th->context->rip >= (uint64_t)__text_start &&
			       th->context->rip < (uint64_t)__text_end);
	EXPECT_EQ(t, th->context->rbp, 0);
	irq_restore(flags);
	EXPECT_EQ(t, thread_join(th), RETURN_VALUE);
}

static char turn_log[TURN_LOG_MAX];
static int turn_len;

static void log_turn(char c)
{
	unsigned long flags = irq_save();

	if (turn_len < TURN_LOG_MAX - 1)
		turn_log[turn_len++] = c;
	irq_restore(flags);
}

static volatile int not_running; /* turns on which the thread taking it was not RUNNING */
static volatile enum thread_state state_on_turn;

static void log_turn_running(char c)
{
	enum thread_state s = thread_current()->state;

	if (s != THREAD_RUNNING) {
		not_running++;
		state_on_turn = s;
	}
	log_turn(c);
}

static int take_turns(void *arg)
{
	for (int i = 0; i < TURNS; i++) {
		log_turn_running(*(const char *)arg);
		thread_yield();
	}
	return 0;
}

/*
 * Main, A and B each note a letter and yield, five times: round robin makes it
 * "MAB" five times. The timer is paused, so only the yields switch. On every turn the thread
 * taking it is RUNNING.
 *
 *   run queue after create: [A B]; main notes M, yields: [B main] and A runs, notes A ...
 */
KTEST(threads, three_threads_take_turns_through_yield, 4)
{
	char want[TURN_LOG_MAX] = "";

	if (!threads_require(t))
		return;
	turn_len = 0;
	not_running = 0;
	timer_pause();
	struct thread *a = thread_create("turns-a", take_turns, "A");
	struct thread *b = thread_create("turns-b", take_turns, "B");
	for (int i = 0; a && b && i < TURNS; i++) {
		log_turn_running('M');
		thread_yield();
	}
	for (int i = 0; a && b && i < 2 * TURNS; i++) /* let them return */
		thread_yield();
	timer_resume();
	turn_log[turn_len] = '\0';
	ASSERT_TRUE(t, a && b);
	for (int i = 0; i < TURNS; i++)
		memcpy(want + 3 * i, "MAB", 3);
	EXPECT_STREQ(t, turn_log, want);
	if (not_running)
		FAIL(t,
		     "on %d of its turns the thread taking it was %s, not RUNNING: schedule marks "
		     "the thread it switches to THREAD_RUNNING",
		     not_running, thread_state_name(state_on_turn));
	if (a->state == THREAD_EXITED)
		thread_join(a);
	else
		FAIL(t, "turns-a is %s after every yield, not EXITED", thread_state_name(a->state));
	if (b->state == THREAD_EXITED)
		thread_join(b);
	else
		FAIL(t, "turns-b is %s after every yield, not EXITED", thread_state_name(b->state));
}

static volatile bool ran_after_exit;
static volatile bool exit_now = true; /* volatile: the compiler must not assume it */

static void exit_deep(int depth)
{
	if (depth > 0)
		exit_deep(depth - 1);
	else if (exit_now)
		thread_exit(EXIT_VALUE);
	ran_after_exit = true;
}

static int exits_from_inside(void *arg)
{
	(void)arg;
	exit_deep(EXIT_DEPTH);
	ran_after_exit = true;
	return 1;
}

/*
 * thread_exit from three calls deep ends the thread there: nothing after it runs, then or
 * later, and the exited thread is never switched to again.
 */
KTEST(threads, nothing_runs_after_exit, 3)
{
	if (!threads_require(t))
		return;
	ran_after_exit = false;
	struct thread *th = thread_create("exits", exits_from_inside, NULL);
	ASSERT_NOT_NULL(t, th);
	for (int i = 0; i < MAX_YIELDS && th->state != THREAD_EXITED; i++)
		thread_yield();
	ASSERT_EQ(t, th->state, THREAD_EXITED);
	uint64_t runs = th->kstate.runs;
	for (int i = 0; i < TURNS; i++)
		thread_yield();
	EXPECT_EQ(t, th->kstate.runs, runs);
	EXPECT_EQ(t, thread_join(th), EXIT_VALUE);
	EXPECT_FALSE(t, ran_after_exit);
}

static struct thread *joining;

static int watch_the_joiner(void *arg)
{
	int blocked = 0;

	(void)arg;
	for (int i = 0; i < JOIN_LOOKS; i++) {
		blocked += joining->state == THREAD_BLOCKED;
		thread_yield();
	}
	return blocked;
}

/*
 * thread_join blocks the caller: every time the thread looks, main is BLOCKED. (Interrupts
 * are off from the create to the join, so that no tick can run the thread before main
 * waits; the thread itself runs with them on, as every thread starts.)
 */
KTEST(threads, join_blocks_until_the_thread_exits, 2)
{
	if (!threads_require(t))
		return;
	joining = thread_current();
	unsigned long flags = irq_save();
	struct thread *th = thread_create("watcher", watch_the_joiner, NULL);
	int blocked = th ? thread_join(th) : -1;
	irq_restore(flags);
	ASSERT_NOT_NULL(t, th);
	if (blocked != JOIN_LOOKS)
		FAIL(t,
		     "main was BLOCKED %d of the %d times the thread looked while main was in "
		     "thread_join",
		     blocked, JOIN_LOOKS);
}

static struct thread slot_holder; /* never runs: only its address is recorded */
static int held_slots[THREAD_SLOTS];

/*
 * After thread_join, the thread's record, stack frames, mappings and slot are all back. And a
 * thread_create that finds no stack slot keeps nothing.
 */
KTEST(threads, join_frees_the_stack_and_the_record, 3)
{
	struct kheap_snapshot before;

	if (!threads_require(t) || !kheap_require(t, &before))
		return;
	size_t slots = kstack_slots_used();
	struct thread *th = thread_create("freed", return_arg, (void *)RETURN_VALUE);
	ASSERT_NOT_NULL(t, th);
	struct kstack stack = th->stack;
	EXPECT_EQ(t, thread_join(th), RETURN_VALUE);
	int still = mapped_pages(stack.bottom, stack.top);
	if (still || kstack_slots_used() != slots || kstack_slot_owner(stack.slot))
		FAIL(t,
		     "after thread_join, %d of the thread's %d stack pages are still mapped and its "
		     "slot %d is %s: join frees the stack (kstack_free) once the thread has exited",
		     still, THREAD_STACK_PAGES, stack.slot,
		     kstack_slot_owner(stack.slot) ? "still owned" : "free");
	kheap_expect_no_leak(t, &before);

	/* With every stack slot taken, thread_create returns NULL and keeps no heap either. */
	int n = 0, slot;
	while ((slot = kstack_slot_get(&slot_holder)) >= 0)
		held_slots[n++] = slot;
	struct kheap_snapshot full, after;
	kheap_snapshot(&full);
	struct thread *none = thread_create("no-slot", return_arg, NULL);
	kheap_snapshot(&after);
	for (int i = 0; i < n; i++)
		kstack_slot_put(held_slots[i]);
	if (none) {
		FAIL(t, "thread_create returned a thread with every stack slot taken");
		thread_join(none);
	} else if (after.stats.live_allocs != full.stats.live_allocs ||
		   after.stats.used_bytes != full.stats.used_bytes) {
		FAIL(t,
		     "with no free stack slot thread_create returned NULL but kept %ld allocations "
		     "(%ld bytes) of the heap: when thread_setup fails, kfree the record",
		     (long)(after.stats.live_allocs - full.stats.live_allocs),
		     (long)(after.stats.used_bytes - full.stats.used_bytes));
	}
}

static struct thread *many[MANY];
static int many_ran;

static int count_and_return(void *arg)
{
	unsigned long flags = irq_save();

	many_ran++;
	irq_restore(flags);
	return 3 * (int)(intptr_t)arg + 1;
}

/*
 * A thousand threads alive at once (the timer paused while they are created), then joined:
 * each ran once and returned its own value, and every frame, byte of heap and slot is back.
 */
KTEST(threads, a_thousand_threads, 4)
{
	struct kheap_snapshot before;
	int created = 0, wrong = 0;

	if (!threads_require(t) || !kheap_require(t, &before))
		return;
	size_t slots = kstack_slots_used();
	many_ran = 0;
	timer_pause();
	while (created < MANY &&
	       (many[created] = thread_create("many", count_and_return, (void *)(intptr_t)created)))
		created++;
	size_t alive = kstack_slots_used() - slots;
	timer_resume();
	EXPECT_EQ(t, created, MANY);
	EXPECT_EQ(t, alive, (size_t)created);
	for (int i = 0; i < created; i++) {
		int v = thread_join(many[i]);
		if (v != 3 * i + 1 && wrong++ == 0)
			FAIL(t, "thread %d of %d returned %d, not %d", i, created, v, 3 * i + 1);
	}
	EXPECT_EQ(t, many_ran, created);
	EXPECT_EQ(t, kstack_slots_used(), slots);
	kheap_expect_no_leak(t, &before);
}

/* The name is copied (a later change to the caller's string does not show) and cut to fit. */
KTEST(threads, the_name_is_copied_and_cut, 1)
{
	char name[] = LONG_NAME;

	if (!threads_require(t))
		return;
	struct thread *th = thread_create(name, return_arg, NULL);
	ASSERT_NOT_NULL(t, th);
	name[0] = 'X';
	EXPECT_EQ(t, strlen(th->name), THREAD_NAME_MAX - 1);
	EXPECT_TRUE(t, !strncmp(th->name, LONG_NAME, THREAD_NAME_MAX - 1));
	thread_join(th);
}

static struct thread *to_join, *first_joiner; /* static: the test longjmps */

static int join_it(void *arg)
{
	(void)arg;
	return thread_join(to_join);
}

static int yield_a_while(void *arg)
{
	(void)arg;
	for (int i = 0; i < TURNS; i++)
		thread_yield();
	return RETURN_VALUE;
}

static struct thread *main_of_test;

/* From a thread of its own: joining main or the idle thread panics (neither ever exits). */
static int join_main_and_idle(void *arg)
{
	struct ktest *t = arg;
	struct thread *idle = threads_idle_thread();

	EXPECT_PANIC(t, "thread_join", thread_join(main_of_test));
	if (idle)
		EXPECT_PANIC(t, "thread_join", thread_join(idle));
	return RETURN_VALUE;
}

/*
 * Joining oneself would wait forever: it panics instead. So does joining main or the idle
 * thread, which never exit, and joining a thread another thread already waits for:
 * thread_exit wakes one joiner, the other would wait forever. (The timer is paused, so that
 * the first joiner is surely BLOCKED when main tries.)
 */
KTEST(threads, joining_oneself_panics, 1)
{
	int value = -1;

	if (!threads_require(t))
		return;
	EXPECT_PANIC(t, "thread_join", thread_join(thread_current()));

	main_of_test = thread_current();
	struct thread *th = thread_create("joins-main", join_main_and_idle, t);
	ASSERT_NOT_NULL(t, th);
	if (!join_within(
		    t, th, TEST_JOIN_DEADLINE_MS, &value,
		    "it joined main or the idle thread, which must panic at once (they never exit)"))
		return;
	EXPECT_EQ(t, value, RETURN_VALUE);

	value = -1;
	timer_pause();
	to_join = thread_create("joined", yield_a_while, NULL);
	first_joiner = to_join ? thread_create("first-joiner", join_it, NULL) : NULL;
	for (int i = 0; first_joiner && i < MAX_YIELDS && first_joiner->state != THREAD_BLOCKED;
	     i++)
		thread_yield();
	if (first_joiner && first_joiner->state == THREAD_BLOCKED)
		EXPECT_PANIC(t, "thread_join", thread_join(to_join));
	else if (first_joiner)
		FAIL(t, "a thread in thread_join is %s, not BLOCKED",
		     thread_state_name(first_joiner->state));
	timer_resume();
	ASSERT_TRUE(t, to_join && first_joiner);
	if (join_within(t, first_joiner, TEST_JOIN_DEADLINE_MS, &value,
			"the thread it joined should have exited"))
		EXPECT_EQ(t, value, RETURN_VALUE);
}
