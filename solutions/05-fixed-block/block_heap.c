/*
 * The fixed-block allocator: size classes in front of the linked-list allocator (see
 * kernel/block_heap.h).
 *
 * Theory of operation. Most kernel allocations are small and come in a few sizes, so keep,
 * for each power of two from 8 to 2048, a list of free blocks of exactly that size. A request
 * is rounded up to its class (the smallest power of two that is at least its size and its
 * alignment); allocating pops the first block of the class's list and freeing pushes it back,
 * both O(1), with the list's links stored in the free blocks themselves. Blocks come from the
 * fallback list_heap, one block per fallback allocation, aligned to their own size: a class's
 * list grows only when a block of it is freed. Requests larger than 2048 bytes (or aligned to
 * more) go to the fallback directly. Two settings shape the lists: at init each list gets
 * `prefill` blocks, so the first allocations do not pay for a fallback walk; and a list keeps
 * at most `cap` blocks, the rest going back to the fallback, where they can merge and serve
 * other sizes again.
 *
 * Free gets only the pointer. The fallback's header of the block says its size: a power of
 * two up to 2048 is a class block of that class; anything larger is a big allocation.
 *
 * Worked example, default settings except prefill = 1:
 *
 *   init              each class's list gets one block: 8, 16, ..., 2048 bytes
 *   alloc(24, 8)      max(24, 8) = 24 -> class 2 (32 bytes): pop its block A; list now empty
 *   alloc(20, 8)      class 2 again, list empty: the fallback gives a new 32-byte block B,
 *                     at a multiple of 32
 *   alloc(10, 64)     max(10, 64) = 64 -> class 3 (64 bytes): the block's alignment, 64,
 *                     is its size
 *   alloc(3000, 8)    more than 2048: the fallback allocates 3000 bytes directly
 *   free(A)           the fallback's header says 32: class 2; push A. list: A
 *   free(B)           push B. list: B -> A (the last freed is the first reused)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "block_heap.h"
#include "compiler.h"
#include "list_heap.h"
#include "panic.h"
/// STARTER: #include "todo.h"

static const struct block_heap_config block_heap_defaults = {
	.prefill = BLOCK_HEAP_DEFAULT_PREFILL,
	.cap = BLOCK_HEAP_DEFAULT_CAP,
};

/* Step 1: the smallest class that holds max(size, align), or -1. */
int block_heap_class(size_t size, size_t align)
{
	/// SOLUTION BEGIN
	size_t need = MAX(MAX(size, align), BLOCK_HEAP_MIN_CLASS);

	if (need > BLOCK_HEAP_MAX_CLASS)
		return -1;
	/* Class c holds 8 << c bytes: the class of the smallest power of two >= need. A loop
	 * up the classes gives the same answer, one class per step; this takes none. */
	return (int)(log2_ceil(need) - log2_ceil(BLOCK_HEAP_MIN_CLASS));
	/// SOLUTION END
	/// STARTER: TODO("step 1: return the smallest c with block_heap_class_size(c) >= max(size, align), or -1 above BLOCK_HEAP_MAX_CLASS");
}

/* Step 2: pop a block of class c, or get a new one from the fallback. */
void *block_heap_class_alloc(struct block_heap *h, int c)
{
	/// SOLUTION BEGIN
	struct block_class *k = &h->classes[c];
	struct block_free *b = k->head;

	if (b) {
		k->head = b->next;
		k->count--;
		return b;
	}
	return list_heap_alloc(&h->fallback, block_heap_class_size(c), block_heap_class_size(c));
	/// SOLUTION END
	/// STARTER: TODO("step 2: pop the head of class c's list (count one less), or if it is empty allocate a block of the class size, aligned to it, from h->fallback");
}

/* Step 3: push block p of class c, or give it back to the fallback at the cap. */
void block_heap_class_free(struct block_heap *h, int c, void *p)
{
	/// SOLUTION BEGIN
	struct block_class *k = &h->classes[c];
	struct block_free *b = p;

	if (k->count >= h->config.cap) {
		list_heap_free(&h->fallback, p);
		return;
	}
	b->next = k->head;
	k->head = b;
	k->count++;
	/// SOLUTION END
	/// STARTER: TODO("step 3: if class c's list holds config.cap blocks, list_heap_free p to the fallback; else push p on the list (count one more)");
}

/* Step 4: config.prefill blocks on every list. */
void block_heap_prefill(struct block_heap *h)
{
	/// SOLUTION BEGIN
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		struct block_class *k = &h->classes[c];
		size_t size = block_heap_class_size(c);

		while (k->count < h->config.prefill) {
			void *b = list_heap_alloc(&h->fallback, size, size);
			if (!b)
				return; /* the arena is full: stop filling */
			/* Pushed, not given back: prefill <= cap. */
			block_heap_class_free(h, c, b);
		}
	}
	/// SOLUTION END
	/// STARTER: TODO("step 4: for every class, push blocks of the class size (aligned to it) from the fallback until the list holds config.prefill; stop if the fallback returns NULL");
}

void block_heap_init(struct block_heap *h, void *start, size_t len,
		     const struct block_heap_config *config)
{
	h->config = config ? *config : block_heap_defaults;
	if (h->config.prefill > h->config.cap)
		panic("block_heap_init: prefill %u is more than the cap %u", h->config.prefill,
		      h->config.cap);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		h->classes[c] = (struct block_class){NULL, 0};
	h->used_bytes = h->live_allocs = 0;
	list_heap_init(&h->fallback, start, len);
	if (h->config.prefill)
		block_heap_prefill(h);
}

void block_heap_add_region(struct block_heap *h, void *start, size_t len)
{
	list_heap_add_region(&h->fallback, start, len);
}

void *block_heap_alloc(struct block_heap *h, size_t size, size_t align)
{
	if (!heap_align_valid(align))
		panic("block_heap_alloc: bad alignment %zu (a power of two from 1 to %lu)", align,
		      HEAP_MAX_ALIGN);
	if (size == 0)
		return NULL;

	int c = block_heap_class(size, align);
	size_t n = c >= 0 ? block_heap_class_size(c) : MAX(size, align);
	void *p = c >= 0 ? block_heap_class_alloc(h, c) : list_heap_alloc(&h->fallback, n, align);

	if (p) {
		h->used_bytes += n;
		h->live_allocs++;
	}
	return p;
}

/* The class of a fallback allocation of n bytes, if n is a class size; else -1. */
static int class_of_block(size_t n)
{
	int c = block_heap_class(n, 1);

	return c >= 0 && block_heap_class_size(c) == n ? c : -1;
}

static bool on_class_list(const struct block_heap *h, int c, const void *p)
{
	for (const struct block_free *b = h->classes[c].head; b; b = b->next)
		if (b == p)
			return true;
	return false;
}

void block_heap_free(struct block_heap *h, void *p)
{
	if (!p)
		return;
	size_t n = list_heap_alloc_size(&h->fallback, p);
	if (n == 0)
		panic("block_heap_free: %p is not allocated (freed already, or never returned by "
		      "block_heap_alloc)",
		      p);

	int c = class_of_block(n);
	if (n <= BLOCK_HEAP_MAX_CLASS && c < 0)
		panic("block_heap_free: %p was never returned by block_heap_alloc (%zu bytes is "
		      "not a class size)",
		      p, n);
	if (HEAP_DEBUG && c >= 0 && on_class_list(h, c, p))
		panic("block_heap_free: double free of %p", p);

	h->used_bytes -= n;
	h->live_allocs--;
	if (c < 0) {
		list_heap_free(&h->fallback, p);
		return;
	}
	if (HEAP_DEBUG)
		memset(p, HEAP_POISON_BYTE, n);
	block_heap_class_free(h, c, p);
}

void block_heap_stats(const struct block_heap *h, struct heap_stats *s)
{
	struct heap_stats fb;
	size_t cached = 0, blocks = 0;

	list_heap_stats(&h->fallback, &fb);
	s->largest_free = fb.largest_free;
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		size_t size = block_heap_class_size(c);

		cached += h->classes[c].count * size;
		blocks += h->classes[c].count;
		if (h->classes[c].count && size > s->largest_free)
			s->largest_free = size;
	}
	s->total_bytes = fb.total_bytes;
	s->used_bytes = h->used_bytes;
	s->free_bytes = fb.free_bytes + cached;
	s->overhead_bytes = fb.total_bytes - h->used_bytes - s->free_bytes;
	s->free_regions = fb.free_regions + blocks;
	s->live_allocs = h->live_allocs;
}

size_t block_heap_alloc_size(const struct block_heap *h, const void *p)
{
	return list_heap_alloc_size(&h->fallback, p);
}

void block_heap_drain(struct block_heap *h)
{
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		struct block_class *k = &h->classes[c];

		while (k->head) {
			struct block_free *b = k->head;
			k->head = b->next;
			list_heap_free(&h->fallback, b);
		}
		k->count = 0;
	}
}
