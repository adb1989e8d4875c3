/*
 * The given parts of address spaces (kernel/uspace.h): walking a program's pages, writing into
 * them whatever their permissions (for the loader), making a space the live one, the hook
 * before the kernel writes into a program (program_hooks.h), and where in a layout an address
 * lies (for the reports of a fault).
 */
#include <string.h>
#include "kprintf.h"
#include "local.h"
#include "paging.h"
#include "program_hooks.h"
#include "uspace.h"
#include "x86.h"

/*
 * The entries of the table at `level` (4: the PML4) covering [base, base + 512 entries), those
 * that reach into [lo, hi) (hi > base). An empty entry costs a load and a test: a space's tables
 * are mostly empty, and fork and exit walk all of them.
 */
static bool walk_table(const uint64_t *table, int level, uint64_t base, uint64_t lo, uint64_t hi,
		       bool (*fn)(uint64_t va, uint64_t *pte, void *arg), void *arg)
{
	unsigned shift = PAGE_SHIFT + VM_INDEX_BITS * (level - 1);
	unsigned first = lo > base ? (unsigned)((lo - base) >> shift) : 0;
	uint64_t span = ((hi - base - 1) >> shift) + 1; /* entries up to the one holding hi - 1 */
	unsigned end = span < PT_ENTRIES ? (unsigned)span : PT_ENTRIES;

	for (unsigned i = first; i < end; i++) {
		uint64_t e = table[i];

		if (!(e & PTE_PRESENT))
			continue;
		uint64_t va = base + ((uint64_t)i << shift);
		if (level == 1) {
			if (!fn(va, (uint64_t *)&table[i], arg))
				return false;
		} else if (!(e & PTE_HUGE)) {
			if (!walk_table(phys_to_virt(e & PTE_ADDR_MASK), level - 1, va, lo, hi, fn,
					arg))
				return false;
		}
	}
	return true;
}

void uspace_walk(const struct uspace *s, uint64_t lo, uint64_t hi,
		 bool (*fn)(uint64_t va, uint64_t *pte, void *arg), void *arg)
{
	hi = MIN(hi, VM_LOWER_HALF_END);
	if (s->vm.pml4 && lo < hi)
		walk_table(phys_to_virt(s->vm.pml4), VM_LEVELS, 0, lo, hi, fn, arg);
}

int uspace_poke(struct uspace *s, uint64_t va, const void *src, size_t len)
{
	const char *from = src;

	while (len) {
		size_t n = MIN(len, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
		phys_addr_t pa = vm_translate(&s->vm, va);

		if (pa == VM_NOT_MAPPED)
			return -EFAULT;
		memcpy(phys_to_virt(pa), from, n);
		va += n;
		from += n;
		len -= n;
	}
	return 0;
}

void uspace_activate(const struct uspace *s)
{
	phys_addr_t want = s && s->vm.pml4 ? s->vm.pml4 : kernel_vm.pml4;

	if ((read_cr3() & PTE_ADDR_MASK) != want)
		write_cr3(want);
}

static uspace_write_hook_t write_hook;

uspace_write_hook_t uspace_set_write_hook(uspace_write_hook_t hook)
{
	uspace_write_hook_t old = write_hook;

	write_hook = hook;
	return old;
}

void uspace_prepare_write(struct uspace *s, uint64_t uaddr, size_t len)
{
	if (write_hook)
		write_hook(s, uaddr, len);
}

int uspace_where(char *buf, size_t size, const struct uspace *s, uint64_t addr)
{
	const struct user_layout *l = &s->layout;
	uint64_t brk_page_end = align_up(l->brk, PAGE_SIZE);

	if (addr < USER_BOTTOM)
		return ksnprintf(buf, size,
				 "below USER_BOTTOM, where nothing is ever mapped (a null "
				 "pointer, or one near it)");
	if (addr >= VM_HIGHER_HALF_BEG)
		return ksnprintf(buf, size, "in the kernel's half, which no program may touch");
	if (addr >= USER_TOP)
		return ksnprintf(buf, size, "above USER_TOP, outside the program's half");
	if (addr >= l->image_start && addr < l->image_end)
		return ksnprintf(buf, size, "in the program's image [0x%lx, 0x%lx)", l->image_start,
				 l->image_end);
	if (addr >= l->heap_start && addr < l->brk)
		return ksnprintf(buf, size, "in the heap, below the break 0x%lx", l->brk);
	if (addr >= l->brk && addr < brk_page_end)
		return ksnprintf(buf, size,
				 "in the heap, above the break 0x%lx but on the page that holds it",
				 l->brk);
	if (addr >= l->image_end && addr < l->heap_start)
		return ksnprintf(buf, size,
				 "between the image and the heap (the random gap, never mapped)");
	if (addr >= brk_page_end && addr < l->heap_start + USER_HEAP_MAX)
		return ksnprintf(
			buf, size,
			"in the heap's room above the break 0x%lx, not asked for with sbrk",
			l->brk);
	if (addr >= l->stack_bottom - PAGE_SIZE && addr < l->stack_bottom)
		return ksnprintf(
			buf, size,
			"in the guard page under the stack (the stack ran over its %lu KiB)",
			USER_STACK_SIZE / 1024);
	if (addr >= l->stack_bottom && addr < l->stack_top)
		return ksnprintf(buf, size, "in the stack [0x%lx, 0x%lx)", l->stack_bottom,
				 l->stack_top);
	return ksnprintf(buf, size, "in none of the program's parts (image, heap, stack)");
}
