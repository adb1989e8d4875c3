/*
 * Checks for the tests that go through kmalloc (kernel only: the *_ktest.c files of labs 03,
 * 04 and 05). Leak checks by counting, as xv6's usertests do: take a snapshot before the
 * work, free everything, and compare.
 *
 *     struct kheap_snapshot before;
 *     if (!kheap_require(t, &before))   // kmalloc has a heap; snapshot it
 *             return;
 *     ...
 *     kheap_expect_no_leak(t, &before);
 *
 * The heap never shrinks: a test that made it grow leaves the new pages mapped. So "no leak"
 * means the same live allocations and used bytes as before, and every frame the test took
 * from the kernel is now a page of the heap or a page table that maps one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "heap.h"
#include "ktest.h"
#include "memlayout.h"
#include "paging.h"

#define KHEAP_PT_SPAN (_UL(2) << 20) /* what one page table maps: 2 MiB */
#define KHEAP_PD_SPAN (_UL(1) << 30) /* what one page directory maps: 1 GiB */

struct kheap_snapshot {
	struct heap_stats stats;
	size_t size;	 /* kheap_size() */
	uint64_t frames; /* kframes_free() */
};

static inline void kheap_snapshot(struct kheap_snapshot *s)
{
	kheap_stats(&s->stats);
	s->size = kheap_size();
	s->frames = kframes_free();
}

/*
 * The page tables that map a heap of size bytes from KHEAP_BASE (1 GiB-aligned), as lab 02's
 * vm_map makes them: one page table per 2 MiB, one directory per GiB, one PDPT.
 */
static inline uint64_t kheap_table_frames(size_t size)
{
	if (size == 0)
		return 0;
	return 1 + (size + KHEAP_PD_SPAN - 1) / KHEAP_PD_SPAN +
	       (size + KHEAP_PT_SPAN - 1) / KHEAP_PT_SPAN;
}

/* The frames a heap that grew from `from` to `to` bytes took from the kernel. */
static inline uint64_t kheap_growth_frames(size_t from, size_t to)
{
	return (to - from) / PAGE_SIZE + kheap_table_frames(to) - kheap_table_frames(from);
}

/*
 * True if kmalloc has a heap, with a snapshot of it in *before; otherwise the test fails
 * saying so, and the caller returns.
 */
static inline bool kheap_require(struct ktest *t, struct kheap_snapshot *before)
{
	if (kheap_backend() == KHEAP_NONE) {
		FAIL(t, "kmalloc has no heap: the kernel could bring up no allocator while "
			"booting (see what it skipped)");
		return false;
	}
	kheap_snapshot(before);
	return true;
}

/* Live allocations and used bytes as before; frames gone only into the heap's growth. */
static inline void kheap_expect_no_leak(struct ktest *t, const struct kheap_snapshot *before)
{
	struct kheap_snapshot now;

	kheap_snapshot(&now);
	if (now.stats.live_allocs != before->stats.live_allocs ||
	    now.stats.used_bytes != before->stats.used_bytes)
		FAIL(t,
		     "leak: after the test freed everything, %s shows %zu live allocations and %zu "
		     "bytes used; before the test, %zu and %zu",
		     kheap_backend_name(kheap_backend()), now.stats.live_allocs,
		     now.stats.used_bytes, before->stats.live_allocs, before->stats.used_bytes);
	if (now.size < before->size) {
		FAIL(t, "the heap shrank from %zu to %zu bytes: it must keep its pages",
		     before->size, now.size);
		return;
	}
	uint64_t want = kheap_growth_frames(before->size, now.size);
	if (now.frames > before->frames)
		FAIL(t,
		     "frames: after the test the kernel counts %lu frames more free than before it "
		     "(the heap grew from %zu to %zu KiB, which takes %lu): more came back than was "
		     "taken, or the count of free frames is off",
		     now.frames - before->frames, before->size >> 10, now.size >> 10, want);
	else if (before->frames - now.frames != want)
		FAIL(t,
		     "frames: the test took %lu frames from the kernel; the heap grew from %zu to "
		     "%zu KiB, which takes %lu (its pages and their page tables)",
		     before->frames - now.frames, before->size >> 10, now.size >> 10, want);
}

/* The heap did not grow, and took no frame. */
static inline void kheap_expect_no_growth(struct ktest *t, const struct kheap_snapshot *before,
					  const char *what)
{
	if (kheap_size() != before->size || kframes_free() != before->frames)
		FAIL(t,
		     "%s made the heap grow from %zu to %zu KiB (%ld frames): it should have "
		     "reused the memory it had",
		     what, before->size >> 10, kheap_size() >> 10,
		     (long)(before->frames - kframes_free()));
}

/* True if p is inside the heap's mapped range with n bytes. */
static inline bool kheap_contains(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;

	return a >= KHEAP_BASE && a <= KHEAP_BASE + kheap_size() &&
	       n <= KHEAP_BASE + kheap_size() - a;
}
