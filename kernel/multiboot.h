/*
 * The multiboot (version 1) boot information, as QEMU's -kernel loader hands it over.
 * Field names follow the multiboot specification, section 3.3.
 */
#pragma once

#include <stdint.h>

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002

/* Bits of multiboot_info.flags saying which fields are valid. */
#define MULTIBOOT_INFO_MEMORY  (1u << 0)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MEM_MAP (1u << 6)

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB below 1 MiB */
	uint32_t mem_upper; /* KiB from 1 MiB up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline; /* physical address of a NUL-terminated string */
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length; /* bytes in the memory map */
	uint32_t mmap_addr;   /* physical address of the first entry */
} __attribute__((packed));

/*
 * One memory-map entry. `size` counts the bytes that follow it, so the next entry starts
 * size + 4 bytes after this one (not sizeof(struct multiboot_mmap_entry) bytes).
 */
struct multiboot_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));

#define MULTIBOOT_MEMORY_AVAILABLE	  1
#define MULTIBOOT_MEMORY_RESERVED	  2
#define MULTIBOOT_MEMORY_ACPI_RECLAIMABLE 3
#define MULTIBOOT_MEMORY_NVS		  4
#define MULTIBOOT_MEMORY_BADRAM		  5
