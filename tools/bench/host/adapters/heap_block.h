/*
 * heapbench adapter: lab 05's fixed-block allocator (kernel/block_heap.h,
 * solutions/05-fixed-block/, over lab 04's linked list). When the lab's interface changes,
 * only these four functions change.
 */
#include "block_heap.h"

#define ADAPTER_ARENA 1
#define ADAPTER_ALIGN 16 /* what malloc guarantees on x86_64, for a fair comparison */

static struct block_heap adapter_heap;

static void adapter_init(void *arena, size_t len)
{
	block_heap_init(&adapter_heap, arena, len, NULL); /* the default prefill and cap */
}

static inline void *adapter_alloc(size_t size)
{
	return block_heap_alloc(&adapter_heap, size, ADAPTER_ALIGN);
}

static inline void adapter_free(void *p, size_t size)
{
	(void)size;
	block_heap_free(&adapter_heap, p);
}

static size_t adapter_footprint(void)
{
	return 0; /* an arena allocator: heapbench measures the span itself */
}
