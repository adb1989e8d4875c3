/*
 * Timing and instruction counting for the host benchmarks (heapbench.c, framebench.c).
 *
 * A measured section runs between measure_begin() and measure_end(), which prints one line
 * for tools/bench/bench.py:
 *
 *     result <label> ops=<n> ns=<total nanoseconds>
 *
 * Under callgrind (bench.py runs the same program as `valgrind --tool=callgrind` with
 * --callgrind), measure_begin zeroes callgrind's counters and measure_end dumps them under
 * the label, so the driver reads the exact instruction count of the section from the dump.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else /* valgrind not installed: the callgrind mode cannot run anyway */
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(label) ((void)(label))
#endif

/* Set by --callgrind: count instructions instead of timing. */
extern bool measure_callgrind;

static inline uint64_t measure_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start a measured section; returns the start time to pass to measure_end. */
static inline uint64_t measure_begin(void)
{
	if (measure_callgrind)
		CALLGRIND_ZERO_STATS;
	return measure_now_ns();
}

/* End a measured section of `ops` operations and print its result line. */
static inline void measure_end(const char *label, uint64_t start, uint64_t ops)
{
	uint64_t ns = measure_now_ns() - start;

	if (measure_callgrind)
		CALLGRIND_DUMP_STATS_AT(label);
	printf("result %s ops=%lu ns=%lu\n", label, (unsigned long)ops, (unsigned long)ns);
}

/* Keep the compiler from optimizing away an allocation nobody uses. */
static inline void measure_escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* A small deterministic generator (xorshift64*), so every allocator sees the same sizes. */
static inline uint64_t measure_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Stop the program: what went wrong, prefixed with its name (set MEASURE_PROGRAM first). */
static inline void measure_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", MEASURE_PROGRAM, what);
	exit(2);
}

/* A whole command-line argument as a number (decimal, 0x hex, 0 octal), or die. */
static inline unsigned long measure_arg_num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end)
		measure_die("expected a number");
	return v;
}
