/*
 * Checkpoint 05 joins the kernel: lab 05's block heap (size classes in front of a list heap)
 * takes over kmalloc (kheap_offer); when it runs out of room it first drains its cached blocks
 * back to its list heap before the heap grows. Once it serves kmalloc, kmalloc and kfree call
 * it directly for the common case (heap.h); the table below serves the rest.
 */
#include "block_heap.h"
#include "kheap.h"
#include "layer.h"

struct block_heap kheap_block_heap; /* heap.h: the fast path calls it directly */

static void block_layer_init(void *start, size_t len)
{
	block_heap_init(&kheap_block_heap, start, len, NULL); /* the default prefill and cap */
}

static void *block_layer_alloc(size_t size, size_t align)
{
	return block_heap_alloc(&kheap_block_heap, size, align);
}

static void block_layer_free(void *p)
{
	block_heap_free(&kheap_block_heap, p);
}

static void block_layer_stats(struct heap_stats *s)
{
	block_heap_stats(&kheap_block_heap, s);
}

static size_t block_layer_alloc_size(const void *p)
{
	return block_heap_alloc_size(&kheap_block_heap, p);
}

static void block_layer_grow(void *start, size_t len)
{
	block_heap_add_region(&kheap_block_heap, start, len);
}

static void block_layer_drain(void)
{
	block_heap_drain(&kheap_block_heap);
}

static const struct kheap_allocator block_backend = {
	.id = KHEAP_BLOCK,
	.what = "05-fixed-block: the block heap",
	.init = block_layer_init,
	.alloc = block_layer_alloc,
	.free = block_layer_free,
	.stats = block_layer_stats,
	.alloc_size = block_layer_alloc_size,
	.grow = block_layer_grow,
	.drain = block_layer_drain,
};

static void block_layer_offer(void)
{
	kheap_offer(&block_backend);
}

LAYER(5, "05-fixed-block", "size classes for small objects", block_layer_offer, heap_tour);
