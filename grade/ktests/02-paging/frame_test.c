/*
 * Lab 02, steps 1-5: the frame allocator on private instances over made-up memory maps. Only
 * the bitmap is touched, never the frames, so the same tests run in the kernel and on the
 * host (under AddressSanitizer and UBSan).
 */
#include "frame.h"
#include "ktest.h"
#include "memmap.h"

#define KiB 1024ULL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* Bitmap storage for the tests: enough for 5 GiB of frames (20480 words). */
#define TEST_WORDS 20480
static uint64_t bits[TEST_WORDS];
static struct memmap map;

static void map_reset(void)
{
	map.count = 0;
	map.usable_bytes = 0;
}

static void map_add(uint64_t base, uint64_t len, uint32_t type)
{
	map.regions[map.count++] = (struct memmap_region){base, len, type};
	if (type == MEMMAP_USABLE)
		map.usable_bytes += len;
}

/* The zero bits of the bitmap, counted one by one: what nfree must say. */
static uint64_t count_zero_bits(const struct frame_allocator *fa)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < fa->words; w++)
		for (int i = 0; i < 64; i++)
			n += !(fa->bitmap[w] >> i & 1);
	return n;
}

/* True if the frame at pa lies wholly inside a usable region of map. */
static bool in_usable_ram(phys_addr_t pa)
{
	for (int i = 0; i < map.count; i++) {
		const struct memmap_region *r = &map.regions[i];
		if (r->type == MEMMAP_USABLE && r->base <= pa && pa + PAGE_SIZE <= r->base + r->len)
			return true;
	}
	return false;
}

static bool touches(phys_addr_t pa, const struct frame_range *r, int n)
{
	for (int i = 0; i < n; i++)
		if (pa + PAGE_SIZE > r[i].start && pa < r[i].end)
			return true;
	return false;
}

KTEST(frame, init_frees_only_whole_usable_frames, 3)
{
	struct frame_allocator fa;
	static const struct frame_range res[] = {{0x5100, 0x5200}};

	/* The example at the top of frame.c: usable [0x1800, 0x9000), reserved [0x5100, 0x5200).
	 * frame: 0 1 2 3 4 5 6 7 8 9 ...
	 * bit:   1 1 0 0 0 1 0 0 0 1 ...   (1: in use or not RAM) */
	map_reset();
	map_add(0x1800, 0x9000 - 0x1800, MEMMAP_USABLE);
	map_add(0x9000, 0x3000, MEMMAP_RESERVED);
	map_add(0xc000, 0x2000, MEMMAP_ACPI);
	frame_init(&fa, bits, 0, 2, &map, res, 1);

	EXPECT_EQ(t, frame_count_total(&fa), 7u); /* frames 2-8 */
	EXPECT_EQ(t, frame_count_free(&fa), 6u);  /* all but frame 5 */
	EXPECT_EQ(t, bits[0], 0xfffffffffffffe23ULL);
	EXPECT_EQ(t, bits[1], ~0ULL); /* past the last frame: all ones */
	EXPECT_EQ(t, count_zero_bits(&fa), frame_count_free(&fa));
}

KTEST(frame, bitmap_format_is_as_documented, 2)
{
	struct frame_allocator fa;
	const uint64_t base = 1000, words = 8; /* frames 1000 .. 1511 */
	static const struct frame_range res[] = {{1100 * PAGE_SIZE + 1, 1103 * PAGE_SIZE}};

	map_reset();
	map_add(1070 * PAGE_SIZE, 200 * PAGE_SIZE, MEMMAP_USABLE);   /* frames 1070-1269 */
	map_add(1300 * PAGE_SIZE, 100 * PAGE_SIZE, MEMMAP_RESERVED); /* not RAM */
	map_add(1450 * PAGE_SIZE, 400 * PAGE_SIZE, MEMMAP_USABLE);   /* 1450-1849, past the end */
	map_add(10 * PAGE_SIZE, 100 * PAGE_SIZE, MEMMAP_USABLE);     /* before the start */
	frame_init(&fa, bits, base, words, &map, res, 1);

	/* Bit i of word w is frame base + 64 * w + i; 1 unless usable and not reserved. */
	for (uint64_t w = 0; w < words; w++) {
		for (int i = 0; i < 64; i++) {
			uint64_t f = base + 64 * w + i;
			bool free =
				((f >= 1070 && f < 1270) || f >= 1450) && !(f >= 1100 && f < 1103);
			if ((bits[w] >> i & 1) == free) {
				FAIL(t, "frame %lu (word %lu bit %d) should be %s", f, w, i,
				     free ? "free (0)" : "in use (1)");
				return;
			}
		}
	}
	EXPECT_EQ(t, frame_count_total(&fa), 200u + 62u); /* 1450 .. 1511 are inside */
	EXPECT_EQ(t, frame_count_free(&fa), 200u + 62u - 3u);
	EXPECT_TRUE(t, frame_is_free(&fa, 1070 * PAGE_SIZE));
	EXPECT_FALSE(t, frame_is_free(&fa, 1101 * PAGE_SIZE));
	EXPECT_FALSE(t, frame_is_free(&fa, 1600 * PAGE_SIZE)); /* outside the bitmap */
}

KTEST(frame, frame_zero_is_never_free, 1)
{
	struct frame_allocator fa;

	map_reset();
	map_add(0, 16 * PAGE_SIZE, MEMMAP_USABLE);
	frame_init(&fa, bits, 0, 1, &map, NULL, 0);
	EXPECT_EQ(t, frame_count_total(&fa), 16u);
	EXPECT_EQ(t, frame_count_free(&fa), 15u);
	EXPECT_FALSE(t, frame_is_free(&fa, 0));
	EXPECT_EQ(t, frame_alloc(&fa), 0x1000u);
}

KTEST(frame, alloc_takes_the_lowest_free_frame, 2)
{
	struct frame_allocator fa;

	map_reset();
	map_add(0x100000, 200 * PAGE_SIZE, MEMMAP_USABLE);
	frame_init(&fa, bits, 0, frame_bitmap_words(0x100 + 200), &map, NULL, 0);

	phys_addr_t a = frame_alloc(&fa), b = frame_alloc(&fa), c = frame_alloc(&fa);
	EXPECT_EQ(t, a, 0x100000u);
	EXPECT_EQ(t, b, 0x101000u);
	EXPECT_EQ(t, c, 0x102000u);
	frame_free(&fa, b);
	/* should be: a used, b free, c used: b is the lowest free frame again */
	EXPECT_TRUE(t, frame_is_free(&fa, b));
	EXPECT_EQ(t, frame_alloc(&fa), b);
	frame_free(&fa, a);
	frame_free(&fa, b);
	frame_free(&fa, c);
	EXPECT_EQ(t, frame_count_free(&fa), 200u);
	EXPECT_EQ(t, count_zero_bits(&fa), 200u);
}

/* A map with holes and reserved ranges; frames 0x100-0x2ff of base 0x80. */
static const struct frame_range holes_reserved[] = {
	{0x150000, 0x152001}, /* frames 0x150-0x152: the end rounds up */
	{0x1a0fff, 0x1a1001}, /* frames 0x1a0-0x1a1, though only 2 bytes */
	{0x2f0000, 0x400000}, /* runs past the bitmap's end */
	{0x11000, 0x12000},   /* below the bitmap and outside RAM */
};

static void holes_map(struct frame_allocator *fa)
{
	map_reset();
	map_add(0x100000, 0x60000, MEMMAP_USABLE);   /* 0x100-0x15f */
	map_add(0x160000, 0x10000, MEMMAP_RESERVED); /* a hole */
	map_add(0x170800, 0x8f800, MEMMAP_USABLE);   /* 0x171-0x1ff: the first frame is partial */
	map_add(0x200000, 0x100000, MEMMAP_USABLE);  /* 0x200-0x2ff, adjoining the one before */
	frame_init(fa, bits, 0x80, frame_bitmap_words(0x300 - 0x80), &map, holes_reserved,
		   ARRAY_SIZE(holes_reserved));
}

KTEST(frame, holes_and_reserved_ranges_are_counted_right, 2)
{
	struct frame_allocator fa;

	holes_map(&fa);
	/* RAM: 0x60 + 0x8f + 0x100 frames; reserved inside RAM: 3 + 2 + 0x10 (0x2f0-0x2ff). */
	EXPECT_EQ(t, frame_count_total(&fa), 0x60u + 0x8fu + 0x100u);
	EXPECT_EQ(t, frame_count_free(&fa), 0x60u + 0x8fu + 0x100u - 3 - 2 - 0x10);
	EXPECT_EQ(t, count_zero_bits(&fa), frame_count_free(&fa));
	EXPECT_FALSE(t, frame_is_free(&fa, 0x152000));
	EXPECT_TRUE(t, frame_is_free(&fa, 0x153000));
	EXPECT_FALSE(t, frame_is_free(&fa, 0x170000));
	EXPECT_TRUE(t, frame_is_free(&fa, 0x171000));
}

KTEST(frame, no_frame_is_handed_out_twice_or_from_a_reserved_range, 3)
{
	struct frame_allocator fa;
	static uint64_t seen[TEST_WORDS / 64];

	holes_map(&fa);
	memset(seen, 0, sizeof(seen));
	uint64_t start = frame_count_free(&fa), n = 0;
	phys_addr_t first = 0, pa;

	while ((pa = frame_alloc(&fa)) != 0) {
		uint64_t f = pa >> PAGE_SHIFT;
		if (pa & (PAGE_SIZE - 1) || !in_usable_ram(pa) ||
		    touches(pa, holes_reserved, ARRAY_SIZE(holes_reserved)) || f >= 64 * 64 ||
		    (seen[f / 64] >> (f % 64) & 1)) {
			FAIL(t, "allocation %lu returned 0x%lx: %s", n, pa,
			     f < 64 * 64 && (seen[f / 64] >> (f % 64) & 1)
				     ? "handed out twice"
				     : "not a free frame of usable RAM outside the reserved ranges");
			return;
		}
		seen[f / 64] |= 1ULL << (f % 64);
		first = first ? first : pa;
		if (++n > start)
			break;
	}
	EXPECT_EQ(t, n, start);
	EXPECT_EQ(t, frame_count_free(&fa), 0u);
	EXPECT_EQ(t, frame_alloc(&fa), 0u); /* still nothing, and no panic */
	for (uint64_t f = 0; f < 64 * 64; f++)
		if (seen[f / 64] >> (f % 64) & 1)
			frame_free(&fa, f << PAGE_SHIFT);
	EXPECT_EQ(t, frame_count_free(&fa), start);
	EXPECT_EQ(t, frame_alloc(&fa), first);
}

KTEST(frame, exhaustion_returns_zero, 2)
{
	struct frame_allocator fa;

	map_reset();
	map_add(0x10000, 3 * PAGE_SIZE, MEMMAP_USABLE);
	frame_init(&fa, bits, 0, 1, &map, NULL, 0);
	phys_addr_t a = frame_alloc(&fa), b = frame_alloc(&fa), c = frame_alloc(&fa);
	EXPECT_NE(t, a, 0u);
	EXPECT_NE(t, b, 0u);
	EXPECT_NE(t, c, 0u);
	/* should be: all three in use */
	EXPECT_EQ(t, frame_alloc(&fa), 0u);
	EXPECT_EQ(t, frame_alloc_contig(&fa, 1), 0u);
	EXPECT_EQ(t, frame_count_free(&fa), 0u);
	frame_free(&fa, b);
	EXPECT_EQ(t, frame_alloc(&fa), b);
}

KTEST(frame, misuse_panics_and_changes_nothing, 2)
{
	struct frame_allocator fa;

	holes_map(&fa);
	phys_addr_t pa = frame_alloc(&fa);
	uint64_t free = frame_count_free(&fa);

	phys_addr_t used = frame_alloc(&fa);
	frame_free(&fa, pa);
	EXPECT_PANIC(t, "frame_free: double free", frame_free(&fa, pa));
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, 0x100800)); /* not page-aligned */
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, used + 1)); /* one byte off a frame in use */
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, 0x40000));  /* below the bitmap */
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, 0x900000)); /* past it */
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, 0x151000)); /* reserved: never handed out */
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, 0x165000)); /* not RAM */
	EXPECT_EQ(t, frame_count_free(&fa), free);
	EXPECT_EQ(t, count_zero_bits(&fa), free);

	/*
	 * The bitmap's edges, from both sides, with RAM on either side of it: the allocator has
	 * frames 0x80-0x2ff of the RAM 0x40-0x3ff. Its first and last frames come back; the
	 * frames right outside it, 0x7f and 0x300, are RAM it does not manage: refused.
	 */
	map_reset();
	map_add(0x40000, 0x3c0000, MEMMAP_USABLE);
	frame_init(&fa, bits, 0x80, frame_bitmap_words(0x280), &map, NULL, 0);
	ASSERT_EQ(t, frame_count_free(&fa), 0x280u);
	phys_addr_t last = 0;
	for (phys_addr_t p; (p = frame_alloc(&fa));)
		last = p;
	EXPECT_EQ(t, last, 0x2ff000u);
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, 0x7f000));
	EXPECT_PANIC(t, "frame_free", frame_free(&fa, 0x300000));
	EXPECT_EQ(t, frame_count_free(&fa), 0u);
	frame_free(&fa, 0x80000);
	frame_free(&fa, 0x2ff000);
	EXPECT_EQ(t, frame_count_free(&fa), 2u);
	EXPECT_EQ(t, count_zero_bits(&fa), 2u);
}

KTEST(frame, contig_takes_the_lowest_run_long_enough, 3)
{
	struct frame_allocator fa;
	/* Free runs (frame numbers): 0x103-0x105 (3), 0x107-0x10b (5), 0x13c-0x1ff (196,
	 * crossing word boundaries). */
	static const struct frame_range res[] = {
		{0x100000, 0x103000}, {0x106000, 0x107000}, {0x10c000, 0x13c000}};

	map_reset();
	map_add(0x100000, 0x100000, MEMMAP_USABLE);
	frame_init(&fa, bits, 0, frame_bitmap_words(0x200), &map, res, ARRAY_SIZE(res));
	uint64_t start = frame_count_free(&fa);

	EXPECT_EQ(t, start, 3u + 5u + 196u);
	phys_addr_t four = frame_alloc_contig(&fa, 4);
	EXPECT_EQ(t, four, 0x107000u); /* the run of 3 is too short */
	phys_addr_t three = frame_alloc_contig(&fa, 3);
	EXPECT_EQ(t, three, 0x103000u);
	EXPECT_EQ(t, frame_alloc_contig(&fa, 197), 0u); /* 197 free, but not in a row */
	phys_addr_t big = frame_alloc_contig(&fa, 196);
	EXPECT_EQ(t, big, 0x13c000u);
	EXPECT_EQ(t, frame_count_free(&fa), 1u); /* 0x10b */
	EXPECT_EQ(t, frame_alloc(&fa), 0x10b000u);
	EXPECT_EQ(t, frame_count_free(&fa), 0u);
	EXPECT_EQ(t, count_zero_bits(&fa), 0u);

	frame_free_contig(&fa, big, 196);
	frame_free_contig(&fa, three, 3);
	frame_free_contig(&fa, four, 4);
	frame_free(&fa, 0x10b000);
	EXPECT_EQ(t, frame_count_free(&fa), start);
	EXPECT_EQ(t, count_zero_bits(&fa), start);
	/* A run that crosses from one word into the next, starting at frame 0x13c. */
	EXPECT_EQ(t, frame_alloc_contig(&fa, 70), 0x13c000u);

	/* Every free frame in one run: all of them at once, but not one more. */
	map_reset();
	map_add(0x40000, 0x3c0000, MEMMAP_USABLE);
	frame_init(&fa, bits, 0x80, frame_bitmap_words(0x280), &map, NULL, 0);
	EXPECT_EQ(t, frame_alloc_contig(&fa, 0x281), 0u);
	EXPECT_EQ(t, frame_alloc_contig(&fa, 0x280), 0x80000u);
	EXPECT_EQ(t, frame_count_free(&fa), 0u);

	/* A run that ends at the bitmap's last frame, 0x2ff, in a word that is not all free. */
	static const struct frame_range first_of_last_word[] = {{0x2c0000, 0x2c1000}};
	frame_init(&fa, bits, 0x80, frame_bitmap_words(0x280), &map, first_of_last_word, 1);
	EXPECT_EQ(t, frame_alloc_contig(&fa, 0x240), 0x80000u); /* the nine words below */
	phys_addr_t last = frame_alloc_contig(&fa, 63);
	if (last != 0x2c1000)
		FAIL(t,
		     "frames 0x2c1-0x2ff, the last 63 of the bitmap, are free, but "
		     "frame_alloc_contig(63) returned 0x%lx, expected 0x2c1000: does the search "
		     "stop before the last frame?",
		     last);

	/* Frames given back by frame_free_contig are the lowest free ones again. */
	map_reset();
	map_add(0x100000, 200 * PAGE_SIZE, MEMMAP_USABLE);
	frame_init(&fa, bits, 0, frame_bitmap_words(0x100 + 200), &map, NULL, 0);
	for (int i = 0; i < 100; i++)
		frame_alloc(&fa); /* frames 0x100-0x163: the hint moves past word 4 */
	frame_free_contig(&fa, 0x100000, 3);
	phys_addr_t low = frame_alloc(&fa);
	if (low != 0x100000)
		FAIL(t,
		     "after frame_free_contig(0x100000, 3), frame_alloc returned 0x%lx, not the "
		     "lowest free frame 0x100000: frame_free_contig must lower the hint as "
		     "frame_free does",
		     low);
}

KTEST(frame, contig_free_checks_every_frame_first, 1)
{
	struct frame_allocator fa;

	holes_map(&fa);
	phys_addr_t pa = frame_alloc_contig(&fa, 8);
	ASSERT_NE(t, pa, 0u);
	frame_free(&fa, pa + 5 * PAGE_SIZE);
	uint64_t free = frame_count_free(&fa);
	/* should be: frames 0-4 and 6-7 in use, 5 free: freeing all 8 is a double free */
	EXPECT_PANIC(t, "double free", frame_free_contig(&fa, pa, 8));
	EXPECT_EQ(t, frame_count_free(&fa), free); /* none freed */
	EXPECT_FALSE(t, frame_is_free(&fa, pa));
}

KTEST(frame, a_machine_sized_map_counts_right, 2)
{
	struct frame_allocator fa;
	/* QEMU's microvm with 4 GiB: RAM below 640 KiB, from 1 MiB to 3 GiB, and 4-5 GiB. */
	static const struct frame_range res[] = {{0, 1 * MiB}, {1 * MiB, 1 * MiB + 0x1d000}};

	map_reset();
	map_add(0, 0x9fc00, MEMMAP_USABLE);
	map_add(0x9fc00, 0x400, MEMMAP_RESERVED);
	map_add(0xf0000, 0x10000, MEMMAP_RESERVED);
	map_add(1 * MiB, 3 * GiB - 1 * MiB, MEMMAP_USABLE);
	map_add(4 * GiB, 1 * GiB, MEMMAP_USABLE);
	frame_init(&fa, bits, 0, frame_bitmap_words(5 * GiB / PAGE_SIZE), &map, res,
		   ARRAY_SIZE(res));

	uint64_t total = 0x9f + (3 * GiB - 1 * MiB) / PAGE_SIZE + 1 * GiB / PAGE_SIZE;
	EXPECT_EQ(t, frame_count_total(&fa), total);
	EXPECT_EQ(t, frame_count_free(&fa), total - 0x9f - 0x1d);
	EXPECT_EQ(t, count_zero_bits(&fa), frame_count_free(&fa));
	EXPECT_EQ(t, frame_alloc(&fa), 1 * MiB + 0x1d000);
	EXPECT_TRUE(t, frame_is_free(&fa, 5 * GiB - PAGE_SIZE));
	EXPECT_FALSE(t, frame_is_free(&fa, 3 * GiB));
}

/* Randomized: frame_alloc, frame_alloc_contig and frees against a model of every frame. */
KTEST(frame, random_churn_keeps_the_books, 3)
{
	struct frame_allocator fa;
	static uint8_t owner[0x300]; /* per frame: 0 free, else the id of its allocation */
	static phys_addr_t live[64]; /* first frame of each live allocation */
	static size_t live_n[64];    /* its length in frames */
	const int steps = 2000;

	holes_map(&fa);
	memset(owner, 0, sizeof(owner));
	memset(live, 0, sizeof(live));
	uint64_t start = frame_count_free(&fa);

	for (int step = 0; step < steps; step++) {
		int slot = (int)ktest_random_range(t, 0, ARRAY_SIZE(live) - 1);
		if (live[slot]) {
			if (live_n[slot] == 1 && ktest_random(t) & 1)
				frame_free(&fa, live[slot]);
			else
				frame_free_contig(&fa, live[slot], live_n[slot]);
			for (size_t i = 0; i < live_n[slot]; i++)
				owner[(live[slot] >> PAGE_SHIFT) + i] = 0;
			live[slot] = 0;
			continue;
		}
		size_t n = ktest_random(t) % 4 ? 1 : (size_t)ktest_random_range(t, 1, 40);
		phys_addr_t pa = n == 1 && ktest_random(t) & 1 ? frame_alloc(&fa)
							       : frame_alloc_contig(&fa, n);
		if (!pa)
			continue; /* no run that long right now */
		for (size_t i = 0; i < n; i++) {
			uint64_t f = (pa >> PAGE_SHIFT) + i;
			if (f >= ARRAY_SIZE(owner) || owner[f] || !in_usable_ram(f << PAGE_SHIFT) ||
			    touches(f << PAGE_SHIFT, holes_reserved, ARRAY_SIZE(holes_reserved))) {
				FAIL(t,
				     "step %d: allocating %zu frames gave 0x%lx, whose frame 0x%lx is %s (random seed %lu)",
				     step, n, pa, f << PAGE_SHIFT,
				     f < ARRAY_SIZE(owner) && owner[f] ? "already allocated"
								       : "not free RAM",
				     ktest_seed());
				return;
			}
			owner[f] = (uint8_t)(slot + 1);
		}
		live[slot] = pa;
		live_n[slot] = n;
		if (count_zero_bits(&fa) != frame_count_free(&fa)) {
			FAIL(t,
			     "step %d: nfree says %lu but the bitmap has %lu free frames (random seed %lu)",
			     step, frame_count_free(&fa), count_zero_bits(&fa), ktest_seed());
			return;
		}
	}
	for (size_t s = 0; s < ARRAY_SIZE(live); s++)
		if (live[s])
			frame_free_contig(&fa, live[s], live_n[s]);
	EXPECT_EQ(t, frame_count_free(&fa), start);
	EXPECT_EQ(t, count_zero_bits(&fa), start);
}
