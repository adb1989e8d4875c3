/*
 * Lab 09, step 4: cow_fault, called as the page fault handler calls it, on a parent and a
 * child forked from it (no program runs in them): a write copies a shared page once, the
 * last owner writes in place, and every other fault is a real one.
 */
#include <string.h>
#include "paging.h"
#include "proc_fixture.h"
#include "trap.h"

#define FILL	0x6e
#define MARK	0x99
#define A_WRITE (PF_PRESENT | PF_WRITE | PF_USER)

static bool fork_pair(struct ktest *t, struct uspace *parent, struct uspace *child)
{
	if (!counts_require(t) || !space_load(t, parent, "forktest", FILL))
		return false;
	if (uspace_init(child) < 0 || uspace_fork(child, parent) != 0) {
		FAIL(t, "uspace_fork failed with plenty of memory");
		uspace_destroy(child);
		uspace_destroy(parent);
		return false;
	}
	return true;
}

static void unfork(struct uspace *parent, struct uspace *child)
{
	uspace_destroy(child);
	uspace_destroy(parent);
}

/* The top page of the stack: writable before the fork, so copy-on-write after it. */
static uint64_t stack_page(const struct uspace *s)
{
	return s->layout.stack_top - PAGE_SIZE;
}

/* should be: child's page -> a new frame (writable, a copy), parent's -> the old (count 1) */
KTEST(cow, a_write_copies_the_page_once, 3)
{
	struct uspace parent, child;

	if (!fork_pair(t, &parent, &child))
		return;
	uint64_t va = stack_page(&parent), old = space_pte(&parent, va) & PTE_ADDR_MASK;
	uint64_t before = kframes_free();
	int r = cow_fault(&child, va, A_WRITE);
	if (r != 0)
		FAIL(t, "cow_fault of the child's write to its shared stack page gave %d, not 0",
		     r);
	uint64_t mine = space_pte(&child, va), theirs = space_pte(&parent, va);
	phys_addr_t copy = mine & PTE_ADDR_MASK;
	if (kframes_free() != before - 1)
		FAIL(t, "the write fault took %ld frames, not 1 (the copy)",
		     (long)(before - kframes_free()));
	if (copy == old)
		FAIL(t,
		     "after the child's write fault, the child still maps the shared frame 0x%lx: "
		     "the parent's page changed after the child wrote it",
		     old);
	else if (memcmp(phys_to_virt(copy), phys_to_virt(old), PAGE_SIZE))
		FAIL(t, "the child's new frame 0x%lx does not hold a copy of the page", copy);
	if (!(mine & PTE_WRITABLE) || (mine & PTE_COW) || !(mine & PTE_USER) ||
	    !(mine & PTE_NO_EXECUTE))
		FAIL(t,
		     "after the write fault the child's entry is 0x%lx: expected writable, user and "
		     "no-execute, without PTE_COW",
		     mine);
	if (copy != old && frame_ref_count(copy) != 1)
		FAIL(t, "the child's copy (frame 0x%lx) has count %u, not 1", copy,
		     frame_ref_count(copy));
	if (copy != old && frame_ref_count(old) != 1)
		FAIL(t,
		     "after the child took its copy, the shared frame 0x%lx has count %u, not 1 (the "
		     "parent): cow_fault must drop the child's reference to it (frame_ref_drop)",
		     old, frame_ref_count(old));
	if ((theirs & PTE_ADDR_MASK) != old || !(theirs & PTE_COW) || (theirs & PTE_WRITABLE))
		FAIL(t,
		     "after the child's write fault the parent's entry is 0x%lx: it must still map "
		     "the shared frame 0x%lx, read-only and PTE_COW (only the writer's entry "
		     "changes)",
		     theirs, old);
	/* a second write of the child is no fault any more; the handler would not be called */
	EXPECT_EQ(t, cow_fault(&child, va, A_WRITE), -EFAULT);
	unfork(&parent, &child);
}

/* Once the child has its copy, the parent is the frame's only owner: writable in place. */
KTEST(cow, the_last_owner_writes_in_place, 2)
{
	struct uspace parent, child;

	if (!fork_pair(t, &parent, &child))
		return;
	uint64_t va = stack_page(&parent), old = space_pte(&parent, va) & PTE_ADDR_MASK;
	ASSERT_EQ(t, cow_fault(&child, va, A_WRITE), 0);
	uint64_t before = kframes_free();
	int r = cow_fault(&parent, va, A_WRITE);
	uint64_t e = space_pte(&parent, va), now = kframes_free();
	long taken = (long)(before - now);
	if (r != 0)
		FAIL(t,
		     "cow_fault of the parent's write, as the frame's last owner, gave %d, not 0",
		     r);
	/*
	 * Three ways to get it wrong, told apart: another frame (a copy); the same frame, but
	 * given back to the buddy while still mapped (a count dropped); frames taken for nothing.
	 */
	if ((e & PTE_ADDR_MASK) != old) {
		FAIL(t,
		     "the parent, the last owner of frame 0x%lx (count 1), got a copy in another "
		     "frame (0x%lx): with count 1 the page is made writable in place, on the same "
		     "frame, and no frame is taken",
		     old, e & PTE_ADDR_MASK);
	} else if (taken < 0 || frame_ref_count(old) == 0) {
		FAIL(t,
		     "the parent, the last owner of frame 0x%lx (count 1), still maps it after its "
		     "write fault, but its count is now %u and %ld frame(s) went back to the buddy "
		     "allocator: the frame was freed while still mapped, and the next kframe_alloc "
		     "would hand it out again. With count 1 the page stays the writer's: make it "
		     "writable in place and leave the count at 1 (no frame_ref_drop there)",
		     old, frame_ref_count(old), -taken);
		/* the buddy has the frame already: keep unfork from giving it back a second time */
		*uspace_pte(&parent, va) = 0;
		parent.pages--;
	} else if (taken > 0) {
		FAIL(t,
		     "the parent, the last owner of frame 0x%lx (count 1), writes it in place, but "
		     "%ld frame(s) were taken for it: with count 1 no frame is allocated",
		     old, taken);
	} else if (frame_ref_count(old) != 1) {
		FAIL(t, "the parent's frame 0x%lx has count %u after writing in place, not 1", old,
		     frame_ref_count(old));
	}
	if (!(e & PTE_WRITABLE) || (e & PTE_COW))
		FAIL(t,
		     "after the last owner's write fault its entry is 0x%lx: expected writable, "
		     "without PTE_COW",
		     e);
	unfork(&parent, &child);
}

/* Faults that are not a write to a copy-on-write page: -EFAULT, and nothing changes. */
KTEST(cow, other_faults_are_real_faults, 3)
{
	struct uspace parent, child;

	if (!fork_pair(t, &parent, &child))
		return;
	uint64_t va = stack_page(&parent), code = parent.layout.entry & ~(PAGE_SIZE - 1);
	uint64_t e = space_pte(&child, va), frames = kframes_free();
	const struct {
		uint64_t va, error;
		const char *what;
	} cases[] = {
		{va, PF_PRESENT | PF_USER, "a read of a copy-on-write page"},
		{va, PF_WRITE | PF_USER, "a fault with the page not present"},
		{code, A_WRITE, "a write to the code (read-only, not PTE_COW)"},
		{USER_BOTTOM - PAGE_SIZE, A_WRITE, "a write below USER_BOTTOM (not mapped)"},
		{va - USER_STACK_SIZE, A_WRITE, "a write to the stack's guard page"},
		{0xffff800000100000UL, A_WRITE, "a write to a kernel address"},
		{0x0000800000000000UL, A_WRITE, "a write to a non-canonical address"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = cow_fault(&child, cases[i].va, cases[i].error);
		if (r != -EFAULT)
			FAIL(t,
			     "%s (address 0x%lx, error 0x%lx): cow_fault returned %d, not -EFAULT "
			     "(a real fault: the program ends)",
			     cases[i].what, cases[i].va, cases[i].error, r);
	}
	EXPECT_EQ(t, space_pte(&child, va), e);
	EXPECT_EQ(t, kframes_free(), frames);
	unfork(&parent, &child);
}

/*
 * The child is live and has read its page: the TLB holds the shared frame's translation.
 * After its write fault is handled, it must see its own copy: put a mark in the shared frame
 * (the parent's now) and read through the child's address.
 */
KTEST(cow, the_tlb_forgets_the_shared_frame, 2)
{
	struct uspace parent, child;

	if (!fork_pair(t, &parent, &child))
		return;
	uint64_t va = stack_page(&parent);
	phys_addr_t old = space_pte(&parent, va) & PTE_ADDR_MASK;
	unsigned long flags = space_enter(&child);
	uint8_t before = *(volatile uint8_t *)va; /* a translation to the shared frame */
	int r = cow_fault(&child, va, A_WRITE);
	*(volatile uint8_t *)phys_to_virt(old) = MARK;
	uint8_t after = *(volatile uint8_t *)va;
	space_leave(flags);
	EXPECT_EQ(t, r, 0);
	EXPECT_EQ(t, before, FILL);
	if (after == MARK)
		FAIL(t, "after the fault the child still reads the shared frame through its TLB: "
			"forget the old entry (uspace_invalidate)");
	else
		EXPECT_EQ(t, after, FILL);
	unfork(&parent, &child);
}

/* No frame for the copy: -ENOMEM, and the page stays shared and read-only. */
KTEST(cow, no_frame_for_the_copy_is_enomem, 2)
{
	struct uspace parent, child;

	if (!fork_pair(t, &parent, &child))
		return;
	uint64_t va = stack_page(&parent), e = space_pte(&child, va);
	frames_hog(0);
	int r = cow_fault(&child, va, A_WRITE);
	frames_unhog();
	EXPECT_EQ(t, r, -ENOMEM);
	EXPECT_EQ(t, space_pte(&child, va), e);
	EXPECT_EQ(t, frame_ref_count(e & PTE_ADDR_MASK), 2);
	EXPECT_EQ(t, cow_fault(&child, va, A_WRITE), 0);
	unfork(&parent, &child);
}
