/*
 * The frames and the address space layer 02 gives the rest of the kernel (paging.h): the
 * kframe_* calls over the kernel's frame source (lab 02's bitmap, until layer 06 switches it
 * to the buddy allocator) and kmap_page/kunmap_page in the kernel's own page tables.
 *
 * Every call here runs with interrupts disabled (irq.h): the kernel's lock on one CPU, so that
 * from checkpoint 07 on a thread preempted half-way through cannot leave the frame source or
 * the page tables half changed for the next one.
 */
#include "irq.h"
#include "paging.h"
#include "panic.h"

struct frame_allocator kernel_frames;
struct vm_space kernel_vm;
bool paging_ready;

static phys_addr_t bitmap_alloc(void)
{
	phys_addr_t pa = frame_alloc(&kernel_frames);

	/* Until the kernel's tables are live, only the first GiB is reachable. frame_alloc
	 * returns the lowest free frame, so this happens only when that GiB is full. */
	if (pa && !paging_ready && pa + PAGE_SIZE > BOOT_MAP_SIZE) {
		frame_free(&kernel_frames, pa);
		return 0;
	}
	return pa;
}

static void bitmap_free(phys_addr_t pa)
{
	frame_free(&kernel_frames, pa);
}

static phys_addr_t bitmap_alloc_contig(size_t n)
{
	phys_addr_t pa = frame_alloc_contig(&kernel_frames, n);

	if (pa && !paging_ready && pa + n * PAGE_SIZE > BOOT_MAP_SIZE) {
		frame_free_contig(&kernel_frames, pa, n);
		return 0;
	}
	return pa;
}

static void bitmap_free_contig(phys_addr_t pa, size_t n)
{
	frame_free_contig(&kernel_frames, pa, n);
}

static uint64_t bitmap_count_free(void)
{
	return frame_count_free(&kernel_frames);
}

static uint64_t bitmap_count_total(void)
{
	return frame_count_total(&kernel_frames);
}

const struct kframe_source kframe_bitmap_source = {
	.name = "the frame bitmap (lab 02)",
	.alloc = bitmap_alloc,
	.free = bitmap_free,
	.alloc_contig = bitmap_alloc_contig,
	.free_contig = bitmap_free_contig,
	.count_free = bitmap_count_free,
	.count_total = bitmap_count_total,
};

static const struct kframe_source *source;

void kframe_set_source(const struct kframe_source *src)
{
	KASSERT(src && src->alloc && src->free && src->alloc_contig && src->free_contig &&
		src->count_free && src->count_total);
	source = src;
}

const struct kframe_source *kframe_source(void)
{
	return source;
}

phys_addr_t kframe_alloc(void)
{
	unsigned long flags = irq_save();
	phys_addr_t pa = source ? source->alloc() : 0;

	irq_restore(flags);
	return pa;
}

void kframe_free(phys_addr_t pa)
{
	if (!source)
		panic("kframe_free: 0x%lx: the kernel has no frame source (lab 02 not set up)", pa);
	unsigned long flags = irq_save();
	source->free(pa);
	irq_restore(flags);
}

phys_addr_t kframe_alloc_contig(size_t n)
{
	unsigned long flags = irq_save();
	phys_addr_t pa = source ? source->alloc_contig(n) : 0;

	irq_restore(flags);
	return pa;
}

void kframe_free_contig(phys_addr_t pa, size_t n)
{
	if (!source)
		panic("kframe_free_contig: 0x%lx: the kernel has no frame source", pa);
	unsigned long flags = irq_save();
	source->free_contig(pa, n);
	irq_restore(flags);
}

uint64_t kframes_free(void)
{
	unsigned long flags = irq_save();
	uint64_t n = source ? source->count_free() : 0;

	irq_restore(flags);
	return n;
}

uint64_t kframes_total(void)
{
	return source ? source->count_total() : 0;
}

int kmap_page(uint64_t va, phys_addr_t pa, uint64_t flags)
{
	if (!paging_ready)
		return VM_ENOTRDY;
	unsigned long irq = irq_save();
	int r = vm_map(&kernel_vm, va, pa, flags & ~PTE_HUGE);

	irq_restore(irq);
	return r;
}

int kunmap_page(uint64_t va)
{
	if (!paging_ready)
		return VM_ENOTRDY;
	unsigned long irq = irq_save();
	int r = vm_unmap(&kernel_vm, va);

	irq_restore(irq);
	return r;
}
