/*
 * How the other layers plug into kmalloc (kernel/layers/03-bump/heap.c): each heap layer
 * offers its allocator, and layer 06 lends whole pages for big requests.
 *
 * Layer 03 brings the heap up on the bump allocator; layers 04 and 05 then offer theirs as
 * they come up (kheap_offer), and the last one that passes its check serves kmalloc. A lab
 * still being written fails its check (a TODO, or a wrong answer) and the one before it keeps
 * serving, so a student in the middle of lab 05 keeps a working heap, and the tests of labs 03
 * and 04 still run.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "heap.h"

/* One allocator as kmalloc drives it: wrappers over the lab's instance. */
struct kheap_allocator {
	enum kheap_backend id; /* which lab: KHEAP_BUMP, KHEAP_LIST or KHEAP_BLOCK */
	const char *what;      /* for LAB_STEP's note: "05-fixed-block: the block heap" */
	void (*init)(void *start, size_t len);
	void *(*alloc)(size_t size, size_t align);
	void (*free)(void *p);
	void (*stats)(struct heap_stats *s);
	size_t (*alloc_size)(const void *p);   /* bytes usable at p, 0 if not a live block */
	void (*grow)(void *start, size_t len); /* start is the heap's end */
	void (*drain)(void);		       /* optional: give cached memory back */
};

/*
 * At boot, while nothing is allocated: check b over the heap's whole arena (init, a growth by
 * 0 bytes, two allocations freed again, its stats) and, if it passes, make it kmalloc's
 * allocator. Otherwise print why ("kernel: <what> skipped: ...") and keep the one there was.
 * True if b serves kmalloc now.
 */
bool kheap_offer(const struct kheap_allocator *b);

/* Whole pages for requests of a page or more (layer 06's buddy allocator): pages.h. */
struct kheap_pages {
	void *(*alloc)(size_t size);	     /* NULL: let the heap serve it */
	bool (*owns)(const void *p);	     /* p is a block alloc returned */
	size_t (*alloc_size)(const void *p); /* its usable bytes */
	void (*free)(void *p);
};

/* From now on kmalloc asks pages first for a page or more (p must stay valid). */
void kheap_use_pages(const struct kheap_pages *p);

/* The heap's part of the tour: each heap layer (03, 04, 05) names it in its LAYER entry, and
 * the tour shows it once, under the last of them. */
void heap_tour(void);
