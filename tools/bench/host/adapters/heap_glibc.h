/* heapbench adapter: the C library's malloc (glibc's ptmalloc2 on Debian). */
#include <malloc.h>
#include <stdlib.h>

#define ADAPTER_ARENA 0

static void adapter_init(void *arena, size_t len)
{
	(void)arena;
	(void)len;
}

static inline void *adapter_alloc(size_t size)
{
	return malloc(size);
}

static inline void adapter_free(void *p, size_t size)
{
	(void)size;
	free(p);
}

/*
 * The span of the main arena up to its last block in use (what brk holds, less the free
 * "top" chunk glibc could give back), plus the large blocks glibc mapped on their own.
 */
static size_t adapter_footprint(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.arena - mi.keepcost + mi.hblkhd;
}
