/*
 * How each layer joins the kernel: kernel_main calls its init function, in order, and the tour
 * calls its tour function. Each pair lives in that layer's kernel file (named below); lab code
 * is only ever called through init_step() (boot.h), so a layer still full of TODOs is skipped
 * with a note instead of stopping the kernel.
 */
#pragma once

/* 02-paging, kernel/paging.c: the frame allocator and the kernel's own page tables. */
void paging_layer_init(void);
void tour_paging(void);

/* 03-bump, 04-linked-list, 05-fixed-block, kernel/heap.c: the kernel heap (kmalloc). */
void heap_layer_init(void);
void tour_heap(void);

/* 06-buddy, kernel/pages.c: frames and whole-page heap requests from the buddy allocator. */
void buddy_layer_init(void);
void tour_buddy(void);

/* 07-threads, kernel/threads.c: the timer, the scheduler and the first threads. */
void threads_layer_init(void);
void tour_threads(void);
