/*
 * Lab 08, step 3: address spaces, built and torn down directly (no program runs in them here),
 * their page tables read back entry by entry.
 */
#include <string.h>
#include "heap.h"
#include "irq.h"
#include "ktry.h"
#include "paging.h"
#include "user_fixture.h"

#define CODE_VA	  0x0000000000400000UL
#define DATA_VA	  0x0000000000403000UL
#define RO_VA	  0x0000001234567000UL
#define FAR_VA	  0x00007ffffff00000UL /* near the top: another PML4 entry, other tables */
#define HOG_LEAVE 16		       /* frames left free for a map that must run out */
#define MAP_MORE  64		       /* pages: more than HOG_LEAVE */

/* The frame behind va in s, through the direct map, or NULL. */
static uint8_t *frame_of(const struct uspace *s, uint64_t va)
{
	phys_addr_t pa = vm_translate(&s->vm, va);

	return pa == VM_NOT_MAPPED ? NULL : phys_to_virt(pa);
}

/* A fresh space: the kernel's half (PML4 256..511) is kernel_vm's, the program's half empty. */
KTEST(uspace, a_new_space_shares_the_kernel_half, 3)
{
	struct uspace s;
	uint64_t frames = kframes_free();

	memset(&s, 0xa5, sizeof(s));
	ASSERT_EQ(t, uspace_init(&s), 0);
	uint64_t frames_after_init = kframes_free();
	const uint64_t *mine = phys_to_virt(s.vm.pml4), *kernel = phys_to_virt(kernel_vm.pml4);
	int lower = 0, upper = 0;
	for (int i = 0; i < PT_ENTRIES; i++) {
		if (i < USER_PML4_KERNEL)
			lower += mine[i] != 0;
		else
			upper += mine[i] != kernel[i];
	}
	EXPECT_EQ(t, lower, 0);
	if (upper)
		FAIL(t, "%d of the PML4's upper 256 entries differ from kernel_vm's", upper);
	EXPECT_EQ(t, s.pages, 0);
	EXPECT_EQ(t, s.layout.stack_top, 0);
	EXPECT_NE(t, s.vm.pml4, kernel_vm.pml4);
	/* the kernel, seen through the new tables: there, and not for ring 3 */
	EXPECT_EQ(t, vm_translate(&s.vm, (uint64_t)&kernel_vm), virt_to_phys(&kernel_vm));
	EXPECT_FALSE(t, vm_leaf_entry(&s.vm, (uint64_t)&kernel_vm) & PTE_USER);
	/* a destroy that frees the kernel's tables may walk into one it has just freed */
	struct ktry_result r;
	bool faulted = CATCH_FAULT(&r, uspace_destroy(&s));
	int64_t extra = (int64_t)(kframes_free() - frames);
	if (extra > 0)
		FAIL(t,
		     "uspace_destroy gave back %lld frames more than the space took: it freed the "
		     "kernel half's page tables, which are kernel_vm's (clear PML4 entries %d..511 "
		     "before vm_destroy)",
		     (long long)extra, USER_PML4_KERNEL);
	else if (faulted)
		FAIL(t, "uspace_destroy of a new space faulted: %s", r.msg);
	else if (extra < 0)
		FAIL(t,
		     "uspace_destroy of a new space kept %lld frames of the %lld uspace_init took",
		     (long long)-extra, (long long)(frames - frames_after_init));
	else
		EXPECT_EQ(t, s.vm.pml4, 0);
}

struct expect_page {
	uint64_t va;
	bool writable, executable;
};

/* Three regions with three permissions, each page checked: present, user, the asked W and
 * NX; a frame of its own, zeroed. */
KTEST(uspace, map_gives_user_pages_their_permissions, 4)
{
	static const struct expect_page pages[] = {
		{CODE_VA, false, true},
		{CODE_VA + PAGE_SIZE, false, true},
		{DATA_VA, true, false},
		{DATA_VA + PAGE_SIZE, true, false},
		{DATA_VA + 2 * PAGE_SIZE, true, false},
		{RO_VA, false, false},
		{FAR_VA, true, false},
	};
	struct uspace s;
	uint64_t frames = kframes_free();

	ASSERT_EQ(t, uspace_init(&s), 0);
	ASSERT_EQ(t, uspace_map(&s, CODE_VA, 2 * PAGE_SIZE, 0), 0);
	ASSERT_EQ(t, uspace_map(&s, DATA_VA, 3 * PAGE_SIZE, PTE_WRITABLE | PTE_NO_EXECUTE), 0);
	ASSERT_EQ(t, uspace_map(&s, RO_VA, PAGE_SIZE, PTE_NO_EXECUTE), 0);
	ASSERT_EQ(t, uspace_map(&s, FAR_VA, PAGE_SIZE, PTE_WRITABLE | PTE_NO_EXECUTE), 0);
	EXPECT_EQ(t, s.pages, ARRAY_SIZE(pages));
	for (size_t i = 0; i < ARRAY_SIZE(pages); i++) {
		uint64_t e = vm_leaf_entry(&s.vm, pages[i].va);
		const uint8_t *f = frame_of(&s, pages[i].va);

		const char *wrong =
			test_user_entry_wrong(e, pages[i].writable, pages[i].executable);

		if (wrong)
			FAIL(t, "page 0x%lx: entry 0x%lx is %s; expected present, user, %s, %s",
			     pages[i].va, e, wrong, pages[i].writable ? "writable" : "read-only",
			     pages[i].executable ? "executable" : "no-execute");
		if (f && (f[0] || f[PAGE_SIZE - 1] || memcmp(f, f + 1, PAGE_SIZE - 1)))
			FAIL(t, "page 0x%lx was not zeroed", pages[i].va);
		for (size_t j = 0; j < i; j++)
			if (f && f == frame_of(&s, pages[j].va))
				FAIL(t, "pages 0x%lx and 0x%lx share a frame", pages[j].va,
				     pages[i].va);
	}
	EXPECT_EQ(t, vm_translate(&s.vm, CODE_VA - PAGE_SIZE), VM_NOT_MAPPED);
	EXPECT_EQ(t, vm_translate(&s.vm, DATA_VA + 3 * PAGE_SIZE), VM_NOT_MAPPED);
	uspace_destroy(&s);
	EXPECT_EQ(t, kframes_free(), frames);
}

/* Unmapping gives each frame back and skips what is not mapped. */
KTEST(uspace, unmap_gives_frames_back, 3)
{
	struct uspace s;

	ASSERT_EQ(t, uspace_init(&s), 0);
	ASSERT_EQ(t, uspace_map(&s, DATA_VA, 4 * PAGE_SIZE, PTE_WRITABLE | PTE_NO_EXECUTE), 0);
	uint64_t frames = kframes_free();
	/* should be: [DATA_VA, +1 page) and [+3, +4) mapped */
	uspace_unmap(&s, DATA_VA + PAGE_SIZE, 2 * PAGE_SIZE);
	EXPECT_EQ(t, s.pages, 2);
	EXPECT_EQ(t, kframes_free(), frames + 2);
	EXPECT_NE(t, vm_translate(&s.vm, DATA_VA), VM_NOT_MAPPED);
	EXPECT_EQ(t, vm_translate(&s.vm, DATA_VA + PAGE_SIZE), VM_NOT_MAPPED);
	EXPECT_NE(t, vm_translate(&s.vm, DATA_VA + 3 * PAGE_SIZE), VM_NOT_MAPPED);
	uspace_unmap(&s, DATA_VA, 8 * PAGE_SIZE); /* half of it was never mapped */
	EXPECT_EQ(t, s.pages, 0);
	/* the four frames, and the tables left empty (vm_unmap gives those back: at most 3) */
	EXPECT_GE(t, kframes_free(), frames + 4);
	EXPECT_LE(t, kframes_free(), frames + 4 + 3);
	uspace_destroy(&s);
}

static void read_byte(void *va)
{
	(void)*(volatile uint8_t *)va;
}

/*
 * Unmapping a page of the live space (a program's heap shrinking under sbrk) takes it out of
 * the TLB too: the translation cached there would go on reaching the frame, given back and
 * soon someone else's. Interrupts off, so that no switch reloads CR3 (which flushes it all).
 */
KTEST(uspace, unmap_in_the_live_space_leaves_no_stale_translation, 2)
{
	struct uspace s;
	struct ktry_result r1, r2;

	ASSERT_EQ(t, uspace_init(&s), 0);
	ASSERT_EQ(t, uspace_map(&s, DATA_VA, 2 * PAGE_SIZE, PTE_WRITABLE | PTE_NO_EXECUTE), 0);
	unsigned long flags = irq_save();
	uspace_activate(&s);
	read_byte((void *)DATA_VA); /* the translations of both pages are in the TLB now */
	read_byte((void *)(DATA_VA + PAGE_SIZE));
	uspace_unmap(&s, DATA_VA + PAGE_SIZE, PAGE_SIZE);
	int first = ktry_call(read_byte, (void *)DATA_VA, KTRY_FAULT, &r1);
	int second = ktry_call(read_byte, (void *)(DATA_VA + PAGE_SIZE), KTRY_FAULT, &r2);
	uspace_activate(NULL);
	irq_restore(flags);
	if (first)
		FAIL(t, "reading page 0x%lx, still mapped, faulted: %s", DATA_VA, r1.msg);
	if (!second)
		FAIL(t,
		     "after uspace_unmap of page 0x%lx in the live space (in CR3), the page could "
		     "still be read, through the TLB: the entry was cleared without invalidating "
		     "it (vm_unmap does both; invlpg)",
		     DATA_VA + PAGE_SIZE);
	uspace_destroy(&s);
}

/* A mapping larger than the memory left fails with -ENOMEM and keeps nothing of itself. */
KTEST(uspace, a_map_that_runs_out_keeps_nothing, 3)
{
	struct uspace s;

	ASSERT_EQ(t, uspace_init(&s), 0);
	ASSERT_EQ(t, uspace_map(&s, CODE_VA, PAGE_SIZE, 0), 0);
	frames_hog(HOG_LEAVE);
	uint64_t frames = kframes_free();
	int r = uspace_map(&s, DATA_VA, MAP_MORE * PAGE_SIZE, PTE_WRITABLE | PTE_NO_EXECUTE);
	uint64_t after = kframes_free();
	frames_unhog();
	EXPECT_EQ(t, r, -ENOMEM);
	EXPECT_EQ(t, s.pages, 1);
	EXPECT_EQ(t, vm_translate(&s.vm, DATA_VA), VM_NOT_MAPPED);
	/* its page tables may stay (empty), nothing else: at most a PT, a PD and a PDPT */
	if (after + 3 < frames || after > frames)
		FAIL(t, "%lu frames free after the failed map, %lu before", after, frames);
	EXPECT_NE(t, vm_translate(&s.vm, CODE_VA), VM_NOT_MAPPED);

	/*
	 * The other way to run out: a frame for the page, none for its page tables. FAR_VA is
	 * under a PML4 entry of its own (three new tables); with one frame free, the page gets
	 * it and vm_map fails. That frame must come back too.
	 */
	frames_hog(1);
	frames = kframes_free();
	if (frames == 1) {
		r = uspace_map(&s, FAR_VA, PAGE_SIZE, PTE_WRITABLE | PTE_NO_EXECUTE);
		after = kframes_free();
		frames_unhog();
		if (r != -ENOMEM || after != frames)
			FAIL(t,
			     "uspace_map of one page with one frame free (the page's, none for its "
			     "page tables) gave %d and left %lu frames free, not -ENOMEM and %lu: "
			     "when vm_map fails, kframe_free the frame of the page it could not map",
			     r, after, frames);
		EXPECT_EQ(t, s.pages, 1);
	} else {
		frames_unhog(); /* cannot leave exactly one frame: this part is skipped */
	}
	uspace_destroy(&s);
}

/*
 * Destroying gives back every frame (pages and tables, the PML4 too) and none of the kernel's
 * tables: the kernel half still works afterwards (a kernel stack and the heap, touched). The
 * space the CPU runs on is not destroyed: a panic.
 */
KTEST(uspace, destroy_gives_everything_back_but_the_kernel, 4)
{
	struct uspace s;
	uint64_t frames = kframes_free();

	for (int round = 0; round < 3; round++) {
		ASSERT_EQ(t, uspace_init(&s), 0);
		ASSERT_EQ(t, uspace_map(&s, CODE_VA, PAGE_SIZE, 0), 0);
		ASSERT_EQ(t, uspace_map(&s, FAR_VA, 2 * PAGE_SIZE, PTE_WRITABLE | PTE_NO_EXECUTE),
			  0);
		uspace_destroy(&s);
		EXPECT_EQ(t, s.vm.pml4, 0);
		EXPECT_EQ(t, kframes_free(), frames);
	}
	uspace_destroy(&s); /* again: nothing */

	/* The space in CR3 cannot go (the check is given): the CPU would go on walking its
	 * tables after they were freed. Interrupts off, so that no switch reloads CR3. */
	ASSERT_EQ(t, uspace_init(&s), 0);
	unsigned long flags = irq_save();
	uspace_activate(&s);
	EXPECT_PANIC(t, "uspace_destroy", uspace_destroy(&s));
	uspace_activate(NULL);
	irq_restore(flags);
	EXPECT_NE(t, s.vm.pml4, 0);
	uspace_destroy(&s);
	EXPECT_EQ(t, kframes_free(), frames);

	const uint64_t *kernel = phys_to_virt(kernel_vm.pml4);
	static const uint64_t regions[] = {KSTACKS_BASE, KHEAP_BASE, KERNEL_VMA, DIRECT_MAP_BASE};
	for (size_t i = 0; i < ARRAY_SIZE(regions); i++)
		if (!(kernel[vm_index(regions[i], VM_LEVELS)] & PTE_PRESENT))
			FAIL(t, "kernel_vm's PML4 lost the entry of 0x%lx", regions[i]);
	void *p = kmalloc(64);
	EXPECT_NOT_NULL(t, p);
	kfree(p);
	EXPECT_EQ(t, vm_translate(&kernel_vm, (uint64_t)&s), virt_to_phys(&s));
}

/* Mapping what is not a page-aligned range of the program's half is a bug: a panic. */
KTEST(uspace, map_refuses_bad_ranges, 2)
{
	struct uspace s;

	ASSERT_EQ(t, uspace_init(&s), 0);
	EXPECT_PANIC(t, "uspace_map", uspace_map(&s, CODE_VA + 1, PAGE_SIZE, 0));
	EXPECT_PANIC(t, "uspace_map", uspace_map(&s, CODE_VA, 100, 0));
	EXPECT_PANIC(t, "uspace_map", uspace_map(&s, 0, PAGE_SIZE, 0));
	EXPECT_PANIC(t, "uspace_map", uspace_map(&s, USER_TOP, PAGE_SIZE, 0));
	EXPECT_PANIC(t, "uspace_map", uspace_map(&s, KERNEL_VMA, PAGE_SIZE, 0));
	EXPECT_PANIC(t, "uspace_map", uspace_map(&s, USER_TOP - PAGE_SIZE, 2 * PAGE_SIZE, 0));
	EXPECT_PANIC(t, "uspace_map", uspace_map(&s, CODE_VA, PAGE_SIZE, PTE_GLOBAL));
	EXPECT_EQ(t, s.pages, 0);
	uspace_destroy(&s);
}
