/*
 * framebench: one physical-frame allocator under test, on the host. tools/bench/bench.py
 * builds this file once per allocator, with -DBENCH_ADAPTER="adapters/frame_<name>.h", over
 * FRAMES frames of host memory standing in for RAM:
 *
 *     framebench [--callgrind] fill REPS          alloc every frame one by one, then free them
 *     framebench [--callgrind] pair50 ITERS REPS  alloc+free pairs with half of the frames taken
 *     framebench churn STEPS SEED                 random allocs and frees of mixed orders, then
 *                                                 the largest block still free
 *
 * Results are "result <label> ops=N ns=T" lines (measure.h) and "churn ..." for the churn.
 *
 * An adapter defines:
 *     ADAPTER_MAX_ORDER            the largest order it can allocate (0: single frames only)
 *     adapter_init(base, nframes)  start over with frames [base, base + nframes pages) all free
 *     adapter_alloc(order)         2^order contiguous frames, or NULL
 *     adapter_free(p, order)       give them back
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#define MEASURE_PROGRAM "framebench"
#include "measure.h"

#ifndef BENCH_ADAPTER
#error "build with -DBENCH_ADAPTER='\"adapters/frame_NAME.h\"'"
#endif
#include BENCH_ADAPTER

#define FRAME_SHIFT	     12
#define FRAME_BYTES	     (1ul << FRAME_SHIFT)
#define FRAMES		     65536ul /* 256 MiB of "RAM" */
#define FRAMES_ORDER	     16	     /* FRAMES == 1 << FRAMES_ORDER */
#define CHURN_MAX_ORDER	     6	     /* churn asks for blocks of 1 to 64 frames */
#define CHURN_TARGET_PERCENT 50	     /* and keeps about this much of memory taken */
#define PERCENT		     100

_Static_assert(FRAMES == 1ul << FRAMES_ORDER, "FRAMES must be a power of two");

bool measure_callgrind;
static char *ram;
static void *frame[FRAMES];

/* The "RAM": aligned to its own size, as a buddy allocator likes it, and touched once now.
 * In 2 MiB pages where the host gives them (MADV_HUGEPAGE; a hint, ignored elsewhere): 128
 * page faults instead of 65,536, which took most of a run's time on a virtual machine. */
static void ram_map(void)
{
	size_t len = FRAMES * FRAME_BYTES;
	char *p = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		measure_die("cannot map the frames");
	ram = (char *)(((uintptr_t)p + len - 1) & ~(uintptr_t)(len - 1));
	madvise(ram, len, MADV_HUGEPAGE);
	memset(ram, 0, len); /* no page faults inside the measurements */
}

static void *must_alloc(unsigned order)
{
	void *p = adapter_alloc(order);

	if (!p)
		measure_die("out of frames");
	return p;
}

static void bench_fill(int reps)
{
	for (int r = 0; r < reps; r++) {
		adapter_init(ram, FRAMES);
		uint64_t t = measure_begin();
		for (size_t i = 0; i < FRAMES; i++)
			frame[i] = adapter_alloc(0);
		measure_end("fill", t, FRAMES);
		for (size_t i = 0; i < FRAMES; i++)
			if (!frame[i])
				measure_die("could not allocate every frame");
		if (adapter_alloc(0))
			measure_die("allocated a frame more than there are");
		t = measure_begin();
		for (size_t i = 0; i < FRAMES; i++)
			adapter_free(frame[i], 0);
		measure_end("drain", t, FRAMES);
	}
}

static void time_pairs(const char *label, unsigned long iters)
{
	uint64_t t = measure_begin();

	for (unsigned long i = 0; i < iters; i++) {
		void *p = adapter_alloc(0);
		measure_escape(p);
		adapter_free(p, 0);
	}
	measure_end(label, t, iters);
}

/*
 * Two ways to be half full:
 *   scattered: every frame taken, then a random half given back (free frames everywhere);
 *   split:     half the frames taken one by one, the other half left as one block, which a
 *              buddy allocator splits for each request and merges back on each free.
 */
static void bench_pair50(unsigned long iters, int reps)
{
	uint64_t rng = 0x50f7;

	for (int r = 0; r < reps; r++) {
		adapter_init(ram, FRAMES);
		for (size_t i = 0; i < FRAMES; i++)
			frame[i] = must_alloc(0);
		for (size_t i = FRAMES - 1; i > 0; i--) {
			size_t j = measure_random(&rng) % (i + 1);
			void *tmp = frame[i];
			frame[i] = frame[j];
			frame[j] = tmp;
		}
		for (size_t i = 0; i < FRAMES / 2; i++)
			adapter_free(frame[i], 0);
		time_pairs("pair50/scattered", iters);

		adapter_init(ram, FRAMES);
		for (size_t i = 0; i < FRAMES / 2; i++)
			frame[i] = must_alloc(0);
		time_pairs("pair50/split", iters);
	}
}

struct block {
	void *p;
	unsigned order;
};

/* Order k with probability about 2^-(k+1): mostly single frames, sometimes larger blocks. */
static unsigned churn_order(uint64_t *rng)
{
	uint64_t r = measure_random(rng);
	unsigned order = 0, limit = CHURN_MAX_ORDER;

	if (limit > ADAPTER_MAX_ORDER)
		limit = ADAPTER_MAX_ORDER;
	while (order < limit && (r & 1)) {
		order++;
		r >>= 1;
	}
	return order;
}

static void bench_churn(unsigned long steps, uint64_t seed)
{
	static struct block live[FRAMES];
	size_t nlive = 0, taken = 0;
	uint64_t rng = seed | 1;

	adapter_init(ram, FRAMES);
	for (unsigned long s = 0; s < steps; s++) {
		bool grow = taken * PERCENT < FRAMES * CHURN_TARGET_PERCENT;
		if (nlive && (!grow || measure_random(&rng) % 4 == 0)) {
			size_t i = measure_random(&rng) % nlive;
			adapter_free(live[i].p, live[i].order);
			taken -= 1ul << live[i].order;
			live[i] = live[--nlive];
			continue;
		}
		unsigned order = churn_order(&rng);
		void *p = adapter_alloc(order);
		if (p) {
			live[nlive++] = (struct block){p, order};
			taken += 1ul << order;
		}
	}
	/* The largest block still free: try each order from the top. */
	int largest = -1;
	for (int order = ADAPTER_MAX_ORDER; order >= 0 && largest < 0; order--) {
		void *p = adapter_alloc((unsigned)order);
		if (p) {
			largest = order;
			adapter_free(p, (unsigned)order);
		}
	}
	printf("churn steps=%lu taken_frames=%zu free_frames=%zu largest_free_order=%d\n", steps,
	       taken, FRAMES - taken, largest);
}

int main(int argc, char **argv)
{
	int a = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (a < argc && !strcmp(argv[a], "--callgrind")) {
		measure_callgrind = true;
		a++;
	}
	if (a >= argc)
		measure_die("usage: framebench [--callgrind] fill|pair50|churn ...");
	ram_map();
	const char *cmd = argv[a++];
	int n = argc - a;
	if (!strcmp(cmd, "fill") && n == 1)
		bench_fill((int)measure_arg_num(argv[a]));
	else if (!strcmp(cmd, "pair50") && n == 2)
		bench_pair50(measure_arg_num(argv[a]), (int)measure_arg_num(argv[a + 1]));
	else if (!strcmp(cmd, "churn") && n == 2)
		bench_churn(measure_arg_num(argv[a]), measure_arg_num(argv[a + 1]));
	else
		measure_die("unknown command or wrong number of arguments");
	return 0;
}
