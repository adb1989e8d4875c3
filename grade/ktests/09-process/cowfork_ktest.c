/*
 * Lab 09, step 3: uspace_fork, on address spaces loaded from a program of user/ (no program
 * runs in them): every page shared, counted twice, write-protected in both, nothing copied.
 */
#include <string.h>
#include "paging.h"
#include "proc_fixture.h"
#include "x86.h"

#define FILL	  0x3c
#define HOG_STEPS 24 /* frames left free, 0 to this: each a fork that may run out */

/* The tables of s's lower half, PML4 included. */
static uint64_t table_frames(const struct uspace *s)
{
	const uint64_t *pml4 = phys_to_virt(s->vm.pml4);
	uint64_t n = 1;

	for (int i = 0; i < USER_PML4_KERNEL; i++) {
		if (!(pml4[i] & PTE_PRESENT))
			continue;
		const uint64_t *pdpt = phys_to_virt(pml4[i] & PTE_ADDR_MASK);
		n++;
		for (int j = 0; j < PT_ENTRIES; j++) {
			if (!(pdpt[j] & PTE_PRESENT) || (pdpt[j] & PTE_HUGE))
				continue;
			const uint64_t *pd = phys_to_virt(pdpt[j] & PTE_ADDR_MASK);
			n++;
			for (int k = 0; k < PT_ENTRIES; k++)
				n += (pd[k] & PTE_PRESENT) && !(pd[k] & PTE_HUGE);
		}
	}
	return n;
}

struct compare {
	struct ktest *t;
	const struct uspace *child;
	uint64_t checked;
	int bad;
};

/* The parent's page at va (entry *pte, after the fork) against the child's. */
static bool compare_page(uint64_t va, uint64_t *pte, void *arg)
{
	struct compare *c = arg;
	uint64_t mine = space_pte(c->child, va), pa = *pte & PTE_ADDR_MASK;
	const uint64_t keep = PTE_PRESENT | PTE_USER | PTE_NO_EXECUTE;

	c->checked++;
	if (c->bad > 4)
		return true;
	if ((mine & PTE_ADDR_MASK) != pa) {
		FAIL(c->t,
		     "page 0x%lx: the child maps frame 0x%lx, the parent 0x%lx: a fork shares "
		     "the parent's frames",
		     va, mine & PTE_ADDR_MASK, pa);
		c->bad++;
	} else if (frame_ref_count(pa) != 2) {
		FAIL(c->t,
		     "page 0x%lx: frame 0x%lx has count %u after fork, not 2 (frame_ref_take)", va,
		     pa, frame_ref_count(pa));
		c->bad++;
	} else if ((mine & keep) != (*pte & keep)) {
		FAIL(c->t,
		     "page 0x%lx: the child's entry 0x%lx and the parent's 0x%lx differ in "
		     "present, user or no-execute",
		     va, mine, *pte);
		c->bad++;
	}
	return true;
}

static bool fork_pair(struct ktest *t, struct uspace *parent, struct uspace *child)
{
	if (!counts_require(t) || !space_load(t, parent, "forktest", FILL))
		return false;
	if (uspace_init(child) < 0) {
		uspace_destroy(parent);
		FAIL(t, "no memory for a second space");
		return false;
	}
	int r = uspace_fork(child, parent);
	if (r) {
		FAIL(t, "uspace_fork returned %d, not 0, with plenty of memory", r);
		uspace_destroy(child);
		uspace_destroy(parent);
		return false;
	}
	return true;
}

/* Every page of the parent, at the same address in the child, on the same frame, counted
 * twice; the child's page count and layout the parent's. */
KTEST(cowfork, fork_shares_every_page, 3)
{
	struct uspace parent, child;

	if (!fork_pair(t, &parent, &child))
		return;
	struct compare c = {t, &child, 0, 0};
	uspace_walk(&parent, 0, USER_TOP, compare_page, &c);
	EXPECT_EQ(t, c.checked, parent.pages);
	EXPECT_EQ(t, child.pages, parent.pages);
	EXPECT_EQ(t, child.layout.stack_top, parent.layout.stack_top);
	EXPECT_EQ(t, child.layout.heap_start, parent.layout.heap_start);
	EXPECT_EQ(t, child.layout.load_base, parent.layout.load_base);
	uspace_destroy(&child);
	uspace_destroy(&parent);
}

struct writable_pages {
	uint64_t va[64];
	int n;
};

static bool note_writable(uint64_t va, uint64_t *pte, void *arg)
{
	struct writable_pages *w = arg;

	if ((*pte & PTE_WRITABLE) && w->n < 64)
		w->va[w->n++] = va;
	return true;
}

/* What was writable is read-only and PTE_COW in both; the rest (code, rodata) unchanged. */
KTEST(cowfork, writable_pages_become_copy_on_write_in_both, 3)
{
	struct uspace parent, child;
	struct writable_pages w = {.n = 0};
	uint64_t code;

	if (!counts_require(t) || !space_load(t, &parent, "forktest", FILL))
		return;
	uspace_walk(&parent, 0, USER_TOP, note_writable, &w);
	code = space_pte(&parent, parent.layout.entry);
	if (uspace_init(&child) < 0 || uspace_fork(&child, &parent) != 0) {
		FAIL(t, "uspace_fork failed with plenty of memory");
		uspace_destroy(&child);
		uspace_destroy(&parent);
		return;
	}
	ASSERT_GT(t, w.n, 0);
	for (int i = 0; i < w.n; i++) {
		uint64_t p = space_pte(&parent, w.va[i]), c = space_pte(&child, w.va[i]);

		if ((p & PTE_WRITABLE) || !(p & PTE_COW)) {
			FAIL(t,
			     "page 0x%lx was writable; after fork the parent's entry is 0x%lx: it "
			     "must be read-only and PTE_COW, or the parent's writes reach the child",
			     w.va[i], p);
			break;
		}
		if ((c & PTE_WRITABLE) || !(c & PTE_COW)) {
			FAIL(t,
			     "page 0x%lx was writable; after fork the child's entry is 0x%lx: it "
			     "must be read-only and PTE_COW, or the child's writes reach the parent",
			     w.va[i], c);
			break;
		}
	}
	uint64_t code_after = space_pte(&child, parent.layout.entry);
	if (code_after != code || space_pte(&parent, parent.layout.entry) != code)
		FAIL(t,
		     "the code page's entry was 0x%lx; after fork the parent's is 0x%lx and the "
		     "child's 0x%lx: pages that were not writable keep their flags (no PTE_COW)",
		     code, space_pte(&parent, parent.layout.entry), code_after);
	uspace_destroy(&child);
	uspace_destroy(&parent);
}

/*
 * A space forked once has pages that are read-only and PTE_COW already; its next fork must
 * give the new child those pages copy-on-write too, not only the ones it write-protects itself:
 *
 *   load:          page writable                 parent W
 *   first fork:    write-protected, PTE_COW      parent COW, child COW
 *   second fork:   nothing to write-protect      parent COW, second child COW (not read-only
 *                                                alone: its first write would be a real fault)
 */
KTEST(cowfork, a_second_fork_keeps_pages_copy_on_write, 2)
{
	struct uspace parent, child, second;
	struct writable_pages w = {.n = 0};

	if (!counts_require(t) || !space_load(t, &parent, "forktest", FILL))
		return;
	uspace_walk(&parent, 0, USER_TOP, note_writable, &w);
	int first = uspace_init(&child), again = -1;
	if (first == 0)
		first = uspace_fork(&child, &parent);
	if (first == 0 && (again = uspace_init(&second)) == 0)
		again = uspace_fork(&second, &parent);
	if (first || again) {
		FAIL(t, "uspace_fork failed with plenty of memory (%d, then %d)", first, again);
		if (first == 0)
			uspace_destroy(&second);
		uspace_destroy(&child);
		uspace_destroy(&parent);
		return;
	}
	ASSERT_GT(t, w.n, 0);
	for (int i = 0; i < w.n; i++) {
		uint64_t p = space_pte(&parent, w.va[i]), c = space_pte(&second, w.va[i]);

		if (!(p & PTE_COW))
			continue; /* the first fork's fault: another test says so */
		if ((c & PTE_WRITABLE) || !(c & PTE_COW)) {
			FAIL(t,
			     "page 0x%lx was copy-on-write before the second fork (entry 0x%lx); "
			     "that fork's child has 0x%lx: a child's entry gets PTE_COW whenever the "
			     "parent's has it, now or from an earlier fork",
			     w.va[i], p, c);
			break;
		}
		EXPECT_EQ(t, frame_ref_count(p & PTE_ADDR_MASK), 3);
	}
	uspace_destroy(&second);
	uspace_destroy(&child);
	uspace_destroy(&parent);
}

/* The frames fork takes are the child's page tables and nothing else: no page copied. */
KTEST(cowfork, fork_copies_no_page, 3)
{
	struct uspace parent, child;

	if (!counts_require(t) || !space_load(t, &parent, "forktest", FILL))
		return;
	uint64_t before = kframes_free();
	if (uspace_init(&child) < 0 || uspace_fork(&child, &parent) != 0) {
		FAIL(t, "uspace_fork failed with plenty of memory");
		uspace_destroy(&child);
		uspace_destroy(&parent);
		return;
	}
	uint64_t taken = before - kframes_free(), tables = table_frames(&child);
	if (taken != tables)
		FAIL(t, "fork took %lu frames; the child's page tables are %lu: %s", taken, tables,
		     taken > tables ? "it copied pages (a fork copies none: the pages are shared)"
				    : "some frames were freed");
	uspace_destroy(&child);
	uspace_destroy(&parent);
}

/*
 * The parent is the live space when it forks (fork runs in it), and its TLB holds writable
 * translations of the pages it wrote. Write a page through its address (ring 0 obeys the
 * page's W bit: CR0.WP), fork, write again: the second write must fault, now that the page is
 * read-only, or the parent could still write into the frame it shares with its child.
 */
KTEST(cowfork, the_parents_tlb_forgets_writable_entries, 2)
{
	struct uspace parent, child;
	struct ktry_result r;

	if (!counts_require(t) || !space_load(t, &parent, "forktest", FILL))
		return;
	ASSERT_TRUE(t, read_cr0() & CR0_WP);
	uint64_t va = space_writable_page(&parent, 0);
	ASSERT_NE(t, va, 0);
	if (uspace_init(&child) < 0) {
		uspace_destroy(&parent);
		FAIL(t, "no memory for a second space");
		return;
	}
	unsigned long flags = space_enter(&parent);
	*(volatile uint8_t *)va = FILL + 1; /* a writable translation in the TLB */
	int err = uspace_fork(&child, &parent);
	bool faulted = CATCH_FAULT(&r, *(volatile uint8_t *)va = FILL + 2);
	space_leave(flags);
	EXPECT_EQ(t, err, 0);
	if (!faulted)
		FAIL(t,
		     "after fork the parent could still write page 0x%lx through its TLB: the "
		     "page was not write-protected in both, or the TLB was not flushed "
		     "(uspace_flush)",
		     va);
	uspace_destroy(&child);
	uspace_destroy(&parent);
}

/* True if writing v at va (in the live space) faults. */
static bool write_faults(uint64_t va, uint8_t v)
{
	struct ktry_result r;

	return CATCH_FAULT(&r, *(volatile uint8_t *)va = v);
}

/*
 * The same when the fork fails half-way (no frame for one of the child's tables): the pages
 * the walk reached are read-only already, and the parent, back from fork with -ENOMEM, must
 * not write them through the TLB (uspace_flush on the way out, whatever the walk returned).
 * With k frames free, k = 0, 1, 2, ...: the first fork that fails after write-protecting the
 * page the parent wrote.
 */
KTEST(cowfork, a_fork_that_fails_still_flushes_the_parents_tlb, 2)
{
	struct uspace parent, child;
	bool tried = false;

	if (!counts_require(t))
		return;
	ASSERT_TRUE(t, read_cr0() & CR0_WP);
	for (uint64_t k = 0; k <= HOG_STEPS && !tried; k++) {
		if (!space_load(t, &parent, "forktest", FILL))
			return;
		uint64_t va = space_writable_page(&parent, 0);
		bool faulted = false;
		int err = -1;

		frames_hog(k);
		if (va && uspace_init(&child) == 0) {
			unsigned long flags = space_enter(&parent);
			*(volatile uint8_t *)va = FILL + 1; /* a writable translation in the TLB */
			err = uspace_fork(&child, &parent);
			tried = err && !(space_pte(&parent, va) & PTE_WRITABLE);
			if (tried)
				faulted = write_faults(va, FILL + 2);
			space_leave(flags);
			uspace_destroy(&child);
		}
		frames_unhog();
		uspace_destroy(&parent);
		if (tried && !faulted)
			FAIL(t,
			     "with %lu frames free uspace_fork failed (%d) after write-protecting page "
			     "0x%lx, and the parent could still write it through its TLB: flush it "
			     "(uspace_flush) also when the walk failed",
			     k, err, va);
	}
	if (!tried)
		FAIL(t,
		     "no fork with 0 to %d frames free failed after write-protecting the "
		     "page the parent wrote: the test could not check the flush",
		     HOG_STEPS);
}

/* Destroying the child drops its counts (frames stay the parent's); then the parent's. */
KTEST(cowfork, each_space_gives_back_its_share, 2)
{
	struct uspace parent, child;
	uint64_t start = kframes_free();

	if (!fork_pair(t, &parent, &child))
		return;
	uint64_t tables = table_frames(&child), forked = kframes_free();
	uspace_destroy(&child);
	EXPECT_EQ(t, kframes_free(), forked + tables);
	uint64_t stack = parent.layout.stack_top - PAGE_SIZE;
	EXPECT_EQ(t, frame_ref_count(vm_translate(&parent.vm, stack)), 1);
	uspace_destroy(&parent);
	EXPECT_EQ(t, kframes_free(), start);
}

static bool count_shared(uint64_t va, uint64_t *pte, void *arg)
{
	*(uint64_t *)arg += frame_ref_count(*pte & PTE_ADDR_MASK) != 1;
	return true;
}

/* With k frames left, for k = 0, 1, 2, ...: a fork that runs out returns -ENOMEM; the child
 * destroyed, every frame and every count comes back. */
KTEST(cowfork, fork_without_memory_fails_and_keeps_nothing, 2)
{
	struct uspace parent, child;
	int failed = 0, worked = 0;

	if (!counts_require(t) || !space_load(t, &parent, "forktest", FILL))
		return;
	uint64_t start = kframes_free();
	for (uint64_t k = 0; k <= HOG_STEPS && !worked; k++) {
		frames_hog(k);
		int r = uspace_init(&child);
		if (r == 0) {
			r = uspace_fork(&child, &parent);
			uspace_destroy(&child);
		}
		frames_unhog();
		if (r == 0)
			worked++;
		else if (r == -ENOMEM)
			failed++;
		else
			FAIL(t, "with %lu frames free, uspace_fork returned %d, not -ENOMEM", k, r);
		if (kframes_free() != start)
			FAIL(t,
			     "with %lu frames free: after the fork (%d) and the child's destruction, "
			     "%lu frames are free, not %lu",
			     k, r, kframes_free(), start);
		uint64_t shared = 0;
		uspace_walk(&parent, 0, USER_TOP, count_shared, &shared);
		if (shared)
			FAIL(t,
			     "with %lu frames free: after the fork (%d) and the child's destruction, "
			     "%lu of the parent's frames still have more than one owner",
			     k, r, shared);
	}
	EXPECT_GT(t, failed, 0);
	EXPECT_EQ(t, worked, 1);
	uspace_destroy(&parent);
}
