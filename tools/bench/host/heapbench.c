/*
 * heapbench: one heap allocator under test, on the host. tools/bench/bench.py builds this file
 * once per allocator, with -DBENCH_ADAPTER="adapters/heap_<name>.h" choosing the allocator, and
 * runs it once per benchmark:
 *
 *     heapbench [OPTIONS] pairs ITERS REPS SIZE...   alloc then free at once, per size
 *     heapbench [OPTIONS] batch ITERS REPS           1000 mixed sizes, then free them all
 *     heapbench [OPTIONS] trace REPS FILE...         replay traces (tools/bench/tracegen.py,
 *                                                    tools/bench/realtrace.py: the text form
 *                                                    or the compact one, *.gtrace)
 *     heapbench [OPTIONS] holes COUNT REPS HOLES...  COUNT pairs with HOLES free holes ahead
 *
 *     --callgrind    count instructions (run under callgrind) instead of timing
 *     --limit SECS   stop after SECS seconds, printing "timeout LABEL done=I of=N after=SECS"
 *                    (I: the operations of the running pass done by then), exit status 4
 *
 * Each measured section prints "result <label> ops=N ns=T" (measure.h). The first trace of a
 * run also prints "trace NAME peak_live=L peak_span=S" for its utilization, measured in a
 * pass of its own before the timed ones (REPS 0: that pass alone). Only the first: a later
 * trace would find the memory the earlier ones left with the allocator, and a span measured
 * above that is no span at all (it came out 0 for a trace that fit in what an earlier one
 * left behind).
 *
 * An adapter (a header in adapters/) is the only place that knows an allocator's API. It defines:
 *
 *     ADAPTER_ARENA            1 if the allocator manages memory the benchmark gives it
 *     adapter_init(arena, len) start over with an empty heap (arena NULL if not ADAPTER_ARENA)
 *     adapter_alloc(size)      a 16-byte aligned block, or NULL when out of memory
 *     adapter_free(p, size)    give back a block adapter_alloc returned for this size
 *     adapter_footprint()      bytes the allocator holds from the system now (non-arena only)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define MEASURE_PROGRAM "heapbench"
#include "measure.h"

#ifndef BENCH_ADAPTER
#error "build with -DBENCH_ADAPTER='\"adapters/NAME.h\"'"
#endif
#include BENCH_ADAPTER

#define ARENA_BYTES	  (1ul << 30) /* address space for arena allocators, touched lazily */
#define WARMUP_PAIRS	  1000
#define BATCH_COUNT	  1000 /* blocks in one batch */
#define BATCH_SEED	  0x5eed
#define HOLE_BLOCK_SIZE	  32 /* each hole held a block this large... */
#define HOLE_REQUEST_SIZE 64 /* ...so a request this large fits in none of them */
#define TRACE_MAGIC	  "# teachos heap trace v1"
#define LABEL_MAX	  64

bool measure_callgrind;
static void *arena;
static size_t startup_footprint; /* what the allocator held before the benchmark allocated */

/* For --limit: the pass running and how far it got, for the message the alarm prints. */
static const char *volatile running_label = "?";
static volatile size_t running_done, running_of;
static unsigned limit_seconds;

static void heap_start(void)
{
	adapter_init(arena, ADAPTER_ARENA ? ARENA_BYTES : 0);
}

static void *must_alloc(size_t size)
{
	void *p = adapter_alloc(size);

	if (!p) {
		printf("oom size=%zu\n", size);
		exit(3);
	}
	return p;
}

/* --- pairs: alloc and free at once ---------------------------------------------------------- */

static void bench_pairs(unsigned long iters, int reps, size_t size)
{
	char label[LABEL_MAX];

	snprintf(label, sizeof(label), "pair/%zu", size);
	heap_start();
	for (int i = 0; i < WARMUP_PAIRS; i++)
		adapter_free(must_alloc(size), size);
	for (int r = 0; r < reps; r++) {
		uint64_t t = measure_begin();
		for (unsigned long i = 0; i < iters; i++) {
			void *p = adapter_alloc(size);
			measure_escape(p);
			adapter_free(p, size);
		}
		measure_end(label, t, iters);
	}
}

/* --- batch: many mixed sizes, then free them all --------------------------------------------- */

/* Mostly small objects, some medium, a few large: 70% 8..128 B, 25% ..1 KiB, 5% ..4 KiB. */
static size_t batch_size(uint64_t *rng)
{
	uint64_t r = measure_random(rng);
	unsigned pick = (unsigned)(r % 100);

	r >>= 8;
	if (pick < 70)
		return 8 + r % 121;
	if (pick < 95)
		return 129 + r % 896;
	return 1025 + r % 3072;
}

static void bench_batch(unsigned long iters, int reps)
{
	static size_t size[BATCH_COUNT];
	static unsigned order[BATCH_COUNT];
	static void *block[BATCH_COUNT];
	uint64_t rng = BATCH_SEED;

	for (int i = 0; i < BATCH_COUNT; i++) {
		size[i] = batch_size(&rng);
		order[i] = (unsigned)i;
	}
	for (int i = BATCH_COUNT - 1; i > 0; i--) { /* free in a shuffled order */
		unsigned j = (unsigned)(measure_random(&rng) % (uint64_t)(i + 1));
		unsigned tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	heap_start();
	for (int r = -1; r < reps; r++) { /* round -1 warms up, untimed */
		uint64_t t = measure_begin();
		for (unsigned long it = 0; it < iters; it++) {
			for (int i = 0; i < BATCH_COUNT; i++)
				block[i] = must_alloc(size[i]);
			for (int i = 0; i < BATCH_COUNT; i++)
				adapter_free(block[order[i]], size[order[i]]);
		}
		if (r >= 0)
			measure_end("batch", t, iters * BATCH_COUNT);
	}
}

/* --- traces ---------------------------------------------------------------------------------- */

struct trace_op {
	char kind; /* 'a' alloc, 'f' free */
	uint32_t id;
	uint32_t size;
};

struct trace {
	char name[LABEL_MAX];
	struct trace_op *ops;
	size_t nops, nids;
	void **ptr;	/* by id */
	uint32_t *size; /* by id */
};

/* Memory for the benchmark's own data, straight from the kernel: never from the allocator
 * under test, whose footprint the utilization pass measures. */
static void *bench_memory(size_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	if (p == MAP_FAILED)
		measure_die("out of memory");
	return p;
}

static unsigned long parse_num(const char **s)
{
	char *end;
	unsigned long v = strtoul(*s, &end, 10);

	if (end == *s)
		measure_die("bad number in the trace");
	*s = end;
	return v;
}

/*
 * A trace in the compact form of tools/bench/realtrace.py (guest_trace, the form the guest
 * replays too): a 32-byte header (magic, u32 ops, u32 slots), then per op a u32 slot, with
 * GTRACE_FREE set for a free, and a u32 size. Slots are ids that freed blocks hand on, so the
 * tables are as long as the most blocks live at once. Its name is the file's, less ".gtrace".
 */
#define GTRACE_MAGIC  "teachos-gtrace1"
#define GTRACE_HEADER 32
#define GTRACE_FREE   (1u << 31)

static void gtrace_load(struct trace *tr, const char *path, const char *data, size_t len)
{
	uint32_t nops, nslots;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	snprintf(tr->name, sizeof(tr->name), "%.*s", (int)strcspn(base, "."), base);
	memcpy(&nops, data + 16, sizeof(nops));
	memcpy(&nslots, data + 20, sizeof(nslots));
	if (len < GTRACE_HEADER || (len - GTRACE_HEADER) / 8 < nops)
		measure_die("the compact trace is shorter than its header says");
	tr->ops = bench_memory(nops * sizeof(*tr->ops));
	for (uint32_t i = 0; i < nops; i++) {
		uint32_t w[2];
		memcpy(w, data + GTRACE_HEADER + 8 * (size_t)i, sizeof(w));
		tr->ops[i] = (struct trace_op){w[0] & GTRACE_FREE ? 'f' : 'a', w[0] & ~GTRACE_FREE,
					       w[1]};
		if (tr->ops[i].id >= nslots)
			measure_die("a slot of the compact trace is past its count");
	}
	tr->nops = nops;
	tr->nids = nslots;
	tr->ptr = bench_memory(tr->nids * sizeof(*tr->ptr));
	tr->size = bench_memory(tr->nids * sizeof(*tr->size));
}

static void trace_load(struct trace *tr, const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;

	memset(tr, 0, sizeof(*tr));
	if (fd < 0 || fstat(fd, &st) < 0)
		measure_die("cannot open the trace file");
	char *text = bench_memory((size_t)st.st_size + 1);
	if (read(fd, text, (size_t)st.st_size) != st.st_size)
		measure_die("cannot read the trace file");
	close(fd);
	if ((size_t)st.st_size >= GTRACE_HEADER &&
	    !memcmp(text, GTRACE_MAGIC, sizeof(GTRACE_MAGIC))) {
		gtrace_load(tr, path, text, (size_t)st.st_size);
		munmap(text, (size_t)st.st_size + 1);
		return;
	}
	if (strncmp(text, TRACE_MAGIC, strlen(TRACE_MAGIC)))
		measure_die(
			"not a trace file (tools/bench/tracegen.py and realtrace.py write them)");

	size_t lines = 0;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	tr->ops = bench_memory(lines * sizeof(*tr->ops));
	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		const char *s = line + 2;
		if (!strchr(line, '\n'))
			measure_die("the trace does not end with a newline");
		if (!strncmp(line, "name ", 5)) {
			sscanf(line, "name %63s", tr->name);
		} else if (line[0] == 'a' || line[0] == 'f') {
			struct trace_op *op = &tr->ops[tr->nops++];
			op->kind = line[0];
			op->id = (uint32_t)parse_num(&s);
			op->size = op->kind == 'a' ? (uint32_t)parse_num(&s) : 0;
			if (op->id + 1 > tr->nids)
				tr->nids = op->id + 1;
		} else if (line[0] != '#' && line[0] != '\n') {
			measure_die("bad line in the trace");
		}
	}
	tr->ptr = bench_memory(tr->nids * sizeof(*tr->ptr));
	tr->size = bench_memory(tr->nids * sizeof(*tr->size));
}

/* Replay the whole trace; returns the op at which the allocator ran out, or -1. */
static long trace_replay(struct trace *tr)
{
	running_of = tr->nops;
	for (size_t i = 0; i < tr->nops; i++) {
		const struct trace_op *op = &tr->ops[i];
		running_done = i;
		if (op->kind == 'a') {
			void *p = adapter_alloc(op->size);
			if (!p)
				return (long)i;
			tr->ptr[op->id] = p;
			tr->size[op->id] = op->size;
		} else {
			adapter_free(tr->ptr[op->id], tr->size[op->id]);
		}
	}
	return -1;
}

/*
 * Utilization: the peak of the live payload over the peak of the memory the heap spans. For
 * an arena allocator the span is the highest byte it ever handed out, measured from the
 * arena's start (like a break address); for the others, what they report holding from the
 * system (their own accounting: see adapter_footprint in each adapter), above what they held
 * when the program started. Measured in a process that has replayed nothing before.
 */
static void trace_utilization(struct trace *tr)
{
	uint64_t live = 0, peak_live = 0, peak_span = 0;

	heap_start();
	running_of = tr->nops;
	for (size_t i = 0; i < tr->nops; i++) {
		const struct trace_op *op = &tr->ops[i];
		running_done = i;
		if (op->kind == 'f') {
			adapter_free(tr->ptr[op->id], tr->size[op->id]);
			live -= tr->size[op->id];
			continue;
		}
		void *p = adapter_alloc(op->size);
		if (!p) {
			printf("trace %s oom_at=%zu\n", tr->name, i);
			return;
		}
		tr->ptr[op->id] = p;
		tr->size[op->id] = op->size;
		live += op->size;
		if (live > peak_live)
			peak_live = live;
		uint64_t span;
		if (ADAPTER_ARENA) {
			span = (uint64_t)((char *)p + op->size - (char *)arena);
		} else {
			size_t now = adapter_footprint();
			span = now > startup_footprint ? now - startup_footprint : 0;
		}
		if (span > peak_span)
			peak_span = span;
	}
	printf("trace %s peak_live=%lu peak_span=%lu\n", tr->name, (unsigned long)peak_live,
	       (unsigned long)peak_span);
}

static void bench_trace(const char *path, int reps, bool first)
{
	static char label[LABEL_MAX + 8];
	struct trace tr;

	running_label = path; /* loading it */
	trace_load(&tr, path);
	snprintf(label, sizeof(label), "trace/%s", tr.name);
	running_label = label;
	if (!measure_callgrind && first)
		trace_utilization(&tr);
	for (int r = -1; r < reps; r++) { /* round -1 warms up, untimed */
		heap_start();
		uint64_t t = measure_begin();
		long oom = trace_replay(&tr);
		if (oom >= 0) {
			printf("trace %s oom_at=%ld\n", tr.name, oom);
			return;
		}
		if (r >= 0)
			measure_end(label, t, tr.nops);
	}
}

/* --- holes: first fit walks past free blocks that are too small ------------------------------ */

/*
 * Make `holes` free blocks of HOLE_BLOCK_SIZE, each between two live ones so none can merge:
 *     [live][hole][live][hole] ... [hole][live][ rest of the heap ]
 * then time `count` requests of HOLE_REQUEST_SIZE, which fit in no hole, and their frees.
 */
static void bench_holes(unsigned long holes, unsigned long count, int reps)
{
	size_t nblocks = 2 * holes + 1;
	void **block = bench_memory(nblocks * sizeof(*block));
	void **req = bench_memory(count * sizeof(*req));
	char label[LABEL_MAX];

	for (int r = 0; r < reps; r++) {
		heap_start();
		for (size_t i = 0; i < nblocks; i++)
			block[i] = must_alloc(HOLE_BLOCK_SIZE);
		for (size_t i = 1; i < nblocks; i += 2)
			adapter_free(block[i], HOLE_BLOCK_SIZE);

		snprintf(label, sizeof(label), "holes/%lu/alloc", holes);
		uint64_t t = measure_begin();
		for (unsigned long i = 0; i < count; i++)
			req[i] = adapter_alloc(HOLE_REQUEST_SIZE);
		measure_end(label, t, count);
		for (unsigned long i = 0; i < count; i++)
			if (!req[i])
				measure_die("out of memory in the holes benchmark");

		snprintf(label, sizeof(label), "holes/%lu/free", holes);
		t = measure_begin();
		for (unsigned long i = count; i-- > 0;)
			adapter_free(req[i], HOLE_REQUEST_SIZE);
		measure_end(label, t, count);

		for (size_t i = 0; i < nblocks; i += 2)
			adapter_free(block[i], HOLE_BLOCK_SIZE);
	}
	munmap(block, nblocks * sizeof(*block));
	munmap(req, count * sizeof(*req));
}

/* --------------------------------------------------------------------------------------------- */

/* Append s, or the decimal digits of v, to the buffer at *at (async-signal-safe). */
static void put_str(char **at, const char *s)
{
	while (*s)
		*(*at)++ = *s++;
}

static void put_num(char **at, size_t v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n > 0)
		*(*at)++ = digits[--n];
}

/* --limit: say how far the running pass got, and stop (only async-signal-safe calls here:
 * the allocator under test may be half-way through an operation). */
static void limit_reached(int sig)
{
	char msg[LABEL_MAX + 128], *at = msg;

	(void)sig;
	put_str(&at, "timeout ");
	put_str(&at, running_label);
	put_str(&at, " done=");
	put_num(&at, running_done);
	put_str(&at, " of=");
	put_num(&at, running_of);
	put_str(&at, " after=");
	put_num(&at, limit_seconds);
	put_str(&at, "\n");
	if (write(STDOUT_FILENO, msg, (size_t)(at - msg)) < 0)
		_exit(5);
	_exit(4);
}

int main(int argc, char **argv)
{
	int a = 1;

	static char outbuf[BUFSIZ]; /* so that printf never calls the allocator under test */

	setvbuf(stdout, outbuf, _IOLBF, sizeof(outbuf));
	startup_footprint = ADAPTER_ARENA ? 0 : adapter_footprint();
	for (; a < argc && !strncmp(argv[a], "--", 2); a++) {
		if (!strcmp(argv[a], "--callgrind")) {
			measure_callgrind = true;
		} else if (!strcmp(argv[a], "--limit") && a + 1 < argc) {
			limit_seconds = (unsigned)measure_arg_num(argv[++a]);
			signal(SIGALRM, limit_reached);
			alarm(limit_seconds);
		} else {
			measure_die("unknown option");
		}
	}
	if (ADAPTER_ARENA) {
		arena = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (arena == MAP_FAILED)
			measure_die("cannot map the arena");
	}
	if (a >= argc)
		measure_die(
			"usage: heapbench [--callgrind] [--limit SECS] pairs|batch|trace|holes ...");
	const char *cmd = argv[a++];
	int n = argc - a;
	if (!strcmp(cmd, "pairs") && n >= 3) {
		for (int i = a + 2; i < argc; i++)
			bench_pairs(measure_arg_num(argv[a]), (int)measure_arg_num(argv[a + 1]),
				    measure_arg_num(argv[i]));
	} else if (!strcmp(cmd, "batch") && n == 2) {
		bench_batch(measure_arg_num(argv[a]), (int)measure_arg_num(argv[a + 1]));
	} else if (!strcmp(cmd, "trace") && n >= 2) {
		for (int i = a + 1; i < argc; i++)
			bench_trace(argv[i], (int)measure_arg_num(argv[a]), i == a + 1);
	} else if (!strcmp(cmd, "holes") && n >= 3) {
		for (int i = a + 2; i < argc; i++)
			bench_holes(measure_arg_num(argv[i]), measure_arg_num(argv[a]),
				    (int)measure_arg_num(argv[a + 1]));
	} else {
		measure_die("unknown command or wrong number of arguments");
	}
	return 0;
}
