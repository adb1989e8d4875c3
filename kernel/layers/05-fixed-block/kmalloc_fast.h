/*
 * What kmalloc's fast path (kernel/heap.h) needs of layer 05: the block heap kmalloc runs on
 * (block.c) and its two calls. This folder is on the kernel's include path from checkpoint 05
 * on (kernel/build.mk), and heap.h includes this file where it finds it: before 05 there is
 * no block heap, and kmalloc has only its slow path.
 */
#pragma once

#include <stddef.h>

#define KHEAP_FAST_PATH 1

struct block_heap;
extern struct block_heap kheap_block_heap;
void *block_heap_alloc(struct block_heap *h, size_t size, size_t align);
void block_heap_free(struct block_heap *h, void *p);
