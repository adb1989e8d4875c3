/*
 * Counting instructions inside the guest. tools/bench/bench.py boots the bench kernel with
 * QEMU's -icount shift=0: the virtual clock then advances one nanosecond per instruction and
 * the guest's time-stamp counter follows it, so the difference of two rdtsc readings is the
 * number of instructions run in between, the same on every run and every host. The scenario
 * bench_calibrate (calibrate.c) checks that on a loop of known length before any figure is
 * believed.
 *
 * Every figure is printed as one line the driver parses:
 *     bench: <what> key=value key=value ...
 */
#pragma once

#include <stdint.h>

/* kernel/build.mk tells the bench's sources (and no others) the checkpoint's number, by which
 * they choose what they can measure: without it, every `#if CHECKPOINT >= N` would be false. */
#ifndef CHECKPOINT
#error "the bench's guest sources need -DCHECKPOINT=N (kernel/build.mk gives it to EXTRA_SRCS)"
#endif

/* The time-stamp counter: under -icount shift=0, the instructions retired so far. */
static inline uint64_t bench_ticks(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Keep the compiler from optimizing away an allocation the benchmark never uses. */
static inline void bench_escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}
