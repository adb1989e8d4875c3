/*
 * Lab 07, step 4: thread stacks over guard pages, allocated and freed directly (no thread
 * runs on them here).
 */
#include <string.h>
#include "kstack.h"
#include "paging.h"
#include "thread_fixture.h"

#define STACK_FILL	 0xa5
#define MAX_TABLE_FRAMES 3 /* a new slot may need a page table, a directory and a PDPT */
#define NO_SLOT_MARK	 (-7)
#define SLOTS_PER_TABLE	 ((int)(HUGE_PAGE_SIZE / THREAD_SLOT_SIZE)) /* slots one page table maps */

static struct thread owner; /* never runs: only its address is recorded */

/* The pages of [start, end) that something maps, counted. */
static int mapped_pages(uint64_t start, uint64_t end)
{
	int n = 0;

	for (uint64_t va = start; va < end; va += PAGE_SIZE)
		n += vm_translate(&kernel_vm, va) != VM_NOT_MAPPED;
	return n;
}

/*
 * One stack: its slot is recorded with its owner, its pages are fresh frames mapped
 * writable, no-execute and global over the top half of the slot, and the bottom half (the
 * guard page first) is not mapped. Freed, it gives every frame back.
 */
KTEST(kstack, alloc_maps_the_stack_over_a_guard, 4)
{
	struct kstack ks = {NO_SLOT_MARK, 0, 0};
	uint64_t frames = kframes_free();
	size_t used = kstack_slots_used();

	ASSERT_EQ(t, kstack_alloc(&ks, &owner), 0);
	ASSERT_TRUE(t, ks.slot >= 0 && ks.slot < THREAD_SLOTS);
	EXPECT_TRUE(t, kstack_slot_owner(ks.slot) == &owner);
	EXPECT_EQ(t, kstack_slots_used(), used + 1);
	EXPECT_EQ(t, ks.top, kstack_slot_base(ks.slot) + THREAD_SLOT_SIZE);
	EXPECT_EQ(t, ks.bottom, ks.top - THREAD_STACK_SIZE);
	uint64_t took = frames - kframes_free();
	if (took < THREAD_STACK_PAGES || took > THREAD_STACK_PAGES + MAX_TABLE_FRAMES)
		FAIL(t, "the stack took %lu frames: %d for its pages and at most %d page tables",
		     took, THREAD_STACK_PAGES, MAX_TABLE_FRAMES);

	phys_addr_t seen[THREAD_STACK_PAGES];
	for (int i = 0; i < THREAD_STACK_PAGES; i++) {
		uint64_t va = ks.bottom + (uint64_t)i * PAGE_SIZE;
		uint64_t e = vm_leaf_entry(&kernel_vm, va);
		seen[i] = vm_translate(&kernel_vm, va);
		if (!(e & PTE_PRESENT) || (e & KSTACK_PTE_FLAGS) != KSTACK_PTE_FLAGS)
			FAIL(t,
			     "stack page 0x%lx: entry 0x%lx, not present + writable + no-execute + "
			     "global: map it with KSTACK_PTE_FLAGS",
			     va, e);
		for (int j = 0; j < i; j++)
			if (seen[j] == seen[i])
				FAIL(t, "stack pages %d and %d share the frame 0x%lx", j, i,
				     seen[i]);
	}
	EXPECT_EQ(t, mapped_pages(kstack_slot_base(ks.slot), ks.bottom), 0);
	memset((void *)ks.bottom, STACK_FILL, THREAD_STACK_SIZE); /* every byte is writable */
	EXPECT_EQ(t, ((volatile uint8_t *)ks.top)[-1], STACK_FILL);

	struct kstack copy = ks;
	kstack_free(&ks);
	int still = mapped_pages(kstack_slot_base(copy.slot), copy.top);
	if (still || kframes_free() != frames)
		FAIL(t,
		     "kstack_alloc took %lu frames, kstack_free gave back %ld of them, and %d of the "
		     "stack's %d pages are still mapped: every page is unmapped and its frame freed "
		     "(and a page table left empty goes back too)",
		     took, (long)(took - (frames - kframes_free())), still, THREAD_STACK_PAGES);
	EXPECT_EQ(t, kstack_slots_used(), used);
	EXPECT_NULL(t, kstack_slot_owner(copy.slot));
}

/* Touching the page right under a stack faults: it is not mapped. */
KTEST(kstack, the_guard_page_faults, 2)
{
	struct kstack ks;
	struct ktry_result r;

	ASSERT_EQ(t, kstack_alloc(&ks, &owner), 0);
	uint64_t bottom = ks.bottom;
	volatile uint8_t *below = (volatile uint8_t *)(bottom - 1);
	bool faulted = CATCH_FAULT(&r, *below = 1);
	kstack_free(&ks);
	ASSERT_TRUE(t, faulted);
	EXPECT_EQ(t, r.vector, VEC_PF);
	EXPECT_EQ(t, r.cr2, bottom - 1);
	EXPECT_EQ(t, r.error & PF_PRESENT, 0);
}

/* Hold every free frame but `left`, chained through the direct map; the chain. */
static phys_addr_t hold_frames_but(uint64_t left)
{
	phys_addr_t chain = 0, pa;

	while (kframes_free() > left && (pa = kframe_alloc())) {
		*(phys_addr_t *)phys_to_virt(pa) = chain;
		chain = pa;
	}
	return chain;
}

/* Give frames of a chain back until `left` are free (all of them for UINT64_MAX); the rest. */
static phys_addr_t release_frames_until(phys_addr_t chain, uint64_t left)
{
	while (chain && kframes_free() < left) {
		phys_addr_t next = *(phys_addr_t *)phys_to_virt(chain);
		kframe_free(chain);
		chain = next;
	}
	return chain;
}

/*
 * With every slot taken, kstack_alloc fails and keeps nothing. With too few frames it fails
 * too, wherever it runs out, and keeps nothing either: not the pages it mapped so far, not a
 * frame it could not map. The stack goes first in a slot group of its own (one page table's
 * worth, 2 MiB of slots, none mapped), so it needs THREAD_STACK_PAGES frames and a page
 * table: every count of frames below that fails, and that count succeeds. Every frame is taken
 * once, and one more given back before each try (taking them all again for each would cost
 * more than the rest of the suite). A failure leaves *ks as it was.
 */
KTEST(kstack, no_free_slot_means_failure, 2)
{
	static int taken[THREAD_SLOTS];
	int n = 0, slot;
	uint64_t frames = kframes_free();
	struct kstack ks = {NO_SLOT_MARK, 1, 2};

	while ((slot = kstack_slot_get(&owner)) >= 0)
		taken[n++] = slot;
	int r = kstack_alloc(&ks, &owner);
	uint64_t frames_then = kframes_free();
	int last = taken[n - 1]; /* kept, with a page mapped in it: see below */
	for (int i = 0; i < n - 1; i++)
		kstack_slot_put(taken[i]);
	EXPECT_EQ(t, r, -1);
	if (frames_then != frames)
		FAIL(t,
		     "with no free slot, kstack_alloc failed but kept %ld frames: it must take a "
		     "slot before any frame",
		     (long)(frames - frames_then));
	EXPECT_EQ(t, ks.slot, NO_SLOT_MARK);
	EXPECT_EQ(t, ks.bottom, 1);

	/*
	 * A page mapped in the last slot, for the rest of the test: the stack area's page directory
	 * and PDPT exist from then on, as they do once thread_init has mapped the idle thread's
	 * stack (step 5). Before that, the first stack ever mapped also makes those two tables, and
	 * a map that runs out of frames half-way may keep the tables it made (vm_map's way): then
	 * a correct kstack_alloc would seem to keep frames.
	 */
	uint64_t anchor_va = kstack_slot_base(last) + THREAD_SLOT_SIZE - PAGE_SIZE;
	phys_addr_t anchor = kframe_alloc();
	ASSERT_NE(t, anchor, 0);
	ASSERT_EQ(t, kmap_page(anchor_va, anchor, KSTACK_PTE_FLAGS), 0);

	n = 0;
	while ((slot = kstack_slot_get(&owner)) >= 0 && slot % SLOTS_PER_TABLE != 0)
		taken[n++] = slot;
	ASSERT_TRUE(t, slot >= 0);
	kstack_slot_put(slot); /* kstack_alloc takes it next: the first of a group */
	bool fresh = mapped_pages(kstack_slot_base(slot),
				  kstack_slot_base(slot) + SLOTS_PER_TABLE * THREAD_SLOT_SIZE) == 0;
	bool succeeded = false;
	phys_addr_t held = hold_frames_but(0);
	for (uint64_t left = 0; left <= THREAD_STACK_PAGES + MAX_TABLE_FRAMES && !succeeded;
	     left++) {
		size_t used = kstack_slots_used();
		held = release_frames_until(held, left);
		uint64_t before = kframes_free();
		struct kstack k = {NO_SLOT_MARK, 1, 2};
		int got = kstack_alloc(&k, &owner);
		uint64_t after = kframes_free();
		int mapped = mapped_pages(kstack_slot_base(slot), kstack_slot_base(slot + 1));
		if (got == 0) {
			kstack_free(&k);
			succeeded = true;
		}
		uint64_t after_free = kframes_free();
		if (got != 0 && (k.slot != NO_SLOT_MARK || k.bottom != 1 || k.top != 2)) {
			FAIL(t,
			     "with %lu frames left, kstack_alloc failed but changed *ks (slot %d, "
			     "bottom 0x%lx, top 0x%lx): on failure *ks is left as it was; fill it in "
			     "only once every page is mapped",
			     before, k.slot, k.bottom, k.top);
			break;
		}
		if (got != 0 && (after != before || mapped || kstack_slots_used() != used)) {
			FAIL(t,
			     "with %lu frames left, kstack_alloc failed and kept %ld of them, %d "
			     "stack pages still mapped and %ld slots: a failure gives back every "
			     "frame it took (the pages mapped so far, and the one that could not be "
			     "mapped) and its slot",
			     before, (long)(before - after), mapped,
			     (long)(kstack_slots_used() - used));
			break;
		}
		if (got == 0 && after_free != before) {
			FAIL(t,
			     "with %lu frames left, kstack_alloc and then kstack_free kept %ld of them",
			     before, (long)(before - after_free));
			break;
		}
		if (got == 0 && fresh && left < THREAD_STACK_PAGES + 1)
			FAIL(t,
			     "with %lu frames left, kstack_alloc succeeded: its %d pages and a page "
			     "table need %d",
			     left, THREAD_STACK_PAGES, THREAD_STACK_PAGES + 1);
	}
	release_frames_until(held, UINT64_MAX);
	for (int i = 0; i < n; i++)
		kstack_slot_put(taken[i]);
	kunmap_page(anchor_va);
	kframe_free(anchor);
	kstack_slot_put(last);
	if (!succeeded && t->failures == 0) /* after a failure above, the loop stopped early */
		FAIL(t,
		     "kstack_alloc failed even with %d frames left, enough for its pages and their "
		     "page tables",
		     THREAD_STACK_PAGES + MAX_TABLE_FRAMES);
}
