/*
 * Checkpoint 07 joins the kernel (kernel/layers.h): the PICs, the timer and the first two
 * threads come up at boot, and the kernel gives lab 07's threads what only it can give
 * (kernel/thread.h, kernel/kstack.h): stack slots, the kernel's own per-thread state, the
 * body of the idle thread, the report of a stack overflow, and the tour.
 *
 * Bringing it up (threads_layer_init), each call into lab code inside init_step():
 *   1. pic_init: IRQs on vectors 32-47, every line masked;
 *   2. thread_init: the code running now becomes the thread "main", and the idle thread is
 *      created;
 *   3. the local APIC's LINT0 set to pass the PIC's interrupts to the CPU (firmware's job on
 *      a PC; microvm boots without firmware), by the kernel itself;
 *   4. timer_init(TIMER_HZ): the PIT at 100 Hz on IRQ 0; then timer_interrupt is called once
 *      by hand (a TODO in it is then a note here rather than a panic at the first tick);
 *   5. interrupts on (sti): from here the timer ticks and preempts.
 * A step that reaches a TODO is skipped with a note, and so is everything that needs it:
 * without the PICs no timer, without threads no scheduling. The kernel then goes on without
 * them, with interrupts off as at checkpoint 06, and the tests of labs 01-06 run as before.
 *
 * Per-thread kernel state. Two things the kernel keeps for "the code running now" must follow
 * each thread, or a test that starts threads could not fail cleanly: ktry's chain of catch
 * points (ktry.h), which lives on the stack of the thread that set them, and trap_depth
 * (trap.h), which is 1 inside a preempted thread's timer interrupt and 0 in a thread that
 * yielded. thread_kstate_switch() saves both in the thread that stops and loads those of the
 * thread that runs; schedule() calls it right before context_switch. A new thread starts with
 * none of either; while a test runs, thread_run_body() gives it a catch point of its own, so
 * a TODO in a thread fails the test that started it, with the thread's name.
 *
 * Deadlock watch. The idle thread panics when nothing will ever run again: at once if the
 * timer is off or masked (no interrupt can wake anybody), and while a test runs, when nothing
 * but the idle thread has run for DEADLOCK_TICKS (every thread waits for a wakeup that will
 * not come: a lost wakeup, a thread dropped from the run queue). A panic that says so, naming
 * the test, ends the boot sooner and more clearly than the grader's timeout would.
 */
#include <string.h>
#include "boot.h"
#include "heap.h"
#include "irq.h"
#include "kprintf.h"
#include "kstack.h"
#include "ktest.h"
#include "ktry.h"
#include "layers.h"
#include "panic.h"
#include "paging.h"
#include "pic.h"
#include "sync.h"
#include "thread.h"
#include "timer.h"
#include "trap.h"

#if CHECKPOINT >= 7

#define WHY_MAX		   KTRY_MSG_MAX
#define DEADLOCK_TICKS	   (TIMER_HZ / 2) /* half a second of nothing but the idle thread */
#define THREAD_FAILED_EXIT (-1)		  /* the exit value of a thread a test failure stopped */

/* The local APIC: where its registers are, their offsets and values (Intel SDM vol. 3, 11.4). */
#define MSR_APIC_BASE	      0x1b
#define APIC_BASE_ADDR_MASK   _UL(0x000ffffffffff000) /* physical address of its registers */
#define LAPIC_SVR	      0xf0		      /* spurious-interrupt vector register */
#define LAPIC_SVR_ENABLE      0x100		      /* APIC software enable */
#define LAPIC_SPURIOUS_VECTOR 0xff
#define LAPIC_LVT_LINT0	      0x350
#define LAPIC_DELIVERY_EXTINT 0x700 /* the interrupt controller (the PIC) supplies the vector */

static char threads_why[WHY_MAX] = "07-threads: the layer was not brought up";
static char timer_why[WHY_MAX] = "07-threads: the layer was not brought up";
static bool threads_up, timer_up;

const char *threads_unavailable(void)
{
	return threads_up ? NULL : threads_why;
}

const char *timer_unavailable(void)
{
	return timer_up ? NULL : timer_why;
}

/* ---- stack slots ----------------------------------------------------------------------------- */

static struct thread *slot_owner[THREAD_SLOTS];
static size_t slots_used;
static int slot_hint; /* every slot below it is in use */

int kstack_slot_get(struct thread *owner)
{
	unsigned long flags = irq_save();
	int slot = -1;

	KASSERT(owner);
	for (int s = slot_hint; s < THREAD_SLOTS; s++)
		if (!slot_owner[s]) {
			slot = s;
			slot_owner[s] = owner;
			slots_used++;
			slot_hint = s + 1;
			break;
		}
	irq_restore(flags);
	return slot;
}

void kstack_slot_put(int slot)
{
	if (slot < 0 || slot >= THREAD_SLOTS || !slot_owner[slot])
		panic("kstack_slot_put: slot %d is not in use", slot);
	unsigned long flags = irq_save();
	slot_owner[slot] = NULL;
	slots_used--;
	if (slot < slot_hint)
		slot_hint = slot;
	irq_restore(flags);
}

struct thread *kstack_slot_owner(int slot)
{
	return slot >= 0 && slot < THREAD_SLOTS ? slot_owner[slot] : NULL;
}

size_t kstack_slots_used(void)
{
	return slots_used;
}

/* For kernel/trap.c: is addr in the unmapped half of a slot, below a thread's stack? */
static bool stack_guard_owner(uint64_t addr, char *buf, size_t size)
{
	if (addr < KSTACKS_BASE || addr >= KSTACKS_BASE + KSTACKS_SIZE)
		return false;
	int slot = (int)((addr - KSTACKS_BASE) / THREAD_SLOT_SIZE);
	uint64_t off = addr - kstack_slot_base(slot);

	if (off >= THREAD_SLOT_SIZE - THREAD_STACK_SIZE)
		return false; /* the stack itself */
	const struct thread *t = slot_owner[slot];
	if (t)
		ksnprintf(buf, size, "thread '%s'", t->name);
	else
		ksnprintf(buf, size, "the stack of free slot %d", slot);
	return true;
}

/* ---- the kernel's per-thread state ------------------------------------------------------------ */

static struct thread *idle_thread;
static uint64_t idle_since; /* the tick when the idle thread last started running */

struct thread *threads_idle_thread(void)
{
	return idle_thread;
}

void thread_kstate_switch(struct thread *prev, struct thread *next)
{
	prev->kstate.ktry_top = ktry_chain();
	prev->kstate.trap_depth = trap_depth;
	ktry_set_chain(next->kstate.ktry_top);
	trap_depth = next->kstate.trap_depth;
	next->kstate.runs++;
	if (next == idle_thread)
		idle_since = timer_up ? timer_ticks() : 0;
}

struct body_call {
	struct thread *self;
	int value;
};

static void call_body(void *arg)
{
	struct body_call *c = arg;

	c->value = c->self->fn(c->self->arg);
}

int thread_run_body(struct thread *self)
{
	if (!ktest_current() || self->fn == thread_idle_main)
		return self->fn(self->arg);

	struct body_call c = {self, 0};
	struct ktry_result res;
	int kind = ktry_call(call_body, &c, KTRY_ANY, &res);

	if (kind == 0)
		return c.value;
	if (kind != KTRY_ABORT) { /* a failed ASSERT has recorded itself already */
		char msg[KTRY_MSG_MAX];
		struct ktest *t = ktest_current();

		ksnprintf(msg, sizeof(msg), "in thread '%s': %s%s", self->name,
			  kind == KTRY_PANIC ? "panic: " : "", res.msg);
		if (t)
			ktest_fail_msg(t, msg);
		else
			kprintf("threads: %s (the thread exits)\n", msg);
	}
	return THREAD_FAILED_EXIT;
}

/* True if the timer's line is masked at the PIC (a test paused it). */
static bool timer_masked(void)
{
	return inb(PIC1_DATA) & (1u << IRQ_TIMER);
}

/*
 * The idle thread runs: nothing else can. Panic if nothing ever will again: without the timer
 * (or with its line masked) no interrupt can wake a sleeper or preempt anyone, and while a
 * test runs, half a second of nothing but the idle thread means every thread waits for a wakeup
 * that will not come. Either way, say which test is stuck.
 */
static void check_deadlock(void)
{
	struct ktest *t = ktest_current();
	const char *suite = t ? t->test->suite : "(no test)", *name = t ? t->test->name : "";

	if (!timer_up || timer_masked())
		panic("thread_idle_main: deadlock in %s%s%s: every thread is blocked or asleep, and "
		      "with the timer %s nothing can wake them",
		      suite, t ? "." : "", name, timer_up ? "masked" : "off");
	if (t && timer_ticks() - idle_since >= DEADLOCK_TICKS)
		panic("thread_idle_main: deadlock in %s.%s: for %d ms nothing but the idle thread "
		      "ran; every other thread is blocked or asleep with nobody left to wake it (a "
		      "lost wakeup, or a thread dropped from the run queue?)",
		      suite, name, DEADLOCK_TICKS * TIMER_MS_PER_TICK);
}

int thread_idle_main(void *arg)
{
	(void)arg;
	idle_thread = thread_current();
	idle_since = timer_up ? timer_ticks() : 0;
	for (;;) {
		check_deadlock();
		hlt(); /* interrupts are on: the next tick wakes it */
	}
}

/* ---- bringing it up -------------------------------------------------------------------------- */

static void step_pic(void *arg)
{
	(void)arg;
	pic_init();
}

/*
 * The PICs' output reaches the CPU through the LINT0 input of its local APIC, which firmware
 * sets to "ExtINT" (pass the PIC's vector through) on a PC; QEMU's microvm, booted without
 * firmware, leaves it masked. So the kernel does that part itself: map the APIC's registers,
 * software-enable it (spurious-interrupt register), and set LINT0 to ExtINT. Nothing else of
 * the APIC is used: one CPU, the PIT for time. False if its page cannot be mapped.
 */
static bool local_apic_pass_pic(void)
{
	phys_addr_t regs = rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK;

	if (kmap_page(LAPIC_VA, regs, PTE_WRITABLE | PTE_NO_EXECUTE | PTE_NO_CACHE) < 0)
		return false;
	volatile uint32_t *apic = (volatile uint32_t *)LAPIC_VA;
	apic[LAPIC_SVR / 4] = LAPIC_SVR_ENABLE | LAPIC_SPURIOUS_VECTOR;
	apic[LAPIC_LVT_LINT0 / 4] = LAPIC_DELIVERY_EXTINT;
	return true;
}

static void step_threads(void *arg)
{
	(void)arg;
	thread_init();
}

static void step_timer(void *arg)
{
	struct trap_frame tf = {.vector = PIC_VECTOR_BASE + IRQ_TIMER};

	(void)arg;
	timer_init(TIMER_HZ);
	/* Its handler once by hand, interrupts still off: an EOI with nothing in service does
	 * nothing, and a tick counted early is harmless. */
	timer_interrupt(&tf);
}

void threads_layer_init(void)
{
	if (kheap_backend() == KHEAP_NONE) {
		ksnprintf(threads_why, WHY_MAX,
			  "07-threads: no threads without a kernel heap "
			  "(labs 02-05)");
		kprintf("threads: %s\n", threads_why);
		return;
	}
	bool pic = init_step_why("07-threads: pic_init", step_pic, NULL, timer_why, WHY_MAX);

	threads_up =
		init_step_why("07-threads: thread_init", step_threads, NULL, threads_why, WHY_MAX);
	if (pic && !local_apic_pass_pic()) {
		pic = false;
		ksnprintf(timer_why, WHY_MAX, "07-threads: no page for the local APIC's registers");
		kprintf("threads: %s\n", timer_why);
	}
	if (pic)
		timer_up = init_step_why("07-threads: timer_init", step_timer, NULL, timer_why,
					 WHY_MAX);
	trap_set_guard_owner(stack_guard_owner);
	if (!timer_up) {
		kprintf("threads: no timer (see the notes above): interrupts stay off%s\n",
			threads_up ? ", and threads switch only when they yield or block" : "");
		return;
	}
	sti();
	kprintf("threads: the PIT ticks at %d Hz on IRQ %d (vector %d); %s\n", TIMER_HZ, IRQ_TIMER,
		PIC_VECTOR_BASE + IRQ_TIMER,
		threads_up ? "round-robin threads, preempted every tick" : "no threads yet");
}

/* ---- the tour -------------------------------------------------------------------------------- */

#define TOUR_TURNS	 3
#define TOUR_SPIN_TICKS	 10
#define TOUR_RACE_ROUNDS 5
#define TOUR_LOG_MAX	 160

static char tour_log[TOUR_LOG_MAX];
static size_t tour_log_len;

static void tour_note(const char *fmt, const char *name, int n)
{
	unsigned long flags = irq_save();

	tour_log_len += (size_t)ksnprintf(tour_log + tour_log_len, TOUR_LOG_MAX - tour_log_len, fmt,
					  name, n);
	if (tour_log_len >= TOUR_LOG_MAX)
		tour_log_len = TOUR_LOG_MAX - 1;
	irq_restore(flags);
}

static int tour_ping(void *arg)
{
	for (int i = 1; i <= TOUR_TURNS; i++) {
		tour_note("%s %d, ", arg, i);
		thread_yield();
	}
	return 0;
}

/* Two threads take turns through thread_yield, the timer masked so that only yields switch. */
static void tour_yield(void *arg)
{
	(void)arg;
	tour_log_len = 0;
	pic_mask(IRQ_TIMER);
	struct thread *a = thread_create("ping", tour_ping, "ping");
	struct thread *b = thread_create("pong", tour_ping, "pong");
	for (int i = 0; a && b && i < 4 * TOUR_TURNS; i++)
		thread_yield();
	pic_unmask(IRQ_TIMER);
	if (a)
		thread_join(a);
	if (b)
		thread_join(b);
	kprintf("yield: two threads take turns, each yielding after every line: %s...\n", tour_log);
}

struct spinner {
	volatile uint64_t count;
	uint64_t until;
	uint64_t runs; /* how many times the thread was switched to */
};

static int tour_spin(void *arg)
{
	struct spinner *s = arg;

	while (timer_ticks() < s->until) /* never yields: only the timer takes the CPU away */
		s->count++;
	s->runs = thread_current()->kstate.runs;
	return 0;
}

static void tour_preemption(void *arg)
{
	struct spinner s[2] = {{0, timer_ticks() + TOUR_SPIN_TICKS, 0}, {0, 0, 0}};

	(void)arg;
	s[1].until = s[0].until;
	struct thread *a = thread_create("spin-a", tour_spin, &s[0]);
	struct thread *b = thread_create("spin-b", tour_spin, &s[1]);
	if (a)
		thread_join(a);
	if (b)
		thread_join(b);
	kprintf("preemption: two threads count for %d ms, never yielding: spin-a to %lu, spin-b "
		"to %lu; the timer gave them the CPU in turns (%lu and %lu times)\n",
		TOUR_SPIN_TICKS * TIMER_MS_PER_TICK, s[0].count, s[1].count, s[0].runs, s[1].runs);
}

static uint64_t tour_sleep_start;

static int tour_nap(void *arg)
{
	int ms = (int)(intptr_t)arg;
	char name[16];

	ksnprintf(name, sizeof(name), "nap-%d", ms);
	thread_sleep((uint64_t)ms);
	tour_note("%s woke at tick +%d, ", name, (int)(timer_ticks() - tour_sleep_start));
	return 0;
}

static void tour_sleep(void *arg)
{
	static const int naps[] = {30, 10, 20};
	struct thread *t[ARRAY_SIZE(naps)];

	(void)arg;
	tour_log_len = 0;
	tour_sleep_start = timer_ticks();
	for (size_t i = 0; i < ARRAY_SIZE(naps); i++)
		t[i] = thread_create("nap", tour_nap, (void *)(intptr_t)naps[i]);
	for (size_t i = 0; i < ARRAY_SIZE(naps); i++)
		if (t[i])
			thread_join(t[i]);
	kprintf("sleep: three threads sleep 30, 10 and 20 ms (the CPU idles meanwhile): %s"
		"in order of their deadlines\n",
		tour_log);
}

struct race {
	volatile int counter;
	struct mutex *lock; /* NULL: no lock */
};

/* counter++, the slow way: read, let a whole time slice pass, write back. */
static int tour_racer(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < TOUR_RACE_ROUNDS; i++) {
		if (r->lock)
			mutex_lock(r->lock);
		int v = r->counter;
		uint64_t t0 = timer_ticks();
		while (timer_ticks() - t0 < THREAD_SLICE_TICKS) /* preempted in here */
			cpu_relax();
		r->counter = v + 1;
		if (r->lock)
			mutex_unlock(r->lock);
	}
	return 0;
}

static int tour_race_once(struct mutex *m)
{
	struct race r = {0, m};
	struct thread *a = thread_create("racer-a", tour_racer, &r);
	struct thread *b = thread_create("racer-b", tour_racer, &r);

	if (a)
		thread_join(a);
	if (b)
		thread_join(b);
	return a && b ? r.counter : -1;
}

static void tour_race(void *arg)
{
	struct mutex m;

	(void)arg;
	mutex_init(&m);
	int without = tour_race_once(NULL), with = tour_race_once(&m);
	kprintf("race: two threads each add 1 to a counter %d times (read it, wait a tick, write "
		"it back): without a mutex it ends at %d, with one at %d\n",
		TOUR_RACE_ROUNDS, without, with);
}

/* One part of the tour; a TODO it reaches ends that part with a note. */
static void tour_step(void (*fn)(void *))
{
	struct ktry_result res;

	if (ktry_call(fn, NULL, KTRY_TODO, &res))
		kprintf("  (stopped: %s)\n", res.msg);
}

void tour_threads(void)
{
	kprintf("\n== 07-threads: preemptive kernel threads ==\n");
	if (!threads_up) {
		kprintf("no threads yet: %s\n", threads_why);
		return;
	}
	struct thread *me = thread_current();
	uint64_t frames = kframes_free();
	kprintf("running: thread '%s' (the boot code), stack 0x%lx-0x%lx; thread stacks are %lu "
		"KiB at 0x%lx, each above an unmapped guard page\n",
		me->name, me->stack.bottom, me->stack.top, THREAD_STACK_SIZE >> 10, KSTACKS_BASE);
	tour_step(tour_yield);
	if (!timer_up) {
		kprintf("no timer yet (%s): no preemption, no sleep\n", timer_why);
		return;
	}
	tour_step(tour_preemption);
	tour_step(tour_sleep);
	tour_step(tour_race);
	kprintf("every thread joined: %lu frames free, as before the tour (%lu); stack slots in "
		"use: %zu (the idle thread's)\n",
		kframes_free(), frames, kstack_slots_used());
}

#endif /* CHECKPOINT >= 7 */
