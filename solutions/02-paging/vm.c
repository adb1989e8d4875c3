/*
 * Four-level page tables (kernel/vm.h): walking down from the PML4, mapping a page,
 * translating an address, unmapping a page and giving back the tables that leaves empty.
 *
 * Every table is reached through the direct map: the entry holds the physical address of
 * the next table, and phys_to_virt() turns it into a pointer the kernel can use.
 */
#include <string.h>
#include "compiler.h"
#include "panic.h"
/// STARTER: #include "todo.h"
#include "vm.h"
#include "x86.h"

/* What an entry pointing at a lower table allows: everything; the leaf entry decides. */
#define TABLE_ENTRY_FLAGS (PTE_PRESENT | PTE_WRITABLE | PTE_USER)

/* How much one entry of a table at `level` covers: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
static inline __unused uint64_t level_size(int level)
{
	return PAGE_SIZE << (VM_INDEX_BITS * (level - 1));
}

static inline uint64_t *table_at(phys_addr_t pa)
{
	return phys_to_virt(pa);
}

/* A present entry that maps memory itself rather than pointing at a table. */
static inline bool is_leaf(uint64_t entry, int level)
{
	return level == 1 || (level < VM_LEVELS && (entry & PTE_HUGE));
}

/* A zeroed table from the space's frame source, or 0. */
static phys_addr_t new_table(struct vm_space *as)
{
	phys_addr_t pa = as->alloc_table();

	if (pa)
		memset(table_at(pa), 0, PAGE_SIZE);
	return pa;
}

static __unused bool table_is_empty(const uint64_t *table)
{
	for (int i = 0; i < PT_ENTRIES; i++)
		if (table[i])
			return false;
	return true;
}

int vm_init(struct vm_space *as, phys_addr_t (*alloc_table)(void),
	    void (*free_table)(phys_addr_t pa))
{
	struct vm_space s = {0, alloc_table, free_table};

	s.pml4 = new_table(&s);
	if (!s.pml4)
		return VM_ENOMEM;
	*as = s;
	return 0;
}

static void free_tables(struct vm_space *as, phys_addr_t table, int level)
{
	uint64_t *t = table_at(table);

	for (int i = 0; i < PT_ENTRIES && level > 1; i++)
		if ((t[i] & PTE_PRESENT) && !is_leaf(t[i], level))
			free_tables(as, t[i] & PTE_ADDR_MASK, level - 1);
	as->free_table(table);
}

void vm_destroy(struct vm_space *as)
{
	KASSERT((read_cr3() & PTE_ADDR_MASK) != as->pml4 || !as->pml4);
	if (as->pml4)
		free_tables(as, as->pml4, VM_LEVELS);
	as->pml4 = 0;
}

/* Step 6: cut the address into its indices (see the picture in kernel/vm.h). */
unsigned vm_index(uint64_t va, int level)
{
	/// SOLUTION BEGIN
	return (va >> (PAGE_SHIFT + VM_INDEX_BITS * (level - 1))) & VM_INDEX_MASK;
	/// SOLUTION END
	/// STARTER: TODO("step 6: shift va right by 12 + 9 * (level - 1) and keep the low 9 bits");
}

/*
 * Step 7: the entry for va in its table at `level` (1: the PT entry, 2: the PD entry ...),
 * going down from the PML4. A missing table on the way is created when `create` (zeroed,
 * entry TABLE_ENTRY_FLAGS); without `create`, or when no frame is left, the answer is NULL.
 * A huge page on the way means va is already mapped: panic ("vm_map: ...").
 */
static __unused uint64_t *walk(struct vm_space *as, uint64_t va, int level, bool create)
{
	/// SOLUTION BEGIN
	uint64_t *table = table_at(as->pml4);

	for (int l = VM_LEVELS; l > level; l--) {
		uint64_t *e = &table[vm_index(va, l)];

		if (!(*e & PTE_PRESENT)) {
			phys_addr_t t = create ? new_table(as) : 0;
			if (!t)
				return NULL;
			*e = t | TABLE_ENTRY_FLAGS;
		} else if (is_leaf(*e, l)) {
			panic("vm_map: 0x%lx lies inside a %lu KiB page that is already mapped", va,
			      level_size(l) >> 10);
		}
		table = table_at(*e & PTE_ADDR_MASK);
	}
	return &table[vm_index(va, level)];
	/// SOLUTION END
	/// STARTER: TODO("step 7: from the PML4 down to `level`, follow each entry's address (creating a zeroed table if missing and create is set), return &table[index]");
}

/* Step 8: check the request, find (or build) the entry, fill it in. */
int vm_map(struct vm_space *as, uint64_t va, phys_addr_t pa, uint64_t flags)
{
	/// SOLUTION BEGIN
	uint64_t size = flags & PTE_HUGE ? HUGE_PAGE_SIZE : PAGE_SIZE;

	if ((va | pa) & (size - 1))
		panic("vm_map: 0x%lx -> 0x%lx is not aligned to the page size (0x%lx)", va, pa,
		      size);
	if (!vm_is_canonical(va))
		panic("vm_map: 0x%lx is not a canonical address", va);
	if (flags & ~VM_MAP_FLAGS)
		panic("vm_map: flags 0x%lx are not mapping flags", flags);
	if (pa & ~PTE_ADDR_MASK)
		panic("vm_map: physical address 0x%lx is too large", pa);

	uint64_t *e = walk(as, va, flags & PTE_HUGE ? 2 : 1, true);
	if (!e)
		return VM_ENOMEM;
	if (*e & PTE_PRESENT)
		panic("vm_map: 0x%lx is already mapped (entry 0x%lx)", va, *e);
	/* The entry was not present, so no TLB can hold it: nothing to invalidate. */
	*e = pa | flags | PTE_PRESENT;
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 8: panic on misuse (see kernel/vm.h), walk to level 1 (2 with PTE_HUGE) creating tables, panic if present, store pa | flags | PTE_PRESENT");
}

/*
 * Step 9: the leaf entry that maps va and its level (*level), or NULL: go down while the
 * entries are present, stopping at a level-1 entry or at a huge page.
 */
static __unused uint64_t *find_leaf(const struct vm_space *as, uint64_t va, int *level)
{
	/// SOLUTION BEGIN
	uint64_t *table = table_at(as->pml4);

	if (!vm_is_canonical(va))
		return NULL;
	for (int l = VM_LEVELS; l >= 1; l--) {
		uint64_t *e = &table[vm_index(va, l)];

		if (!(*e & PTE_PRESENT))
			return NULL;
		if (is_leaf(*e, l)) {
			*level = l;
			return e;
		}
		table = table_at(*e & PTE_ADDR_MASK);
	}
	return NULL;
	/// SOLUTION END
	/// STARTER: TODO("step 9: walk down from the PML4 without creating anything; stop at a level-1 entry or a PTE_HUGE one and return it with its level (NULL if not present)");
}

/* Step 9, continued: the page's frame plus the offset inside the page (of its size). */
phys_addr_t vm_translate(const struct vm_space *as, uint64_t va)
{
	/// SOLUTION BEGIN
	int level;
	const uint64_t *e = find_leaf(as, va, &level);

	if (!e)
		return VM_NOT_MAPPED;
	uint64_t size = level_size(level);
	return (*e & PTE_ADDR_MASK & ~(size - 1)) + (va & (size - 1));
	/// SOLUTION END
	/// STARTER: TODO("step 9: find_leaf(); the entry's address bits (above the page size) plus the offset of va inside that page");
}

uint64_t vm_leaf_entry(const struct vm_space *as, uint64_t va)
{
	int level;
	const uint64_t *e = find_leaf(as, va, &level);

	return e ? *e : 0;
}

/*
 * Step 10: clear the leaf entry, then from the bottom up give back each table left empty
 * (clearing the entry above it; never the PML4), and invalidate the TLB entry with invlpg
 * before any of those frames can be reused.
 */
int vm_unmap(struct vm_space *as, uint64_t va)
{
	/// SOLUTION BEGIN
	phys_addr_t path[VM_LEVELS + 1]; /* path[l]: the table at level l on the way to va */
	int l;

	if (!vm_is_canonical(va))
		return VM_ENOENT;
	path[VM_LEVELS] = as->pml4;
	for (l = VM_LEVELS;; l--) {
		uint64_t e = table_at(path[l])[vm_index(va, l)];

		if (!(e & PTE_PRESENT))
			return VM_ENOENT;
		if (is_leaf(e, l))
			break;
		path[l - 1] = e & PTE_ADDR_MASK;
	}
	table_at(path[l])[vm_index(va, l)] = 0;

	int empty_from = l; /* tables path[l .. top) are empty and unlinked */
	int top = l;
	while (top < VM_LEVELS && table_is_empty(table_at(path[top]))) {
		table_at(path[top + 1])[vm_index(va, top + 1)] = 0;
		top++;
	}
	/* The TLB may still hold the old translation, and the paging-structure caches the
	 * tables: invlpg drops both before a freed frame can be reused. */
	invlpg((void *)va);
	for (int i = empty_from; i < top; i++)
		as->free_table(path[i]);
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 10: find the leaf recording the table at each level, clear it, unlink the tables left empty (not the PML4), invlpg(va), then free those tables");
}
