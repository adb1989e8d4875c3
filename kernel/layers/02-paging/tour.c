/*
 * Layer 02's part of the tour: the kernel's address space, one translation walked by hand, and
 * a page mapped at 0xdeadbeef's page and read back through the direct map.
 */
#include <string.h>
#include "kprintf.h"
#include "local.h"
#include "paging.h"
#include "x86.h"

#define TOUR_ADDRESS_OFFSET 0x234 /* an offset to show in the translation walked by hand */

static void tour_walk(uint64_t va)
{
	static const char *const level_names[VM_LEVELS + 1] = {"", "PT", "PD", "PDPT", "PML4"};
	phys_addr_t table = kernel_vm.pml4;

	kprintf("walking 0x%lx by hand: indices %u %u %u %u, offset 0x%lx\n", va, vm_index(va, 4),
		vm_index(va, 3), vm_index(va, 2), vm_index(va, 1), va & (PAGE_SIZE - 1));
	for (int l = VM_LEVELS; l >= 1; l--) {
		uint64_t e = ((const uint64_t *)phys_to_virt(table))[vm_index(va, l)];

		kprintf("  %-4s at 0x%08lx [%3u] = 0x%016lx%s\n", level_names[l], table,
			vm_index(va, l), e, e & PTE_PRESENT ? "" : " (not present)");
		if (!(e & PTE_PRESENT) || (l > 1 && (e & PTE_HUGE)))
			break;
		table = e & PTE_ADDR_MASK;
	}
	kprintf("  vm_translate says physical 0x%lx\n", vm_translate(&kernel_vm, va));
}

static void tour_part(const char *name, uint64_t start, uint64_t end, const char *perm)
{
	kprintf("  0x%016lx-0x%016lx %-20s %s\n", start, end - 1, name, perm);
}

static void tour_demo_alias(void)
{
	const uint64_t va = 0xdeadbeef, pa = 0xbeef;
	static const char msg[] = "hello through 0xdeadbeef";
	char saved[sizeof(msg)];
	char *direct = phys_to_virt(pa);

	kprintf("mapping virtual 0x%lx to the frame of physical 0x%lx:\n", va, pa);
	if (kmap_page(align_down(va, PAGE_SIZE), align_down(pa, PAGE_SIZE),
		      PTE_WRITABLE | PTE_NO_EXECUTE) < 0) {
		kprintf("  kmap_page failed\n");
		return;
	}
	memcpy(saved, direct, sizeof(saved));
	memcpy((char *)va, msg, sizeof(msg));
	kprintf("  wrote \"%s\" at 0x%lx, read back \"%s\" at 0x%lx (the direct map)\n", msg, va,
		direct, (uint64_t)direct);
	memcpy(direct, saved, sizeof(saved));
	kunmap_page(align_down(va, PAGE_SIZE));
	kprintf("  unmapped: vm_translate(0x%lx) now says %s\n", va,
		vm_translate(&kernel_vm, va) == VM_NOT_MAPPED ? "not mapped" : "still mapped!");
}

void paging_tour(void)
{
	if (!kframe_source()) {
		kprintf("lab 02's frame allocator is not set up yet (see the notes at boot).\n");
		return;
	}
	kprintf("frames: %lu of RAM (%lu MiB), %lu free\n", kframes_total(),
		kframes_total() >> (20 - PAGE_SHIFT), kframes_free());
	if (!paging_ready) {
		kprintf("the kernel still runs on the boot page tables (see the notes at boot).\n");
		return;
	}
	struct kvm_layout l;
	paging_kernel_layout(&l);
	kprintf("the kernel's address space (CR3 = 0x%lx):\n", read_cr3());
	tour_part("lower half", 0, VM_LOWER_HALF_END, "empty: no identity map");
	tour_part("direct map of RAM", DIRECT_MAP_BASE,
		  DIRECT_MAP_BASE + align_up(paging_ram_end(), HUGE_PAGE_SIZE),
		  "rw- nx, 2 MiB pages");
	tour_part(".text", l.text_start, l.text_end, "r-x");
	tour_part(".rodata", l.rodata_start, l.rodata_end, "r-- nx");
	tour_part(".data, .bss", l.data_start, l.stack_guard, "rw- nx");
	tour_part("guard page", l.stack_guard, l.stack_guard + PAGE_SIZE, "unmapped");
	tour_part("boot stack", (uint64_t)__stack_bottom, (uint64_t)__stack_top, "rw- nx");
	tour_walk((uint64_t)__text_start + TOUR_ADDRESS_OFFSET);
	tour_demo_alias();
}
