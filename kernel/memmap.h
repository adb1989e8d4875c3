/*
 * The physical memory map: which ranges of physical addresses are RAM the kernel may use.
 * Lab 01 (labs/01-boot/memmap.c) fills boot_memmap from the boot loader's map.
 */
#pragma once

#include <stdint.h>
#include "multiboot.h"

#define MEMMAP_MAX 64

/* Region types, as multiboot (and the BIOS's E820 call) number them. */
enum memmap_type {
	MEMMAP_USABLE = MULTIBOOT_MEMORY_AVAILABLE,
	MEMMAP_RESERVED = MULTIBOOT_MEMORY_RESERVED,
	MEMMAP_ACPI = MULTIBOOT_MEMORY_ACPI_RECLAIMABLE,
	MEMMAP_NVS = MULTIBOOT_MEMORY_NVS,
	MEMMAP_BAD = MULTIBOOT_MEMORY_BADRAM,
};

struct memmap_region {
	uint64_t base; /* first byte */
	uint64_t len;  /* in bytes, never 0 */
	uint32_t type; /* enum memmap_type */
};

struct memmap {
	struct memmap_region regions[MEMMAP_MAX];
	int count;
	uint64_t usable_bytes; /* sum of the lengths of the MEMMAP_USABLE regions */
};

extern struct memmap boot_memmap;

/*
 * Copy the boot loader's memory map (mbi->mmap_addr, mbi->mmap_length) into boot_memmap,
 * skipping empty entries, and print each region and the total usable RAM:
 *   memmap: [0x0000000000000000-0x000000000009fbff] usable
 *   ...
 *   memmap: 130687 KiB usable          (on a 128 MiB machine)
 * Returns the number of regions, or -1 if the loader passed no memory map.
 */
int memmap_init(const struct multiboot_info *mbi);

/* "usable", "reserved", "ACPI", "ACPI NVS", "bad" or "unknown". */
const char *memmap_type_name(uint32_t type);
