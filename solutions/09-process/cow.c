/*
 * Copy-on-write (see kernel/cow.h for the picture): fork shares every page of the parent with
 * the child, and the first write to a shared page copies that page alone.
 *
 * What fork costs then: one pass over the parent's page tables. A parent with 4 MiB of data
 * (1024 pages) gets a child with the same 1024 entries, pointing at the same frames, each
 * frame counted twice; the child's new tables are a PML4, and a PDPT, PD and PT or so per
 * region (stack, heap, image): a handful of frames instead of 1024 copied ones. Most children
 * exec at once, and exec throws the copy away: a copy made eagerly would be thrown away with
 * it.
 *
 * The bookkeeping is in the entries themselves. A writable page becomes read-only with
 * PTE_COW (bit 9, one of the bits the CPU leaves to software) in both spaces. A write faults
 * (present, write, user); the fault handler sees PTE_COW and knows the page may be written
 * once it is the writer's own. Whose it is, the frame's count says:
 *
 *   count 2 (parent and child)   copy the frame, map the copy writable, drop the old one
 *   count 1 (the other left)     nothing to copy: writable again, in place
 *
 * TLB. The CPU caches translations, writable ones included: after fork clears PTE_WRITABLE
 * in the parent's entries, the parent (the live space: fork runs in it) could still write
 * through the cached ones, straight into the frame its child now shares. And after the fault
 * handler maps a new frame, the old translation must go too.
 */
#include <string.h>
#include "compiler.h"
#include "cow.h"
#include "frameref.h"
#include "paging.h"
/// STARTER: #include "todo.h"

/* Step 3, what uspace_fork's walk carries along. */
struct fork_walk {
	struct uspace *child;
	int err;
};

/*
 * Step 3, the uspace_walk callback: the parent's page at va (entry *pte) into the child: the
 * same frame, one more reference; writable pages become read-only and PTE_COW in both.
 */
static __unused bool share_page(uint64_t va, uint64_t *pte, void *arg)
{
	/// SOLUTION BEGIN
	struct fork_walk *w = arg;
	phys_addr_t pa = *pte & PTE_ADDR_MASK;

	if (*pte & PTE_WRITABLE)
		*pte = (*pte & ~PTE_WRITABLE) | PTE_COW;
	if (vm_map(&w->child->vm, va, pa, *pte & VM_MAP_FLAGS) < 0) {
		w->err = -ENOMEM;
		return false;
	}
	if (*pte & PTE_COW)
		*uspace_pte(w->child, va) |= PTE_COW;
	frame_ref_take(pa);
	w->child->pages++;
	return true;
	/// SOLUTION END
	/// STARTER: TODO("step 3: a writable *pte becomes read-only | PTE_COW; vm_map the same frame into w->child with *pte & VM_MAP_FLAGS (-ENOMEM into w->err and false if it fails); PTE_COW on the child's entry too (uspace_pte); frame_ref_take; child's pages++");
}

/* Step 3: the child shares every page of the parent, copy-on-write. */
int uspace_fork(struct uspace *child, struct uspace *parent)
{
	/// SOLUTION BEGIN
	struct fork_walk w = {child, 0};

	uspace_walk(parent, 0, USER_TOP, share_page, &w);
	uspace_flush(parent); /* its writable translations must go, even after a failure */
	child->layout = parent->layout;
	return w.err;
	/// SOLUTION END
	/// STARTER: TODO("step 3: uspace_walk the parent's user half with share_page; uspace_flush(parent) (also after a failure); copy the layout; return -ENOMEM if a page could not be mapped");
}

/* Step 4: a write to a copy-on-write page gets the page for itself. */
int cow_fault(struct uspace *s, uint64_t va, uint64_t error)
{
	/// SOLUTION BEGIN
	uint64_t page = align_down(va, PAGE_SIZE);
	uint64_t *pte = page < USER_TOP ? uspace_pte(s, page) : NULL;

	if (!(error & PF_PRESENT) || !(error & PF_WRITE) || !pte || !(*pte & PTE_PRESENT) ||
	    !(*pte & PTE_COW))
		return -EFAULT;
	phys_addr_t old = *pte & PTE_ADDR_MASK;
	uint64_t flags = (*pte & ~(PTE_ADDR_MASK | PTE_COW)) | PTE_WRITABLE;

	if (frame_ref_count(old) == 1) {
		*pte = old | flags; /* the other owners are gone: the page is ours */
	} else {
		phys_addr_t copy = kframe_alloc();

		if (!copy)
			return -ENOMEM;
		memcpy(phys_to_virt(copy), phys_to_virt(old), PAGE_SIZE);
		*pte = copy | flags;
		frame_ref_drop(old);
	}
	uspace_invalidate(s, page);
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 4: -EFAULT unless a write (PF_WRITE) to a present page (PF_PRESENT) whose entry (uspace_pte) has PTE_COW; count 1: writable, no PTE_COW; else kframe_alloc (-ENOMEM), copy the page, map the copy writable, frame_ref_drop the old; uspace_invalidate; 0");
}
