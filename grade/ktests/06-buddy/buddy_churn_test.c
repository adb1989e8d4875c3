/*
 * Lab 06: randomized churn on the buddy allocator, against a model the test keeps itself
 * (which frames it holds, which are reserved) and against the allocator's invariants
 * (buddy_check.h). The region, its reserved hole and every operation come from the seed the
 * run prints (# ktest seed: N); `make grade SEED=N` replays a failure.
 */
#include "buddy.h"
#include "buddy_check.h"
#include "buddy_fixture.h"
#include "ktest.h"

KTEST_SUITE(buddy_churn, test_pool_reset, NULL);

#define MAX_HELD       1024
#define CHECK_EVERY    16 /* full invariant check every this many operations */
#define FRAME_FREE     0  /* given to the allocator, not held by the test */
#define FRAME_HELD     1  /* handed out to the test */
#define FRAME_NOT_OURS 2  /* reserved: never given to the allocator */

struct churn {
	struct ktest *t;
	struct buddy_region *r;
	uint64_t base, n, hole, hole_len; /* the region and the reserved frames in it */
	uint8_t model[TEST_POOL_FRAMES];
	struct {
		uint64_t pfn;
		unsigned order;
	} held[MAX_HELD];
	unsigned nheld;
	uint64_t held_frames, usable;
	int op;
};

static struct churn churn; /* one at a time; static: too large for a kernel stack */

/* Report a failure with the context needed to understand it. */
#define CHURN_FAIL(c, fmt, ...)                                                          \
	FAIL((c)->t, "op %d, region [%lu, %lu) with reserved [%lu, %lu): " fmt, (c)->op, \
	     (c)->base, (c)->base + (c)->n, (c)->hole, (c)->hole + (c)->hole_len, __VA_ARGS__)

static void churn_setup(struct churn *c, struct test_region *tr, uint64_t max_frames)
{
	struct ktest *t = c->t;

	/* an odd start below 4 GiB or above it, an odd size, a hole like a kernel image */
	c->base = ktest_random_range(t, 0, 5000) + (ktest_random(t) & 1 ? 0x100000 : 0);
	c->n = ktest_random_range(t, max_frames / 2, max_frames);
	c->hole = c->base + ktest_random_range(t, 0, c->n / 2);
	c->hole_len = ktest_random_range(t, 1, c->n / 8);
	c->r = test_region(t, tr, c->base, c->n);
	buddy_add_free_range(c->r, c->base, c->hole - c->base);
	buddy_add_free_range(c->r, c->hole + c->hole_len, c->base + c->n - c->hole - c->hole_len);
	for (uint64_t i = 0; i < c->n; i++) {
		uint64_t p = c->base + i;
		c->model[i] =
			p >= c->hole && p < c->hole + c->hole_len ? FRAME_NOT_OURS : FRAME_FREE;
	}
	c->usable = c->n - c->hole_len;
	c->nheld = 0;
	c->held_frames = 0;
}

/* Allocate an order-k block and check it against the model; false if the test must stop. */
static bool churn_alloc(struct churn *c, unsigned k)
{
	uint64_t p = buddy_alloc(c->r, k), size = UINT64_C(1) << k;

	if (p == BUDDY_NO_FRAME) {
		/* only right when no free block of order >= k is left */
		for (unsigned j = k; j <= BUDDY_MAX_ORDER; j++)
			if (buddy_free_blocks(c->r, j)) {
				CHURN_FAIL(c,
					   "buddy_alloc(%u) failed with %lu free order-%u blocks",
					   k, buddy_free_blocks(c->r, j), j);
				return false;
			}
		return true;
	}
	if (p % size || p < c->base || p - c->base + size > c->n) {
		CHURN_FAIL(c,
			   "buddy_alloc(%u) returned frame %lu: not aligned to %lu, or not inside",
			   k, p, size);
		return false;
	}
	for (uint64_t q = p; q < p + size; q++) {
		uint8_t m = c->model[q - c->base];
		if (m != FRAME_FREE) {
			CHURN_FAIL(c,
				   "buddy_alloc(%u) returned frames %lu..%lu, but frame %lu is %s",
				   k, p, p + size - 1, q,
				   m == FRAME_HELD ? "already handed out" : "reserved");
			return false;
		}
		c->model[q - c->base] = FRAME_HELD;
	}
	c->held[c->nheld].pfn = p;
	c->held[c->nheld].order = k;
	c->nheld++;
	c->held_frames += size;
	return true;
}

static void churn_free(struct churn *c, unsigned i)
{
	uint64_t p = c->held[i].pfn, size = UINT64_C(1) << c->held[i].order;

	buddy_free(c->r, p, c->held[i].order);
	for (uint64_t q = p; q < p + size; q++)
		c->model[q - c->base] = FRAME_FREE;
	c->held_frames -= size;
	c->held[i] = c->held[--c->nheld];
}

/* The counts and invariants after an operation; false if the test must stop. */
static bool churn_check(struct churn *c, bool full)
{
	char why[BUDDY_CHECK_MSG_MAX];

	if (buddy_free_frames(c->r) != c->usable - c->held_frames) {
		CHURN_FAIL(c, "%lu frames free, but %lu usable - %lu handed out = %lu",
			   buddy_free_frames(c->r), c->usable, c->held_frames,
			   c->usable - c->held_frames);
		return false;
	}
	if (full && !buddy_check(c->r, why, sizeof(why))) {
		CHURN_FAIL(c, "%s", why);
		return false;
	}
	return true;
}

/* ops random operations with orders up to max_order, then free everything. */
static void churn_run(struct churn *c, int ops, unsigned max_order)
{
	uint64_t before[BUDDY_ORDERS];

	test_counts(c->r, before);
	for (c->op = 0; c->op < ops; c->op++) {
		bool alloc = c->nheld == 0 ||
			     (c->nheld < MAX_HELD && ktest_random_range(c->t, 0, 99) < 55);
		if (alloc) {
			/* mostly small blocks, now and then a large one */
			unsigned k = ktest_random_range(c->t, 0, 9) < 7
					     ? (unsigned)ktest_random_range(c->t, 0, 2)
					     : (unsigned)ktest_random_range(c->t, 0, max_order);
			if (!churn_alloc(c, k))
				return;
		} else {
			churn_free(c, (unsigned)ktest_random_range(c->t, 0, c->nheld - 1));
		}
		if (!churn_check(c, c->op % CHECK_EVERY == 0))
			return;
	}
	while (c->nheld)
		churn_free(c, c->nheld - 1);
	if (!churn_check(c, true))
		return;
	/* everything back: the same blocks as right after buddy_add_free_range */
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++)
		if (buddy_free_blocks(c->r, k) != before[k]) {
			char got[96];
			CHURN_FAIL(
				c,
				"after freeing everything the counts are [%s]; order %u had %lu blocks at the start",
				buddy_format_counts(c->r, got, sizeof(got)), k, before[k]);
			return;
		}
}

KTEST(buddy_churn, small_blocks_keep_every_invariant, 3)
{
	struct test_region tr;

	churn.t = t;
	churn_setup(&churn, &tr, 2048);
	churn_run(&churn, 3000, 4);
}

KTEST(buddy_churn, every_order_until_exhaustion, 2)
{
	struct test_region tr;

	churn.t = t;
	churn_setup(&churn, &tr, TEST_POOL_FRAMES);
	churn_run(&churn, 2000, BUDDY_MAX_ORDER);
}
