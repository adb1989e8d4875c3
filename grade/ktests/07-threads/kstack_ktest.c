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
 * writable and no-execute over the top half of the slot, and the bottom half (the guard
 * page first) is not mapped. Freed, it gives every frame back.
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
		if (!(e & PTE_PRESENT) || !(e & PTE_WRITABLE) || !(e & PTE_NO_EXECUTE))
			FAIL(t,
			     "stack page 0x%lx: entry 0x%lx, not present + writable + no-execute",
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
	EXPECT_EQ(t, mapped_pages(kstack_slot_base(copy.slot), copy.top), 0);
	EXPECT_EQ(t, kframes_free(), frames);
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

/* With every slot taken, kstack_alloc fails and keeps nothing. */
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
	for (int i = 0; i < n; i++)
		kstack_slot_put(taken[i]);
	EXPECT_EQ(t, r, -1);
	EXPECT_EQ(t, frames_then, frames);
	EXPECT_EQ(t, ks.slot, NO_SLOT_MARK);
	EXPECT_EQ(t, ks.bottom, 1);
}
