/*
 * framebench adapter: lab 06's buddy allocator (kernel/buddy.h, solutions/06-buddy/).
 *
 * Lab 06's interface was not settled when this was written: these calls are the expected
 * shape (an allocator instance over a range of memory, blocks of 2^order frames). If the
 * build of framebench-buddy fails, `make bench` says so; fix the three functions below to
 * match kernel/buddy.h, nothing else.
 */
#include "buddy.h"

#define ADAPTER_MAX_ORDER   15 /* 2^15 frames = 128 MiB, half of the benchmark RAM */
#define ADAPTER_FRAME_BYTES 4096

static struct buddy_zone adapter_zone;

static void adapter_init(void *base, size_t nframes)
{
	buddy_init(&adapter_zone, base, nframes * ADAPTER_FRAME_BYTES);
}

static inline void *adapter_alloc(unsigned order)
{
	return buddy_alloc(&adapter_zone, order);
}

static inline void adapter_free(void *p, unsigned order)
{
	buddy_free(&adapter_zone, p, order);
}
