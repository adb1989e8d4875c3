/*
 * The fixed-block allocator: size classes carved out of slabs, in front of the linked-list
 * allocator (see kernel/block_heap.h).
 *
 * Theory of operation. Most kernel allocations are small and come in a few sizes, so each
 * power of two from 8 to 2048 bytes is a class, and a request is rounded up to its class (the
 * smallest power of two that is at least its size and its alignment). A class gets its
 * memory in slabs: a 16 KiB window at a multiple of 16 KiB, taken from the fallback's free
 * memory and cut into blocks of the class size all at once (the carving, step 2). The slab's record, at
 * the end of its window, keeps its free blocks on a list threaded through the blocks
 * themselves, and counts its live ones. Allocating pops a block off the first slab on the
 * class's list (step 3); freeing finds the block's slab by rounding the address down to 16
 * KiB, pushes the block back and puts that slab first (step 4). Every step is O(1): the
 * fallback's list, whose walk grows with the number of blocks live in the arena, is walked
 * once per slab, never per block. A slab whose blocks are all free again is empty; a class
 * keeps `cap` empty slabs for its next allocations and gives any other back to the fallback
 * whole, where it merges and can serve any size again. Requests larger than 2048 bytes (or
 * aligned to more) go to the fallback directly.
 *
 * Free gets only the pointer. The record at the end of its 16 KiB window says whether a slab
 * is there (its check) and which class; its live map (one bit per 8 bytes of the window, a
 * block's bit being that of its first 8 bytes) tells a live block from a free one, so a double
 * free is caught at once. Anything else is a big allocation, which the fallback's header
 * describes.
 *
 * Why not one block at a time? Taking each block from the fallback as its own allocation
 * walks the fallback's list for every new block, and that list grows with the blocks live in
 * the arena (each leaves an alignment gap behind it); giving blocks back one at a time walks
 * it again to find each block's place. On the recorded allocations of a real program (make
 * bench) that made some operations thousands of times slower than glibc's malloc.
 *
 * Worked example, default settings (cap 1), an arena at 0x100000 (a multiple of 16 KiB):
 *
 *   alloc(24, 8)      max(24, 8) = 24 -> class 2 (32 bytes). Its list is empty: carve a slab.
 *                     The first window the fallback can give is 0x104000 (0x100000 cannot
 *                     be: the 16 bytes in front of it lie below the arena): the slab takes
 *                     [0x103ff0, 0x107ff0). Its record goes to 0x104000 + 16072 = 0x107ec8;
 *                     16072 / 32 = 502 blocks, on the free list in address order: 0x104000
 *                     -> 0x104020 -> ... Pop 0x104000 (A).
 *   alloc(20, 8)      class 2 again: pop 0x104020 (B). The slab: 2 live, 500 free.
 *   free(A)           0x104000 rounded down to 16 KiB is 0x104000: the record at 0x107ec8
 *                     says class 2, and block (A - 0x104000) / 32 = 0 is live. Push A: free
 *                     list A -> 0x104040 -> ...; 1 live.
 *   alloc(30, 8)      class 2: pop A again (the last freed is the first reused).
 *   free(A), free(B)  0 live: the slab is empty, and class 2 may keep cap = 1 empty slab: it
 *                     stays for the next request of up to 32 bytes.
 *   alloc(3000, 8)    more than 2048: the fallback allocates 3000 bytes directly.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "block_heap.h"
#include "compiler.h"
#include "list_heap.h"
#include "panic.h"
#include "todo.h"

/* log2(BLOCK_HEAP_MIN_CLASS): block i of a slab of class c is at base + (i << (c + 3)). */
#define MIN_SHIFT 3
_Static_assert(BLOCK_HEAP_MIN_CLASS == 1 << MIN_SHIFT, "MIN_SHIFT is log2 of the smallest class");

/* block_heap_alloc and block_heap_free have the steps they call compiled into them (flatten),
 * all but these two, which run once per slab: the common path stays short. */
__attribute__((noinline)) struct block_slab *block_heap_slab_new(struct block_heap *h, int c);
__attribute__((noinline)) void block_heap_slab_release(struct block_heap *h, struct block_slab *s);

/* What an unlinked slab's list pointers hold: an address that faults if anyone follows it. */
#define SLAB_LIST_POISON ((struct block_slab *)0xdead000000000200ul)

/* The cookies of successive heaps: "SLABSLAB" times an odd number, a new one each init. */
#define COOKIE_BASE 0x534c4142534c4142ul
#define COOKIE_STEP 0x9e3779b97f4a7c15ul
static uintptr_t heaps_made;

static const struct block_heap_config block_heap_defaults = {
	.prefill = BLOCK_HEAP_DEFAULT_PREFILL,
	.cap = BLOCK_HEAP_DEFAULT_CAP,
};

/* Put slab s first on class k's list. (__unused: until your steps 2 and 4 call it.) */
static inline __unused void slab_push(struct block_class *k, struct block_slab *s)
{
	s->prev = NULL;
	s->next = k->slabs;
	if (k->slabs)
		k->slabs->prev = s;
	k->slabs = s;
}

/* Why slab s, whose links are poisoned, cannot be unlinked: it is on no list. */
static __attribute__((noinline, noreturn)) void slab_on_no_list(const struct block_slab *s)
{
	panic("slab_unlink: the slab at 0x%lx (%u of its %u blocks live) is on no list (a full "
	      "slab leaves it in step 3): step 4 puts a slab that was full back with slab_push "
	      "alone, and unlinks one only if it had a free block before the freed one came back "
	      "(look at s->free before the push)",
	      block_heap_slab_base(s), s->live, s->blocks);
}

/* Take slab s off class k's list (it must be on it: a slab on no list has poisoned links,
 * and unlinking it panics, saying so). */
static inline void slab_unlink(struct block_class *k, struct block_slab *s)
{
	if (s->prev == SLAB_LIST_POISON)
		slab_on_no_list(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		k->slabs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = SLAB_LIST_POISON;
}

/*
 * A slab's memory from the fallback: the free piece list_heap_alloc would take for
 * BLOCK_HEAP_SLAB_BYTES at a multiple of BLOCK_HEAP_SLAB_SIZE, [base - 16, base + 16 KiB -
 * 16), taken through lab 04's steps without the header list_heap_alloc would write in its
 * first 16 bytes (list_heap_alloc aligns to a page at most; the slab's record says what the
 * memory is). Returns base, the first byte of the slab's window, or NULL when no free region
 * holds one. (__unused: until your step 2 calls it.)
 */
static inline __unused uint8_t *slab_take(struct block_heap *h)
{
	struct list_fit fit;

	if (!list_heap_find_region(&h->fallback, BLOCK_HEAP_SLAB_BYTES, BLOCK_HEAP_SLAB_SIZE, &fit))
		return NULL;
	list_heap_split_region(&fit);
	h->slabs++;
	return (uint8_t *)(fit.block + LIST_HEAP_HEADER);
}

/* Give the memory of the slab at base back to the fallback, merged with its neighbours. */
static inline void slab_give_back(struct block_heap *h, uintptr_t base)
{
	h->slabs--;
	list_heap_insert_free(&h->fallback, base - LIST_HEAP_HEADER, BLOCK_HEAP_SLAB_SIZE);
}

/* Step 1: the smallest class that holds max(size, align), or -1. */
int block_heap_class(size_t size, size_t align)
{
	TODO("step 1: return the smallest c with block_heap_class_size(c) >= max(size, align), or -1 above BLOCK_HEAP_MAX_CLASS");
}

/* Step 2: a slab from the fallback, carved into blocks of class c. */
struct block_slab *block_heap_slab_new(struct block_heap *h, int c)
{
	TODO("step 2: base = slab_take(h) (NULL: return NULL); fill the record block_heap_slab_of(base): class, blocks, live 0, live_map 0, every block on its free list in address order, check = block_heap_slab_check(h, s); slab_push it on class c's list; one more empty slab");
}

/* Step 3: pop a block off the first slab of class c (a new slab if there is none). */
void *block_heap_class_alloc(struct block_heap *h, int c)
{
	TODO("step 3: take the first slab on class c's list (none: block_heap_slab_new; NULL: return NULL), pop a block off its free list, one more live (if it was 0, one empty slab less), slab_unlink it if its free list is now empty");
}

/* Step 4: push block p back onto its slab; an empty slab past the cap goes back. */
void block_heap_class_free(struct block_heap *h, int c, void *p)
{
	TODO("step 4: push p on the free list of its slab (block_heap_slab_of(p)), one less live; unless the slab is first on class c's list, slab_unlink it (if it was on it: it had a free block) and slab_push it; if it has no live block now, one more empty slab, and if the class held config.cap empty slabs already, block_heap_slab_release it");
}

void block_heap_slab_release(struct block_heap *h, struct block_slab *s)
{
	struct block_class *k = &h->classes[s->class];

	slab_unlink(k, s);
	k->empty--;
	s->check = 0; /* no longer a slab: free must not take it for one */
	slab_give_back(h, block_heap_slab_base(s));
}

/* Where the fallback's memory can hold a slab window (its range grows with add_region). */
static void slab_bounds(struct block_heap *h)
{
	uintptr_t lo = h->fallback.lo, hi = h->fallback.hi;

	if (hi - lo < BLOCK_HEAP_SLAB_BYTES) { /* room for none: no base is 1 past any */
		h->slab_lo = 1;
		h->slab_span = 0;
		return;
	}
	h->slab_lo = lo;
	h->slab_span = hi - lo - BLOCK_HEAP_SLAB_BYTES;
}

void block_heap_init(struct block_heap *h, void *start, size_t len,
		     const struct block_heap_config *config)
{
	h->config = config ? *config : block_heap_defaults;
	if (h->config.prefill > h->config.cap)
		panic("block_heap_init: prefill %u is more than the cap %u", h->config.prefill,
		      h->config.cap);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		h->classes[c] = (struct block_class){NULL, 0};
	h->used_bytes = h->live_allocs = h->slabs = 0;
	h->cookie = COOKIE_BASE ^ (++heaps_made * COOKIE_STEP);
	list_heap_init(&h->fallback, start, len);
	slab_bounds(h);
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++)
		for (unsigned i = 0; i < h->config.prefill; i++)
			if (!block_heap_slab_new(h, c))
				return; /* the arena is full: stop carving */
}

void block_heap_add_region(struct block_heap *h, void *start, size_t len)
{
	list_heap_add_region(&h->fallback, start, len);
	slab_bounds(h);
}

/* Where the live map of slab s keeps the bit of the block at p: one bit per 8 bytes of the
 * window, a block's bit being that of its first 8 bytes. */
static inline uint64_t *live_word(struct block_slab *s, const void *p)
{
	return &s->live_map[((uintptr_t)p & (BLOCK_HEAP_SLAB_SIZE - 1)) >> (MIN_SHIFT + 6)];
}

static inline uint64_t live_bit(const void *p)
{
	return UINT64_C(1) << (((uintptr_t)p >> MIN_SHIFT) % 64);
}

/* The fallback serves a request above the largest class, counted as max(size, align). Out of
 * line, as the other paths that are not the common one: the common one stays short. */
static __attribute__((noinline)) void *big_alloc(struct block_heap *h, size_t size, size_t align)
{
	size_t n = MAX(size, align);
	void *p = list_heap_alloc(&h->fallback, n, align);

	if (p) {
		h->used_bytes += n;
		h->live_allocs++;
	}
	return p;
}

/* The live map's bit of a block just handed out, and the counts. */
static inline void *hand_out(struct block_heap *h, int c, void *p)
{
	*live_word(block_heap_slab_of(p), p) |= live_bit(p);
	h->used_bytes += block_heap_class_size(c);
	h->live_allocs++;
	return p;
}

/* A block of class c when its list is empty: from a new slab. */
static __attribute__((noinline)) void *alloc_from_new_slab(struct block_heap *h, int c)
{
	void *p = block_heap_class_alloc(h, c);

	return p ? hand_out(h, c, p) : NULL;
}

__attribute__((flatten)) void *block_heap_alloc(struct block_heap *h, size_t size, size_t align)
{
	if (!heap_align_valid(align))
		panic("block_heap_alloc: bad alignment %zu (a power of two from 1 to %lu)", align,
		      HEAP_MAX_ALIGN);
	if (size == 0)
		return NULL;

	int c = block_heap_class(size, align);
	if (c < 0)
		return big_alloc(h, size, align);
	if (!h->classes[c].slabs) /* out of line: the common path calls nothing */
		return alloc_from_new_slab(h, c);
	return hand_out(h, c, block_heap_class_alloc(h, c));
}

/* The slab whose window holds p, if a slab is there; NULL otherwise. Reads only inside the
 * arena. */
static struct block_slab *slab_at(const struct block_heap *h, const void *p)
{
	struct block_slab *s = block_heap_slab_of(p);

	if (block_heap_slab_base(p) - h->slab_lo > h->slab_span)
		return NULL;
	return s->check == block_heap_slab_check(h, s) ? s : NULL;
}

/* True if p is where a block of slab s starts: a multiple of the class size from the
 * window's start, the whole block before the record. */
static bool block_start(const struct block_slab *s, const void *p)
{
	size_t off = (uintptr_t)p & (BLOCK_HEAP_SLAB_SIZE - 1), n = block_heap_class_size(s->class);

	return (off & (n - 1)) == 0 && off + n <= BLOCK_HEAP_SLAB_RECORD;
}

/* A pointer in no slab: NULL, a big allocation of the fallback, or a mistake. */
static __attribute__((noinline)) void big_free(struct block_heap *h, void *p)
{
	if (!p)
		return;
	size_t n = list_heap_alloc_size(&h->fallback, p);
	if (n == 0)
		panic("block_heap_free: %p is not allocated (freed already, or never returned by "
		      "block_heap_alloc)",
		      p);
	if (n <= BLOCK_HEAP_MAX_CLASS)
		panic("block_heap_free: %p was never returned by block_heap_alloc (a fallback "
		      "allocation of %zu bytes, which only a class block could be)",
		      p, n);
	h->used_bytes -= n;
	h->live_allocs--;
	list_heap_free(&h->fallback, p);
}

/* Why p, a pointer inside slab s whose live map has no bit for it, cannot be freed. A free
 * block start is one of two mistakes that look the same here, a block freed already or one
 * never handed out (both are on the slab's free list): the panic names both. */
static __attribute__((noinline, noreturn)) void bad_free(const struct block_slab *s, void *p)
{
	size_t n = block_heap_class_size(s->class);

	if (!block_start(s, p))
		panic("block_heap_free: %p was never returned by block_heap_alloc (inside a slab of "
		      "%zu-byte blocks, but not where one starts)",
		      p, n);
	panic("block_heap_free: %p is not live: freed already (a double free), or never returned "
	      "by block_heap_alloc (a free block of a slab of %zu-byte blocks)",
	      p, n);
}

/*
 * Debug: fill a freed block with HEAP_POISON_BYTE, so that a use after free reads 0x6b6b...
 * A block is a multiple of 8 bytes: one `rep stosq` (store rax to rcx words from rdi) does
 * it in place of a call to memset, which would cost the common path a call and the registers
 * saved around it.
 */
static inline void poison(void *p, size_t n)
{
	size_t words = n / 8;

	__asm__ volatile("rep stosq"
			 : "+D"(p), "+c"(words)
			 : "a"(HEAP_POISON_BYTE * UINT64_C(0x0101010101010101))
			 : "memory");
}

__attribute__((flatten)) void block_heap_free(struct block_heap *h, void *p)
{
	struct block_slab *s = slab_at(h, p);

	if (!s) {
		big_free(h, p);
		return;
	}
	/* A live block has its bit; any other address in the slab (a free block, the middle of
	 * a block, the record) has none. */
	uint64_t *word = live_word(s, p), bit = live_bit(p);
	if ((uintptr_t)p % BLOCK_HEAP_MIN_CLASS || !(*word & bit))
		bad_free(s, p);
	*word &= ~bit;

	int c = s->class;
	size_t n = block_heap_class_size(c);
	h->used_bytes -= n;
	h->live_allocs--;
	if (HEAP_DEBUG)
		poison(p, n);
	block_heap_class_free(h, c, p);
}

void block_heap_stats(const struct block_heap *h, struct heap_stats *s)
{
	struct heap_stats fb;
	size_t cached = 0, blocks = 0;

	list_heap_stats(&h->fallback, &fb);
	s->largest_free = fb.largest_free;
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		size_t size = block_heap_class_size(c);

		for (const struct block_slab *sl = h->classes[c].slabs; sl; sl = sl->next) {
			size_t n = sl->blocks - sl->live;

			cached += n * size;
			blocks += n;
			if (n && size > s->largest_free)
				s->largest_free = size;
		}
	}
	s->total_bytes = fb.total_bytes;
	s->used_bytes = h->used_bytes;
	s->free_bytes = fb.free_bytes + cached;
	s->overhead_bytes = fb.total_bytes - h->used_bytes - s->free_bytes;
	s->free_regions = fb.free_regions + blocks;
	s->live_allocs = h->live_allocs;
}

size_t block_heap_alloc_size(const struct block_heap *h, const void *p)
{
	struct block_slab *s = slab_at(h, p);

	if (s)
		return block_start(s, p) && (*live_word(s, p) & live_bit(p))
			       ? block_heap_class_size(s->class)
			       : 0;
	size_t n = list_heap_alloc_size(&h->fallback, p);
	return n > BLOCK_HEAP_MAX_CLASS ? n : 0;
}

void block_heap_drain(struct block_heap *h)
{
	for (int c = 0; c < BLOCK_HEAP_CLASSES; c++) {
		struct block_slab *s = h->classes[c].slabs, *next;

		for (; s; s = next) {
			next = s->next;
			if (s->live == 0)
				block_heap_slab_release(h, s);
		}
	}
}
