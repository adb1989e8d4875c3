/*
 * heapbench adapter: lab 03's bump allocator (kernel/bump.h, solutions/03-bump/). When the
 * lab's interface changes, only these four functions change.
 */
#include "bump.h"

#define ADAPTER_ARENA 1
#define ADAPTER_ALIGN 16 /* what malloc guarantees on x86_64, for a fair comparison */

static struct bump adapter_heap;

static void adapter_init(void *arena, size_t len)
{
	bump_init(&adapter_heap, arena, len);
}

static inline void *adapter_alloc(size_t size)
{
	return bump_alloc(&adapter_heap, size, ADAPTER_ALIGN);
}

static inline void adapter_free(void *p, size_t size)
{
	(void)size;
	bump_free(&adapter_heap, p);
}

static size_t adapter_footprint(void)
{
	return 0; /* an arena allocator: heapbench measures the span itself */
}
