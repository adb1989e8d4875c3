/* The pool behind the lab 06 tests' private regions (see buddy_fixture.h). */
#include <string.h>
#include "buddy_check.h"
#include "buddy_fixture.h"
#include "panic.h"

#define JUNK_TABLE 0xa5 /* USED with order 37: a frame byte no correct region ever holds */
#define JUNK_NODE  0x5a /* pointers 0x5a5a...: not canonical, a fault if followed */

static uint8_t pool_table[TEST_POOL_FRAMES];
static struct buddy_node pool_nodes[TEST_POOL_FRAMES];
static uint64_t pool_used;

void test_pool_reset(struct ktest *t)
{
	(void)t;
	pool_used = 0;
}

static void *test_frame_ptr(void *ctx, uint64_t pfn)
{
	struct test_region *tr = ctx;

	if (pfn < tr->base_pfn || pfn - tr->base_pfn >= tr->nframes)
		panic("test_frame_ptr: the allocator asked for the node of frame %lu, outside its region [%lu, %lu)",
		      pfn, tr->base_pfn, tr->base_pfn + tr->nframes);
	tr->node_lookups++;
	return &tr->nodes[pfn - tr->base_pfn];
}

struct buddy_region *test_region(struct ktest *t, struct test_region *tr, uint64_t base_pfn,
				 uint64_t nframes)
{
	ASSERT_LE(t, nframes, TEST_POOL_FRAMES - pool_used);
	uint8_t *table = &pool_table[pool_used];

	tr->nodes = &pool_nodes[pool_used];
	tr->base_pfn = base_pfn;
	tr->nframes = nframes;
	tr->node_lookups = 0;
	pool_used += nframes;
	memset(table, JUNK_TABLE, nframes);
	memset(tr->nodes, JUNK_NODE, nframes * sizeof(*tr->nodes));
	memset(&tr->r, JUNK_NODE, sizeof(tr->r)); /* every field: counts and list heads too */
	buddy_region_init(&tr->r, base_pfn, nframes, table, test_frame_ptr, tr);
	return &tr->r;
}

struct buddy_region *test_region_free(struct ktest *t, struct test_region *tr, uint64_t base_pfn,
				      uint64_t nframes)
{
	struct buddy_region *r = test_region(t, tr, base_pfn, nframes);

	buddy_add_free_range(r, base_pfn, nframes);
	return r;
}

void test_counts(const struct buddy_region *r, uint64_t counts[BUDDY_ORDERS])
{
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++)
		counts[k] = buddy_free_blocks(r, k);
}

void test_expect_counts(struct ktest *t, const char *file, int line, const struct buddy_region *r,
			const uint64_t expected[BUDDY_ORDERS])
{
	char got[96], want[96];
	size_t used = 0;

	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
		if (buddy_free_blocks(r, k) == expected[k])
			continue;
		for (unsigned j = 0; j <= BUDDY_MAX_ORDER && used < sizeof(want); j++)
			used += (size_t)ksnprintf(want + used, sizeof(want) - used, "%s%lu",
						  j ? " " : "[", expected[j]);
		ktest_fail(t, false, file, line,
			   "free blocks per order 0..%d are [%s], expected %s]: order %u differs",
			   BUDDY_MAX_ORDER, buddy_format_counts(r, got, sizeof(got)), want, k);
		return;
	}
}
