/*
 * The host's reference for the guest's null system call (tools/bench/guest/syscall.c): Linux's
 * getpid through the syscall instruction itself (no C library wrapper, no vDSO), timed.
 *
 *     syscallbench [calls] [reps]
 *     prints: syscall ns=<median ns per call> calls=<calls> reps=<reps>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#define CALLS 200000
#define REPS  7

static inline long raw_getpid(void)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(SYS_getpid) : "rcx", "r11", "memory");
	return r;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : CALLS;
	int reps = argc > 2 ? atoi(argv[2]) : REPS;
	double per[64];

	if (calls <= 0 || reps <= 0 || reps > 64) {
		fprintf(stderr, "usage: syscallbench [calls > 0] [reps 1-64]\n");
		return 2;
	}
	for (long i = 0; i < calls / 10; i++) /* warm up */
		raw_getpid();
	for (int r = 0; r < reps; r++) {
		double t = now_ns();
		for (long i = 0; i < calls; i++)
			raw_getpid();
		per[r] = (now_ns() - t) / (double)calls;
	}
	qsort(per, (size_t)reps, sizeof(per[0]), cmp);
	printf("syscall ns=%.1f calls=%ld reps=%d\n", per[reps / 2], calls, reps);
	return 0;
}
