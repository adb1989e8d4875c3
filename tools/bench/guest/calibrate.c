/*
 * Scenario bench_calibrate: checks that the guest's time-stamp counter counts instructions
 * (see icount.h). It times a loop of exactly two instructions per iteration for several
 * iteration counts; under -icount shift=0 the driver expects ticks = 2 * loops + a small
 * constant, the same constant every time.
 */
#include "icount.h"
#include "kprintf.h"
#include "ktest.h"

#define CALIBRATE_RUNS 4
#define CALIBRATE_STEP 1000 /* loops in the first run; each run adds as many again */

/* Ticks around `loops` iterations of "dec; jnz", read in one asm block so nothing else runs. */
static uint64_t calibrate_loop(uint64_t loops)
{
	uint64_t start, end;
	uint32_t lo, hi;

	__asm__ volatile("rdtsc\n\t"
			 "mov %%eax, %k[lo]\n\t"
			 "mov %%edx, %k[hi]\n\t"
			 "1: dec %[n]\n\t"
			 "jnz 1b\n\t"
			 "rdtsc"
			 : "=&a"(lo), "=&d"(hi), [n] "+c"(loops), [lo] "=&r"(start), [hi] "=&r"(end)
			 :
			 : "memory", "cc");
	uint64_t first = ((uint64_t)(uint32_t)end << 32) | (uint32_t)start;
	return (((uint64_t)hi << 32) | lo) - first;
}

KTEST_SCENARIO(bench_calibrate)
{
	for (int i = 1; i <= CALIBRATE_RUNS; i++) {
		uint64_t loops = (uint64_t)i * CALIBRATE_STEP;
		kprintf("bench: calibrate loops=%lu insns_per_loop=2 ticks=%lu\n", loops,
			calibrate_loop(loops));
	}
}

/*
 * Scenario bench_boot: for timing a boot from QEMU's start to its exit. It only prints the
 * counter, which under -icount is the number of instructions since QEMU started the machine
 * (firmware, boot code, bringing up every layer).
 */
KTEST_SCENARIO(bench_boot)
{
	kprintf("bench: boot ticks=%lu\n", bench_ticks());
}
