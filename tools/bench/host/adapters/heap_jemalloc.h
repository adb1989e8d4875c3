/*
 * heapbench adapter: jemalloc (Debian's libjemalloc-dev). Linked with -ljemalloc, so malloc
 * and free in this program are jemalloc's; that is why every allocator gets a program of its
 * own.
 */
#include <jemalloc/jemalloc.h>
#include <stdint.h>

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

/* The bytes in jemalloc's active pages (refreshed by bumping its statistics epoch). */
static size_t adapter_footprint(void)
{
	uint64_t epoch = 1;
	size_t active = 0, len = sizeof(active), elen = sizeof(epoch);

	mallctl("epoch", &epoch, &elen, &epoch, elen);
	mallctl("stats.active", &active, &len, NULL, 0);
	return active;
}
