/*
 * Checks of a list_heap's free list, for the tests of labs 04 and 05 (whose block heap keeps
 * a list_heap as its fallback): the list's shape, and the invariants it must keep after every
 * operation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kprintf.h"
#include "ktest.h"
#include "list_heap.h"

/* More regions than this on a test's list means a loop in the list. */
#define LIST_CHECK_MAX_REGIONS 4096

/*
 * Whether the node at r can be read: at a multiple of the grain, the whole node inside the
 * arena [lo, hi). A broken free or split can leave a next pointer that points anywhere, or a
 * node on top of another; these helpers follow only nodes that pass this test, and say where
 * the list went instead of faulting there.
 */
static inline bool list_node_readable(const struct list_region *r, uintptr_t lo, uintptr_t hi)
{
	uintptr_t a = (uintptr_t)r;

	return a % LIST_HEAP_GRAIN == 0 && a >= lo && a < hi && hi - a >= LIST_HEAP_NODE;
}

/*
 * The list as text, addresses relative to base, the start of the arena of len bytes that the
 * list must stay in: "[+0, +40) -> [+88, +1032)". At most 8 regions, then " -> ...". A node
 * outside the arena is not read: "(the list leaves the arena at 0x...)"; nor one that is not
 * a multiple of the grain: "(a node at +13, not a multiple of 8: the list is corrupt)".
 */
static inline const char *list_describe(const struct list_heap *h, const void *base, size_t len,
					char *buf, size_t size)
{
	uintptr_t lo = (uintptr_t)base, hi = lo + len;
	size_t used = 0;
	int n = 0;

	buf[0] = '\0';
	for (const struct list_region *r = h->head; r && used + 1 < size; r = r->next) {
		const char *arrow = n > 0 ? " -> " : "";
		long off = (long)((uintptr_t)r - lo);
		int k;

		if (++n > 8) {
			ksnprintf(buf + used, size - used, " -> ...");
			break;
		}
		if (!list_node_readable(r, lo, hi)) {
			if ((uintptr_t)r >= lo && (uintptr_t)r < hi)
				ksnprintf(
					buf + used, size - used,
					"%s(a node at +%ld, not a multiple of %d: the list is corrupt)",
					arrow, off, LIST_HEAP_GRAIN);
			else
				ksnprintf(buf + used, size - used,
					  "%s(the list leaves the arena at %p)", arrow, (void *)r);
			break;
		}
		if (r->size > hi - (uintptr_t)r)
			k = ksnprintf(buf + used, size - used,
				      "%s[+%ld, size 0x%zx: past the arena's end)", arrow, off,
				      r->size);
		else
			k = ksnprintf(buf + used, size - used, "%s[+%ld, +%ld)", arrow, off,
				      off + (long)r->size);
		if (k < 0 || (size_t)k >= size - used)
			break; /* cut short */
		used += (size_t)k;
	}
	if (n == 0)
		ksnprintf(buf, size, "(empty)");
	return buf;
}

/* How many free regions are on the list, up to the first node outside the arena [base,
 * base + len) (list_describe says where that is), or up to LIST_CHECK_MAX_REGIONS + 1. */
static inline int list_count_regions(const struct list_heap *h, const void *base, size_t len)
{
	uintptr_t lo = (uintptr_t)base, hi = lo + len;
	int n = 0;

	for (const struct list_region *r = h->head;
	     r && n <= LIST_CHECK_MAX_REGIONS && list_node_readable(r, lo, hi); r = r->next)
		n++;
	return n;
}

/*
 * The invariants of the free list: every region inside [lo, hi), a multiple of the grain,
 * large enough for a node; in increasing address order; and never touching the next one
 * (two free regions that touch should have been merged).
 */
static inline bool list_check_invariants(struct ktest *t, const struct list_heap *h)
{
	const struct list_region *prev = NULL;
	int n = 0;
	char buf[160];

	for (const struct list_region *r = h->head; r; prev = r, r = r->next) {
		uintptr_t a = (uintptr_t)r;
		if (++n > LIST_CHECK_MAX_REGIONS) {
			FAIL(t, "the free list has more than %d regions: a loop?", n - 1);
			return false;
		}
		if (!list_node_readable(r, h->lo, h->hi)) {
			FAIL(t,
			     "free region %d of the list is at %p, outside the heap [0x%lx, 0x%lx) or "
			     "not a multiple of %d: a next pointer, or a node, was written where no "
			     "free region is: %s",
			     n - 1, (void *)r, h->lo, h->hi, LIST_HEAP_GRAIN,
			     list_describe(h, (void *)h->lo, h->hi - h->lo, buf, sizeof(buf)));
			return false;
		}
		if (r->size % LIST_HEAP_GRAIN || r->size < LIST_HEAP_NODE || r->size > h->hi - a) {
			FAIL(t, "bad free region [%p, +%zu) in a heap [0x%lx, 0x%lx): %s",
			     (void *)r, r->size, h->lo, h->hi,
			     list_describe(h, (void *)h->lo, h->hi - h->lo, buf, sizeof(buf)));
			return false;
		}
		if (prev && (uintptr_t)prev + prev->size >= a) {
			FAIL(t,
			     "free regions [%p, +%zu) and [%p, +%zu) are out of order, overlap or "
			     "touch (not merged): %s",
			     (void *)prev, prev->size, (void *)r, r->size,
			     list_describe(h, (void *)h->lo, h->hi - h->lo, buf, sizeof(buf)));
			return false;
		}
	}
	return true;
}
