/*
 * The counts of kernel/frameref.h: where they live, and how every frame passes through them.
 *
 * The table. One uint16_t per frame, from frame 0 to the highest usable frame of the memory
 * map, in pages of PAGE_SIZE / 2 = 2048 counts each (8 MiB of RAM per page), found through a
 * directory (a frame or a few of its own): count of pfn = dir[pfn / 2048][pfn % 2048]. The pages are taken at boot for
 * every part of the map that is usable RAM and never given back (64 KiB for 128 MiB, 8 MiB for
 * 16 GiB); parts that are no RAM (the hole below 4 GiB) have no page, and their frames no
 * count.
 *
 * The counted source. Once lab 09's step 2 works (init.c checks it on one frame), the kernel
 * puts a frame source of its own in front of the one it had (the buddy allocator), so that
 * every kframe_* call passes through the counts:
 *
 *   kframe_alloc        a frame from the buddy; its count 0 -> 1 (not 0: handed out twice)
 *   kframe_free         count 0: a frame taken before the counts existed, straight back;
 *                       else frame_ref_drop (lab 09): the buddy gets it at the last owner
 *   kframe_*_contig     blocks are never shared: their counts stay 0, they go straight back
 */
#include <string.h>
#include "frameref.h"
#include "kprintf.h"
#include "local.h"
#include "memmap.h"
#include "panic.h"
#include "paging.h"

#define COUNTS_PER_PAGE (PAGE_SIZE / sizeof(uint16_t))

static uint16_t **dir;	  /* dir[i]: the counts of frames [i * 2048, (i + 1) * 2048) */
static uint64_t dir_len;  /* entries of dir */
static size_t dir_frames; /* the frames dir takes */
static const struct kframe_source *below; /* the source the counted one stands in front of */

uint16_t *frame_ref_slot(phys_addr_t pa)
{
	uint64_t pfn = pa >> PAGE_SHIFT, i = pfn / COUNTS_PER_PAGE;

	return i < dir_len && dir[i] ? &dir[i][pfn % COUNTS_PER_PAGE] : NULL;
}

void frame_ref_release(phys_addr_t pa)
{
	below->free(pa);
}

bool frame_refs_init(void)
{
	uint64_t end = 0;

	below = kframe_source();
	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *m = &boot_memmap.regions[i];

		if (m->type == MEMMAP_USABLE)
			end = MAX(end, (m->base + m->len) >> PAGE_SHIFT);
	}
	dir_len = (end + COUNTS_PER_PAGE - 1) / COUNTS_PER_PAGE;
	dir_frames = align_up(dir_len * sizeof(*dir), PAGE_SIZE) / PAGE_SIZE;
	phys_addr_t at = kframe_alloc_contig(dir_frames); /* not kmalloc: the heap's tests count
							     every block the kernel holds */
	if (!at)
		goto no_memory;
	dir = phys_to_virt(at);
	memset(dir, 0, dir_len * sizeof(*dir));
	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *m = &boot_memmap.regions[i];
		uint64_t first = (m->base >> PAGE_SHIFT) / COUNTS_PER_PAGE;
		uint64_t last = ((m->base + m->len - 1) >> PAGE_SHIFT) / COUNTS_PER_PAGE;

		for (uint64_t d = first; m->type == MEMMAP_USABLE && d <= last; d++) {
			if (dir[d])
				continue;
			phys_addr_t pa = kframe_alloc();
			if (!pa)
				goto no_memory;
			dir[d] = phys_to_virt(pa);
			memset(dir[d], 0, PAGE_SIZE);
		}
	}
	return true;

no_memory:
	kprintf("proc: no memory for the table of frame counts\n");
	for (uint64_t d = 0; dir && d < dir_len; d++)
		if (dir[d])
			kframe_free(virt_to_phys(dir[d]));
	if (dir)
		kframe_free_contig(virt_to_phys(dir), dir_frames);
	dir = NULL;
	dir_len = 0;
	return false;
}

const char *frame_refs_check(phys_addr_t pa)
{
	uint16_t *c = frame_ref_slot(pa);

	if (!c)
		return "the frame has no count";
	*c = 1;
	frame_ref_take(pa);
	if (frame_ref_count(pa) != 2)
		return "frame_ref_take on a frame of count 1 does not make it 2";
	uint64_t free = kframes_free();
	frame_ref_drop(pa);
	if (kframes_free() != free) {
		*c = 0; /* the buddy has it: the caller must not give it back again */
		return "frame_ref_drop on a frame of count 2 gave the frame back: one owner was "
		       "left (release only when the count reaches 0)";
	}
	if (frame_ref_count(pa) != 1)
		return "frame_ref_drop on a frame of count 2 does not make it 1";
	frame_ref_drop(pa); /* the last owner: frame_ref_release gives it back */
	bool freed = kframes_free() == free + 1;
	if (freed && *c != 0) {
		*c = 0; /* the buddy has it: the caller must not give it back again */
		return "the last frame_ref_drop (count 1) gave the frame back but did not take "
		       "the count to 0: take one off, then release (a free frame counts 0)";
	}
	if (!freed && *c == 0) {
		*c = 1; /* the caller gives it back */
		return "the last frame_ref_drop took the count to 0 but did not give the frame "
		       "back (frame_ref_release)";
	}
	if (!freed)
		return "the last frame_ref_drop (count 1) does not give the frame back";
	return NULL;
}

/* ---- the counted source ------------------------------------------------------------------ */

static phys_addr_t counted_alloc(void)
{
	phys_addr_t pa = below->alloc();
	uint16_t *c = pa ? frame_ref_slot(pa) : NULL;

	if (c) {
		if (*c)
			panic("kframe_alloc: the buddy handed out frame 0x%lx, whose count is %u: it "
			      "went back while it still had owners (frame_ref_drop)",
			      pa, *c);
		*c = 1;
	}
	return pa;
}

static void counted_free(phys_addr_t pa)
{
	uint16_t *c = frame_ref_slot(pa);

	if (c && *c)
		frame_ref_drop(pa);
	else
		below->free(pa);
}

/* A block is never shared; its counts stay 0 (a stale one from a misuse is cleared). */
static void clear_counts(phys_addr_t pa, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t *c = frame_ref_slot(pa + i * PAGE_SIZE);

		if (c)
			*c = 0;
	}
}

static phys_addr_t counted_alloc_contig(size_t n)
{
	phys_addr_t pa = below->alloc_contig(n);

	if (pa)
		clear_counts(pa, n);
	return pa;
}

static void counted_free_contig(phys_addr_t pa, size_t n)
{
	clear_counts(pa, n);
	below->free_contig(pa, n);
}

static uint64_t counted_count_free(void)
{
	return below->count_free();
}

static uint64_t counted_count_total(void)
{
	return below->count_total();
}

static struct kframe_source counted;

void frame_refs_install(void)
{
	counted = (struct kframe_source){
		.name = below->name, /* the same frames: only their path is longer */
		.alloc = counted_alloc,
		.free = counted_free,
		.alloc_contig = counted_alloc_contig,
		.free_contig = counted_free_contig,
		.count_free = counted_count_free,
		.count_total = counted_count_total,
	};
	kframe_set_source(&counted);
}
