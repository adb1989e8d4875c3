/*
 * Four-level page tables: map, unmap and translate virtual addresses in one address space.
 * Lab 02 writes these (labs/02-paging/vm.c).
 *
 * A 48-bit virtual address is cut into four 9-bit table indices and a 12-bit offset:
 *
 *   63        48 47     39 38     30 29     21 20     12 11          0
 *   | sign ext. | PML4    | PDPT    | PD      | PT      | offset       |
 *                level 4   level 3   level 2   level 1
 *
 * Each table is one 4 KiB frame of 512 entries (kernel/pte.h). An entry of a level-2 table
 * with PTE_HUGE maps a 2 MiB page directly, one of a level-3 table a 1 GiB page. Tables are
 * reached through the direct map (phys_to_virt), and come from the space's own frame source,
 * so a test can give a private space a source of its own.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "memlayout.h"
#include "pte.h"

#define VM_LEVELS	4
#define VM_INDEX_BITS	9
#define VM_INDEX_MASK	(PT_ENTRIES - 1)
#define GIANT_PAGE_SIZE (_UL(1) << 30) /* what a level-3 entry with PTE_HUGE maps */

/* The first non-canonical address: bits 63-47 must all equal bit 47. */
#define VM_LOWER_HALF_END  _UL(0x0000800000000000)
#define VM_HIGHER_HALF_BEG _UL(0xffff800000000000)

/* vm_translate's answer for an address nothing maps (0 is a valid physical address). */
#define VM_NOT_MAPPED ((phys_addr_t)-1)

/* Error codes, all negative. */
#define VM_ENOMEM  (-1) /* no frame for a page table */
#define VM_ENOENT  (-2) /* nothing is mapped there */
#define VM_ENOTRDY (-3) /* (kernel/layers/02-paging) the kernel's own tables are not live */

/* The flags a caller may pass to vm_map (besides PTE_PRESENT, which vm_map adds). */
#define VM_MAP_FLAGS                                                                       \
	(PTE_WRITABLE | PTE_USER | PTE_NO_EXECUTE | PTE_GLOBAL | PTE_HUGE | PTE_NO_CACHE | \
	 PTE_WRITE_THROUGH)

struct vm_space {
	phys_addr_t pml4; /* physical address of the level-4 table */
	/* Where tables come from: a frame (its contents undefined), or 0 if none is left. */
	phys_addr_t (*alloc_table)(void);
	/* Where empty tables go back to. */
	void (*free_table)(phys_addr_t pa);
};

/* True if va is canonical: bits 63..47 all equal. */
static inline bool vm_is_canonical(uint64_t va)
{
	return va < VM_LOWER_HALF_END || va >= VM_HIGHER_HALF_BEG;
}

/*
 * Set up an empty address space: a zeroed level-4 table from alloc_table. Returns 0, or
 * VM_ENOMEM (and as is unchanged) if alloc_table has no frame.
 */
int vm_init(struct vm_space *as, phys_addr_t (*alloc_table)(void),
	    void (*free_table)(phys_addr_t pa));

/*
 * Give every page-table frame of as back to its free_table, level-4 table included (not the
 * frames the tables map). as must not be the live address space (CR3).
 */
void vm_destroy(struct vm_space *as);

/* The index of va in its table at `level` (4: PML4 ... 1: PT), 0 to 511. */
unsigned vm_index(uint64_t va, int level);

/*
 * Map the page at va to the frame at pa. flags are PTE_* bits from VM_MAP_FLAGS: with
 * PTE_HUGE the page is 2 MiB (va and pa 2 MiB-aligned), else 4 KiB. Intermediate tables
 * are allocated as needed, zeroed, and made present, writable and user-accessible (the leaf
 * entry alone decides). Returns 0, or VM_ENOMEM when a table cannot be allocated (tables
 * allocated on the way stay, empty, until vm_destroy or reuse).
 * Panics ("vm_map: ...") if va or pa is not aligned to the page size, va is not canonical,
 * flags has bits outside VM_MAP_FLAGS, or something is already mapped there.
 */
int vm_map(struct vm_space *as, uint64_t va, phys_addr_t pa, uint64_t flags);

/*
 * Remove the mapping of the page that holds va (4 KiB, 2 MiB or 1 GiB), invalidate its TLB
 * entry, and give back every table (below the PML4) this leaves empty. Returns 0, or
 * VM_ENOENT if nothing maps va.
 */
int vm_unmap(struct vm_space *as, uint64_t va);

/*
 * The physical address va maps to (offset within the page included), or VM_NOT_MAPPED.
 * Follows 2 MiB and 1 GiB pages.
 */
phys_addr_t vm_translate(const struct vm_space *as, uint64_t va);

/*
 * The leaf entry that maps va (a PT entry, or a PD/PDPT entry with PTE_HUGE), or 0 if
 * nothing maps it. For tests and the tour, which look at the flags.
 */
uint64_t vm_leaf_entry(const struct vm_space *as, uint64_t va);
