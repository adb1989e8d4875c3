/*
 * Physical frame allocator, for page tables and everything else the kernel keeps in whole
 * 4 KiB frames: one bit per frame (the format is fixed in kernel/frame.h).
 *
 * Theory of operation. frame_init starts from "everything in use" (all bits 1), clears the
 * bits of the whole frames inside each usable region of the memory map, then sets again the
 * bits of the reserved ranges and of frame 0. It works a word (64 frames) at a time, so 16
 * GiB of RAM (4 million frames) is 65536 words. frame_alloc looks for the first word that is
 * not all ones, starting at `hint` (every word below it is full), and takes that word's
 * lowest 0 bit. Freeing clears the bit and lowers the hint. Nothing here touches the frames
 * themselves: only the bitmap.
 *
 * A worked example. base = 0, a map with one usable region [0x1800, 0x9000) and one reserved
 * range [0x5100, 0x5200):
 *
 *   frame:   0   1   2   3   4   5   6   7   8   9 ...
 *   usable:     1/2  x   x   x   x   x   x   x        frame 1 is only half inside: not free
 *   reserved:                    x                    the range touches frame 5: in use
 *   bit:     1   1   0   0   0   1   0   0   0   1 ...
 *
 * so word 0 = ~(bits 2,3,4,6,7,8) = ~0x1dc = 0xfffffffffffffe23, total = 7 (frames 2-8),
 * free = 6. frame_alloc returns 0x2000 and word 0 becomes 0xfffffffffffffe27;
 * frame_alloc_contig(3) returns 0x6000 (frames 6, 7, 8), the lowest run of three.
 */
#include <string.h>
#include "compiler.h"
#include "frame.h"
#include "panic.h"
/// STARTER: #include "todo.h"

#define WORD_FULL (~(uint64_t)0)

/*
 * Bits set in x (the compiler's builtin would call libgcc, which the kernel does not link).
 * Helpers marked __unused are used only by code you write.
 */
static __unused unsigned popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

/* Frame number of the first frame past the bitmap. */
static uint64_t end_frame(const struct frame_allocator *fa)
{
	return fa->base + fa->words * FRAME_BITS_PER_WORD;
}

/*
 * Step 1: mark frames [first, end) in use (used) or free (!used), a word at a time; frames
 * outside the bitmap are skipped. Returns how many bits actually changed, so the caller can
 * count frames even when ranges overlap.
 */
static uint64_t mark_frames(struct frame_allocator *fa, uint64_t first, uint64_t end, bool used)
{
	/// SOLUTION BEGIN
	uint64_t changed = 0;

	first = MAX(first, fa->base);
	end = MIN(end, end_frame(fa));
	while (first < end) {
		uint64_t bit = first - fa->base;
		uint64_t w = bit / FRAME_BITS_PER_WORD, i = bit % FRAME_BITS_PER_WORD;
		uint64_t n = MIN(FRAME_BITS_PER_WORD - i, end - first);
		uint64_t mask = n == FRAME_BITS_PER_WORD ? WORD_FULL : ((1ULL << n) - 1) << i;
		uint64_t old = fa->bitmap[w];
		uint64_t new = used ? old | mask : old & ~mask;

		changed += popcount64(old ^ new);
		fa->bitmap[w] = new;
		first += n;
	}
	return changed;
	/// SOLUTION END
	/// STARTER: TODO("step 1: set or clear the bits of frames [first, end) a word at a time; return how many changed");
}

/* Step 2: the whole map in one pass over its regions (see frame.h for the rules). */
void frame_init(struct frame_allocator *fa, uint64_t *bitmap, uint64_t base, uint64_t words,
		const struct memmap *map, const struct frame_range *reserved, int nreserved)
{
	/// SOLUTION BEGIN
	*fa = (struct frame_allocator){.bitmap = bitmap,
				       .base = base,
				       .words = words,
				       .map = map,
				       .reserved = reserved,
				       .nreserved = nreserved};
	memset(bitmap, 0xff, words * sizeof(*bitmap));

	/* Usable RAM: only frames wholly inside a region (round the start up, the end down). */
	for (int i = 0; i < map->count; i++) {
		const struct memmap_region *r = &map->regions[i];

		if (r->type == MEMMAP_USABLE)
			fa->total += mark_frames(fa, align_up(r->base, PAGE_SIZE) >> PAGE_SHIFT,
						 (r->base + r->len) >> PAGE_SHIFT, false);
	}

	/* Frame 0 and the reserved ranges: still RAM, but never free (round outwards). */
	uint64_t taken = mark_frames(fa, 0, 1, true);
	for (int i = 0; i < nreserved; i++)
		taken += mark_frames(fa, reserved[i].start >> PAGE_SHIFT,
				     align_up(reserved[i].end, PAGE_SIZE) >> PAGE_SHIFT, true);
	fa->nfree = fa->total - taken;
	/// SOLUTION END
	/// STARTER: TODO("step 2: all bits 1, then free the whole frames of each usable region, then mark frame 0 and the reserved ranges; set total and nfree");
}

/* Step 3: the lowest free frame. */
phys_addr_t frame_alloc(struct frame_allocator *fa)
{
	/// SOLUTION BEGIN
	for (uint64_t w = fa->hint; w < fa->words; w++) {
		if (fa->bitmap[w] == WORD_FULL)
			continue;
		unsigned i = (unsigned)__builtin_ctzll(~fa->bitmap[w]); /* the lowest 0 bit */

		fa->bitmap[w] |= 1ULL << i;
		fa->nfree--;
		fa->hint = w;
		return (fa->base + w * FRAME_BITS_PER_WORD + i) << PAGE_SHIFT;
	}
	fa->hint = fa->words;
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 3: from word hint on, find the first word that is not all ones, take its lowest 0 bit, move the hint, return that frame's address (0 if none is free)");
}

bool frame_never_handed_out(const struct frame_allocator *fa, uint64_t pfn)
{
	phys_addr_t pa = pfn << PAGE_SHIFT;
	bool ram = false;

	if (pfn == 0)
		return true;
	for (int i = 0; i < fa->nreserved; i++)
		if (pa + PAGE_SIZE > fa->reserved[i].start && pa < fa->reserved[i].end)
			return true;
	for (int i = 0; i < fa->map->count && !ram; i++) {
		const struct memmap_region *r = &fa->map->regions[i];
		ram = r->type == MEMMAP_USABLE && r->base <= pa &&
		      pa + PAGE_SIZE <= r->base + r->len;
	}
	return !ram;
}

/* Step 4: panic, naming fn, unless pa is a frame in use that this allocator hands out. */
static void check_free(const struct frame_allocator *fa, phys_addr_t pa, const char *fn)
{
	/// SOLUTION BEGIN
	uint64_t pfn = pa >> PAGE_SHIFT;

	if (pa & (PAGE_SIZE - 1))
		panic("%s: 0x%lx is not the address of a frame (not page-aligned)", fn, pa);
	if (pfn < fa->base || pfn >= end_frame(fa))
		panic("%s: 0x%lx is outside this allocator's frames", fn, pa);
	if (frame_never_handed_out(fa, pfn))
		panic("%s: 0x%lx was never handed out (reserved or not RAM)", fn, pa);
	if (frame_is_free(fa, pa))
		panic("%s: double free of 0x%lx", fn, pa);
	/// SOLUTION END
	/// STARTER: TODO("step 4: panic (\"<fn>: why\") if pa is not page-aligned, outside the bitmap, frame_never_handed_out() or already free");
}

/* Step 4, continued. */
void frame_free(struct frame_allocator *fa, phys_addr_t pa)
{
	check_free(fa, pa, "frame_free");
	/// SOLUTION BEGIN
	uint64_t bit = (pa >> PAGE_SHIFT) - fa->base, w = bit / FRAME_BITS_PER_WORD;

	fa->bitmap[w] &= ~(1ULL << (bit % FRAME_BITS_PER_WORD));
	fa->nfree++;
	fa->hint = MIN(fa->hint, w);
	/// SOLUTION END
	/// STARTER: TODO("step 4: clear the frame's bit, count it free, lower the hint if needed");
}

/* Step 5: the lowest run of n free frames, skipping full words whole. */
phys_addr_t frame_alloc_contig(struct frame_allocator *fa, size_t n)
{
	/// SOLUTION BEGIN
	uint64_t nbits = fa->words * FRAME_BITS_PER_WORD;
	uint64_t run = 0, start = 0;

	if (n == 0 || n > fa->nfree)
		return 0;
	for (uint64_t bit = fa->hint * FRAME_BITS_PER_WORD; bit < nbits && run < n;) {
		uint64_t word = fa->bitmap[bit / FRAME_BITS_PER_WORD];

		if (bit % FRAME_BITS_PER_WORD == 0 && (word == WORD_FULL || word == 0)) {
			if (word == WORD_FULL) {
				run = 0;
			} else {
				start = run ? start : bit;
				run += FRAME_BITS_PER_WORD;
			}
			bit += FRAME_BITS_PER_WORD;
			continue;
		}
		if (word >> (bit % FRAME_BITS_PER_WORD) & 1) {
			run = 0;
		} else {
			start = run ? start : bit;
			run++;
		}
		bit++;
	}
	if (run < n)
		return 0;
	mark_frames(fa, fa->base + start, fa->base + start + n, true);
	fa->nfree -= n;
	return (fa->base + start) << PAGE_SHIFT;
	/// SOLUTION END
	/// STARTER: TODO("step 5: find the lowest run of n 0 bits (skip words that are all ones), mark them used, return the first frame's address (0 if no run is long enough)");
}

/* Step 5, continued: check all n frames first, then free them in one go. */
void frame_free_contig(struct frame_allocator *fa, phys_addr_t pa, size_t n)
{
	/// SOLUTION BEGIN
	for (size_t i = 0; i < n; i++)
		check_free(fa, pa + i * PAGE_SIZE, "frame_free_contig");
	uint64_t first = pa >> PAGE_SHIFT;

	fa->nfree += mark_frames(fa, first, first + n, false);
	fa->hint = MIN(fa->hint, (first - fa->base) / FRAME_BITS_PER_WORD);
	/// SOLUTION END
	/// STARTER: TODO("step 5: check_free() each of the n frames before freeing any, then clear their bits (mark_frames), count them, lower the hint");
}

bool frame_is_free(const struct frame_allocator *fa, phys_addr_t pa)
{
	uint64_t pfn = pa >> PAGE_SHIFT;

	if (pfn < fa->base || pfn >= end_frame(fa))
		return false;
	uint64_t bit = pfn - fa->base;
	return !(fa->bitmap[bit / FRAME_BITS_PER_WORD] >> (bit % FRAME_BITS_PER_WORD) & 1);
}

/* ---- for the kernel's buddy allocator (checkpoint 06): given, not a step of the lab ------- */

/*
 * Call fn(start, count, arg) for each run of free frames within [first, end), in address
 * order, until fn returns false. A run is passed on as soon as it reaches max_run frames (a
 * search can stop there), the rest of it as the next run. Words that are all free or all in
 * use are taken in one step, so 16 GiB (65536 words) is scanned in well under a millisecond.
 */
static bool scan_runs(const struct frame_allocator *fa, uint64_t first, uint64_t end,
		      uint64_t max_run, bool (*fn)(uint64_t start, uint64_t count, void *arg),
		      void *arg)
{
	uint64_t run = 0, start = 0;

	first = MAX(first, fa->base);
	end = MIN(end, end_frame(fa));
	for (uint64_t p = first; p < end;) {
		uint64_t bit = p - fa->base, word = fa->bitmap[bit / FRAME_BITS_PER_WORD], n = 1;
		bool free;

		if (bit % FRAME_BITS_PER_WORD == 0 && end - p >= FRAME_BITS_PER_WORD &&
		    (word == 0 || word == WORD_FULL)) {
			n = FRAME_BITS_PER_WORD; /* a whole word at once */
			free = word == 0;
		} else {
			free = !(word >> (bit % FRAME_BITS_PER_WORD) & 1);
		}
		if (free) {
			start = run ? start : p;
			run += n;
		}
		if ((!free && run) || run >= max_run) {
			if (!fn(start, run, arg))
				return false;
			run = 0;
		}
		p += n;
	}
	return !run || fn(start, run, arg);
}

void frame_for_each_free_run(const struct frame_allocator *fa, uint64_t first, uint64_t end,
			     bool (*fn)(uint64_t start, uint64_t count, void *arg), void *arg)
{
	scan_runs(fa, first, end, UINT64_MAX, fn, arg);
}

struct run_search {
	uint64_t need, found;
};

static bool stop_at_run(uint64_t start, uint64_t count, void *arg)
{
	struct run_search *s = arg;

	if (count < s->need)
		return true;
	s->found = start;
	return false;
}

uint64_t frame_take_run(struct frame_allocator *fa, uint64_t first, uint64_t end, uint64_t n)
{
	struct run_search s = {n, 0};

	if (n == 0)
		return 0;
	scan_runs(fa, first, end, n, stop_at_run, &s);
	if (s.found)
		fa->nfree -= mark_frames(fa, s.found, s.found + n, true);
	return s.found;
}

uint64_t frame_retire_all(struct frame_allocator *fa)
{
	uint64_t was_free = fa->nfree;

	for (uint64_t w = 0; w < fa->words; w++)
		fa->bitmap[w] = WORD_FULL;
	fa->nfree = 0;
	fa->hint = fa->words;
	return was_free;
}
