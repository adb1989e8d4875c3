/*
 * malloc and free for programs: lab 04's linked-list heap (list_heap.c, the same file the
 * kernel's heap runs on, built into every program that calls malloc) over memory from sbrk.
 * The heap starts empty; when an allocation does not fit, sbrk grows the program's heap by
 * at least HEAP_GROW bytes and the new memory joins the list (right after the old end, so it
 * merges with a free region there).
 */
#include "list_heap.h"
#include "user.h"

#define HEAP_GROW  (64 * 1024)
#define HEAP_ALIGN 16
#define PAGE	   4096

static struct list_heap heap;
static bool heap_ready;

static bool grow(size_t need)
{
	if (need > ((size_t)1 << 40)) /* more than any heap: also keeps the sums below finite */
		return false;
	size_t len = (need + LIST_HEAP_HEADER + HEAP_ALIGN + LIST_HEAP_NODE + PAGE - 1) &
		     ~(size_t)(PAGE - 1);
	if (len < HEAP_GROW)
		len = HEAP_GROW;
	void *more = sbrk((intptr_t)len);
	if (more == (void *)-1)
		return false;
	if (!heap_ready)
		list_heap_init(&heap, more, len);
	else
		list_heap_add_region(&heap, more, len);
	heap_ready = true;
	return true;
}

void *malloc(size_t size)
{
	void *p = heap_ready ? list_heap_alloc(&heap, size, HEAP_ALIGN) : NULL;

	if (!p && size && grow(size))
		p = list_heap_alloc(&heap, size, HEAP_ALIGN);
	return p;
}

void *calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void free(void *p)
{
	if (p)
		list_heap_free(&heap, p);
}
