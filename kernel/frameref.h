/*
 * Frame reference counts (checkpoint 09): how many address spaces (or other owners) hold each
 * frame of RAM, so that a frame shared by a parent and its child after fork goes back to the
 * buddy allocator only when the last of them lets go. Lab 09 writes them
 * (labs/09-process/frameref.c, step 2); the kernel keeps the counts and puts them in the
 * path of every frame (kernel/layers/09-process/frames.c).
 *
 * Where the counts live. One uint16_t per frame of RAM, beside the buddy's frame table: a
 * table indexed by frame number, made at boot for every frame up to the highest usable
 * address (2 bytes per 4 KiB: 64 KiB for 128 MiB of RAM). frame_ref_slot(pa) finds a frame's.
 *
 * What a count means:
 *
 *   0    free, or a frame the kernel took without counting it: before the counts existed
 *        (the boot's page tables), or in a contiguous block (kframe_alloc_contig)
 *   1    one owner: what kframe_alloc hands out
 *   n    n owners: after fork, each page of the parent's is in both spaces (n = 2), and a
 *        third process forked from either makes it 3
 *
 * Every kframe_free goes through the counts: a counted frame is dropped (frame_ref_drop), and
 * only the last drop gives it back; a frame with count 0 goes straight back as before. So lab
 * 08's uspace_unmap and uspace_destroy, which kframe_free every page, need no change: in a
 * space that shares a page, they drop its count and leave the frame to the other owner.
 *
 *     fork:   parent's page at frame F, count 1  ->  both spaces map F, count 2
 *     child writes (copy-on-write fault): child gets a copy G (count 1), F drops to 1
 *     parent exits: F drops to 0: back to the buddy
 */
#pragma once

#include <stdint.h>
#include "memlayout.h"

#define FRAME_REF_MAX UINT16_MAX /* a count that would pass this panics */

/* ---- lab 09, step 2 (labs/09-process/frameref.c) ----------------------------------------- */

/* How many owners the frame at pa has (0 for a frame without a count, see above). */
unsigned frame_ref_count(phys_addr_t pa);

/*
 * One more owner for the frame at pa, which must be counted already (count >= 1). Panics
 * ("frame_ref_take: ...") for a frame with count 0 (free, or never counted: sharing it would
 * let the buddy hand it out while it is still mapped), or one at FRAME_REF_MAX.
 */
void frame_ref_take(phys_addr_t pa);

/*
 * One owner fewer; when none is left, the frame goes back to the buddy allocator
 * (frame_ref_release). Panics ("frame_ref_drop: ...") for a frame with count 0 (a double
 * free). Changes the count with interrupts off, as take does: a count is shared by processes
 * that may be preempted in the middle of a change.
 */
void frame_ref_drop(phys_addr_t pa);

/* ---- given (kernel/layers/09-process/frames.c) -------------------------------------------- */

/* Where the count of the frame at pa lives, or NULL for an address outside RAM. */
uint16_t *frame_ref_slot(phys_addr_t pa);

/* Give the frame at pa back to the buddy allocator, its count already 0 (frame_ref_drop). */
void frame_ref_release(phys_addr_t pa);
