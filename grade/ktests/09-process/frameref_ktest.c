/*
 * Lab 09, step 2: frame reference counts, on frames from kframe_alloc: one owner each, more
 * with take, fewer with drop, and the frame back to the buddy with the last.
 */
#include <string.h>
#include "paging.h"
#include "proc_fixture.h"

/*
 * True, after failing t, if the frame pa (taken from free frames) is back in the buddy after
 * what (a drop from owners to owners - 1); its count is then cleared, so that the test's end
 * does not free it twice.
 */
static bool gave_back_early(struct ktest *t, phys_addr_t pa, uint64_t free, unsigned owners,
			    const char *what)
{
	if (kframes_free() == free - 1)
		return false;
	FAIL(t,
	     "%s of a frame with %u owners gave the frame back to the buddy (%lu frames free, "
	     "%lu expected): one owner is left; release only when the count reaches 0",
	     what, owners, kframes_free(), free - 1);
	uint16_t *c = frame_ref_slot(pa);
	if (c && kframes_free() == free)
		*c = 0;
	return true;
}

/* What kframe_alloc gives has one owner; kframe_free of it frees it. */
KTEST(frameref, a_new_frame_has_one_owner, 2)
{
	if (!counts_require(t))
		return;
	uint64_t free = kframes_free();
	phys_addr_t pa = kframe_alloc();

	ASSERT_NE(t, pa, 0);
	EXPECT_EQ(t, frame_ref_count(pa), 1);
	kframe_free(pa);
	EXPECT_EQ(t, frame_ref_count(pa), 0);
	EXPECT_EQ(t, kframes_free(), free);
}

/* should be: 1 -> take, take -> 3 -> drop -> 2 ... -> drop -> 0, free only then */
KTEST(frameref, take_and_drop_count_owners, 3)
{
	if (!counts_require(t))
		return;
	uint64_t free = kframes_free();
	phys_addr_t pa = kframe_alloc();

	ASSERT_NE(t, pa, 0);
	frame_ref_take(pa);
	frame_ref_take(pa);
	EXPECT_EQ(t, frame_ref_count(pa), 3);
	for (unsigned owners = 3; owners > 1; owners--) {
		frame_ref_drop(pa);
		if (gave_back_early(t, pa, free, owners, "frame_ref_drop"))
			return;
		if (frame_ref_count(pa) != owners - 1)
			FAIL(t,
			     "frame_ref_drop of a frame with %u owners left the count at %u, not %u",
			     owners, frame_ref_count(pa), owners - 1);
	}
	frame_ref_drop(pa);
	EXPECT_EQ(t, frame_ref_count(pa), 0);
	if (kframes_free() != free)
		FAIL(t, "the last drop did not give the frame back (%lu free, %lu before)",
		     kframes_free(), free);
}

/* kframe_free (what lab 08's uspace_unmap and uspace_destroy call) drops one owner. */
KTEST(frameref, kframe_free_of_a_shared_frame_drops_one_owner, 2)
{
	if (!counts_require(t))
		return;
	uint64_t free = kframes_free();
	phys_addr_t pa = kframe_alloc();

	ASSERT_NE(t, pa, 0);
	frame_ref_take(pa);
	kframe_free(pa);
	if (gave_back_early(t, pa, free, 2, "kframe_free"))
		return;
	EXPECT_EQ(t, frame_ref_count(pa), 1);
	kframe_free(pa);
	EXPECT_EQ(t, frame_ref_count(pa), 0);
	EXPECT_EQ(t, kframes_free(), free);
}

/* A frame with count 0 is free, or never counted: taking it panics, as does a drop too many. */
KTEST(frameref, misuse_panics, 2)
{
	if (!counts_require(t))
		return;
	phys_addr_t block = kframe_alloc_contig(1), pa = kframe_alloc();

	ASSERT_NE(t, block, 0);
	ASSERT_NE(t, pa, 0);
	EXPECT_EQ(t, frame_ref_count(block), 0);
	EXPECT_PANIC(t, "frame_ref_take", frame_ref_take(block));
	kframe_free_contig(block, 1);
	kframe_free(pa);
	EXPECT_PANIC(t, "frame_ref_drop", frame_ref_drop(pa));
}

static void take(void *arg)
{
	frame_ref_take(*(phys_addr_t *)arg);
}

/*
 * A count is a uint16_t: at FRAME_REF_MAX owners, one more would wrap it to 0, and the next
 * kframe_alloc could hand out a frame that every one of them still maps. The take that would
 * pass the limit panics instead:
 *
 *   count FRAME_REF_MAX - 1  -> take -> FRAME_REF_MAX  -> take -> panic "frame_ref_take"
 */
KTEST(frameref, a_take_past_the_limit_panics, 1)
{
	struct ktry_result r;

	if (!counts_require(t))
		return;
	phys_addr_t pa = kframe_alloc();
	ASSERT_NE(t, pa, 0);
	uint16_t *c = frame_ref_slot(pa);
	ASSERT_NOT_NULL(t, c);
	*c = FRAME_REF_MAX - 1; /* as if that many spaces shared it */
	int stopped = ktry_call(take, &pa, KTRY_ANY, &r);
	if (stopped)
		FAIL(t,
		     "frame_ref_take of a frame with %u owners (one below FRAME_REF_MAX) stopped: "
		     "%s",
		     FRAME_REF_MAX - 1, r.msg);
	else
		EXPECT_EQ(t, frame_ref_count(pa), FRAME_REF_MAX);
	*c = FRAME_REF_MAX;
	stopped = ktry_call(take, &pa, KTRY_ANY, &r);
	if (!stopped)
		FAIL(t,
		     "frame_ref_take of a frame with FRAME_REF_MAX (%u) owners returned, and the "
		     "count is now %u: panic at FRAME_REF_MAX instead of letting it wrap",
		     FRAME_REF_MAX, frame_ref_count(pa));
	else if (r.kind != KTRY_PANIC || !strstr(r.msg, "frame_ref_take"))
		FAIL(t,
		     "frame_ref_take of a frame with FRAME_REF_MAX owners stopped, but not with a "
		     "panic that names frame_ref_take: %s",
		     r.msg);
	*c = 1;
	kframe_free(pa);
}

/* Many frames, many owners each: every count exact, and every frame back at the end. */
KTEST(frameref, many_frames_many_owners, 2)
{
	enum { FRAMES = 64 };
	static phys_addr_t pa[FRAMES];

	if (!counts_require(t))
		return;
	uint64_t free = kframes_free();

	for (int i = 0; i < FRAMES; i++) {
		pa[i] = kframe_alloc();
		ASSERT_NE(t, pa[i], 0);
		for (int k = 0; k < i % 5; k++)
			frame_ref_take(pa[i]);
	}
	for (int i = 0; i < FRAMES; i++)
		if (frame_ref_count(pa[i]) != (unsigned)(1 + i % 5))
			FAIL(t, "frame %d (0x%lx) has count %u, not %d", i, pa[i],
			     frame_ref_count(pa[i]), 1 + i % 5);
	for (int i = 0; i < FRAMES; i++)
		for (int k = 0; k <= i % 5; k++)
			kframe_free(pa[i]);
	EXPECT_EQ(t, kframes_free(), free);
}
