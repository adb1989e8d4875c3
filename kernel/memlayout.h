/*
 * The kernel's virtual memory layout, shared by every checkpoint.
 *
 *   0x0000000000000000 ... 0x00007fffffffffff   lower half: identity map of the first GiB
 *                                               while booting (checkpoint 01); empty from
 *                                               checkpoint 02 on
 *   0xffff800000000000 ... (+ all of RAM)       the direct map: physical address p is at
 *                                               DIRECT_MAP_BASE + p
 *   0xffffc00000000000 ... (+ KHEAP_MAX)        the kernel heap (checkpoint 03 on)
 *   0xffffd00000000000 (one page)               the local APIC's registers (checkpoint 07)
 *   0xffffe00000000000 ...                      thread stacks with guard pages (checkpoint 07)
 *   0xffffffff80000000 ... (+ kernel image)     the kernel image: linked here, loaded at
 *                                               physical KERNEL_PHYS_BASE
 *
 * The boot page tables of checkpoint 01 map the first GiB three times (identity, direct map,
 * kernel image); checkpoint 02 replaces them with the kernel's own tables.
 */
#pragma once

#include "const.h"

#define PAGE_SIZE	 _UL(4096)
#define PAGE_SHIFT	 12
#define HUGE_PAGE_SIZE	 (_UL(2) * 1024 * 1024)

#define KERNEL_PHYS_BASE _UL(0x100000)
#define KERNEL_VMA	 _UL(0xffffffff80000000)
#define DIRECT_MAP_BASE	 _UL(0xffff800000000000)
#define KHEAP_BASE	 _UL(0xffffc00000000000)
#define LAPIC_VA	 _UL(0xffffd00000000000)
#define KSTACKS_BASE	 _UL(0xffffe00000000000)

/* How much the boot page tables of checkpoint 01 map: the first GiB, with 2 MiB pages. */
#define BOOT_MAP_SIZE (_UL(1) << 30)

#ifndef __ASSEMBLER__
#include <stdint.h>

typedef uint64_t phys_addr_t;

/* The direct-map address of physical address pa. */
static inline void *phys_to_virt(phys_addr_t pa)
{
	return (void *)(pa + DIRECT_MAP_BASE);
}

/* The physical address behind va, for a direct-map or kernel-image address. */
static inline phys_addr_t virt_to_phys(const void *va)
{
	uintptr_t a = (uintptr_t)va;
	return a >= KERNEL_VMA ? a - KERNEL_VMA : a - DIRECT_MAP_BASE;
}

static inline uint64_t align_down(uint64_t x, uint64_t align)
{
	return x & ~(align - 1);
}

static inline uint64_t align_up(uint64_t x, uint64_t align)
{
	return (x + align - 1) & ~(align - 1);
}

/* Boundaries of the kernel image, defined by kernel/kernel.ld (virtual addresses). */
extern char __kernel_start[], __kernel_end[];
extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];
extern char __bss_start[], __bss_end[];
/* The boot stack, with one unmapped guard page below it from checkpoint 02 on. */
extern char __stack_guard[], __stack_bottom[], __stack_top[];
/* Physical boundaries of the whole loaded image, low boot section included. */
extern char __image_phys_start[], __image_phys_end[];
#endif
