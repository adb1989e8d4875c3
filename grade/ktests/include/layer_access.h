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
#include "memlayout.h"

/* ---- 06-buddy (kernel/layers/06-buddy) ------------------------------------------------------- */

struct pages_region; /* pages.h */

/* True once the buddy allocator is the kernel's frame source (lab 06 done). */
bool pages_buddy_ready(void);

/* How many regions the kernel's buddy has (0 until pages_buddy_ready()). */
size_t pages_region_count(void);

/* Region i < pages_region_count(), in memory-map order. */
struct pages_region *pages_region(size_t i);

/* The region holding frame pfn, or NULL. */
struct pages_region *pages_region_of(uint64_t pfn);

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

/* ---- 08-user (kernel/layers/08-user) ------------------------------------------------------ */

/* Why step 1 (segments_init, tss_set_rsp0) or step 2 (syscall_init) of lab 08 did not come up
 * at boot: the note of the step that was skipped; NULL when it did. programs_unavailable()
 * (program.h) says whether programs can run at all. */
const char *segments_unavailable(void);
const char *syscalls_unavailable(void);
