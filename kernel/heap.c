/*
 * The kernel heap (kernel/heap.h): kmalloc and its friends over the allocator of the current
 * checkpoint, in a fixed range of virtual addresses that grows by mapping fresh frames.
 *
 *   KHEAP_BASE                       heap_end                     KHEAP_BASE + KHEAP_MAX
 *   | mapped: the allocator's arena  | not mapped: room to grow      |
 *   [################################)...............................)
 *
 * Bringing it up (heap_layer_init, checkpoint 03 on):
 *   1. map KHEAP_INITIAL bytes of fresh frames at KHEAP_BASE, writable and no-execute;
 *   2. bring up the most advanced allocator of the checkpoint that works, from the top down:
 *      the block heap (05), else the list heap (04), else bump (03). Each try runs inside
 *      init_step(): init over the mapped range, a growth by 0 bytes, one small and one
 *      aligned allocation, both freed again. A lab with a TODO left anywhere on that path
 *      is skipped with a note and the allocator below it serves kmalloc, so a student in the
 *      middle of lab 05 keeps a working heap, and the tests of labs 03 and 04 still run. The
 *      kernel says which allocator it uses ("heap: kmalloc uses the list heap (lab 04) ...").
 *
 * kmalloc_aligned(size, align):
 *   1. ask the allocator;
 *   2. if it has no room and is the block heap: give the blocks cached on its class lists
 *      back to its fallback (block_heap_drain), where they merge, and ask again;
 *   3. grow: map max(KHEAP_GROW_MIN, what the request can need) bytes right after heap_end,
 *      hand them to the allocator (bump_extend, list_heap_add_region, block_heap_add_region)
 *      and ask once more.
 * It returns NULL, never panics, when growing would pass KHEAP_MAX or a frame (or a page
 * table) cannot be had; the pages of a growth that failed half-way are given back. The heap
 * never shrinks: pages once mapped stay with the allocator until the kernel stops.
 *
 * What a request can need in fresh memory at the heap's end: the block itself, max(size,
 * align) (the block heap serves a big request with that many bytes; its classes are at most
 * 2048 bytes, within the smallest growth), a gap in front to reach the alignment (at most
 * align, or twice that when the list heap must leave room for a free-region node), and
 * KHEAP_GROW_SLACK for the list heap's header and a tail that can hold a node.
 *
 * Worked example, checkpoint 04 (the list heap), the heap 64 KiB and nearly full:
 *   kmalloc(100000)   the list heap has no region that big: NULL
 *                     need = max(100000, 8) + 2 * 8 + 64 = 100080, rounded up to whole
 *                     pages 102400 (25 pages), more than KHEAP_GROW_MIN: map 25 frames at
 *                     KHEAP_BASE + 64 KiB, list_heap_add_region merges them with the free
 *                     region that ends there; ask again: it fits. The heap is now 164 KiB.
 *   kmalloc(70 MiB)   need is more than KHEAP_MAX - 164 KiB: NULL at once, nothing mapped.
 *
 * The lock: every entry point (kmalloc_aligned, kfree, krealloc, kheap_stats) runs with
 * interrupts disabled (irq.h). Until checkpoint 07 that changes nothing; from then on the
 * timer may preempt a thread anywhere, and on one CPU no other thread can run, so none can
 * find the allocator half-way through a change. Interrupt handlers never allocate.
 */
#if CHECKPOINT >= 3
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "boot.h"
#include "bump.h"
#include "compiler.h"
#include "heap.h"
#include "irq.h"
#include "kprintf.h"
#include "layers.h"
#include "pages.h"
#include "paging.h"
#include "panic.h"
#if CHECKPOINT >= 4
#include "list_heap.h"
#endif
#if CHECKPOINT >= 5
#include "block_heap.h"
#endif

/* Heap pages: the kernel's own data, in every address space, never code. */
#define HEAP_PTE_FLAGS (PTE_WRITABLE | PTE_NO_EXECUTE | PTE_GLOBAL)
/* Headers and the tail a growth must leave room for (see the comment at the top). */
#define KHEAP_GROW_SLACK 64

/* The boot check of an allocator: one small request and one aligned, bigger than a class. */
#define CHECK_SMALL	24
#define CHECK_BIG	3000
#define CHECK_BIG_ALIGN 64

/* One allocator as kmalloc drives it: wrappers over the lab's instance. */
struct heap_layer {
	enum kheap_backend id;
	const char *what; /* for init_step's note: "05-fixed-block: the block heap" */
	void (*init)(void *start, size_t len);
	void *(*alloc)(size_t size, size_t align);
	void (*free)(void *p);
	void (*stats)(struct heap_stats *s);
	size_t (*alloc_size)(const void *p);   /* bytes usable at p, 0 if not a live block */
	void (*grow)(void *start, size_t len); /* start is the heap's end */
	void (*drain)(void);		       /* optional: give cached memory back */
};

static struct bump bump_heap;

static void bump_layer_init(void *start, size_t len)
{
	bump_init(&bump_heap, start, len);
}

static void *bump_layer_alloc(size_t size, size_t align)
{
	return bump_alloc(&bump_heap, size, align);
}

static void bump_layer_free(void *p)
{
	bump_free(&bump_heap, p);
}

static void bump_layer_stats(struct heap_stats *s)
{
	bump_stats(&bump_heap, s);
}

static size_t bump_layer_alloc_size(const void *p)
{
	return bump_alloc_size(&bump_heap, p);
}

static void bump_layer_grow(void *start, size_t len)
{
	(void)start; /* always bump_heap.end: the arena and the heap end together */
	bump_extend(&bump_heap, len);
}

#if CHECKPOINT >= 4
static struct list_heap list_heap;

static void list_layer_init(void *start, size_t len)
{
	list_heap_init(&list_heap, start, len);
}

static void *list_layer_alloc(size_t size, size_t align)
{
	return list_heap_alloc(&list_heap, size, align);
}

static void list_layer_free(void *p)
{
	list_heap_free(&list_heap, p);
}

static void list_layer_stats(struct heap_stats *s)
{
	list_heap_stats(&list_heap, s);
}

static size_t list_layer_alloc_size(const void *p)
{
	return list_heap_alloc_size(&list_heap, p);
}

static void list_layer_grow(void *start, size_t len)
{
	list_heap_add_region(&list_heap, start, len);
}
#endif

#if CHECKPOINT >= 5
static struct block_heap block_heap;

static void block_layer_init(void *start, size_t len)
{
	block_heap_init(&block_heap, start, len, NULL); /* the default prefill and cap */
}

static void *block_layer_alloc(size_t size, size_t align)
{
	return block_heap_alloc(&block_heap, size, align);
}

static void block_layer_free(void *p)
{
	block_heap_free(&block_heap, p);
}

static void block_layer_stats(struct heap_stats *s)
{
	block_heap_stats(&block_heap, s);
}

static size_t block_layer_alloc_size(const void *p)
{
	return block_heap_alloc_size(&block_heap, p);
}

static void block_layer_grow(void *start, size_t len)
{
	block_heap_add_region(&block_heap, start, len);
}

static void block_layer_drain(void)
{
	block_heap_drain(&block_heap);
}
#endif

/* The allocators of this checkpoint, the most advanced first. */
static const struct heap_layer layers[] = {
#if CHECKPOINT >= 5
	{KHEAP_BLOCK, "05-fixed-block: the block heap", block_layer_init, block_layer_alloc,
	 block_layer_free, block_layer_stats, block_layer_alloc_size, block_layer_grow,
	 block_layer_drain},
#endif
#if CHECKPOINT >= 4
	{KHEAP_LIST, "04-linked-list: the list heap", list_layer_init, list_layer_alloc,
	 list_layer_free, list_layer_stats, list_layer_alloc_size, list_layer_grow, NULL},
#endif
	{KHEAP_BUMP, "03-bump: the bump allocator", bump_layer_init, bump_layer_alloc,
	 bump_layer_free, bump_layer_stats, bump_layer_alloc_size, bump_layer_grow, NULL},
};

static const struct heap_layer *heap; /* what kmalloc runs on; NULL: no heap */
static uintptr_t heap_end = KHEAP_BASE;

enum kheap_backend kheap_backend(void)
{
	return heap ? heap->id : KHEAP_NONE;
}

const char *kheap_backend_name(enum kheap_backend b)
{
	switch (b) {
	case KHEAP_BUMP:
		return "the bump allocator (lab 03)";
	case KHEAP_LIST:
		return "the list heap (lab 04)";
	case KHEAP_BLOCK:
		return "the block heap (lab 05)";
	case KHEAP_NONE:
		break;
	}
	return "no heap";
}

size_t kheap_size(void)
{
	return heap ? heap_end - KHEAP_BASE : 0;
}

/* ---- mapping pages ------------------------------------------------------------------------- */

/* Unmap the pages of [va, va + len) and give their frames back. */
static void heap_unmap(uintptr_t va, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE_SIZE) {
		phys_addr_t pa = vm_translate(&kernel_vm, va + off);

		kunmap_page(va + off);
		kframe_free(pa);
	}
}

/* Map [va, va + len) to fresh frames. False, with nothing of it left mapped, when a frame or
 * a page table cannot be had. */
static bool heap_map(uintptr_t va, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE_SIZE) {
		phys_addr_t pa = kframe_alloc();

		if (pa && kmap_page(va + off, pa, HEAP_PTE_FLAGS) == 0)
			continue;
		if (pa)
			kframe_free(pa);
		heap_unmap(va, off);
		return false;
	}
	return true;
}

/* Map enough after heap_end for a request of size bytes at align, and give it to the
 * allocator. False if that would pass KHEAP_MAX or memory ran out. */
static bool heap_grow(size_t size, size_t align)
{
	size_t room = KHEAP_BASE + KHEAP_MAX - heap_end, need;

	if (__builtin_add_overflow(MAX(size, align), 2 * align + KHEAP_GROW_SLACK, &need) ||
	    need > room)
		return false;
	need = MIN(MAX(align_up(need, PAGE_SIZE), KHEAP_GROW_MIN), room);
	if (!heap_map(heap_end, need))
		return false;
	heap->grow((void *)heap_end, need);
	heap_end += need;
	return true;
}

/* ---- kmalloc and its friends ----------------------------------------------------------------- */

/* kmalloc_aligned with the lock held. */
static void *__kmalloc_aligned(size_t size, size_t align)
{
	if (!heap_align_valid(align))
		panic("kmalloc_aligned: bad alignment %zu (a power of two from 1 to %lu)", align,
		      HEAP_MAX_ALIGN);
	if (size == 0)
		return NULL;
	/* From checkpoint 06 on, a page or more comes as whole pages from the buddy allocator. */
	if (size >= PAGE_SIZE && align <= PAGE_SIZE) {
		void *pages = pages_alloc_bytes(size);
		if (pages)
			return pages;
	}
	if (!heap)
		return NULL;

	void *p = heap->alloc(size, align);

	if (!p && heap->drain) {
		heap->drain();
		p = heap->alloc(size, align);
	}
	if (!p && heap_grow(size, align))
		p = heap->alloc(size, align);
	return p;
}

void *kmalloc_aligned(size_t size, size_t align)
{
	unsigned long flags = irq_save();
	void *p = __kmalloc_aligned(size, align);

	irq_restore(flags);
	return p;
}

void *kmalloc(size_t size)
{
	return kmalloc_aligned(size, KMALLOC_ALIGN);
}

void *kcalloc(size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	void *p = kmalloc(bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

/* Panic in who's name unless p is inside the heap's mapped range. */
static void check_in_heap(const char *who, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	if (!heap || a < KHEAP_BASE || a >= heap_end)
		panic("%s: %p is not in the kernel heap [0x%lx, 0x%lx)", who, p, KHEAP_BASE,
		      heap_end);
}

/* kfree with the lock held. */
static void __kfree(void *p)
{
	if (!p)
		return;
	if (pages_owns(p)) {
		pages_free_bytes(p);
		return;
	}
	check_in_heap("kfree", p);
	heap->free(p);
}

void kfree(void *p)
{
	unsigned long flags = irq_save();

	__kfree(p);
	irq_restore(flags);
}

/* krealloc with the lock held. */
static void *__krealloc(void *p, size_t size)
{
	if (!p)
		return __kmalloc_aligned(size, KMALLOC_ALIGN);
	if (size == 0) {
		__kfree(p);
		return NULL;
	}
	size_t old;
	if (pages_owns(p)) {
		old = pages_alloc_size(p);
	} else {
		check_in_heap("krealloc", p);
		/* Bump knows no sizes: its answer may reach into later blocks, safe to read. */
		old = heap->alloc_size(p);
	}
	if (old == 0)
		panic("krealloc: %p is not a live allocation of kmalloc", p);

	void *q = __kmalloc_aligned(size, KMALLOC_ALIGN);
	if (!q)
		return NULL;
	memcpy(q, p, MIN(old, size));
	__kfree(p);
	return q;
}

void *krealloc(void *p, size_t size)
{
	unsigned long flags = irq_save();
	void *q = __krealloc(p, size);

	irq_restore(flags);
	return q;
}

void kheap_stats(struct heap_stats *s)
{
	unsigned long flags = irq_save();

	if (heap)
		heap->stats(s);
	else
		memset(s, 0, sizeof(*s));
	irq_restore(flags);
}

/* ---- bringing it up ------------------------------------------------------------------------ */

/* Why the last try failed without a TODO (NULL: it did not). */
static const char *layer_problem;

static void step_bring_up(void *arg)
{
	const struct heap_layer *l = arg;
	struct heap_stats s;

	layer_problem = NULL;
	l->init((void *)KHEAP_BASE, heap_end - KHEAP_BASE);
	l->grow((void *)heap_end, 0); /* nothing, but it must not be a TODO either */
	uintptr_t a = (uintptr_t)l->alloc(CHECK_SMALL, KMALLOC_ALIGN);
	uintptr_t b = (uintptr_t)l->alloc(CHECK_BIG, CHECK_BIG_ALIGN);

	if (a < KHEAP_BASE || a + CHECK_SMALL > heap_end || b < KHEAP_BASE ||
	    b + CHECK_BIG > heap_end || b % CHECK_BIG_ALIGN) {
		layer_problem = "alloc(24, 8) or alloc(3000, 64) returned NULL, or memory "
				"outside the arena or not aligned";
		return;
	}
	l->free((void *)a);
	l->free((void *)b);
	l->stats(&s);
	if (s.live_allocs != 0 || s.used_bytes != 0 || s.total_bytes != heap_end - KHEAP_BASE)
		layer_problem = "after two allocations were freed its stats do not show an empty "
				"heap of the arena's size";
}

void heap_layer_init(void)
{
	if (!paging_ready) {
		kprintf("heap: no kernel heap without the kernel's own page tables (lab 02); "
			"kmalloc returns NULL\n");
		return;
	}
	if (!heap_map(KHEAP_BASE, KHEAP_INITIAL)) {
		kprintf("heap: no frames for the first %lu KiB of the heap; kmalloc returns NULL\n",
			KHEAP_INITIAL >> 10);
		return;
	}
	heap_end = KHEAP_BASE + KHEAP_INITIAL;
	for (size_t i = 0; i < ARRAY_SIZE(layers) && !heap; i++) {
		if (!init_step(layers[i].what, step_bring_up, (void *)&layers[i]))
			continue;
		if (layer_problem) {
			kprintf("kernel: %s skipped: %s\n", layers[i].what, layer_problem);
			continue;
		}
		heap = &layers[i];
	}
	if (!heap) {
		kprintf("heap: no allocator works yet (see the notes above); kmalloc returns "
			"NULL\n");
		heap_unmap(KHEAP_BASE, KHEAP_INITIAL);
		heap_end = KHEAP_BASE;
		return;
	}
	kprintf("heap: kmalloc uses %s: %lu KiB at 0x%lx, growing up to %lu MiB",
		kheap_backend_name(heap->id), KHEAP_INITIAL >> 10, KHEAP_BASE, KHEAP_MAX >> 20);
	if (heap != &layers[0])
		kprintf("; %s was skipped (see above)", kheap_backend_name(layers[0].id));
	kprintf("\n");
}

/* ---- the tour ------------------------------------------------------------------------------ */

#define TOUR_ARRAY_LEN 16384 /* ints: 64 KiB, more than the first heap can hold */

static const char *const tour_words[] = {"a",	"heap",	 "hands", "out", "memory",
					 "and", "takes", "it",	  "back"};

/* Where p is in the heap (the tour shows offsets: shorter than addresses). */
static unsigned long heap_offset(const void *p)
{
	return (uintptr_t)p - KHEAP_BASE;
}

static void tour_stats(const char *when)
{
	struct heap_stats s;

	kheap_stats(&s);
	kprintf("  %s: %zu bytes used, %zu free in %zu piece(s), %zu overhead, %zu live; heap %zu "
		"KiB\n",
		when, s.used_bytes, s.free_bytes, s.free_regions, s.overhead_bytes, s.live_allocs,
		kheap_size() >> 10);
}

/* kfree a, then ask for as much again: is a's block reused? */
static void tour_reuse(void *a, void *b)
{
	kfree(a);
	void *again = kmalloc(CHECK_SMALL);

	kprintf("kfree(a), then kmalloc(%d) again: heap+0x%lx, %s\n", CHECK_SMALL,
		heap_offset(again),
		again == a ? "a's block, reused"
			   : "new memory: bump reuses nothing while another block (b) is live");
	kfree(again);
	kfree(b);
}

static void tour_growth(void)
{
	int *array = NULL;
	size_t cap = 0, before = kheap_size();

	for (size_t n = 0; n < TOUR_ARRAY_LEN; n++) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1;
			int *bigger = krealloc(array, cap * sizeof(int));
			if (!bigger) {
				kprintf("  krealloc(%zu ints) failed\n", cap);
				kfree(array);
				return;
			}
			array = bigger;
		}
		array[n] = (int)n;
	}
	kprintf("a growing array of %d ints, krealloc doubling its room whenever it is full: the "
		"heap grew from %zu to %zu KiB; array[%d] = %d\n",
		TOUR_ARRAY_LEN, before >> 10, kheap_size() >> 10, TOUR_ARRAY_LEN - 1,
		array[TOUR_ARRAY_LEN - 1]);
	if (pages_owns(array))
		kprintf("  (its last copies, a page or more, were whole pages from the buddy, outside "
			"the heap: checkpoint 06 on)\n");
	kfree(array);
}

static void tour_string(void)
{
	char *s = kcalloc(1, 1);
	size_t len = 0;

	for (size_t i = 0; s && i < ARRAY_SIZE(tour_words); i++) {
		size_t add = strlen(tour_words[i]) + (i > 0);
		char *longer = krealloc(s, len + add + 1);
		if (!longer)
			break;
		s = longer;
		ksnprintf(s + len, add + 1, "%s%s", i > 0 ? " " : "", tour_words[i]);
		len += add;
	}
	kprintf("a string built by appending %zu words with krealloc: \"%s\"\n",
		ARRAY_SIZE(tour_words), s ? s : "(kcalloc failed)");
	kfree(s);
}

void tour_heap(void)
{
	static const char *const titles[] = {
		[KHEAP_BUMP] = "03-bump: the first kernel heap",
		[KHEAP_LIST] = "04-linked-list: a heap that reuses memory",
		[KHEAP_BLOCK] = "05-fixed-block: size classes for small objects",
	};
	enum kheap_backend top = layers[0].id;

	kprintf("\n== %s ==\n", titles[top]);
	if (!heap) {
		kprintf("kmalloc has no heap yet (see the notes at boot).\n");
		return;
	}
	kprintf("kmalloc runs on %s, over %zu KiB mapped at 0x%lx (at most %lu MiB)\n",
		kheap_backend_name(heap->id), kheap_size() >> 10, KHEAP_BASE, KHEAP_MAX >> 20);
	void *a = kmalloc(CHECK_SMALL), *b = kmalloc(100), *c = kmalloc_aligned(64, PAGE_SIZE);
	kprintf("a = kmalloc(%d) = heap+0x%lx, b = kmalloc(100) = heap+0x%lx, "
		"c = kmalloc_aligned(64, 4096) = heap+0x%lx\n",
		CHECK_SMALL, heap_offset(a), heap_offset(b), heap_offset(c));
	if (heap->id == KHEAP_BLOCK)
		kprintf("  (a and b are blocks of the 32- and 128-byte classes; c comes from the "
			"fallback list heap)\n");
	tour_stats("now");
	kfree(c);
	tour_reuse(a, b);
	tour_growth();
	tour_string();
	tour_stats("all freed");
	kprintf("  (the heap keeps its pages: it never shrinks)\n");
}
#endif /* CHECKPOINT >= 3 */
