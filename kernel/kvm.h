/*
 * The kernel's own address space, built by lab 02 (labs/02-paging/kvm.c) and switched to by
 * kernel/layers/02-paging in place of the boot tables of lab 01:
 *
 *   kernel image at KERNEL_VMA + its physical address, 4 KiB pages, by permission:
 *     .text            read, execute
 *     .rodata          read
 *     .data, .bss      read, write, no execute; but the guard page under the boot stack is
 *                      left unmapped, so running off the stack faults
 *   direct map at DIRECT_MAP_BASE + p for every usable region of RAM, 2 MiB pages,
 *                    read, write, no execute
 *   nothing in the lower half: the boot identity map is gone
 *
 * Every kernel mapping is global (PTE_GLOBAL: kept in the TLB across CR3 loads) and not
 * user-accessible.
 */
#pragma once

#include <stdint.h>
#include "memmap.h"
#include "vm.h"

/* Where the parts of the kernel image are: virtual addresses, page-aligned. */
struct kvm_layout {
	uint64_t text_start, text_end;	   /* read, execute */
	uint64_t rodata_start, rodata_end; /* read only */
	uint64_t data_start, data_end;	   /* read, write: .data, .bss, boot stack */
	uint64_t stack_guard; /* the page to leave unmapped, inside data_start-data_end */
	uint64_t virt_offset; /* virtual - physical for the whole image (KERNEL_VMA) */
};

/*
 * Map the kernel image into as, each part with its permissions, leaving l->stack_guard
 * unmapped. Returns 0 or VM_ENOMEM.
 */
int kvm_map_image(struct vm_space *as, const struct kvm_layout *l);

/*
 * Map every usable region of ram at DIRECT_MAP_BASE + its physical address, with 2 MiB pages
 * (regions rounded out to 2 MiB boundaries; a 2 MiB page two regions share is mapped once).
 * Returns 0 or VM_ENOMEM.
 */
int kvm_map_ram(struct vm_space *as, const struct memmap *ram);

/*
 * Make as the live address space: turn on no-execute (EFER.NXE), write protection for the
 * kernel too (CR0.WP) and global pages (CR4.PGE), then load CR3. as must map the running
 * code, its stack and everything the kernel uses next.
 */
void kvm_activate(const struct vm_space *as);
