/*
 * bench [calls]: the round trip of the cheapest system call (getpid), timed with the
 * time-stamp counter, beside the same loop without the call. Under QEMU -icount the counter
 * counts instructions (`make bench`: tools/bench/guest/syscall.c); elsewhere it is time.
 */
#include "user.h"

#define WARMUP 100

static inline long getpid_raw(void)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(SYS_getpid) : "rcx", "r11", "memory");
	return r;
}

int main(int argc, char **argv)
{
	long calls = atol_or(argc > 1 ? argv[1] : NULL, 1000);

	for (int i = 0; i < WARMUP; i++)
		getpid_raw();
	uint64_t t0 = rdtsc();
	for (long i = 0; i < calls; i++)
		getpid_raw();
	uint64_t t1 = rdtsc();
	for (long i = 0; i < calls; i++)
		__asm__ volatile("" : : : "memory");
	uint64_t t2 = rdtsc();
	printf("bench: syscall calls=%ld ticks=%lu empty=%lu\n", calls, t1 - t0, t2 - t1);
	return 0;
}
