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
#include "todo.h"
#include "x86.h"


/* Step 12: text r-x, rodata r--, data and bss rw- and no-execute; all global. */
int kvm_map_image(struct vm_space *as, const struct kvm_layout *l)
{
	TODO("step 12: vm_map each page of text, rodata and data (physical = virtual - l->virt_offset) with its flags, all but l->stack_guard");
}

/* Step 13: every usable region, in 2 MiB pages, read-write, no-execute, global. */
int kvm_map_ram(struct vm_space *as, const struct memmap *ram)
{
	TODO("step 13: for each usable region, rounded out to 2 MiB, vm_map each 2 MiB page not yet mapped at DIRECT_MAP_BASE + pa (PTE_HUGE, writable, no-execute, global)");
}

/* Step 14: the switch. The order matters: NXE before any entry with the NX bit is used. */
void kvm_activate(const struct vm_space *as)
{
	TODO("step 14: set EFER_NXE in MSR_EFER, CR0_WP in CR0, CR4_PGE in CR4, then load CR3 with as->pml4");
}
