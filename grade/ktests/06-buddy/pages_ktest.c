/*
 * Lab 06 in the kernel (kernel/layers/06-buddy): the buddy allocator as the kernel's frame source, over
 * the real memory map, and whole pages for big heap requests. Every test gives back what it
 * took: the suite checks the free counts of every order of every region before and after.
 */
#include "buddy_check.h"
#include "heap.h"
#include "kprintf.h"
#include "ktest.h"
#include "memmap.h"
#include "layer_access.h"
#include "paging.h"

#define LOW_MEMORY_END	  _UL(0x100000)
#define CHURN_OPS	  400
#define CHURN_HELD_MAX	  64
#define CHURN_SMALL_ORDER 2 /* most churn requests are of order 0..2 */
#define PATTERN		  0x5a

/* ---- leak check around every test ---------------------------------------------------------- */

static uint64_t counts_at_start[MEMMAP_MAX][BUDDY_ORDERS];

static void snapshot(uint64_t counts[MEMMAP_MAX][BUDDY_ORDERS])
{
	for (size_t i = 0; i < pages_region_count(); i++)
		for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++)
			counts[i][k] = buddy_free_blocks(pages_region(i), k);
}

/* Record a failure naming the first region and order whose free count is not as in counts. */
static bool expect_counts(struct ktest *t, const char *when,
			  uint64_t counts[MEMMAP_MAX][BUDDY_ORDERS])
{
	char got[BUDDY_CHECK_MSG_MAX];

	for (size_t i = 0; i < pages_region_count(); i++) {
		const struct buddy_region *r = pages_region(i);
		for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++)
			if (buddy_free_blocks(r, k) != counts[i][k]) {
				FAIL(t,
				     "%s, region %zu has %lu free blocks of order %u, not %lu: [%s]",
				     when, i, buddy_free_blocks(r, k), k, counts[i][k],
				     buddy_format_counts(r, got, sizeof(got)));
				return false;
			}
	}
	return true;
}

static void leak_check_start(struct ktest *t)
{
	(void)t;
	snapshot(counts_at_start);
}

static void leak_check_end(struct ktest *t)
{
	expect_counts(t, "after the test (a leak, or blocks left split)", counts_at_start);
}

KTEST_SUITE(kbuddy, leak_check_start, leak_check_end);

static bool need_buddy(struct ktest *t)
{
	if (!pages_buddy_ready())
		FAIL(t,
		     "the kernel's frames do not come from the buddy allocator: buddy_layer_init did "
		     "not switch to it (see the notes at boot)");
	return pages_buddy_ready();
}

/* ---- the switch ---------------------------------------------------------------------------- */

/* frame_for_each_free_run's callback: a run still free in lab 02's bitmap after the takeover. */
static bool report_left_behind(uint64_t start, uint64_t count, void *arg)
{
	FAIL((struct ktest *)arg,
	     "frames 0x%lx-0x%lx are still free in lab 02's bitmap after the takeover: left behind",
	     start, start + count - 1);
	return false;
}

KTEST(kbuddy, is_the_kernel_frame_source, 2)
{
	uint64_t total = 0, free = 0;

	if (!need_buddy(t))
		return;
	for (size_t i = 0; i < pages_region_count(); i++) {
		total += pages_region(i)->nframes;
		free += buddy_free_frames(pages_region(i));
	}
	EXPECT_EQ(t, kframes_total(), total);
	EXPECT_EQ(t, kframes_free(), free);

	/* lab 02's bitmap gave everything away: it can never hand a frame out again */
	EXPECT_EQ(t, frame_count_free(&kernel_frames), 0u);
	frame_for_each_free_run(&kernel_frames, 0, UINT64_MAX, report_left_behind, t);

	/* should be: a frame from kframe_alloc is an allocated order-0 block of its region */
	phys_addr_t pa = kframe_alloc();
	ASSERT_NE(t, pa, 0u);
	struct buddy_region *r = pages_region_of(pa >> PAGE_SHIFT);
	ASSERT_NOT_NULL(t, r);
	EXPECT_EQ(t, buddy_block_order(r, pa >> PAGE_SHIFT), 0);
	EXPECT_EQ(t, kframes_free(), free - 1);
	kframe_free(pa);
	EXPECT_EQ(t, kframes_free(), free);
}

KTEST(kbuddy, regions_match_the_memory_map, 2)
{
	size_t n = 0;

	if (!need_buddy(t))
		return;
	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *m = &boot_memmap.regions[i];
		uint64_t first = align_up(m->base, PAGE_SIZE) >> PAGE_SHIFT;
		uint64_t end = (m->base + m->len) >> PAGE_SHIFT;

		if (m->type != MEMMAP_USABLE || end <= first)
			continue;
		if (n >= pages_region_count()) {
			FAIL(t, "usable area 0x%lx-0x%lx has no buddy region", m->base,
			     m->base + m->len - 1);
			return;
		}
		const struct buddy_region *r = pages_region(n++);
		if (r->base_pfn != first || r->nframes != end - first)
			FAIL(t,
			     "usable area 0x%lx-0x%lx is frames %lu..%lu, but its region is frames "
			     "%lu..%lu",
			     m->base, m->base + m->len - 1, first, end - 1, r->base_pfn,
			     r->base_pfn + r->nframes - 1);
	}
	EXPECT_EQ(t, pages_region_count(), n);
}

/* True if frame pfn is reserved in the buddy: not in any block, free or allocated. */
static bool reserved_in_buddy(uint64_t pfn)
{
	struct buddy_region *r = pages_region_of(pfn);

	return !r || buddy_frame(r, pfn) == BUDDY_RESERVED;
}

static void expect_reserved(struct ktest *t, phys_addr_t start, phys_addr_t end, const char *what)
{
	for (uint64_t pfn = start >> PAGE_SHIFT; pfn < align_up(end, PAGE_SIZE) >> PAGE_SHIFT;
	     pfn++)
		if (!reserved_in_buddy(pfn)) {
			FAIL(t,
			     "frame 0x%lx, in %s, is in a block of the buddy allocator (frame byte "
			     "0x%02x): it must stay reserved",
			     pfn << PAGE_SHIFT, what, buddy_frame(pages_region_of(pfn), pfn));
			return;
		}
}

KTEST(kbuddy, what_the_kernel_holds_stays_reserved, 2)
{
	if (!need_buddy(t))
		return;
	expect_reserved(t, 0, LOW_MEMORY_END, "the low 1 MiB");
	expect_reserved(t, (uint64_t)__image_phys_start, (uint64_t)__image_phys_end,
			"the kernel image");
	for (int i = 0; i < kernel_frames.nreserved; i++)
		expect_reserved(t, kernel_frames.reserved[i].start, kernel_frames.reserved[i].end,
				"a range lab 02 reserved");
	for (size_t i = 0; i < pages_region_count(); i++) {
		struct frame_range table = pages_region_table(i);
		expect_reserved(t, table.start, table.end, "a buddy frame table");
	}
	/* taken from the bitmap before the switch, and still in use */
	expect_reserved(t, kernel_vm.pml4, kernel_vm.pml4 + PAGE_SIZE,
			"the kernel's top-level page table");
}

KTEST(kbuddy, invariants_hold_on_every_region, 2)
{
	if (!need_buddy(t))
		return;
	for (size_t i = 0; i < pages_region_count(); i++)
		ASSERT_BUDDY_OK(t, pages_region(i));
}

/* ---- frames -------------------------------------------------------------------------------- */

KTEST(kbuddy, each_order_is_aligned_and_comes_back, 2)
{
	uint64_t before[MEMMAP_MAX][BUDDY_ORDERS];

	if (!need_buddy(t))
		return;
	snapshot(before);
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
		uint64_t n = UINT64_C(1) << k, free = kframes_free();
		phys_addr_t pa = kframe_alloc_contig(n);

		ASSERT_NE(t, pa, 0u);
		if ((pa >> PAGE_SHIFT) % n)
			FAIL(t, "kframe_alloc_contig(%lu) = 0x%lx: not aligned to %lu frames", n,
			     pa, n);
		EXPECT_EQ(t, kframes_free(), free - n);
		/* the block is RAM the kernel can write: its first and last bytes */
		*(volatile uint8_t *)phys_to_virt(pa) = PATTERN;
		*(volatile uint8_t *)phys_to_virt(pa + n * PAGE_SIZE - 1) = PATTERN;
		kframe_free_contig(pa, n);
		if (!expect_counts(t, "after a block of each order was taken and given back",
				   before))
			return;
	}
	/* should be: 3 frames take an order-2 block of 4; more than 4 MiB cannot be had */
	uint64_t free = kframes_free();
	phys_addr_t pa = kframe_alloc_contig(3);
	ASSERT_NE(t, pa, 0u);
	EXPECT_EQ(t, kframes_free(), free - 4);
	kframe_free_contig(pa, 3);
	EXPECT_EQ(t, kframe_alloc_contig((UINT64_C(1) << BUDDY_MAX_ORDER) + 1), 0u);
}

/* Random blocks taken from and given back to the kernel's source, checked all along. */
KTEST(kbuddy, random_churn_keeps_the_invariants, 2)
{
	static struct {
		phys_addr_t pa;
		size_t n;
	} held[CHURN_HELD_MAX];
	size_t nheld = 0;
	uint64_t free = kframes_free(), taken = 0;

	if (!need_buddy(t))
		return;
	for (int op = 0; op < CHURN_OPS; op++) {
		if (nheld < CHURN_HELD_MAX && (nheld == 0 || ktest_random_range(t, 0, 1))) {
			unsigned k = ktest_random_range(t, 0, 3)
					     ? (unsigned)ktest_random_range(t, 0, CHURN_SMALL_ORDER)
					     : (unsigned)ktest_random_range(t, 0, BUDDY_MAX_ORDER);
			size_t n = (size_t)ktest_random_range(t, (UINT64_C(1) << k) / 2 + 1,
							      UINT64_C(1) << k);
			phys_addr_t pa = kframe_alloc_contig(n);
			if (!pa) {
				FAIL(t,
				     "op %d: kframe_alloc_contig(%zu) failed with %lu frames free",
				     op, n, kframes_free());
				break;
			}
			held[nheld].pa = pa;
			held[nheld++].n = n;
			taken += UINT64_C(1) << buddy_order_for(n);
		} else {
			size_t i = (size_t)ktest_random_range(t, 0, nheld - 1);
			kframe_free_contig(held[i].pa, held[i].n);
			taken -= UINT64_C(1) << buddy_order_for(held[i].n);
			held[i] = held[--nheld];
		}
		if (kframes_free() != free - taken) {
			FAIL(t, "op %d: %lu frames free, expected %lu (random seed above)", op,
			     kframes_free(), free - taken);
			break;
		}
	}
	for (size_t i = 0; i < pages_region_count(); i++)
		EXPECT_BUDDY_OK(t, pages_region(i));
	while (nheld) {
		nheld--;
		kframe_free_contig(held[nheld].pa, held[nheld].n);
	}
}

KTEST(kbuddy, frame_misuse_panics, 2)
{
	if (!need_buddy(t))
		return;
	phys_addr_t pa = kframe_alloc(), image = (uint64_t)__image_phys_start;
	const struct buddy_region *r = pages_region(pages_region_count() - 1);
	phys_addr_t past_ram = (r->base_pfn + r->nframes) << PAGE_SHIFT;

	ASSERT_NE(t, pa, 0u);
	kframe_free(pa);
	EXPECT_PANIC(t, "double free", kframe_free(pa));
	EXPECT_PANIC(t, "kframe_free: ", kframe_free(image));
	EXPECT_PANIC(t, "frame table",
		     kframe_free(pages_region_table(pages_region_count() - 1).start));
	EXPECT_PANIC(t, "not page-aligned", kframe_free(pa + 1));
	EXPECT_PANIC(t, "not a frame of RAM", kframe_free(past_ram));

	/* n frames that are not what kframe_alloc_contig(n) gave: checked before any is freed */
	uint64_t free = kframes_free();
	ASSERT_NE(t, pa = kframe_alloc_contig(8), 0u);
	EXPECT_PANIC(t, "kframe_free_contig: ", kframe_free_contig(pa, 2));
	EXPECT_EQ(t, kframes_free(), free - 8);
	kframe_free_contig(pa, 8);

	void *p = pages_alloc_bytes(PAGE_SIZE);
	ASSERT_NOT_NULL(t, p);
	EXPECT_PANIC(t, "pages_alloc_bytes", kframe_free(virt_to_phys(p)));
	pages_free_bytes(p);
}

/* ---- whole pages for the heap --------------------------------------------------------------- */

/* Check one block from pages_alloc_bytes(size), fill it, and give it back. */
static void check_pages(struct ktest *t, size_t size)
{
	uint64_t free = kframes_free();
	unsigned order = buddy_order_for((size + PAGE_SIZE - 1) / PAGE_SIZE);
	uint8_t *p = pages_alloc_bytes(size);

	if (!p) {
		FAIL(t, "pages_alloc_bytes(%zu) returned NULL with %lu frames free", size, free);
		return;
	}
	EXPECT_EQ(t, (uint64_t)p % PAGE_SIZE, 0u);
	EXPECT_TRUE(t, pages_owns(p));
	EXPECT_EQ(t, pages_alloc_size(p), PAGE_SIZE << order);
	EXPECT_EQ(t, kframes_free(), free - (UINT64_C(1) << order));
	memset(p, PATTERN, pages_alloc_size(p));
	EXPECT_FALSE(t, pages_owns(p + PAGE_SIZE));
	pages_free_bytes(p);
	EXPECT_FALSE(t, pages_owns(p));
	EXPECT_EQ(t, kframes_free(), free);
}

KTEST(kbuddy, pages_for_heap_requests_come_back, 3)
{
	static const size_t sizes[] = {
		1, PAGE_SIZE, PAGE_SIZE + 1, 5 * PAGE_SIZE, 64 << 10, PAGE_SIZE << BUDDY_MAX_ORDER};

	if (!need_buddy(t))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		check_pages(t, sizes[i]);
	EXPECT_NULL(t, pages_alloc_bytes(0));
	EXPECT_NULL(t, pages_alloc_bytes((PAGE_SIZE << BUDDY_MAX_ORDER) + 1));
	EXPECT_NULL(t, pages_alloc_bytes(SIZE_MAX));
	EXPECT_FALSE(t, pages_owns(NULL));
	pages_free_bytes(NULL);
}

KTEST(kbuddy, kmalloc_of_several_pages_takes_whole_pages, 2)
{
	if (!need_buddy(t))
		return;
	uint64_t free = kframes_free();
	uint8_t *p = kmalloc(3 * PAGE_SIZE);

	ASSERT_NOT_NULL(t, p);
	/* should be: an order-2 block (4 pages) from the direct map */
	EXPECT_TRUE(t, pages_owns(p));
	EXPECT_EQ(t, kframes_free(), free - 4);
	for (size_t i = 0; i < 3 * PAGE_SIZE; i++)
		p[i] = (uint8_t)i;
	uint8_t *q = krealloc(p, 6 * PAGE_SIZE);
	ASSERT_NOT_NULL(t, q);
	EXPECT_TRUE(t, pages_owns(q));
	for (size_t i = 0; i < 3 * PAGE_SIZE; i++)
		if (q[i] != (uint8_t)i) {
			FAIL(t, "krealloc lost byte %zu: 0x%02x, not 0x%02x", i, q[i], (uint8_t)i);
			break;
		}
	kfree(q);
	EXPECT_EQ(t, kframes_free(), free);
}

KTEST(kbuddy, page_misuse_panics, 2)
{
	if (!need_buddy(t))
		return;
	uint8_t *p = pages_alloc_bytes(4 * PAGE_SIZE);
	phys_addr_t frame = kframe_alloc();
	static uint64_t in_the_image[PAGE_SIZE / sizeof(uint64_t)] __aligned(PAGE_SIZE);

	ASSERT_NOT_NULL(t, p);
	ASSERT_NE(t, frame, 0u);
	EXPECT_PANIC(t, "not its start", pages_free_bytes(p + PAGE_SIZE));
	EXPECT_PANIC(t, "not page-aligned", pages_free_bytes(p + 8));
	EXPECT_PANIC(t, "kframe_alloc", pages_free_bytes(phys_to_virt(frame)));
	EXPECT_PANIC(t, "not an address in the direct map", pages_free_bytes(in_the_image));
	EXPECT_PANIC(t, "not an address in the direct map", pages_free_bytes((void *)KHEAP_BASE));
	EXPECT_PANIC(t, "pages_alloc_size: ", pages_alloc_size(phys_to_virt(frame)));
	pages_free_bytes(p);
	EXPECT_PANIC(t, "double free", pages_free_bytes(p));
	kframe_free(frame);
}
