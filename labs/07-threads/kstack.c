/*
 * Thread stacks with guard pages (see kernel/kstack.h): THREAD_STACK_PAGES frames from the
 * kernel's frame source, one at a time, mapped over the top half of a stack slot; the page
 * under them stays unmapped.
 *
 * Worked example: the first thread after boot gets slot 1 (the idle thread has slot 0):
 *   slot base   = KSTACKS_BASE + 1 * 32 KiB      = 0xffffe00000008000
 *   bottom      = base + 32 KiB - 16 KiB         = 0xffffe0000000c000
 *   top         = base + 32 KiB                  = 0xffffe00000010000
 *   pages       0xffffe0000000c000, d000, e000, f000, each a frame of its own (they need not
 *               be contiguous: the page tables make them look so)
 *   guard page  0xffffe0000000b000, never mapped
 */
#include "compiler.h"
#include "kstack.h"
#include "paging.h"
#include "todo.h"

/* Unmap the first n pages of the stack at bottom and give their frames back (__unused: only
 * your code calls it). */
static __unused void unmap_pages(uint64_t bottom, int n)
{
	TODO("step 4: for each page, find its frame (vm_translate), kunmap_page it, kframe_free the frame");
}

/* Step 4: a slot, then a frame and a mapping per page; undo everything if one fails. */
int kstack_alloc(struct kstack *ks, struct thread *owner)
{
	TODO("step 4: kstack_slot_get, then kframe_alloc + kmap_page each of the THREAD_STACK_PAGES pages at the top of the slot; on failure undo and return -1");
}

/* Step 4: the pages, then the slot. */
void kstack_free(struct kstack *ks)
{
	TODO("step 4: unmap and free the stack's pages, then kstack_slot_put its slot");
}
