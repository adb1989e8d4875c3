/*
 * Checkpoint 06 joins the kernel (kernel/pages.h): lab 06's buddy allocator takes over every
 * free frame from lab 02's bitmap and becomes the kernel's frame source; heap requests of a
 * page or more get whole blocks from it; the tour shows each region's free blocks per order.
 *
 * The takeover, worked through on a 128 MiB machine. Usable RAM is two areas, frames 0-0x9e
 * and 0x100-0x7fff: two regions. Lab 02's bitmap (one bit per frame, 1 = in use: kernel/
 * frame.h) has handed out frames 0x1c1-0x1c6 for the kernel's page tables, after the kernel
 * image (0x100-0x1bf) and the bitmap itself (0x1c0). Its words read
 *
 *   words 0-3   frames 0-0xff         all ones: the low 1 MiB    skipped whole
 *   words 4-6   frames 0x100-0x1bf    all ones: the kernel image skipped whole
 *   word 7      frames 0x1c0-0x1ff    0x000000000000007f         0x1c7-0x1ff free, bit by bit
 *   words 8-    frames 0x200-0x7fff   0                          all free: taken whole
 *
 * 1. The tables. Region 0 has no free frame, so its table (159 bytes) takes the first free
 *    frame anywhere, 0x1c7. Region 1's (32512 frame bytes, 4064 bytes of owner bits, 64 side
 *    nodes of 24 bytes: 38112 bytes) takes the next 10 frames of its own, 0x1c8-0x1d1.
 * 2. The runs. The scan of region 1 meets one run, 0x1d2-0x7fff, and buddy_add_free_range
 *    cuts it into maximal aligned blocks: 0x1d2 (order 1), 0x1d4 (2), 0x1d8 (3), 0x1e0 (5),
 *    0x200 (9), then 0x400, 0x800, ... 0x7c00 (order 10, 31 blocks): free counts per order
 *    [0 1 1 1 0 1 0 0 0 1 31], 32302 frames.
 * 3. The switch. Only now do bitmap words 7 and up become all ones (nfree drops by 32302),
 *    and kframe_set_source makes the buddy the source.
 *
 * A word is read once, so 16 GiB (65536 words) takes well under a millisecond; the rest is the
 * buddy's own cost: one memset of each frame table and a few list operations per block (about
 * 4100 blocks of order 10 for 16 GiB).
 */
#include <string.h>
#include "attest.h"
#include "boot.h"
#include "cmdline.h"
#include "kprintf.h"
#include "layers.h"
#include "memmap.h"
#include "pages.h"
#include "paging.h"
#include "panic.h"

#if CHECKPOINT >= 6

#define BITS_PER_WORD	 64
#define BITS_PER_BYTE	 8
#define SIDE_NODE_FRAMES (HUGE_PAGE_SIZE / PAGE_SIZE) /* nodes of 2 MiB-aligned blocks: aside */
#define WORD_FULL	 (~UINT64_C(0))
#define KEEP_MAX	 8   /* pages.keep=N: at most this many frames kept before the switch */
#define COUNTS_TEXT_MAX	 128 /* "c0 c1 ... c10" of one region */
#define TOUR_DEMO_PAGES	 5   /* the tour's kmalloc-sized request: 5 pages, served as 8 */

static struct buddy_region buddies[MEMMAP_MAX]; /* contiguous, for buddy_find_region */
static struct pages_region regions[MEMMAP_MAX];
static size_t nregions;
static bool buddy_ready;
static phys_addr_t kept[KEEP_MAX];
static size_t nkept;

/*
 * The buddy's frame_ptr: where the free-list node of a free block starting at frame pfn lives.
 * In the frame itself, through the direct map, except for frames on a 2 MiB boundary, whose
 * nodes live in a small array beside the region's frame table (one node per 2 MiB). The reason
 * is QEMU: a guest frame costs host memory the first time it is touched, and with transparent
 * huge pages a touch costs 2 MiB. Nodes inside every free 4 MiB block made the host commit
 * 8 GiB, and take seconds, to boot a 16 GiB guest; with the array, free blocks of 2 MiB and
 * more are never written while they stay free, on any machine.
 */
static void *node_of_frame(void *ctx, uint64_t pfn)
{
	const struct pages_region *pr = ctx;

	if (pfn & (SIDE_NODE_FRAMES - 1))
		return phys_to_virt(pfn << PAGE_SHIFT);
	return &pr->nodes[pfn / SIDE_NODE_FRAMES - pr->buddy->base_pfn / SIDE_NODE_FRAMES];
}

bool pages_buddy_ready(void)
{
	return buddy_ready;
}

size_t pages_region_count(void)
{
	return buddy_ready ? nregions : 0;
}

struct pages_region *pages_region(size_t i)
{
	KASSERT(i < pages_region_count());
	return &regions[i];
}

struct pages_region *pages_region_of(uint64_t pfn)
{
	struct buddy_region *r = buddy_find_region(buddies, pages_region_count(), pfn);

	return r ? &regions[r - buddies] : NULL;
}

size_t pages_kept_frames(const phys_addr_t **frames)
{
	*frames = kept;
	return nkept;
}

static bool owned(const struct pages_region *pr, uint64_t pfn)
{
	uint64_t bit = pfn - pr->buddy->base_pfn;

	return pr->owned[bit / BITS_PER_WORD] >> (bit % BITS_PER_WORD) & 1;
}

static void set_owned(struct pages_region *pr, uint64_t pfn, bool on)
{
	uint64_t bit = pfn - pr->buddy->base_pfn, mask = UINT64_C(1) << (bit % BITS_PER_WORD);

	if (on)
		pr->owned[bit / BITS_PER_WORD] |= mask;
	else
		pr->owned[bit / BITS_PER_WORD] &= ~mask;
}

/* "c0 c1 ... c10": the region's free blocks per order, for the log, the tour and the grader. */
static const char *format_counts(const struct buddy_region *r, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER && used < size; k++)
		used += (size_t)ksnprintf(buf + used, size - used, "%s%lu", k ? " " : "",
					  buddy_free_blocks(r, k));
	return buf;
}

/* ---- lab 02's bitmap, a word at a time ------------------------------------------------------ */

static bool bitmap_is_free(uint64_t pfn)
{
	uint64_t bit = pfn - kernel_frames.base;

	return !(kernel_frames.bitmap[bit / BITS_PER_WORD] >> (bit % BITS_PER_WORD) & 1);
}

/* Mark frames [pfn, pfn + n) in use (or free again) in the bitmap, keeping nfree right; the
 * frames must all be free (or all in use). */
static void bitmap_mark(uint64_t pfn, uint64_t n, bool used)
{
	for (uint64_t p = pfn; p < pfn + n; p++) {
		uint64_t bit = p - kernel_frames.base, mask = UINT64_C(1) << (bit % BITS_PER_WORD);

		if (used)
			kernel_frames.bitmap[bit / BITS_PER_WORD] |= mask;
		else
			kernel_frames.bitmap[bit / BITS_PER_WORD] &= ~mask;
	}
	kernel_frames.nfree = used ? kernel_frames.nfree - n : kernel_frames.nfree + n;
}

/*
 * Call fn(start, count, arg) for each maximal run of frames free in the bitmap within
 * [first, end), in address order, until fn returns false; a run is passed on as soon as it
 * reaches max_run frames (a search can stop there), the rest of it as the next run. Whole
 * words that are all free or all in use are taken in one step.
 */
static void for_each_free_run(uint64_t first, uint64_t end, uint64_t max_run,
			      bool (*fn)(uint64_t start, uint64_t count, void *arg), void *arg)
{
	uint64_t run = 0, start = 0;

	first = MAX(first, kernel_frames.base);
	end = MIN(end, kernel_frames.base + kernel_frames.words * BITS_PER_WORD);
	for (uint64_t p = first; p < end;) {
		uint64_t bit = p - kernel_frames.base;
		uint64_t word = kernel_frames.bitmap[bit / BITS_PER_WORD];
		uint64_t n = 1;
		bool free;

		if (bit % BITS_PER_WORD == 0 && end - p >= BITS_PER_WORD &&
		    (word == 0 || word == WORD_FULL)) {
			n = BITS_PER_WORD; /* a whole word at once: all free or all in use */
			free = word == 0;
		} else {
			free = bitmap_is_free(p);
		}
		if (free) {
			start = run ? start : p;
			run += n;
			if (run >= max_run) {
				if (!fn(start, run, arg))
					return;
				run = 0;
			}
		} else if (run) {
			if (!fn(start, run, arg))
				return;
			run = 0;
		}
		p += n;
	}
	if (run)
		fn(start, run, arg);
}

/* ---- bringing it up ------------------------------------------------------------------------ */

/* Nodes in the side array of a region of nframes frames from base_pfn (see node_of_frame). */
static uint64_t side_nodes(uint64_t base_pfn, uint64_t nframes)
{
	return (base_pfn + nframes - 1) / SIDE_NODE_FRAMES - base_pfn / SIDE_NODE_FRAMES + 1;
}

/* A region's frame table, then its owner bits, then its side nodes; each part 8-byte aligned. */
static uint64_t owner_bits_offset(uint64_t nframes)
{
	return align_up(BUDDY_TABLE_BYTES(nframes), sizeof(uint64_t));
}

static uint64_t side_nodes_offset(uint64_t nframes)
{
	return owner_bits_offset(nframes) + align_up(nframes, BITS_PER_WORD) / BITS_PER_BYTE;
}

static uint64_t table_bytes(uint64_t base_pfn, uint64_t nframes)
{
	return side_nodes_offset(nframes) +
	       side_nodes(base_pfn, nframes) * sizeof(struct buddy_node);
}

struct run_search {
	uint64_t need, found;
};

static bool first_run_of(uint64_t start, uint64_t count, void *arg)
{
	struct run_search *s = arg;

	if (count < s->need)
		return true;
	s->found = start;
	return false;
}

/* The first run of n frames free in the bitmap within [first, end), or 0 (frame 0 is never free). */
static uint64_t find_free_run(uint64_t first, uint64_t end, uint64_t n)
{
	struct run_search s = {n, 0};

	for_each_free_run(first, end, n, first_run_of, &s);
	return s.found;
}

/* One region per usable area, over its whole frames; an area overlapping an earlier one is
 * left out (memory maps do not do that, but a made-up one could). */
static void plan_regions(void)
{
	nregions = 0;
	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *m = &boot_memmap.regions[i];
		uint64_t first = align_up(m->base, PAGE_SIZE) >> PAGE_SHIFT;
		uint64_t end = (m->base + m->len) >> PAGE_SHIFT;
		bool overlaps = false;

		if (m->type != MEMMAP_USABLE || end <= first)
			continue;
		for (size_t j = 0; j < nregions; j++)
			overlaps |= first < buddies[j].base_pfn + buddies[j].nframes &&
				    end > buddies[j].base_pfn;
		if (overlaps) {
			kprintf("pages: usable area 0x%lx-0x%lx overlaps another; left out\n",
				m->base, m->base + m->len - 1);
			continue;
		}
		regions[nregions] = (struct pages_region){.buddy = &buddies[nregions]};
		buddies[nregions].base_pfn = first;
		buddies[nregions].nframes = end - first;
		nregions++;
	}
}

static void give_back_tables(void)
{
	for (size_t i = 0; i < nregions; i++)
		if (regions[i].table_frames)
			bitmap_mark(regions[i].table_pfn, regions[i].table_frames, false);
}

/* Take each region's table from the bitmap: from the region's own free frames if it has a run
 * long enough, else from the first run long enough anywhere. */
static bool take_tables(void)
{
	uint64_t ram_end = kernel_frames.base + kernel_frames.words * BITS_PER_WORD;

	for (size_t i = 0; i < nregions; i++) {
		struct pages_region *pr = &regions[i];
		uint64_t first = buddies[i].base_pfn, end = first + buddies[i].nframes;
		uint64_t n =
			align_up(table_bytes(first, buddies[i].nframes), PAGE_SIZE) >> PAGE_SHIFT;
		uint64_t at = find_free_run(first, end, n);

		if (!at)
			at = find_free_run(0, ram_end, n);
		if (!at) {
			kprintf("pages: no %lu free frames in a row for the frame table of frames "
				"0x%lx-0x%lx\n",
				n, first, end - 1);
			give_back_tables();
			return false;
		}
		bitmap_mark(at, n, true);
		pr->table_pfn = at;
		pr->table_frames = n;
		uint8_t *table = phys_to_virt(at << PAGE_SHIFT);
		pr->owned = (uint64_t *)(table + owner_bits_offset(buddies[i].nframes));
		pr->nodes = (struct buddy_node *)(table + side_nodes_offset(buddies[i].nframes));
		memset(pr->owned, 0,
		       side_nodes_offset(buddies[i].nframes) -
			       owner_bits_offset(buddies[i].nframes));
	}
	return true;
}

static void step_region_init(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < nregions; i++) {
		struct buddy_region *r = &buddies[i];

		buddy_region_init(r, r->base_pfn, r->nframes,
				  phys_to_virt(regions[i].table_pfn << PAGE_SHIFT), node_of_frame,
				  &regions[i]);
	}
}

/* Give a run to its region, and sign it for the grader (which recomputes the region's free
 * counts from its runs). */
static bool give_run(uint64_t start, uint64_t count, void *arg)
{
	struct pages_region *pr = arg;

	buddy_add_free_range(pr->buddy, start, count);
	pr->given += count;
	attest_printf("buddy run region=%zu start=%lu count=%lu", (size_t)(pr - regions), start,
		      count);
	return true;
}

/* Every run still free in the bitmap, region by region. The bitmap is not changed yet. */
static void step_take_over(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < nregions; i++) {
		regions[i].given = 0;
		for_each_free_run(buddies[i].base_pfn, buddies[i].base_pfn + buddies[i].nframes,
				  UINT64_MAX, give_run, &regions[i]);
	}
}

/* pages.keep=N: frames taken from the bitmap just before the switch, as page tables were,
 * for the grader's scenario that gives them back (grade/ktests/06-buddy/). */
static void step_keep(void *arg)
{
	uint64_t n = MIN(cmdline_get_u64("pages.keep", 0), (uint64_t)KEEP_MAX);

	(void)arg;
	for (nkept = 0; nkept < n && (kept[nkept] = kframe_alloc()) != 0; nkept++)
		;
}

static void give_back_kept(void)
{
	for (size_t i = 0; i < nkept; i++)
		bitmap_mark(kept[i] >> PAGE_SHIFT, 1, false);
	nkept = 0;
}

/* Set every bitmap word full: its frames belong to the buddy now. */
static void retire_bitmap(void)
{
	for (uint64_t w = 0; w < kernel_frames.words; w++) {
		uint64_t free = ~kernel_frames.bitmap[w], n = 0;

		if (!free)
			continue;
		if (free == WORD_FULL)
			n = BITS_PER_WORD;
		else
			for (; free; free &= free - 1)
				n++;
		kernel_frames.bitmap[w] = WORD_FULL;
		kernel_frames.nfree -= n;
	}
}

/* Tell the log (and the grader, signed) what each region got. */
static void report_regions(uint64_t bitmap_free)
{
	char counts[COUNTS_TEXT_MAX];
	uint64_t total = 0, free = 0;

	for (size_t i = 0; i < nregions; i++) {
		const struct pages_region *pr = &regions[i];
		const struct buddy_region *r = pr->buddy;

		format_counts(r, counts, sizeof(counts));
		kprintf("pages: region %zu: frames 0x%lx-0x%lx (%lu), table at 0x%lx (%lu KiB), "
			"%lu free: [%s]\n",
			i, r->base_pfn, r->base_pfn + r->nframes - 1, r->nframes,
			pr->table_pfn << PAGE_SHIFT, pr->table_frames * (PAGE_SIZE >> 10),
			buddy_free_frames(r), counts);
		if (buddy_free_frames(r) != pr->given)
			kprintf("pages: region %zu: the buddy counts %lu free frames, but it was "
				"given %lu\n",
				i, buddy_free_frames(r), pr->given);
		attest_printf(
			"buddy region %zu base=%lu frames=%lu table=%lu+%lu given=%lu free=%lu "
			"counts=%s",
			i, r->base_pfn, r->nframes, pr->table_pfn, pr->table_frames, pr->given,
			buddy_free_frames(r), counts);
		total += r->nframes;
		free += buddy_free_frames(r);
	}
	attest_printf("buddy source regions=%zu total=%lu free=%lu bitmap_free=%lu", nregions,
		      total, free, bitmap_free);
}

static const struct kframe_source buddy_source;

void buddy_layer_init(void)
{
	if (!kframes_total()) {
		kprintf("pages: lab 02's frame allocator is not set up: no buddy allocator\n");
		return;
	}
	if (!paging_ready) {
		kprintf("pages: the kernel is not on its own page tables (no direct map of all RAM); "
			"the frame bitmap (lab 02) stays its frame source\n");
		return;
	}
	plan_regions();
	if (!take_tables()) {
		kprintf("pages: the kernel keeps the frame bitmap (lab 02) as its frame source\n");
		return;
	}
	init_step("06-buddy: keep frames for the grader (pages.keep)", step_keep, NULL);
	if (!init_step("06-buddy: buddy_region_init", step_region_init, NULL) ||
	    !init_step("06-buddy: buddy_add_free_range", step_take_over, NULL)) {
		/* Lab 06 is not done: nothing was taken from the bitmap but the tables (and the
		 * kept frames), so giving those back leaves it as it was. */
		give_back_kept();
		give_back_tables();
		kprintf("pages: the kernel keeps the frame bitmap (lab 02) as its frame source\n");
		return;
	}
	uint64_t bitmap_free = kernel_frames.nfree;
	buddy_ready = true; /* the regions are live: report_regions reads them */
	report_regions(bitmap_free);
	retire_bitmap();
	kframe_set_source(&buddy_source);
	kprintf("pages: the kernel's frames now come from the buddy allocator (lab 06): %zu "
		"regions, %lu of %lu frames free\n",
		nregions, kframes_free(), kframes_total());
}

/* ---- the kernel's frame source ------------------------------------------------------------ */

/* The region holding frame pa, or a panic naming fn. */
static struct pages_region *region_of_frame(phys_addr_t pa, const char *fn)
{
	if (pa & (PAGE_SIZE - 1))
		panic("%s: 0x%lx is not the address of a frame (not page-aligned)", fn, pa);
	struct pages_region *pr = pages_region_of(pa >> PAGE_SHIFT);
	if (!pr)
		panic("%s: 0x%lx is not a frame of RAM the buddy allocator manages", fn, pa);
	return pr;
}

/*
 * The buddy has frame pa reserved: panic (naming fn) unless the bitmap handed it out before
 * the switch, that is unless it is none of frame 0, lab 02's reserved ranges (the low 1 MiB,
 * the kernel image, the bitmap) and the buddy's own frame tables.
 */
static void check_frame_from_before(phys_addr_t pa, const char *fn)
{
	if (pa == 0)
		panic("%s: frame 0 is never handed out", fn);
	for (int i = 0; i < kernel_frames.nreserved; i++)
		if (pa + PAGE_SIZE > kernel_frames.reserved[i].start &&
		    pa < kernel_frames.reserved[i].end)
			panic("%s: 0x%lx is reserved (low memory, the kernel image or the frame "
			      "bitmap): it was never handed out",
			      fn, pa);
	for (size_t i = 0; i < nregions; i++)
		if ((pa >> PAGE_SHIFT) - regions[i].table_pfn < regions[i].table_frames)
			panic("%s: 0x%lx holds the buddy allocator's frame table of region %zu: it "
			      "was never handed out",
			      fn, pa, i);
}

/* A block of 2^order frames from the first region that has one (a region without one answers
 * BUDDY_NO_FRAME after a look at its lists), or 0. */
static phys_addr_t buddy_alloc_frames(unsigned order)
{
	if (order > BUDDY_MAX_ORDER)
		return 0;
	for (size_t i = 0; i < nregions; i++) {
		uint64_t pfn = buddy_alloc(&buddies[i], order);
		if (pfn != BUDDY_NO_FRAME)
			return pfn << PAGE_SHIFT;
	}
	return 0;
}

static phys_addr_t source_alloc(void)
{
	return buddy_alloc_frames(0);
}

/* Check that the single frame pa may be freed (fn names the caller); true if the bitmap handed
 * it out before the switch, false if the buddy did. */
static bool check_single_frame(phys_addr_t pa, const char *fn)
{
	struct pages_region *pr = region_of_frame(pa, fn);
	uint64_t pfn = pa >> PAGE_SHIFT;

	if (buddy_frame(pr->buddy, pfn) == BUDDY_RESERVED) {
		check_frame_from_before(pa, fn);
		return true;
	}
	if (owned(pr, pfn))
		panic("%s: 0x%lx is a block from pages_alloc_bytes: give it back with kfree", fn,
		      pa);
	return false;
}

static void free_single_frame(phys_addr_t pa, bool from_before)
{
	struct pages_region *pr = pages_region_of(pa >> PAGE_SHIFT);

	if (from_before)
		buddy_add_free_range(pr->buddy, pa >> PAGE_SHIFT, 1); /* it joins the buddy */
	else
		buddy_free(pr->buddy, pa >> PAGE_SHIFT, 0); /* its own checks name the misuse */
}

static void source_free(phys_addr_t pa)
{
	free_single_frame(pa, check_single_frame(pa, "kframe_free"));
}

static phys_addr_t source_alloc_contig(size_t n)
{
	return n ? buddy_alloc_frames(buddy_order_for(n)) : 0;
}

static void source_free_contig(phys_addr_t pa, size_t n)
{
	if (n == 0)
		return;
	struct pages_region *pr = region_of_frame(pa, "kframe_free_contig");
	uint64_t pfn = pa >> PAGE_SHIFT;
	unsigned order = buddy_order_for(n);

	/* The block kframe_alloc_contig(n) returned. */
	if (n > 1 && buddy_block_order(pr->buddy, pfn) == (int)order && !owned(pr, pfn)) {
		buddy_free(pr->buddy, pfn, order);
		return;
	}
	/* Else n frames from kframe_alloc: check them all, then free them. */
	for (size_t i = 0; i < n; i++) {
		phys_addr_t f = pa + i * PAGE_SIZE;
		struct pages_region *fr = region_of_frame(f, "kframe_free_contig");

		if (!check_single_frame(f, "kframe_free_contig") &&
		    buddy_block_order(fr->buddy, f >> PAGE_SHIFT) != 0)
			panic("kframe_free_contig: 0x%lx (frame %zu of the %zu at 0x%lx) is neither a "
			      "frame from kframe_alloc nor the start of a block from "
			      "kframe_alloc_contig(%zu)",
			      f, i, n, pa, n);
	}
	for (size_t i = 0; i < n; i++) {
		phys_addr_t f = pa + i * PAGE_SIZE;
		free_single_frame(f, check_single_frame(f, "kframe_free_contig"));
	}
}

static uint64_t source_count_free(void)
{
	uint64_t n = 0;

	for (size_t i = 0; i < nregions; i++)
		n += buddy_free_frames(&buddies[i]);
	return n;
}

static uint64_t source_count_total(void)
{
	uint64_t n = 0;

	for (size_t i = 0; i < nregions; i++)
		n += buddies[i].nframes;
	return n;
}

static const struct kframe_source buddy_source = {
	.name = "the buddy allocator (lab 06)",
	.alloc = source_alloc,
	.free = source_free,
	.alloc_contig = source_alloc_contig,
	.free_contig = source_free_contig,
	.count_free = source_count_free,
	.count_total = source_count_total,
};

/* ---- whole pages for the heap ------------------------------------------------------------- */

/* The frame number behind a direct-map address, or BUDDY_NO_FRAME for any other address. */
static uint64_t direct_map_pfn(const void *p)
{
	uint64_t a = (uint64_t)p;

	if (a < DIRECT_MAP_BASE || a >= KHEAP_BASE)
		return BUDDY_NO_FRAME;
	return (a - DIRECT_MAP_BASE) >> PAGE_SHIFT;
}

void *pages_alloc_bytes(size_t size)
{
	if (!buddy_ready || size == 0 || size > (PAGE_SIZE << BUDDY_MAX_ORDER))
		return NULL;
	phys_addr_t pa =
		buddy_alloc_frames(buddy_order_for(align_up(size, PAGE_SIZE) >> PAGE_SHIFT));
	if (!pa)
		return NULL;
	set_owned(pages_region_of(pa >> PAGE_SHIFT), pa >> PAGE_SHIFT, true);
	return phys_to_virt(pa);
}

bool pages_owns(const void *p)
{
	uint64_t pfn = direct_map_pfn(p);
	struct pages_region *pr = pfn == BUDDY_NO_FRAME ? NULL : pages_region_of(pfn);

	return pr && ((uint64_t)p & (PAGE_SIZE - 1)) == 0 && owned(pr, pfn);
}

/* The first frame of the block (free or allocated) that holds frame pfn, found from the frame
 * table (blocks are aligned to their size); BUDDY_NO_FRAME if pfn is reserved. */
static uint64_t block_head(const struct buddy_region *r, uint64_t pfn)
{
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER; k++) {
		uint64_t head = pfn & ~((UINT64_C(1) << k) - 1);

		if (!buddy_region_contains(r, head))
			break;
		uint8_t b = buddy_frame(r, head);
		if ((b & BUDDY_STATE_MASK) == BUDDY_FREE || (b & BUDDY_STATE_MASK) == BUDDY_USED) {
			if ((b & BUDDY_ORDER_MASK) >= k)
				return head;
		} else if (b == BUDDY_RESERVED) {
			break;
		}
	}
	return BUDDY_NO_FRAME;
}

/* Panic, naming fn, unless p is a live block from pages_alloc_bytes; returns its region. */
static struct pages_region *check_owned(const void *p, const char *fn)
{
	uint64_t pfn = direct_map_pfn(p);
	struct pages_region *pr = pfn == BUDDY_NO_FRAME ? NULL : pages_region_of(pfn);

	if (pfn == BUDDY_NO_FRAME)
		panic("%s: %p is not an address in the direct map: not a block of pages", fn, p);
	if ((uint64_t)p & (PAGE_SIZE - 1))
		panic("%s: %p is not page-aligned: not the start of a block of pages", fn, p);
	if (!pr)
		panic("%s: %p is not RAM the buddy allocator manages", fn, p);
	if (owned(pr, pfn))
		return pr;

	uint64_t head = block_head(pr->buddy, pfn);
	if (head == BUDDY_NO_FRAME)
		panic("%s: %p is a reserved frame: the buddy allocator never handed it out", fn, p);
	uint8_t b = buddy_frame(pr->buddy, head);
	if ((b & BUDDY_STATE_MASK) == BUDDY_FREE)
		panic("%s: double free of %p: the frame is free (in a free block of %u pages)", fn,
		      p, 1u << (b & BUDDY_ORDER_MASK));
	if (head != pfn && owned(pr, head))
		panic("%s: %p is inside the block of %u pages at %p, not its start", fn, p,
		      1u << (b & BUDDY_ORDER_MASK), phys_to_virt(head << PAGE_SHIFT));
	panic("%s: %p is a frame from kframe_alloc, not a block from pages_alloc_bytes", fn, p);
}

size_t pages_alloc_size(const void *p)
{
	struct pages_region *pr = check_owned(p, "pages_alloc_size");

	return PAGE_SIZE << buddy_block_order(pr->buddy, direct_map_pfn(p));
}

void pages_free_bytes(void *p)
{
	if (!p)
		return;
	struct pages_region *pr = check_owned(p, "pages_free_bytes");
	uint64_t pfn = direct_map_pfn(p);
	int order = buddy_block_order(pr->buddy, pfn);

	if (order < 0)
		panic("pages_free_bytes: %p: the buddy allocator has no block there any more", p);
	set_owned(pr, pfn, false);
	buddy_free(pr->buddy, pfn, (unsigned)order);
}

/* ---- the tour ----------------------------------------------------------------------------- */

static void tour_counts(const char *what, const struct buddy_region *r)
{
	char counts[COUNTS_TEXT_MAX];

	kprintf("  %-34s [%s]\n", what, format_counts(r, counts, sizeof(counts)));
}

void tour_buddy(void)
{
	kprintf("\n== 06-buddy: frames in blocks of 2^k ==\n");
	if (!buddy_ready) {
		kprintf("the kernel still takes its frames from lab 02's bitmap: lab 06 is not done "
			"yet (see the notes at boot).\n");
		return;
	}
	kprintf("frame source: %s, %zu regions, %lu of %lu frames free\n", buddy_source.name,
		nregions, kframes_free(), kframes_total());
	for (size_t i = 0; i < nregions; i++) {
		const struct buddy_region *r = &buddies[i];

		kprintf("region %zu: frames 0x%lx-0x%lx: %lu frames (%lu MiB), %lu free; its table: "
			"%lu KiB at 0x%lx\n",
			i, r->base_pfn, r->base_pfn + r->nframes - 1, r->nframes,
			r->nframes >> (20 - PAGE_SHIFT), buddy_free_frames(r),
			regions[i].table_frames * (PAGE_SIZE >> 10),
			regions[i].table_pfn << PAGE_SHIFT);
		tour_counts("free blocks per order 0..10:", r);
	}

	phys_addr_t pa = kframe_alloc_contig(8);
	struct pages_region *pr = pa ? pages_region_of(pa >> PAGE_SHIFT) : NULL;
	if (!pr) {
		kprintf("no block of 8 frames is left to show splitting.\n");
		return;
	}
	size_t i = (size_t)(pr - regions);
	kprintf("kframe_alloc_contig(8) = 0x%lx, an order-3 block of region %zu:\n", pa, i);
	tour_counts("free blocks per order now:", pr->buddy);
	void *p = pages_alloc_bytes(TOUR_DEMO_PAGES * PAGE_SIZE);
	if (p) {
		kprintf("pages_alloc_bytes(%lu pages) = %p, %zu pages (kmalloc of a page or more)\n",
			(uint64_t)TOUR_DEMO_PAGES, p, pages_alloc_size(p) / PAGE_SIZE);
		tour_counts("and now:", pages_region_of(direct_map_pfn(p))->buddy);
		pages_free_bytes(p);
	}
	kframe_free_contig(pa, 8);
	tour_counts("both freed, merged back:", pr->buddy);
}

#else  /* CHECKPOINT < 6: no buddy yet, so no pages; the heap serves every request itself. */

bool pages_buddy_ready(void)
{
	return false;
}

size_t pages_region_count(void)
{
	return 0;
}

struct pages_region *pages_region(size_t i)
{
	panic("pages_region: no region %zu before checkpoint 06", i);
}

struct pages_region *pages_region_of(uint64_t pfn)
{
	(void)pfn;
	return NULL;
}

size_t pages_kept_frames(const phys_addr_t **frames)
{
	*frames = NULL;
	return 0;
}

void *pages_alloc_bytes(size_t size)
{
	(void)size;
	return NULL;
}

bool pages_owns(const void *p)
{
	(void)p;
	return false;
}

size_t pages_alloc_size(const void *p)
{
	panic("pages_alloc_size: %p: no block of pages exists before checkpoint 06", p);
}

void pages_free_bytes(void *p)
{
	if (p)
		panic("pages_free_bytes: %p: no block of pages exists before checkpoint 06", p);
}
#endif /* CHECKPOINT >= 6 */
