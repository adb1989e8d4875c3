/*
 * Copy-on-write in the kernel's paths (kernel/cow.h): the page fault handler that gives lab
 * 09's cow_fault the faults it may handle, the hook that does the same before the kernel
 * copies out to a program, and the small page-table helpers of cow.h.
 *
 * The page fault. Layer 08 handles every fault from ring 3 by ending the program. This
 * handler comes first: a write to a present page (error P | W | U) may be a copy-on-write
 * page, so cow_fault decides; handled, the program retries its write and never knows. Any
 * other fault, or one cow_fault refuses, goes on to layer 08's handler as before.
 *
 * The kernel's own writes. A system call that writes into a program (wait's status, read's
 * buffer, layer 08's SYS_layout) copies through the direct map (copyout), after checking that
 * every page is writable for the program, which a copy-on-write page is not. So before it
 * checks, the kernel makes such pages the program's own, as if the program had written them.
 */
#include "cow.h"
#include "irq.h"
#include "kprintf.h"
#include "ktry.h"
#include "local.h"
#include "paging.h"
#include "program_hooks.h"
#include "segments.h"
#include "trap.h"
#include "x86.h"

static trap_handler_t earlier_pf;
static uspace_write_hook_t earlier_write_hook;

/* vm_index, inline: fork asks for an entry per page it shares. */
static inline unsigned index_at(uint64_t va, int level)
{
	return (va >> (PAGE_SHIFT + VM_INDEX_BITS * (level - 1))) & VM_INDEX_MASK;
}

uint64_t *uspace_pte(const struct uspace *s, uint64_t va)
{
	if (!s->vm.pml4 || va >= VM_LOWER_HALF_END)
		return NULL;
	uint64_t *table = phys_to_virt(s->vm.pml4);

	for (int level = VM_LEVELS; level > 1; level--) {
		uint64_t e = table[index_at(va, level)];

		if (!(e & PTE_PRESENT) || (e & PTE_HUGE))
			return NULL;
		table = phys_to_virt(e & PTE_ADDR_MASK);
	}
	return &table[index_at(va, 1)];
}

static bool live(const struct uspace *s)
{
	return s->vm.pml4 && (read_cr3() & PTE_ADDR_MASK) == s->vm.pml4;
}

void uspace_invalidate(const struct uspace *s, uint64_t va)
{
	if (live(s))
		invlpg((const void *)va);
}

void uspace_flush(const struct uspace *s)
{
	if (live(s))
		write_cr3(read_cr3());
}

/* ---- calling lab 09 ------------------------------------------------------------------------- */

struct cow_call {
	struct uspace *s;
	uint64_t va, error;
	int result;
};

static void call_cow_fault(void *arg)
{
	struct cow_call *c = arg;

	c->result = cow_fault(c->s, c->va, c->error);
}

/* cow_fault, or its TODO's message in *todo (then the result is -EFAULT). */
static int cow(struct uspace *s, uint64_t va, uint64_t error, struct ktry_result *todo)
{
	struct cow_call c = {s, va, error, -EFAULT};

	if (ktry_call(call_cow_fault, &c, KTRY_TODO, todo))
		return -EFAULT;
	todo->msg[0] = '\0';
	return c.result;
}

static void page_fault(struct trap_frame *tf)
{
	uint64_t cr2 = read_cr2(); /* first: a fault while handling this one would change it */
	struct program *p = program_current();
	struct ktry_result todo;

	if ((tf->cs & 3) != SEG_RPL_USER || !proc_of(p) ||
	    (tf->error & (PF_PRESENT | PF_WRITE)) != (PF_PRESENT | PF_WRITE)) {
		earlier_pf(tf);
		return;
	}
	int r = cow(&p->space, cr2, tf->error, &todo);
	if (r == 0)
		return; /* the program writes again, to its own page now */
	if (todo.msg[0]) {
		struct user_fault f = {tf->vector, tf->error, tf->rip, cr2};
		char report[PROGRAM_NOTE_MAX];

		ksnprintf(report, sizeof(report),
			  "program '%s' (pid %d): %s at rip 0x%016lx: a write to 0x%016lx, and %s",
			  p->name, p->pid, trap_name(tf->vector), tf->rip, cr2, todo.msg);
		program_end_fault(&f, report);
	}
	if (r == -ENOMEM)
		kprintf("proc: program '%s' (pid %d) wrote to a shared page at 0x%lx, and no frame "
			"is left for its copy: the write faults\n",
			p->name, p->pid, cr2);
	earlier_pf(tf);
}

void cow_prepare_write(struct uspace *s, uint64_t uaddr, size_t len)
{
	struct ktry_result todo;

	if (!len || uaddr >= USER_TOP || len > USER_TOP - uaddr)
		return; /* copyout refuses it anyway */
	for (uint64_t page = align_down(uaddr, PAGE_SIZE); page < uaddr + len; page += PAGE_SIZE) {
		uint64_t *pte = uspace_pte(s, page);

		if (!pte || !(*pte & PTE_PRESENT))
			return; /* copyout refuses the range: no need to copy more */
		if ((*pte & PTE_COW) && cow(s, page, PF_PRESENT | PF_WRITE | PF_USER, &todo) < 0)
			return;
	}
}

static void write_hook(struct uspace *s, uint64_t uaddr, size_t len)
{
	if (earlier_write_hook)
		earlier_write_hook(s, uaddr, len);
	cow_prepare_write(s, uaddr, len);
}

void cow_handlers_init(void)
{
	unsigned long flags = irq_save();

	earlier_pf = trap_register(VEC_PF, page_fault);
	if (!earlier_pf)
		earlier_pf = trap_exception_default;
	irq_restore(flags);
	earlier_write_hook = uspace_set_write_hook(write_hook);
}
