/*
 * The kernel heap (kernel/heap.h): kmalloc and its friends over the allocator the heap layers
 * offered (kheap.h), in a fixed range of virtual addresses that grows by mapping fresh frames.
 *
 *   KHEAP_BASE                       heap_end                     KHEAP_BASE + KHEAP_MAX
 *   | mapped: the allocator's arena  | not mapped: room to grow      |
 *   [################################)...............................)
 *
 * kmalloc_aligned(size, align):
 *   1. a page or more goes to the pages layer 06 lends (kheap_use_pages), if any;
 *   2. ask the allocator;
 *   3. if it has no room and can drain (the block heap): give its cached blocks back to its
 *      fallback, where they merge, and ask again;
 *   4. grow: map max(KHEAP_GROW_MIN, what the request can need) bytes right after heap_end,
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
 * The lock: every entry point (kmalloc, kmalloc_aligned, kfree, krealloc, kheap_stats) runs
 * with interrupts disabled (irq.h). Until checkpoint 07 that changes nothing; from then on the
 * timer may preempt a thread anywhere, and on one CPU no other thread can run, so none can
 * find the allocator half-way through a change. Interrupt handlers never allocate.
 */
#include <string.h>
#include "irq.h"
#include "kheap.h"
#include "kprintf.h"
#include "layer.h"
#include "local.h"
#include "panic.h"
#include "paging.h"

/* Heap pages: the kernel's own data, in every address space, never code. */
#define HEAP_PTE_FLAGS (PTE_WRITABLE | PTE_NO_EXECUTE | PTE_GLOBAL)
/* Headers and the tail a growth must leave room for (see the comment at the top). */
#define KHEAP_GROW_SLACK 64

/* The check an allocator passes before it serves kmalloc: one small request and one
 * aligned, bigger than a class. */
#define CHECK_SMALL	24
#define CHECK_BIG	3000
#define CHECK_BIG_ALIGN 64

static const struct kheap_allocator *heap; /* what kmalloc runs on; NULL: no heap */
static const struct kheap_pages *pages;	   /* whole pages for big requests; NULL: none */
static uintptr_t heap_end = KHEAP_BASE;	   /* the arena is [KHEAP_BASE, heap_end) */

/*
 * The common case, a kmalloc below a page or a kfree of memory from the arena, goes straight
 * to the allocator by one of two paths: inline to the block heap (kheap_fast, heap.h) when it
 * serves kmalloc, else through the table (table_path, in __kmalloc and __kfree). The one in
 * use is open to the heap as it is now, the other shut (all 0); both are shut without a heap.
 */
struct kheap_fast kheap_fast;
static struct kheap_fast table_path;

/* Open the path of the allocator kmalloc runs on. Called whenever heap or heap_end changes. */
static void fast_path_update(void)
{
	struct kheap_fast open = {PAGE_SIZE - 1, heap_end - KHEAP_BASE}, shut = {0, 0};
	bool block = heap && heap->id == KHEAP_BLOCK;

	kheap_fast = block ? open : shut;
	table_path = heap && !block ? open : shut;
}

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

void kheap_use_pages(const struct kheap_pages *p)
{
	pages = p;
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
	fast_path_update();
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
	if (size >= PAGE_SIZE && align <= PAGE_SIZE && pages) {
		void *p = pages->alloc(size);
		if (p)
			return p;
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

/*
 * kmalloc with the lock held, for every request the inline fast path (heap.h) did not serve.
 * Below a page, unless that path asked the block heap already, straight to the allocator;
 * only when it has no room (or there is none) does the whole of __kmalloc_aligned run, which
 * asks it again after draining or growing.
 */
void *__kmalloc(size_t size)
{
	void *p =
		likely(size - 1 < table_path.alloc_below) ? heap->alloc(size, KMALLOC_ALIGN) : NULL;

	return likely(p) ? p : __kmalloc_aligned(size, KMALLOC_ALIGN);
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

static bool in_heap(const void *p)
{
	return heap && (uintptr_t)p >= KHEAP_BASE && (uintptr_t)p < heap_end;
}

/* Panic in who's name unless p is in the heap's arena or a block of pages. True for pages. */
static bool check_owner(const char *who, const void *p)
{
	if (in_heap(p))
		return false;
	if (pages && pages->owns(p))
		return true;
	panic("%s: %p is not in the kernel heap [0x%lx, 0x%lx)%s", who, p, KHEAP_BASE, heap_end,
	      pages ? " nor a block of pages it handed out" : "");
}

/* kfree with the lock held: every case, the owner checked. */
static void __kfree_checked(void *p)
{
	if (!p)
		return;
	if (check_owner("kfree", p))
		pages->free(p);
	else
		heap->free(p);
}

/* kfree with the lock held, for every pointer the inline fast path (heap.h) did not take:
 * memory of the arena straight to the allocator through the table, unless that path is the
 * block heap's. */
void __kfree(void *p)
{
	if (likely((uintptr_t)p - KHEAP_BASE < table_path.free_span))
		heap->free(p);
	else
		__kfree_checked(p);
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
	/* Bump knows no sizes: its answer may reach into later blocks, safe to read. */
	size_t old = check_owner("krealloc", p) ? pages->alloc_size(p) : heap->alloc_size(p);
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

/* Check b over the whole arena: what is wrong with it (in a static buffer), or NULL. */
static const char *check_backend(const struct kheap_allocator *b)
{
	static char problem[200];
	struct heap_stats s;
	size_t arena = heap_end - KHEAP_BASE;

	b->init((void *)KHEAP_BASE, arena);
	b->grow((void *)heap_end, 0); /* nothing, but it must not be a TODO either */
	uintptr_t a = (uintptr_t)b->alloc(CHECK_SMALL, KMALLOC_ALIGN);
	uintptr_t c = (uintptr_t)b->alloc(CHECK_BIG, CHECK_BIG_ALIGN);

	if (a < KHEAP_BASE || a + CHECK_SMALL > heap_end || c < KHEAP_BASE ||
	    c + CHECK_BIG > heap_end || c % CHECK_BIG_ALIGN)
		return "alloc(24, 8) or alloc(3000, 64) returned NULL, or memory outside the "
		       "arena or not aligned";
	b->free((void *)a);
	b->free((void *)c);
	b->stats(&s);
	/* An empty heap of the arena's size: say which stat is not. */
	if (s.live_allocs != 0)
		ksnprintf(problem, sizeof(problem),
			  "after alloc(%d, %d) and alloc(%d, %d) were both freed, its stats say "
			  "live_allocs %zu, not 0: each free must count one allocation less",
			  CHECK_SMALL, KMALLOC_ALIGN, CHECK_BIG, CHECK_BIG_ALIGN, s.live_allocs);
	else if (s.used_bytes != 0)
		ksnprintf(problem, sizeof(problem),
			  "after alloc(%d, %d) and alloc(%d, %d) were both freed, its stats say "
			  "used_bytes %zu, not 0: with no allocation live, no byte is used",
			  CHECK_SMALL, KMALLOC_ALIGN, CHECK_BIG, CHECK_BIG_ALIGN, s.used_bytes);
	else if (s.total_bytes != arena)
		ksnprintf(problem, sizeof(problem),
			  "its stats say total_bytes %zu, not %zu: the arena it was given by init "
			  "(and a growth by 0 bytes)",
			  s.total_bytes, arena);
	else
		return NULL;
	return problem;
}

bool kheap_offer(const struct kheap_allocator *b)
{
	const char *problem = NULL;
	struct heap_stats s;

	if (heap_end == KHEAP_BASE)
		return false; /* no arena: heap_layer_init said why */
	kheap_stats(&s);
	if (s.live_allocs)
		panic("kheap_offer: %s offered with %zu allocations live on %s", b->what,
		      s.live_allocs, kheap_backend_name(heap->id));
	bool done = LAB_STEP_INTO(b->what, problem, check_backend(b));

	if (done && problem)
		kprintf("kernel: %s skipped: %s\n", b->what, problem);
	if (!done || problem) {
		if (heap) /* b wrote over the arena: the allocator that keeps it starts afresh */
			heap->init((void *)KHEAP_BASE, heap_end - KHEAP_BASE);
		return false;
	}
	heap = b;
	fast_path_update();
	kprintf("heap: kmalloc uses %s: %lu KiB at 0x%lx, growing up to %lu MiB\n",
		kheap_backend_name(b->id), (heap_end - KHEAP_BASE) >> 10, KHEAP_BASE,
		KHEAP_MAX >> 20);
	return true;
}

/* Map the heap's first KHEAP_INITIAL bytes; false (with a note) if there can be no heap. */
bool kheap_map_arena(void)
{
	if (!paging_ready) {
		kprintf("heap: no kernel heap without the kernel's own page tables (lab 02); "
			"kmalloc returns NULL\n");
		return false;
	}
	if (!heap_map(KHEAP_BASE, KHEAP_INITIAL)) {
		kprintf("heap: no frames for the first %lu KiB of the heap; kmalloc returns NULL\n",
			KHEAP_INITIAL >> 10);
		return false;
	}
	heap_end = KHEAP_BASE + KHEAP_INITIAL;
	return true;
}
