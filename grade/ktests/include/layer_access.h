/*
 * For tests only: what the kernel's layers expose so that a test can look inside them. Kernel
 * code never calls these; the layer that defines each includes this header only so that the
 * compiler checks the definitions against it. A test uses a section only at checkpoints that
 * have its layer (grade/ktests/NN-name/ runs from checkpoint NN on).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "frame.h"
#include "memlayout.h"

/* ---- 06-buddy (kernel/layers/06-buddy) ------------------------------------------------------- */

struct buddy_region; /* buddy.h */

/* True once the buddy allocator is the kernel's frame source (lab 06 done). */
bool pages_buddy_ready(void);

/* How many regions the kernel's buddy has (0 until pages_buddy_ready()). */
size_t pages_region_count(void);

/* Region i < pages_region_count(), in memory-map order. */
struct buddy_region *pages_region(size_t i);

/* The region holding frame pfn, or NULL. */
struct buddy_region *pages_region_of(uint64_t pfn);

/* The physical range of region i's own tables: reserved for good. */
struct frame_range pages_region_table(size_t i);

/* Whole pages for kmalloc, which reaches them through kheap_use_pages: a block of
 * buddy_order_for(pages) at least size bytes (NULL if none), whether p is such a block, its
 * usable size, and giving it back. Misuse panics naming the function. */
void *pages_alloc_bytes(size_t size);
bool pages_owns(const void *p);
size_t pages_alloc_size(const void *p);
void pages_free_bytes(void *p);

/*
 * With pages.keep=N (at most 8) on the command line, the takeover first takes N frames from
 * lab 02's bitmap, as the kernel's page tables were taken, and leaves them allocated, so a
 * scenario can check that such frames go back to the buddy through kframe_free. Sets *frames
 * to them and returns N (0 without pages.keep).
 */
size_t pages_kept_frames(const phys_addr_t **frames);

/* ---- 07-threads (kernel/layers/07-threads) --------------------------------------------------- */

struct thread; /* thread.h */

/* The idle thread (NULL before it first ran). */
struct thread *threads_idle_thread(void);

/* The thread that owns stack slot s, or NULL if the slot is free (or out of range). */
struct thread *kstack_slot_owner(int slot);

/* Why there are no threads, or no timer: the note of the step that was skipped at boot; NULL
 * when they are up. */
const char *threads_unavailable(void);
const char *timer_unavailable(void);
