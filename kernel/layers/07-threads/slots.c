/*
 * Stack slots (kstack.h): the kernel hands each thread's stack a slot of THREAD_SLOT_SIZE in
 * the KSTACKS range, whose lower half stays unmapped as the guard page, and knows whose each
 * slot is, so that a fault in a guard page is reported as "thread 'worker' ran into its guard
 * page".
 */
#include "irq.h"
#include "kprintf.h"
#include "local.h"
#include "panic.h"

static struct thread *slot_owner[THREAD_SLOTS];
static bool slot_new[THREAD_SLOTS]; /* handed out, and its thread not switched to yet */
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
			slot_new[s] = true;
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

bool kstack_slot_first_run(int slot)
{
	if (slot < 0 || slot >= THREAD_SLOTS || !slot_new[slot])
		return false;
	slot_new[slot] = false;
	return true;
}

struct thread *kstack_slot_owner(int slot)
{
	return slot >= 0 && slot < THREAD_SLOTS ? slot_owner[slot] : NULL;
}

size_t kstack_slots_used(void)
{
	return slots_used;
}

bool kstack_guard_owner(uint64_t addr, char *buf, size_t size)
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
