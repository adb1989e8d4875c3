/*
 * Checkpoint 03 joins the kernel: the kernel heap (kmalloc, heap.c) comes up on lab 03's bump
 * allocator over KHEAP_INITIAL bytes of fresh frames at KHEAP_BASE. Layers 04 and 05 offer
 * better allocators as they come up (kheap.h).
 */
#include "bump.h"
#include "kheap.h"
#include "kprintf.h"
#include "layer.h"
#include "local.h"

static struct bump bump_heap;

static void bump_layer_init(void *start, size_t len)
{
	bump_init(&bump_heap, start, len);
}

static void *bump_layer_alloc(size_t size, size_t align)
{
	return bump_alloc(&bump_heap, size, align);
}

static void bump_layer_free(void *p)
{
	bump_free(&bump_heap, p);
}

static void bump_layer_stats(struct heap_stats *s)
{
	bump_stats(&bump_heap, s);
}

static size_t bump_layer_alloc_size(const void *p)
{
	return bump_alloc_size(&bump_heap, p);
}

static void bump_layer_grow(void *start, size_t len)
{
	(void)start; /* always bump_heap.end: the arena and the heap end together */
	bump_extend(&bump_heap, len);
}

static const struct kheap_allocator bump_backend = {
	.id = KHEAP_BUMP,
	.what = "03-bump: the bump allocator",
	.init = bump_layer_init,
	.alloc = bump_layer_alloc,
	.free = bump_layer_free,
	.stats = bump_layer_stats,
	.alloc_size = bump_layer_alloc_size,
	.grow = bump_layer_grow,
};

static void heap_layer_init(void)
{
	if (kheap_map_arena() && !kheap_offer(&bump_backend))
		kprintf("heap: kmalloc returns NULL until an allocator passes its check\n");
}

LAYER(3, "03-bump", "the first kernel heap", heap_layer_init, heap_tour);
