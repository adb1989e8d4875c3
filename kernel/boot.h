/*
 * What the kernel knows about how it was booted: the CPU state lab 01's boot code left
 * (recorded first thing in kernel_main, before the kernel changes any of it) and the
 * multiboot information.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "multiboot.h"
#include "x86.h"

struct boot_cpu_state {
	uint64_t cr0, cr3, cr4, efer;
	uint16_t cs;
	struct descriptor_table_ptr gdtr;
	uint64_t cs_descriptor; /* the GDT entry CS selected */
};

extern struct boot_cpu_state boot_cpu;
extern const struct multiboot_info *boot_mbi;

/* The C entry point: boot.S calls it on the boot stack, in 64-bit mode, in the higher half. */
void kernel_main(uint32_t mb_magic, uint64_t mbi_phys);
