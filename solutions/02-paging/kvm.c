/*
 * The kernel's own address space (kernel/kvm.h): the kernel image mapped by permission, all
 * RAM in the direct map, nothing in the lower half. kernel/layers/02-paging/init.c calls these in order,
 * checks the result, then switches to it.
 *
 * Why each permission: code that cannot be written cannot be patched by a stray pointer;
 * data that cannot be executed cannot be run by a bug that jumps into it (PTE_NO_EXECUTE
 * needs EFER.NXE, else the CPU calls the bit reserved and every access to such a page
 * faults); and without CR0.WP the CPU lets kernel mode write to read-only pages anyway.
 */
#include "kvm.h"
#include "memlayout.h"
#include "pte.h"
/// STARTER: #include "todo.h"
#include "x86.h"

/// SOLUTION BEGIN
/* Map [start, end) of the image with 4 KiB pages, skipping the stack's guard page. */
static int map_part(struct vm_space *as, const struct kvm_layout *l, uint64_t start, uint64_t end,
		    uint64_t flags)
{
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		if (va == l->stack_guard)
			continue; /* unmapped: running off the stack must fault */
		int err = vm_map(as, va, va - l->virt_offset, flags);
		if (err)
			return err;
	}
	return 0;
}
/// SOLUTION END

/* Step 12: text r-x, rodata r--, data and bss rw- and no-execute; all global. */
int kvm_map_image(struct vm_space *as, const struct kvm_layout *l)
{
	/// SOLUTION BEGIN
	int err;

	if ((err = map_part(as, l, l->text_start, l->text_end, PTE_GLOBAL)) ||
	    (err = map_part(as, l, l->rodata_start, l->rodata_end, PTE_GLOBAL | PTE_NO_EXECUTE)) ||
	    (err = map_part(as, l, l->data_start, l->data_end,
			    PTE_GLOBAL | PTE_WRITABLE | PTE_NO_EXECUTE)))
		return err;
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 12: vm_map each page of text, rodata and data (physical = virtual - l->virt_offset) with its flags, all but l->stack_guard");
}

/* Step 13: every usable region, in 2 MiB pages, read-write, no-execute, global. */
int kvm_map_ram(struct vm_space *as, const struct memmap *ram)
{
	/// SOLUTION BEGIN
	for (int i = 0; i < ram->count; i++) {
		const struct memmap_region *r = &ram->regions[i];

		if (r->type != MEMMAP_USABLE)
			continue;
		uint64_t end = align_up(r->base + r->len, HUGE_PAGE_SIZE);
		for (uint64_t pa = align_down(r->base, HUGE_PAGE_SIZE); pa < end;
		     pa += HUGE_PAGE_SIZE) {
			if (vm_translate(as, DIRECT_MAP_BASE + pa) != VM_NOT_MAPPED)
				continue; /* shared with the previous region */
			int err = vm_map(as, DIRECT_MAP_BASE + pa, pa,
					 PTE_HUGE | PTE_WRITABLE | PTE_NO_EXECUTE | PTE_GLOBAL);
			if (err)
				return err;
		}
	}
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 13: for each usable region, rounded out to 2 MiB, vm_map each 2 MiB page not yet mapped at DIRECT_MAP_BASE + pa (PTE_HUGE, writable, no-execute, global)");
}

/* Step 14: the switch. The order matters: NXE before any entry with the NX bit is used. */
void kvm_activate(const struct vm_space *as)
{
	/// SOLUTION BEGIN
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	write_cr4(read_cr4() | CR4_PGE);
	write_cr3(as->pml4);
	/// SOLUTION END
	/// STARTER: TODO("step 14: set EFER_NXE in MSR_EFER, CR0_WP in CR0, CR4_PGE in CR4, then load CR3 with as->pml4");
}
