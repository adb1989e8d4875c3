/*
 * Checkpoint 07 joins the kernel: the PICs, the timer and the first two threads come up at
 * boot; the kernel's own pieces of threads are in kstate.c (per-thread state, the idle thread)
 * and slots.c (stack slots).
 *
 * Bringing it up (threads_layer_init), each call into lab code a LAB_STEP (layer.h):
 *   1. pic_init: IRQs on vectors 32-47, every line masked;
 *   2. thread_init: the code running now becomes the thread "main", and the idle thread is
 *      created;
 *   3. the local APIC's LINT0 set to pass the PIC's interrupts to the CPU (firmware's job on
 *      a PC; QEMU's microvm leaves it masked), by the kernel itself;
 *   4. timer_init(TIMER_HZ): the PIT at 100 Hz on IRQ 0; then timer_interrupt is called once
 *      by hand (a TODO in it is then a note here rather than a panic at the first tick);
 *   5. interrupts on (sti): from here the timer ticks and preempts.
 * A step that reaches a TODO is skipped with a note, and so is everything that needs it:
 * without the PICs no timer, without threads no scheduling. The kernel then goes on without
 * them, with interrupts off as at checkpoint 06, and the tests of labs 01-06 run as before.
 */
#include "heap.h"
#include "kprintf.h"
#include "layer.h"
#include "layer_access.h"
#include "local.h"
#include "paging.h"
#include "pic.h"
#include "timer.h"
#include "trap.h"
#include "x86.h"

#define WHY_MAX KTRY_MSG_MAX

/* The local APIC: where its registers are, their offsets and values (Intel SDM vol. 3, 11.4). */
#define MSR_APIC_BASE	      0x1b
#define APIC_BASE_ADDR_MASK   _UL(0x000ffffffffff000) /* physical address of its registers */
#define LAPIC_SVR	      0xf0		      /* spurious-interrupt vector register */
#define LAPIC_SVR_ENABLE      0x100		      /* APIC software enable */
#define LAPIC_SPURIOUS_VECTOR 0xff
#define LAPIC_LVT_LINT0	      0x350
#define LAPIC_DELIVERY_EXTINT 0x700 /* the interrupt controller (the PIC) supplies the vector */

bool threads_up, timer_up;
static char threads_why[WHY_MAX] = "07-threads: the layer was not brought up";
static char timer_why[WHY_MAX] = "07-threads: the layer was not brought up";

const char *threads_unavailable(void)
{
	return threads_up ? NULL : threads_why;
}

const char *timer_unavailable(void)
{
	return timer_up ? NULL : timer_why;
}

/*
 * The PICs' output reaches the CPU through the LINT0 input of its local APIC, which firmware
 * sets to "ExtINT" (pass the PIC's vector through) on a PC; QEMU's microvm leaves it masked.
 * So the kernel does that part itself: map the APIC's registers, software-enable it
 * (spurious-interrupt register), and set LINT0 to ExtINT. Nothing else of the APIC is used:
 * one CPU, the PIT for time. False if its page cannot be mapped.
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

/* The PIT at TIMER_HZ, and its handler once by hand, interrupts still off: an EOI with
 * nothing in service does nothing, and a tick counted early is harmless. */
static void start_timer(void)
{
	struct trap_frame tf = {.vector = PIC_VECTOR_BASE + IRQ_TIMER};

	timer_init(TIMER_HZ);
	timer_interrupt(&tf);
}

static void threads_layer_init(void)
{
	if (kheap_backend() == KHEAP_NONE) {
		ksnprintf(threads_why, WHY_MAX,
			  "07-threads: no threads without a kernel heap (labs 02-05)");
		kprintf("threads: %s\n", threads_why);
		return;
	}
	bool pic = LAB_STEP_WHY("07-threads: pic_init", timer_why, WHY_MAX, pic_init());

	threads_up = LAB_STEP_WHY("07-threads: thread_init", threads_why, WHY_MAX, thread_init());
	if (threads_up)
		threads_note_main(thread_current());
	if (pic && !local_apic_pass_pic()) {
		pic = false;
		ksnprintf(timer_why, WHY_MAX, "07-threads: no page for the local APIC's registers");
		kprintf("threads: %s\n", timer_why);
	}
	if (pic)
		timer_up =
			LAB_STEP_WHY("07-threads: timer_init", timer_why, WHY_MAX, start_timer());
	trap_set_guard_owner(kstack_guard_owner);
	if (!timer_up) {
		kprintf("threads: no timer (see the notes above): interrupts stay off%s\n",
			threads_up ? ", and threads switch only when they yield or block" : "");
		return;
	}
	sti();
	/* Only what is known here: whether preemption and sleeping work, the tests tell. */
	kprintf("threads: the PIT ticks at %d Hz on IRQ %d (vector %d), and each tick calls "
		"thread_tick; %s\n",
		TIMER_HZ, IRQ_TIMER, PIC_VECTOR_BASE + IRQ_TIMER,
		threads_up ? "threads 'main' and 'idle' are up" : "no threads yet");
}

LAYER(7, "07-threads", "preemptive kernel threads", threads_layer_init, threads_tour);
