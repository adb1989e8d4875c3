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

/* The list as text, addresses relative to base: "[+0, +40) -> [+88, +1032)". */
static inline const char *list_describe(const struct list_heap *h, const void *base, char *buf,
					size_t size)
{
	size_t used = 0;
	int n = 0;

	buf[0] = '\0';
	for (const struct list_region *r = h->head; r && used + 1 < size; r = r->next) {
		long off = (long)((uintptr_t)r - (uintptr_t)base);
		if (++n > 8) {
			ksnprintf(buf + used, size - used, " -> ...");
			break;
		}
		int k = ksnprintf(buf + used, size - used, "%s[+%ld, +%ld)", n > 1 ? " -> " : "",
				  off, off + (long)r->size);
		if (k < 0 || (size_t)k >= size - used)
			break; /* cut short */
		used += (size_t)k;
	}
	if (n == 0)
		ksnprintf(buf, size, "(empty)");
	return buf;
}

/* How many free regions are on the list. */
static inline int list_count_regions(const struct list_heap *h)
{
	int n = 0;

	for (const struct list_region *r = h->head; r && n <= LIST_CHECK_MAX_REGIONS; r = r->next)
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
		if (a % LIST_HEAP_GRAIN || r->size % LIST_HEAP_GRAIN || r->size < LIST_HEAP_NODE ||
		    a < h->lo || a > h->hi || r->size > h->hi - a) {
			FAIL(t, "bad free region [%p, +%zu) in a heap [0x%lx, 0x%lx): %s",
			     (void *)r, r->size, h->lo, h->hi,
			     list_describe(h, (void *)h->lo, buf, sizeof(buf)));
			return false;
		}
		if (prev && (uintptr_t)prev + prev->size >= a) {
			FAIL(t,
			     "free regions [%p, +%zu) and [%p, +%zu) are out of order, overlap or "
			     "touch (not merged): %s",
			     (void *)prev, prev->size, (void *)r, r->size,
			     list_describe(h, (void *)h->lo, buf, sizeof(buf)));
			return false;
		}
	}
	return true;
}
