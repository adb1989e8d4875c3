/*
 * memtest: the heap of a program. By default: many malloc/free of random sizes (each block
 * filled with its own pattern and checked), calloc, then sbrk grown and shrunk by hand. With
 * `memtest exhaust`: sbrk 1 MiB at a time until the kernel says -ENOMEM, then all of it back.
 * Exits 0 when everything held.
 */
#include "user.h"

#define BLOCKS	  300
#define MAX_BLOCK 3000
#define ROUNDS	  3
#define MIB	  (1L << 20)

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int churn(void)
{
	static uint8_t *block[BLOCKS];
	static size_t size[BLOCKS];
	int bad = 0;

	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < BLOCKS; i++) {
			if (block[i] && next() % 2)
				continue;
			free(block[i]);
			size[i] = 1 + next() % MAX_BLOCK;
			block[i] = malloc(size[i]);
			if (!block[i] || (uintptr_t)block[i] % 16) {
				printf("memtest: malloc(%zu) = %p\n", size[i], (void *)block[i]);
				return 1;
			}
			memset(block[i], i & 0xff, size[i]);
		}
		for (int i = 0; i < BLOCKS; i++)
			for (size_t k = 0; k < size[i]; k++)
				if (block[i][k] != (i & 0xff)) {
					bad++;
					break;
				}
	}
	for (int i = 0; i < BLOCKS; i++) {
		free(block[i]);
		block[i] = NULL;
	}
	if (bad)
		printf("memtest: %d blocks were overwritten by others\n", bad);
	return bad;
}

static int by_hand(void)
{
	char *old = sbrk(0), *p = sbrk(3 * 4096 + 5);

	if (p != old) {
		printf("memtest: sbrk(3 pages + 5) returned %p, the break was %p\n", (void *)p,
		       (void *)old);
		return 1;
	}
	p[3 * 4096 + 4] = 'x'; /* the last byte it gave */
	if (sbrk(-(3 * 4096 + 5)) != p + 3 * 4096 + 5 || sbrk(0) != old) {
		printf("memtest: sbrk did not shrink back to %p\n", (void *)old);
		return 1;
	}
	/* Shrink into the middle of a page: that page still holds the heap's last bytes. */
	char *end = (char *)sbrk(3 * 4096 + 5) + 3 * 4096 + 5;
	char *keep = (char *)(((uintptr_t)end & ~(uintptr_t)4095) - 4096 + 8);
	if (sbrk(-(end - keep)) != end || sbrk(0) != keep) {
		printf("memtest: sbrk did not shrink from %p to %p\n", (void *)end, (void *)keep);
		return 1;
	}
	keep[-1] = 'y'; /* the heap's last byte, on a page the shrink had to keep */
	if (keep[-1] != 'y' || sbrk(-(keep - old)) != keep || sbrk(0) != old) {
		printf("memtest: sbrk did not shrink back to %p\n", (void *)old);
		return 1;
	}
	int *z = calloc(1000, sizeof(int));
	for (int i = 0; z && i < 1000; i++)
		if (z[i])
			return 1;
	free(z);
	return 0;
}

static int exhaust(void)
{
	long got = 0, r;
	char *start = sbrk(0);

	while ((r = sys_sbrk(MIB)) >= 0)
		got++;
	char *brk = sbrk(0);
	printf("memtest: the heap grew to %ld MiB, then sbrk said %ld\n", got, r);
	if (brk != start + got * MIB) {
		printf("memtest: after sbrk said %ld the break is %p, not %p: a sbrk that fails "
		       "leaves the break where it was\n",
		       r, (void *)brk, (void *)(start + got * MIB));
		return 1;
	}
	if (sys_sbrk(-got * MIB) < 0) {
		printf("memtest: could not give the heap back\n");
		return 1;
	}
	return r == -ENOMEM && got > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "exhaust"))
		return exhaust();
	int bad = by_hand() + churn();
	printf("memtest: %s\n", bad ? "FAILED" : "the heap held");
	return bad;
}
