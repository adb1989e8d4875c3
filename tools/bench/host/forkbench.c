/*
 * The host's reference for the guest's fork (tools/bench/guest/fork.c): Linux's fork + _exit
 * + waitpid for a process that has written to kib KiB of memory (default 4096), timed.
 *
 *     forkbench [kib] [forks]
 *     prints: fork ns=<median ns per fork, exit and wait> kib=<kib> forks=<forks>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 5

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
	long kib = argc > 1 ? atol(argv[1]) : 4096;
	long forks = argc > 2 ? atol(argv[2]) : 200;
	double per[REPS];

	if (kib <= 0 || forks <= 0) {
		fprintf(stderr, "usage: forkbench [kib > 0] [forks > 0]\n");
		return 2;
	}
	char *mem = malloc(kib * 1024);
	if (!mem) {
		fprintf(stderr, "forkbench: no %ld KiB\n", kib);
		return 1;
	}
	memset(mem, 1, kib * 1024);
	for (int r = 0; r < REPS; r++) {
		double t0 = now_ns();

		for (long i = 0; i < forks; i++) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
				perror("forkbench: fork");
				return 1;
			}
		}
		per[r] = (now_ns() - t0) / forks;
	}
	qsort(per, REPS, sizeof(per[0]), cmp);
	printf("fork ns=%.0f kib=%ld forks=%ld\n", per[REPS / 2], kib, forks);
	return mem[kib * 512] == 1 ? 0 : 1;
}
