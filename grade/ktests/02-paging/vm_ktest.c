/*
 * Lab 02, steps 6-10: page tables. Some tests use private address spaces (built in frames
 * from the kernel's source, never loaded into CR3) to look at the tables' structure; the
 * others map into the kernel's own address space and touch the pages, so they need the
 * kernel's tables live (steps 12-14). Every test gives back every frame it took: the suite
 * checks kframes_free() before and after.
 */
#include "kprintf.h"
#include "ktest.h"
#include "memlayout.h"
#include "paging.h"
#include "pte.h"
#include "trap.h"
#include "vm.h"
#include "x86.h"

/* Addresses no checkpoint uses: PML4 slot 1, below lab 01's random fault addresses. */
#define TEST_VA	     _UL(0x0000008000000000)
#define TEST_VA_SPAN _UL(0x0000008000000000)

/* ---- leak check around every test ---------------------------------------------------------- */

static uint64_t frames_at_start;

static void leak_check_start(struct ktest *t)
{
	(void)t;
	frames_at_start = kframes_free();
}

static void leak_check_end(struct ktest *t)
{
	uint64_t now = kframes_free();

	if (now < frames_at_start)
		FAIL(t, "the test ends with %lu frames fewer free than it started with (a leak)",
		     frames_at_start - now);
	else if (now > frames_at_start)
		FAIL(t,
		     "the test ends with %lu frames more free than it started with: the kernel's "
		     "count of free frames grew by more than was given back (is it kept right?)",
		     now - frames_at_start);
}

KTEST_SUITE(vm, leak_check_start, leak_check_end);

/* ---- a frame source for private spaces, with a limit --------------------------------------- */

#define JUNK 0xa5 /* what the frames for tables are filled with: no table starts out clean */

static int tables_allowed = -1; /* how many more tables the source hands out; -1: no limit */
static int tables_live;

static phys_addr_t test_alloc_table(void)
{
	if (tables_allowed == 0)
		return 0;
	phys_addr_t pa = kframe_alloc();
	if (pa) {
		memset(phys_to_virt(pa), JUNK, PAGE_SIZE);
		tables_live++;
		if (tables_allowed > 0)
			tables_allowed--;
	}
	return pa;
}

static void test_free_table(phys_addr_t pa)
{
	tables_live--;
	kframe_free(pa);
}

static bool private_space(struct ktest *t, struct vm_space *as)
{
	tables_allowed = -1;
	tables_live = 0;
	if (vm_init(as, test_alloc_table, test_free_table) < 0) {
		FAIL(t, "vm_init: no frame for a level-4 table (is the frame allocator set up?)");
		return false;
	}
	return true;
}

/* A random page-aligned address in the test range. */
static uint64_t random_page(struct ktest *t)
{
	return align_down(TEST_VA + ktest_random_range(t, 0, TEST_VA_SPAN - 1), PAGE_SIZE);
}

/* ---- step 6 -------------------------------------------------------------------------------- */

KTEST(vm, index_splits_the_address, 2)
{
	/* 0xffffffff80106234 = sign | 511 | 510 | 0 | 0x106 | 0x234 */
	uint64_t va = 0xffffffff80106234UL;

	EXPECT_EQ(t, vm_index(va, 4), 511u);
	EXPECT_EQ(t, vm_index(va, 3), 510u);
	EXPECT_EQ(t, vm_index(va, 2), 0u);
	EXPECT_EQ(t, vm_index(va, 1), 0x106u);
	/* Each index alone: 9 bits each, starting at bits 12, 21, 30 and 39. */
	for (int level = 1; level <= 4; level++) {
		uint64_t one = (uint64_t)0x1a5 << (12 + 9 * (level - 1));
		for (int l = 1; l <= 4; l++)
			if (vm_index(one | 0xfff, l) != (l == level ? 0x1a5u : 0u))
				FAIL(t, "vm_index(0x%lx, %d) = 0x%x, expected 0x%x", one | 0xfff, l,
				     vm_index(one | 0xfff, l), l == level ? 0x1a5u : 0u);
	}
}

/* ---- steps 7-9 on private spaces ----------------------------------------------------------- */

KTEST(vm, translate_mapped_and_unmapped, 3)
{
	struct vm_space as;
	uint64_t va = random_page(t);

	/* Keep the three pages under one page table, so exactly four tables are live below. */
	if ((va & (HUGE_PAGE_SIZE - 1)) > HUGE_PAGE_SIZE - 3 * PAGE_SIZE)
		va -= 3 * PAGE_SIZE;
	if (!private_space(t, &as))
		return;
	/* Made-up frames: the tables are real, the pages are never touched. */
	ASSERT_EQ(t, vm_map(&as, va, 0x5000000, PTE_WRITABLE), 0);
	ASSERT_EQ(t, vm_map(&as, va + 2 * PAGE_SIZE, 0x7000000, 0), 0);
	/* should be: va -> 0x5000000, va + 1 page unmapped, va + 2 pages -> 0x7000000 */
	for (int i = 0; i < 8; i++) {
		uint64_t off = ktest_random_range(t, 0, PAGE_SIZE - 1);
		EXPECT_EQ(t, vm_translate(&as, va + off), 0x5000000 + off);
		EXPECT_EQ(t, vm_translate(&as, va + 2 * PAGE_SIZE + off), 0x7000000 + off);
		EXPECT_EQ(t, vm_translate(&as, va + PAGE_SIZE + off), VM_NOT_MAPPED);
	}
	EXPECT_EQ(t, vm_translate(&as, va + PAGE_SIZE - 1), 0x5000fffu);
	EXPECT_EQ(t, vm_translate(&as, va - 1), VM_NOT_MAPPED);
	EXPECT_EQ(t, vm_translate(&as, va ^ (1UL << 30)), VM_NOT_MAPPED); /* another PDPT slot */
	EXPECT_EQ(t, vm_translate(&as, 0x0000900000000000UL), VM_NOT_MAPPED); /* not canonical */
	/* The same indices as va, but bits 48-63 are not copies of bit 47: not an address. */
	uint64_t alias = va | _UL(0x0001000000000000);
	if (vm_translate(&as, alias) != VM_NOT_MAPPED)
		FAIL(t,
		     "vm_translate(0x%lx) = 0x%lx: that address is not canonical, so it maps "
		     "nothing, even though its indices are those of 0x%lx (check vm_is_canonical "
		     "in find_leaf)",
		     alias, vm_translate(&as, alias), va);
	if (vm_unmap(&as, alias) != VM_ENOENT)
		FAIL(t,
		     "vm_unmap(0x%lx) of an address that is not canonical must be VM_ENOENT and "
		     "leave 0x%lx (with the same indices) mapped",
		     alias, va);
	EXPECT_EQ(t, vm_translate(&as, DIRECT_MAP_BASE), VM_NOT_MAPPED); /* not here */
	/* one PDPT, one PD, one PT, and the PML4 */
	EXPECT_EQ(t, tables_live, 4);
	EXPECT_EQ(t, vm_unmap(&as, va), 0);
	EXPECT_EQ(t, vm_unmap(&as, va + 2 * PAGE_SIZE), 0);
	vm_destroy(&as);
}

KTEST(vm, translate_follows_huge_pages, 2)
{
	struct vm_space as;
	uint64_t va = align_down(random_page(t), HUGE_PAGE_SIZE);

	if (!private_space(t, &as))
		return;
	ASSERT_EQ(t, vm_map(&as, va, 0x40000000, PTE_HUGE | PTE_WRITABLE), 0);
	uint64_t off = ktest_random_range(t, 0, HUGE_PAGE_SIZE - 1);
	EXPECT_EQ(t, vm_translate(&as, va + off), 0x40000000 + off);
	EXPECT_EQ(t, vm_translate(&as, va + HUGE_PAGE_SIZE), VM_NOT_MAPPED);
	EXPECT_TRUE(t, vm_leaf_entry(&as, va + off) & PTE_HUGE);
	EXPECT_EQ(t, tables_live, 3); /* no PT under a 2 MiB page */

	/* A 1 GiB page, written by hand into the same PDPT (vm_map does not make them). */
	uint64_t *pml4 = phys_to_virt(as.pml4);
	uint64_t *pdpt = phys_to_virt(pml4[vm_index(va, 4)] & PTE_ADDR_MASK);
	uint64_t giant = (va & ~(GIANT_PAGE_SIZE - 1)) ^ GIANT_PAGE_SIZE; /* the next slot */
	pdpt[vm_index(giant, 3)] = 0x80000000 | PTE_PRESENT | PTE_HUGE;
	off = ktest_random_range(t, 0, GIANT_PAGE_SIZE - 1);
	EXPECT_EQ(t, vm_translate(&as, giant + off), 0x80000000 + off);
	pdpt[vm_index(giant, 3)] = 0;

	/* And the kernel's direct map, 2 MiB pages too. */
	if (paging_ready) {
		off = ktest_random_range(t, 0, 16 * HUGE_PAGE_SIZE);
		EXPECT_EQ(t, vm_translate(&kernel_vm, DIRECT_MAP_BASE + off), off);
	}
	EXPECT_EQ(t, vm_unmap(&as, va + off % HUGE_PAGE_SIZE), 0); /* any address inside it */
	EXPECT_EQ(t, vm_translate(&as, va), VM_NOT_MAPPED);
	vm_destroy(&as);
}

KTEST(vm, leaf_entries_carry_the_flags, 2)
{
	static const uint64_t flags[] = {
		0,
		PTE_WRITABLE,
		PTE_WRITABLE | PTE_NO_EXECUTE,
		PTE_USER,
		PTE_USER | PTE_WRITABLE | PTE_NO_EXECUTE,
		PTE_GLOBAL,
		PTE_GLOBAL | PTE_NO_EXECUTE,
	};
	struct vm_space as;
	uint64_t va = random_page(t);

	if (!private_space(t, &as))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		uint64_t v = va + i * PAGE_SIZE;
		phys_addr_t pa = 0x10000000 + i * PAGE_SIZE;
		ASSERT_EQ(t, vm_map(&as, v, pa, flags[i]), 0);
		EXPECT_EQ(t, vm_leaf_entry(&as, v) & ~(PTE_ACCESSED | PTE_DIRTY),
			  pa | flags[i] | PTE_PRESENT);
	}
	/* The entries above a leaf must allow everything, or a user page could not be used. */
	uint64_t e = ((uint64_t *)phys_to_virt(as.pml4))[vm_index(va, 4)];
	for (int level = 3; level >= 1; level--) {
		uint64_t want = PTE_PRESENT | PTE_WRITABLE | PTE_USER;
		if ((e & want) != want || (e & PTE_NO_EXECUTE)) {
			FAIL(t,
			     "the level-%d entry above 0x%lx is 0x%lx: a table entry must be present, writable and user, without no-execute",
			     level + 1, va, e);
			break;
		}
		e = ((uint64_t *)phys_to_virt(e & PTE_ADDR_MASK))[vm_index(va, level)];
	}
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		EXPECT_EQ(t, vm_unmap(&as, va + i * PAGE_SIZE), 0);
	vm_destroy(&as);
}

/* ---- step 10 ------------------------------------------------------------------------------- */

KTEST(vm, empty_tables_are_given_back, 2)
{
	struct vm_space as;
	uint64_t va = align_down(random_page(t), HUGE_PAGE_SIZE);

	if (!private_space(t, &as))
		return;
	ASSERT_EQ(t, vm_map(&as, va, 0x200000, 0), 0);
	ASSERT_EQ(t, vm_map(&as, va + PAGE_SIZE, 0x201000, 0), 0);
	EXPECT_EQ(t, tables_live, 4);
	/* should be: PML4 -> PDPT -> PD -> PT with two entries */
	EXPECT_EQ(t, vm_unmap(&as, va), 0);
	EXPECT_EQ(t, tables_live, 4); /* the PT still maps va + 4 KiB */
	EXPECT_EQ(t, vm_translate(&as, va + PAGE_SIZE), 0x201000u);
	EXPECT_EQ(t, vm_unmap(&as, va + PAGE_SIZE), 0);
	/* should be: PML4 alone, its entry cleared */
	EXPECT_EQ(t, tables_live, 1);
	EXPECT_EQ(t, ((uint64_t *)phys_to_virt(as.pml4))[vm_index(va, 4)], 0u);
	EXPECT_EQ(t, vm_unmap(&as, va), VM_ENOENT);
	vm_destroy(&as);
	EXPECT_EQ(t, tables_live, 0);
}

KTEST(vm, out_of_frames_is_an_error_not_a_panic, 2)
{
	struct vm_space as;
	uint64_t va = random_page(t);

	if (!private_space(t, &as))
		return;
	tables_allowed = 1; /* a PDPT, but no PD */
	EXPECT_EQ(t, vm_map(&as, va, 0x300000, PTE_WRITABLE), VM_ENOMEM);
	EXPECT_EQ(t, vm_translate(&as, va), VM_NOT_MAPPED);
	tables_allowed = -1;
	EXPECT_EQ(t, vm_map(&as, va, 0x300000, PTE_WRITABLE), 0); /* and then it works */
	EXPECT_EQ(t, vm_translate(&as, va), 0x300000u);
	EXPECT_EQ(t, vm_unmap(&as, va), 0);
	vm_destroy(&as); /* gives back whatever is left */
	EXPECT_EQ(t, tables_live, 0);
}

KTEST(vm, misuse_panics, 1)
{
	struct vm_space as;
	uint64_t va = random_page(t);

	if (!private_space(t, &as))
		return;
	ASSERT_EQ(t, vm_map(&as, va, 0x300000, 0), 0);
	EXPECT_PANIC(t, "vm_map", vm_map(&as, va, 0x400000, 0));     /* already mapped */
	EXPECT_PANIC(t, "vm_map", vm_map(&as, va + 8, 0x400000, 0)); /* not aligned */
	EXPECT_PANIC(t, "vm_map", vm_map(&as, va + PAGE_SIZE + 1, 0x400000, 0)); /* by one byte */
	EXPECT_PANIC(t, "vm_map", vm_map(&as, va + PAGE_SIZE, 0x400008, 0)); /* pa not aligned */
	EXPECT_PANIC(t, "vm_map", vm_map(&as, va + PAGE_SIZE, 0x400001, 0));
	/* a huge page must be aligned to 2 MiB, not just to 4 KiB */
	EXPECT_PANIC(t, "vm_map",
		     vm_map(&as, TEST_VA + HUGE_PAGE_SIZE + PAGE_SIZE, 0x400000, PTE_HUGE));
	EXPECT_PANIC(t, "vm_map", vm_map(&as, TEST_VA + HUGE_PAGE_SIZE, 0x401000, PTE_HUGE));
	EXPECT_PANIC(t, "vm_map", vm_map(&as, 0x0000900000000000UL, 0x400000, 0));
	EXPECT_EQ(t, vm_translate(&as, va), 0x300000u);
	EXPECT_EQ(t, vm_unmap(&as, va), 0);
	EXPECT_EQ(t, vm_unmap(&as, va), VM_ENOENT);
	vm_destroy(&as);
}

/* Index 511 is an entry like the others: the last one of a table. */
KTEST(vm, the_last_entry_of_a_table_counts, 2)
{
	const uint64_t top = _UL(0xfffffffffffff000);	/* index 511 at every level */
	const uint64_t first = _UL(0xffffffffffe00000); /* index 0 of the same page table */
	struct vm_space as;

	if (!private_space(t, &as))
		return;
	ASSERT_EQ(t, vm_map(&as, top, 0x600000, 0), 0);
	ASSERT_EQ(t, vm_map(&as, first, 0x601000, 0), 0);
	EXPECT_EQ(t, vm_unmap(&as, first), 0);
	/* should be: PML4 -> PDPT -> PD -> PT, entry 511 of each still in use */
	if (tables_live != 4 || vm_translate(&as, top) != 0x600000)
		FAIL(t,
		     "after unmapping 0x%lx, 0x%lx (entry 511 of the same page table) translates "
		     "to 0x%lx and %d tables are live, expected 0x600000 and 4: is a table with "
		     "only its entry 511 in use seen as empty? vm_unmap must look at all 512 "
		     "entries before it gives a table back",
		     first, top, vm_translate(&as, top), tables_live);
	EXPECT_EQ(t, vm_unmap(&as, top), 0);
	EXPECT_EQ(t, tables_live, 1);
	vm_destroy(&as);
}

/* ---- in the kernel's own address space ----------------------------------------------------- */

static bool need_kernel_tables(struct ktest *t)
{
	if (!paging_ready)
		FAIL(t,
		     "the kernel's own page tables are not live (paging_ready is false): see what "
		     "the kernel skipped while booting (steps 12-14)");
	return paging_ready;
}

KTEST(vm, deadbeef_maps_to_the_frame_of_beef, 3)
{
	const uint64_t va = 0xdeadbeef;
	const phys_addr_t pa = 0xbeef;
	char *virt = (char *)va, *direct = phys_to_virt(pa);
	char saved[32], line[32];

	if (!need_kernel_tables(t))
		return;
	ASSERT_EQ(t,
		  kmap_page(align_down(va, PAGE_SIZE), align_down(pa, PAGE_SIZE),
			    PTE_WRITABLE | PTE_NO_EXECUTE),
		  0);
	EXPECT_EQ(t, vm_translate(&kernel_vm, va), pa);
	memcpy(saved, direct, sizeof(saved)); /* low memory: put it back afterwards */

	/* Written through 0xdeadbeef, read through the direct map... */
	ksnprintf(line, sizeof(line), "via deadbeef %lu", ktest_random(t) % 1000);
	memcpy(virt, line, sizeof(line));
	EXPECT_STREQ(t, direct, line);
	/* ... and the other way round. */
	ksnprintf(line, sizeof(line), "via the direct map %lu", ktest_random(t) % 1000);
	memcpy(direct, line, sizeof(line));
	EXPECT_STREQ(t, virt, line);

	memcpy(direct, saved, sizeof(saved));
	EXPECT_EQ(t, kunmap_page(align_down(va, PAGE_SIZE)), 0);
	EXPECT_EQ(t, vm_translate(&kernel_vm, va), VM_NOT_MAPPED);
}

KTEST(vm, unmap_then_touch_faults, 3)
{
	struct ktry_result r;
	uint64_t va = random_page(t);
	phys_addr_t pa;

	if (!need_kernel_tables(t))
		return;
	ASSERT_NE(t, pa = kframe_alloc(), 0u);
	ASSERT_EQ(t, kmap_page(va, pa, PTE_WRITABLE | PTE_NO_EXECUTE), 0);
	volatile uint64_t *p = (volatile uint64_t *)(va + 8 * ktest_random_range(t, 0, 511));
	*p = 42; /* the TLB now holds va */
	EXPECT_EQ(t, *(volatile uint64_t *)phys_to_virt(pa + ((uint64_t)p & (PAGE_SIZE - 1))), 42u);
	EXPECT_EQ(t, kunmap_page(va), 0);

	bool faulted = CATCH_FAULT(&r, (void)*p);
	kframe_free(pa);
	if (!faulted) {
		FAIL(t,
		     "reading 0x%lx after kunmap_page did not fault: the page is still mapped, or the TLB still holds it (invlpg)",
		     (uint64_t)p);
		return;
	}
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_PF);
	EXPECT_EQ(t, r.cr2, (uint64_t)p);
	EXPECT_EQ(t, r.error & (PF_PRESENT | PF_WRITE | PF_USER),
		  0u); /* a kernel read, not present */
	EXPECT_EQ(t, kunmap_page(va), VM_ENOENT);
}

/*
 * The stale-TLB test: read a page through va (so the TLB remembers va -> frame A), unmap it,
 * map va to frame B and read again. Without invlpg in vm_unmap the CPU (QEMU's too) keeps
 * using the old translation and the read shows A's contents.
 */
KTEST(vm, remap_reads_the_new_frame, 3)
{
	const int rounds = 16;
	phys_addr_t a, b;

	if (!need_kernel_tables(t))
		return;
	ASSERT_NE(t, a = kframe_alloc(), 0u);
	b = kframe_alloc();
	if (!b) {
		kframe_free(a);
		ASSERT_NE(t, b, 0u);
	}
	*(volatile uint64_t *)phys_to_virt(a) = 0xaaaaaaaa;
	*(volatile uint64_t *)phys_to_virt(b) = 0xbbbbbbbb;
	int stale = 0;
	for (int i = 0; i < rounds; i++) {
		uint64_t va = random_page(t);
		volatile uint64_t *p = (volatile uint64_t *)va;
		if (kmap_page(va, a, PTE_NO_EXECUTE) < 0) {
			FAIL(t, "round %d: mapping 0x%lx failed (vm_map)", i, va);
			break;
		}
		uint64_t first = *p;
		kunmap_page(va);
		if (kmap_page(va, b, PTE_NO_EXECUTE) < 0) {
			FAIL(t, "round %d: mapping 0x%lx again, to another frame, failed (vm_map)",
			     i, va);
			break;
		}
		uint64_t second = *p;
		kunmap_page(va);
		if (first != 0xaaaaaaaa || second != 0xbbbbbbbb) {
			if (!stale++)
				FAIL(t,
				     "round %d at 0x%lx: read 0x%lx then 0x%lx, expected 0xaaaaaaaa then 0xbbbbbbbb (a stale TLB entry: is invlpg missing?)",
				     i, va, first, second);
		}
	}
	kframe_free(a);
	kframe_free(b);
	EXPECT_EQ(t, stale, 0);
}

KTEST(vm, read_only_page_refuses_writes, 2)
{
	struct ktry_result r;
	uint64_t va = random_page(t);
	phys_addr_t pa;

	if (!need_kernel_tables(t))
		return;
	ASSERT_NE(t, pa = kframe_alloc(), 0u);
	*(volatile uint64_t *)phys_to_virt(pa) = 7;
	ASSERT_EQ(t, kmap_page(va, pa, PTE_NO_EXECUTE), 0);
	EXPECT_EQ(t, *(volatile uint64_t *)va, 7u); /* reading is fine */
	bool faulted = CATCH_FAULT(&r, *(volatile uint64_t *)va = 8);
	kunmap_page(va);
	kframe_free(pa);
	if (!faulted) {
		FAIL(t, "writing to a page mapped without PTE_WRITABLE did not fault (CR0.WP?)");
		return;
	}
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_PF);
	EXPECT_EQ(t, r.cr2, va);
	EXPECT_EQ(t, r.error & (PF_PRESENT | PF_WRITE), (uint64_t)(PF_PRESENT | PF_WRITE));
}

/* Call fn; true if that faulted (*r says how). One catch point per function keeps the
 * compiler's setjmp analysis simple. */
static __attribute__((noinline)) bool call_faults(void (*fn)(void), struct ktry_result *r)
{
	return CATCH_FAULT(r, fn());
}

KTEST(vm, no_execute_page_refuses_instruction_fetches, 2)
{
	struct ktry_result r;
	uint64_t va = random_page(t);
	phys_addr_t pa;

	if (!need_kernel_tables(t))
		return;
	ASSERT_NE(t, pa = kframe_alloc(), 0u);
	*(volatile uint8_t *)phys_to_virt(pa) = 0xc3; /* ret */
	void (*fn)(void) = (void (*)(void))va;

	/* Executable first: the call returns. */
	ASSERT_EQ(t, kmap_page(va, pa, 0), 0);
	EXPECT_FALSE(t, call_faults(fn, &r));
	kunmap_page(va);
	/* Then no-execute: the fetch faults. */
	ASSERT_EQ(t, kmap_page(va, pa, PTE_NO_EXECUTE), 0);
	bool faulted = call_faults(fn, &r);
	kunmap_page(va);
	kframe_free(pa);
	if (!faulted) {
		FAIL(t,
		     "calling code in a page mapped with PTE_NO_EXECUTE did not fault (EFER.NXE? a stale TLB entry?)");
		return;
	}
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_PF);
	EXPECT_EQ(t, r.cr2, va);
	EXPECT_EQ(t, r.error & (PF_PRESENT | PF_INSTR), (uint64_t)(PF_PRESENT | PF_INSTR));
}
