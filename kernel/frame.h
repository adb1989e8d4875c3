/*
 * The physical frame allocator: which 4 KiB frames of RAM are free, as a bitmap. Lab 02
 * writes it (labs/02-paging/frame.c); the kernel keeps one instance over all of RAM
 * (kernel_frames, kernel/layers/02-paging/paging.h), and tests build private ones over
 * made-up memory maps. Only frame.c reads or writes the bitmap; at checkpoint 06 the buddy
 * allocator takes the free frames over through the calls at the end of this header.
 *
 * The bitmap format:
 *
 *   - one bit per frame; 1 = in use, reserved or not RAM; 0 = free;
 *   - bit i of word w (bit 0 = least significant) stands for frame number
 *     base + 64 * w + i, that is physical address (base + 64 * w + i) * PAGE_SIZE;
 *   - bits past the last frame the allocator covers are 1, so a word with a 0 bit always
 *     holds a free frame.
 *
 * Frame 0 is never free (0 is the failure value of frame_alloc): frame_init keeps it marked
 * even when a memory map calls it usable.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memlayout.h"
#include "memmap.h"

#define FRAME_BITS_PER_WORD 64

/* A range of physical addresses [start, end): any alignment. */
struct frame_range {
	phys_addr_t start, end;
};

struct frame_allocator {
	uint64_t *bitmap; /* the bitmap (format above), owned by the caller of frame_init */
	uint64_t base;	  /* frame number of bit 0 of word 0 */
	uint64_t words;	  /* length of the bitmap in 64-bit words */
	uint64_t total;	  /* whole frames of usable RAM covered, reserved ones included */
	uint64_t nfree;	  /* frames free right now */
	uint64_t hint;	  /* every word below this one is full: where searches start */
	/* What frame_init was given, kept to refuse frees of frames never handed out. */
	const struct memmap *map;
	const struct frame_range *reserved;
	int nreserved;
};

/* The number of bitmap words that cover nframes frames. */
static inline uint64_t frame_bitmap_words(uint64_t nframes)
{
	return (nframes + FRAME_BITS_PER_WORD - 1) / FRAME_BITS_PER_WORD;
}

/*
 * Set fa up over bitmap[0 .. words), which covers frames base .. base + 64 * words - 1.
 * Free are exactly the frames that lie wholly inside a MEMMAP_USABLE region of map and touch
 * none of the reserved ranges (a partial frame at either end of a region or of a reserved
 * range is not free). Frame 0 is never free. Frames of the map outside the bitmap are
 * ignored. map and reserved must stay valid as long as fa is used (frame_free checks them).
 * Runs in time proportional to the number of words plus regions, not frames.
 */
void frame_init(struct frame_allocator *fa, uint64_t *bitmap, uint64_t base, uint64_t words,
		const struct memmap *map, const struct frame_range *reserved, int nreserved);

/*
 * Allocate one frame: the free frame with the lowest address (the kernel relies on that
 * while only the first GiB is mapped). Returns its physical address, or 0 if none is left.
 * The frame's contents are whatever was there.
 */
phys_addr_t frame_alloc(struct frame_allocator *fa);

/*
 * Give back a frame that frame_alloc or frame_alloc_contig handed out. Panics
 * ("frame_free: ...") if pa is not page-aligned, outside the allocator, already free (a
 * double free), or a frame it never hands out (reserved, or not usable RAM).
 */
void frame_free(struct frame_allocator *fa, phys_addr_t pa);

/*
 * Allocate n >= 1 physically contiguous frames: the lowest run of n free frames. Returns the
 * physical address of the first, or 0 if there is no such run (even when n frames are free
 * in total).
 */
phys_addr_t frame_alloc_contig(struct frame_allocator *fa, size_t n);

/* Give back n frames starting at pa; the same checks as frame_free, made before any frees. */
void frame_free_contig(struct frame_allocator *fa, phys_addr_t pa, size_t n);

/* True if frame pfn is not RAM this allocator hands out: frame 0, a reserved range, or not
 * usable RAM. Given in frame.c, for step 4 and for the kernel. */
bool frame_never_handed_out(const struct frame_allocator *fa, uint64_t pfn);

/* True if the frame holding pa is free (false outside the allocator). */
bool frame_is_free(const struct frame_allocator *fa, phys_addr_t pa);

/* Frames free right now. */
static inline uint64_t frame_count_free(const struct frame_allocator *fa)
{
	return fa->nfree;
}

/* Whole frames of usable RAM the allocator covers (free, in use and reserved). */
static inline uint64_t frame_count_total(const struct frame_allocator *fa)
{
	return fa->total;
}

/* ---- for the kernel's buddy allocator (checkpoint 06): given in frame.c, not lab steps ---- */

/*
 * Call fn(start, count, arg) for each maximal run of free frames within frames [first, end),
 * in address order, until fn returns false. Reads a word at a time: whole words that are all
 * free or all in use cost one step. Changes nothing.
 */
void frame_for_each_free_run(const struct frame_allocator *fa, uint64_t first, uint64_t end,
			     bool (*fn)(uint64_t start, uint64_t count, void *arg), void *arg);

/*
 * Take the lowest run of n free frames within frames [first, end): mark them in use and
 * return the first frame's number, or 0 if there is no such run. frame_free_contig gives them
 * back.
 */
uint64_t frame_take_run(struct frame_allocator *fa, uint64_t first, uint64_t end, uint64_t n);

/*
 * Mark every frame in use, for good: the frames that were free now belong to another
 * allocator. Returns how many were free.
 */
uint64_t frame_retire_all(struct frame_allocator *fa);
