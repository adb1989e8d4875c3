/*
 * x86_64 page-table entries (Intel SDM vol. 3, section 4.5). Each of the four levels (PML4,
 * PDPT, PD, PT) is a 4 KiB table of 512 eight-byte entries; the same flag bits apply at every
 * level. Usable from C and assembly.
 */
#pragma once

#include "const.h"

#define PTE_PRESENT	  (_UL(1) << 0)
#define PTE_WRITABLE	  (_UL(1) << 1)
#define PTE_USER	  (_UL(1) << 2)
#define PTE_WRITE_THROUGH (_UL(1) << 3)
#define PTE_NO_CACHE	  (_UL(1) << 4)
#define PTE_ACCESSED	  (_UL(1) << 5)
#define PTE_DIRTY	  (_UL(1) << 6)
#define PTE_HUGE	  (_UL(1) << 7) /* in a PDPT or PD entry: maps 1 GiB or 2 MiB directly */
#define PTE_GLOBAL	  (_UL(1) << 8)
#define PTE_NO_EXECUTE	  (_UL(1) << 63) /* needs EFER.NXE */

#define PTE_ADDR_MASK	  _UL(0x000ffffffffff000) /* bits 12-51: the physical address */
#define PT_ENTRIES	  512
