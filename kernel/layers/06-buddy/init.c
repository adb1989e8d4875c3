/*
 * Checkpoint 06 joins the kernel: lab 06's buddy allocator takes over every free frame from
 * lab 02's bitmap and becomes the kernel's frame source (pages.h says how).
 *
 * The takeover, worked through on a 128 MiB machine. Usable RAM is two areas, frames 0-0x9e
 * and 0x100-0x7fdf: two regions. Lab 02's bitmap has handed out frames for the kernel's page
 * tables after the kernel image and the bitmap itself, say up to 0x1c6.
 *
 * 1. The tables. Region 0 has no free frame, so its table (159 bytes) takes the first free
 *    frame anywhere, 0x1c7. Region 1's (32480 frame bytes, 4064 bytes of owner bits, 64 side
 *    nodes of 24 bytes: about 38 KiB) takes the next 10 frames of its own, 0x1c8-0x1d1
 *    (frame_take_run).
 * 2. The runs. frame_for_each_free_run meets one run in region 1, 0x1d2-0x7fdf, and
 *    buddy_add_free_range cuts it into maximal aligned blocks: 0x1d2 (order 1), 0x1d4 (2),
 *    0x1d8 (3), 0x1e0 (5), 0x200 (9), then 0x400, 0x800, ... (order 10), and smaller blocks
 *    up to the region's end.
 * 3. The switch. Only now is the bitmap retired (frame_retire_all) and the buddy made the
 *    source (kframe_set_source).
 *
 * Side nodes. The buddy keeps the free-list node of a free block in its first frame, through
 * the direct map, except for frames on a 2 MiB boundary, whose nodes live in a small array
 * beside the region's frame table (one node per 2 MiB). The reason is QEMU: a guest frame
 * costs host memory the first time it is touched, and with transparent huge pages a touch
 * costs 2 MiB. Nodes inside every free 4 MiB block made the host commit 8 GiB, and take
 * seconds, to boot a 16 GiB guest; with the array, free blocks of 2 MiB and more are never
 * written while they stay free, on any machine.
 */
#include <string.h>
#include "attest.h"
#include "cmdline.h"
#include "kprintf.h"
#include "layer.h"
#include "local.h"
#include "panic.h"

#define BITS_PER_WORD	 64
#define BITS_PER_BYTE	 8
#define SIDE_NODE_FRAMES (HUGE_PAGE_SIZE / PAGE_SIZE) /* nodes of 2 MiB-aligned blocks: aside */
#define KEEP_MAX	 8 /* pages.keep=N: at most this many frames kept before the switch */

struct buddy_region buddies[MEMMAP_MAX];
struct pages_region regions[MEMMAP_MAX];
size_t nregions;
static bool buddy_ready;
static phys_addr_t kept[KEEP_MAX];
static size_t nkept;

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

const char *pages_format_counts(const struct buddy_region *r, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k <= BUDDY_MAX_ORDER && used < size; k++)
		used += (size_t)ksnprintf(buf + used, size - used, "%s%lu", k ? " " : "",
					  buddy_free_blocks(r, k));
	return buf;
}

/* The buddy's frame_ptr: where the node of a free block starting at frame pfn lives. */
static void *node_of_frame(void *ctx, uint64_t pfn)
{
	const struct pages_region *pr = ctx;

	if (pfn & (SIDE_NODE_FRAMES - 1))
		return phys_to_virt(pfn << PAGE_SHIFT);
	return &pr->nodes[pfn / SIDE_NODE_FRAMES - pr->buddy->base_pfn / SIDE_NODE_FRAMES];
}

/* ---- the regions and their tables ---------------------------------------------------------- */

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

/* A region's table is its frame table, then its owner bits, then its side nodes, each part
 * 8-byte aligned. */
static uint64_t owner_bits_offset(uint64_t nframes)
{
	return align_up(BUDDY_TABLE_BYTES(nframes), sizeof(uint64_t));
}

static uint64_t side_nodes_offset(uint64_t nframes)
{
	return owner_bits_offset(nframes) + align_up(nframes, BITS_PER_WORD) / BITS_PER_BYTE;
}

static uint64_t table_frames(const struct buddy_region *r)
{
	uint64_t nodes = (r->base_pfn + r->nframes - 1) / SIDE_NODE_FRAMES -
			 r->base_pfn / SIDE_NODE_FRAMES + 1;
	uint64_t bytes = side_nodes_offset(r->nframes) + nodes * sizeof(struct buddy_node);

	return align_up(bytes, PAGE_SIZE) >> PAGE_SHIFT;
}

static void give_back_tables(void)
{
	for (size_t i = 0; i < nregions; i++)
		if (regions[i].table_frames)
			frame_free_contig(&kernel_frames, regions[i].table_pfn << PAGE_SHIFT,
					  regions[i].table_frames);
}

/* Take each region's table from the bitmap: from the region's own free frames if it has a run
 * long enough, else from the first run long enough anywhere. */
static bool take_tables(void)
{
	for (size_t i = 0; i < nregions; i++) {
		struct pages_region *pr = &regions[i];
		uint64_t first = buddies[i].base_pfn, end = first + buddies[i].nframes;
		uint64_t n = table_frames(&buddies[i]);
		uint64_t at = frame_take_run(&kernel_frames, first, end, n);

		if (!at)
			at = frame_take_run(&kernel_frames, 0, UINT64_MAX, n);
		if (!at) {
			kprintf("pages: no %lu free frames in a row for the frame table of frames "
				"0x%lx-0x%lx\n",
				n, first, end - 1);
			give_back_tables();
			return false;
		}
		pr->table_pfn = at;
		pr->table_frames = n;
		uint8_t *table = phys_to_virt(at << PAGE_SHIFT);
		pr->owned = (uint64_t *)(table + owner_bits_offset(buddies[i].nframes));
		pr->nodes = (struct buddy_node *)(table + side_nodes_offset(buddies[i].nframes));
		memset(pr->owned, 0, (uint8_t *)pr->nodes - (uint8_t *)pr->owned);
	}
	return true;
}

/* ---- the takeover -------------------------------------------------------------------------- */

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

static void init_regions(void)
{
	for (size_t i = 0; i < nregions; i++) {
		struct buddy_region *r = &buddies[i];

		buddy_region_init(r, r->base_pfn, r->nframes,
				  phys_to_virt(regions[i].table_pfn << PAGE_SHIFT), node_of_frame,
				  &regions[i]);
	}
}

/* Give each region every run still free in the bitmap (which is not changed yet). */
static void give_runs(void)
{
	for (size_t i = 0; i < nregions; i++) {
		const struct buddy_region *r = &buddies[i];

		regions[i].given = 0;
		frame_for_each_free_run(&kernel_frames, r->base_pfn, r->base_pfn + r->nframes,
					give_run, &regions[i]);
	}
}

/* pages.keep=N: frames taken from the bitmap just before the takeover, as page tables were,
 * for the grader's scenario that gives them back (grade/ktests/06-buddy/). */
static void keep_frames(void)
{
	uint64_t n = MIN(cmdline_get_u64("pages.keep", 0), (uint64_t)KEEP_MAX);

	for (nkept = 0; nkept < n && (kept[nkept] = kframe_alloc()) != 0; nkept++)
		;
}

static void give_back_kept(void)
{
	for (size_t i = 0; i < nkept; i++)
		frame_free(&kernel_frames, kept[i]);
	nkept = 0;
}

/* Tell the log (and the grader, signed) what each region got. */
static void report_regions(uint64_t bitmap_free)
{
	char counts[COUNTS_TEXT_MAX];
	uint64_t total = 0, free = 0;

	for (size_t i = 0; i < nregions; i++) {
		const struct pages_region *pr = &regions[i];
		const struct buddy_region *r = pr->buddy;

		pages_format_counts(r, counts, sizeof(counts));
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

static void buddy_layer_init(void)
{
	if (kframe_source() != &kframe_bitmap_source || !paging_ready) {
		kprintf("pages: %s: no buddy allocator\n",
			!kframe_source() ? "lab 02's frame allocator is not set up"
					 : "the kernel is not on its own page tables (no direct "
					   "map of all RAM)");
		return;
	}
	plan_regions();
	if (!take_tables()) {
		kprintf("pages: the kernel keeps the frame bitmap (lab 02) as its frame source\n");
		return;
	}
	keep_frames();
	if (!LAB_STEP("06-buddy: buddy_region_init", init_regions()) ||
	    !LAB_STEP("06-buddy: buddy_add_free_range", give_runs())) {
		/* Nothing was taken from the bitmap but the tables and the kept frames, so giving
		 * those back leaves it as it was. */
		give_back_kept();
		give_back_tables();
		kprintf("pages: the kernel keeps the frame bitmap (lab 02) as its frame source\n");
		return;
	}
	uint64_t bitmap_free = frame_count_free(&kernel_frames);
	buddy_ready = true; /* the regions are live: report_regions reads them */
	report_regions(bitmap_free);
	frame_retire_all(&kernel_frames);
	kframe_set_source(&buddy_source);
	kheap_use_pages(&buddy_pages);
	kprintf("pages: the kernel's frames now come from the buddy allocator (lab 06): %zu "
		"regions, %lu of %lu frames free\n",
		nregions, kframes_free(), kframes_total());
}

LAYER(6, "06-buddy", "frames in blocks of 2^k", buddy_layer_init, buddy_tour);
