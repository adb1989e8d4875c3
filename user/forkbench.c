/*
 * forkbench [label] [kib] [forks]: the cost of fork + exit + wait for a process with kib KiB
 * of memory it has written to (default 4096: 4 MiB), timed with the time-stamp counter. The
 * program grows its heap by kib KiB and writes every page, then forks `forks` times (default
 * 20); each child exits at once and the parent waits for it. Prints
 *     bench: fork label=L kib=K forks=N ticks=T
 * Under QEMU -icount (`make bench`: tools/bench/guest/fork.c) ticks are instructions, and the
 * kernel decides how fork copies: label says which way it was told to.
 */
#include "user.h"

#define PAGE 4096

int main(int argc, char **argv)
{
	const char *label = argc > 1 ? argv[1] : "fork";
	long kib = atol_or(argc > 2 ? argv[2] : NULL, 4096);
	long forks = atol_or(argc > 3 ? argv[3] : NULL, 20);
	char *mem = sbrk(kib * 1024);

	if (mem == (void *)-1) {
		printf("forkbench: no %ld KiB of heap\n", kib);
		return 1;
	}
	for (long off = 0; off < kib * 1024; off += PAGE)
		mem[off] = (char)off;

	uint64_t t0 = rdtsc();
	for (long i = 0; i < forks; i++) {
		int pid = fork();

		if (pid == 0)
			exit(0);
		if (pid < 0 || waitpid(pid, NULL) != pid) {
			printf("forkbench: fork %ld of %ld failed (%d)\n", i + 1, forks, pid);
			return 1;
		}
	}
	uint64_t t1 = rdtsc();
	printf("bench: fork label=%s kib=%ld forks=%ld ticks=%lu\n", label, kib, forks, t1 - t0);
	return 0;
}
