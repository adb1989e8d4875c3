/*
 * What the heap measurement programs share: a seeded random generator, the allocation mix
 * (the same shape as the randomized tests in grade/ktests/include/heap_check.h: mostly small,
 * sometimes large), panic() and ksnprintf() for the allocators, and a clock. Host programs only; each one
 * says at its top how to build and run it.
 */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* splitmix64, as the kernel's ktest uses: any seed, even 0, gives a good sequence. */
static uint64_t rng_state;

static inline uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(uint64_t lo, uint64_t hi)
{
	return lo + rng_next() % (hi - lo + 1);
}

/* A request size: 50% 1-32 bytes, 30% 33-256, 15% 257-1024, 5% 1025-max. */
static inline size_t mix_size(size_t max)
{
	uint64_t r = rng_range(0, 99);
	size_t n = r < 50   ? rng_range(1, 32)
		   : r < 80 ? rng_range(33, 256)
		   : r < 95 ? rng_range(257, 1024)
			    : rng_range(1025, max);

	return n > max ? max : n;
}

/* Only small objects: 60% 1-32 bytes, 30% 33-256, 10% 257-2048. */
static inline size_t mix_small_size(void)
{
	uint64_t r = rng_range(0, 99);

	return r < 60 ? rng_range(1, 32) : r < 90 ? rng_range(33, 256) : rng_range(257, 2048);
}

/* An alignment: 60% 1-8, 30% 16-64, 10% 128-4096. */
static inline size_t mix_align(void)
{
	uint64_t r = rng_range(0, 99);

	return (size_t)1 << (r < 60   ? rng_range(0, 3)
			     : r < 90 ? rng_range(4, 6)
				      : rng_range(7, 12));
}

/* The allocators' panic(): say it and stop. */
void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("PANIC: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* The kernel's ksnprintf, for the allocators' own messages (buddy_format_counts). */
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
