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
#include "todo.h"

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
	TODO("step 3: a writable *pte becomes read-only | PTE_COW; vm_map the same frame into w->child with *pte & VM_MAP_FLAGS (-ENOMEM into w->err and false if it fails); PTE_COW on the child's entry too (uspace_pte); frame_ref_take; child's pages++");
}

/* Step 3: the child shares every page of the parent, copy-on-write. */
int uspace_fork(struct uspace *child, struct uspace *parent)
{
	TODO("step 3: uspace_walk the parent's user half with share_page; uspace_flush(parent) (also after a failure); copy the layout; return -ENOMEM if a page could not be mapped");
}

/* Step 4: a write to a copy-on-write page gets the page for itself. */
int cow_fault(struct uspace *s, uint64_t va, uint64_t error)
{
	TODO("step 4: -EFAULT unless a write (PF_WRITE) to a present page (PF_PRESENT) whose entry (uspace_pte) has PTE_COW; count 1: writable, no PTE_COW; else kframe_alloc (-ENOMEM), copy the page, map the copy writable, frame_ref_drop the old; uspace_invalidate; 0");
}
