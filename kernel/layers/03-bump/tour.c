/*
 * The heap's part of the tour, shown once under the last heap layer of the checkpoint (03, 04
 * or 05): kmalloc, kfree and krealloc at work, and what the heap's statistics say.
 */
#include <string.h>
#include "kheap.h"
#include "kprintf.h"

/* The requests the tour shows: one small, and a string of words. */
#define TOUR_SMALL     24
#define TOUR_ARRAY_LEN 16384 /* ints: 64 KiB, more than the first heap can hold */

static const char *const tour_words[] = {"a",	"heap",	 "hands", "out", "memory",
					 "and", "takes", "it",	  "back"};

/* Where p is in the heap (the tour shows offsets: shorter than addresses). */
static unsigned long heap_offset(const void *p)
{
	return (uintptr_t)p - KHEAP_BASE;
}

static void tour_stats(const char *when)
{
	struct heap_stats s;

	kheap_stats(&s);
	kprintf("  %s: %zu bytes used, %zu free in %zu piece(s), %zu overhead, %zu live; heap %zu "
		"KiB\n",
		when, s.used_bytes, s.free_bytes, s.free_regions, s.overhead_bytes, s.live_allocs,
		kheap_size() >> 10);
}

/* kfree a, then ask for as much again: is a's block reused? */
static void tour_reuse(void *a, void *b)
{
	kfree(a);
	void *again = kmalloc(TOUR_SMALL);

	kprintf("kfree(a), then kmalloc(%d) again: heap+0x%lx, %s\n", TOUR_SMALL,
		heap_offset(again),
		again == a ? "a's block, reused"
			   : "new memory: bump reuses nothing while another block (b) is live");
	kfree(again);
	kfree(b);
}

static void tour_growth(void)
{
	int *array = NULL;
	size_t cap = 0, before = kheap_size();

	for (size_t n = 0; n < TOUR_ARRAY_LEN; n++) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1;
			int *bigger = krealloc(array, cap * sizeof(int));
			if (!bigger) {
				kprintf("  krealloc(%zu ints) failed\n", cap);
				kfree(array);
				return;
			}
			array = bigger;
		}
		array[n] = (int)n;
	}
	kprintf("a growing array of %d ints, krealloc doubling its room whenever it is full: ",
		TOUR_ARRAY_LEN);
	if (kheap_size() != before)
		kprintf("the heap grew from %zu to %zu KiB", before >> 10, kheap_size() >> 10);
	else
		kprintf("the heap stayed at %zu KiB", before >> 10);
	kprintf("; array[%d] = %d\n", TOUR_ARRAY_LEN - 1, array[TOUR_ARRAY_LEN - 1]);
	if ((uintptr_t)array < KHEAP_BASE)
		kprintf("  (its copies of a page or more were whole pages from the buddy, outside the "
			"heap: checkpoint 06 on)\n");
	kfree(array);
}

static void tour_string(void)
{
	char *s = kcalloc(1, 1);
	size_t len = 0;

	for (size_t i = 0; s && i < ARRAY_SIZE(tour_words); i++) {
		size_t add = strlen(tour_words[i]) + (i > 0);
		char *longer = krealloc(s, len + add + 1);
		if (!longer)
			break;
		s = longer;
		ksnprintf(s + len, add + 1, "%s%s", i > 0 ? " " : "", tour_words[i]);
		len += add;
	}
	kprintf("a string built by appending %zu words with krealloc: \"%s\"\n",
		ARRAY_SIZE(tour_words), s ? s : "(kcalloc failed)");
	kfree(s);
}

void heap_tour(void)
{
	if (kheap_backend() == KHEAP_NONE) {
		kprintf("kmalloc has no heap yet (see the notes at boot).\n");
		return;
	}
	kprintf("kmalloc runs on %s, over %zu KiB mapped at 0x%lx (at most %lu MiB)\n",
		kheap_backend_name(kheap_backend()), kheap_size() >> 10, KHEAP_BASE,
		KHEAP_MAX >> 20);
	void *a = kmalloc(TOUR_SMALL), *b = kmalloc(100), *c = kmalloc_aligned(64, PAGE_SIZE);
	kprintf("a = kmalloc(%d) = heap+0x%lx, b = kmalloc(100) = heap+0x%lx, "
		"c = kmalloc_aligned(64, 4096) = heap+0x%lx\n",
		TOUR_SMALL, heap_offset(a), heap_offset(b), heap_offset(c));
	if (kheap_backend() == KHEAP_BLOCK)
		kprintf("  (a and b are blocks of the 32- and 128-byte classes; c comes from the "
			"fallback list heap)\n");
	tour_stats("now");
	kfree(c);
	tour_reuse(a, b);
	tour_growth();
	tour_string();
	tour_stats("all freed");
	kprintf("  (the heap keeps its pages: it never shrinks)\n");
}
