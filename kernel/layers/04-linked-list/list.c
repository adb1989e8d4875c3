/*
 * Checkpoint 04 joins the kernel: lab 04's list heap takes over kmalloc from the bump
 * allocator (kheap_offer), so freed memory is reused.
 */
#include "kheap.h"
#include "layer.h"
#include "list_heap.h"

static struct list_heap list_heap;

static void list_layer_init(void *start, size_t len)
{
	list_heap_init(&list_heap, start, len);
}

static void *list_layer_alloc(size_t size, size_t align)
{
	return list_heap_alloc(&list_heap, size, align);
}

static void list_layer_free(void *p)
{
	list_heap_free(&list_heap, p);
}

static void list_layer_stats(struct heap_stats *s)
{
	list_heap_stats(&list_heap, s);
}

static size_t list_layer_alloc_size(const void *p)
{
	return list_heap_alloc_size(&list_heap, p);
}

static void list_layer_grow(void *start, size_t len)
{
	list_heap_add_region(&list_heap, start, len);
}

static const struct kheap_allocator list_backend = {
	.id = KHEAP_LIST,
	.what = "04-linked-list: the list heap",
	.init = list_layer_init,
	.alloc = list_layer_alloc,
	.free = list_layer_free,
	.stats = list_layer_stats,
	.alloc_size = list_layer_alloc_size,
	.grow = list_layer_grow,
};

static void list_layer_offer(void)
{
	kheap_offer(&list_backend);
}

LAYER(4, "04-linked-list", "a heap that reuses memory", list_layer_offer, heap_tour);
