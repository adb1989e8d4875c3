/* heapbench adapter: mimalloc (Debian's libmimalloc-dev), through its own mi_ functions. */
#include <mimalloc.h>
#include <stdbool.h>

#define ADAPTER_ARENA 0

static void adapter_init(void *arena, size_t len)
{
	(void)arena;
	(void)len;
}

static inline void *adapter_alloc(size_t size)
{
	return mi_malloc(size);
}

static inline void adapter_free(void *p, size_t size)
{
	(void)size;
	mi_free(p);
}

static bool adapter_add_area(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
			     size_t block_size, void *arg)
{
	(void)heap;
	(void)block;
	(void)block_size;
	*(size_t *)arg += area->committed;
	return true;
}

/* The committed bytes of the mimalloc pages that hold blocks (mimalloc's own accounting). */
static size_t adapter_footprint(void)
{
	size_t committed = 0;

	mi_heap_visit_blocks(mi_heap_get_default(), false, adapter_add_area, &committed);
	return committed;
}
