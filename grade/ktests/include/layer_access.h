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

#include "buddy.h"

#define PAGES_KEEP_MAX 8

/* Set by the takeover: the buddy allocator is the kernel's frame source (lab 06 done), with
 * one region per usable memory-map area, pages_buddies[i] with its own tables in the frames
 * pages_tables[i] (physical, reserved for good), for i < pages_nregions. */
extern bool pages_ready;
extern size_t pages_nregions;
extern struct buddy_region pages_buddies[];
extern struct frame_range pages_tables[];

/* With pages.keep=N (at most PAGES_KEEP_MAX) on the command line, the takeover first takes N
 * frames from lab 02's bitmap, as the kernel's page tables were taken, and leaves them
 * allocated, so a scenario can check that such frames go back to the buddy through
 * kframe_free: pages_kept[0 .. pages_nkept). */
extern phys_addr_t pages_kept[];
extern size_t pages_nkept;

static inline bool pages_buddy_ready(void)
{
	return pages_ready;
}

/* How many regions the kernel's buddy has (0 until it is the source). */
static inline size_t pages_region_count(void)
{
	return pages_ready ? pages_nregions : 0;
}

/* Region i < pages_region_count(), in memory-map order. */
static inline struct buddy_region *pages_region(size_t i)
{
	return i < pages_region_count() ? &pages_buddies[i] : NULL;
}

/* The region holding frame pfn, or NULL. */
static inline struct buddy_region *pages_region_of(uint64_t pfn)
{
	return buddy_find_region(pages_buddies, pages_region_count(), pfn);
}

static inline struct frame_range pages_region_table(size_t i)
{
	return pages_tables[i];
}

static inline size_t pages_kept_frames(const phys_addr_t **frames)
{
	*frames = pages_kept;
	return pages_nkept;
}

/* Whole pages for kmalloc, which reaches them through kheap_use_pages: a block of
 * buddy_order_for(pages) at least size bytes (NULL if none), whether p is such a block, its
 * usable size, and giving it back. Misuse panics naming the function. */
void *pages_alloc_bytes(size_t size);
bool pages_owns(const void *p);
size_t pages_alloc_size(const void *p);
void pages_free_bytes(void *p);

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

/* ---- 08-user (kernel/layers/08-user) ------------------------------------------------------ */

/* Why step 1 (segments_init, tss_set_rsp0) or step 2 (syscall_init) of lab 08 did not come up
 * at boot: the note of the step that was skipped; NULL when it did. programs_unavailable()
 * (program.h) says whether programs can run at all. */
const char *segments_unavailable(void);
const char *syscalls_unavailable(void);

/* ---- 09-process (kernel/layers/09-process) --------------------------------------------------- */

/* Tell every process that runs to end (program_kill): a test past its deadline cleans up. */
void procs_kill_all(void);

/* Type text on the console, as the tour does: what a program's read(0, ...) gets next (the
 * input ends after it, unless the tour's keyboard poller runs). tty_discard forgets what was
 * typed and not read yet. */
void tty_type(const char *text);
void tty_discard(void);

/* Why the frame counts are not in the kernel's frame path (lab 09's step 2 not working, or
 * no programs at this boot): the note of the step that was skipped; NULL when they are.
 * processes_unavailable() (process.h) says whether processes can run at all. */
const char *frame_counts_unavailable(void);
