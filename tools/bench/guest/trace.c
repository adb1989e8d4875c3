/*
 * Scenario bench_trace: the allocations of real programs (tools/bench/realtrace.py) replayed
 * through kmalloc and kfree inside the kernel (checkpoint 03 on), counted in instructions per
 * operation under -icount (icount.h).
 *
 * tools/bench/bench.py hands each trace to QEMU as a fw_cfg file named opt/teachos/trace/NAME,
 * in a compact form (realtrace.py's guest_trace):
 *
 *     char magic[16] = "teachos-gtrace1\0"; u32 ops; u32 slots; u64 reserved;
 *     then ops words of 8 bytes: u32 slot | 1u << 31 for a free, u32 size (0 for a free)
 *
 * A slot is where the block lives while it is live (the trace's ids renumbered so that a freed
 * block's slot is reused): slots is the most blocks live at once. The ops are read a chunk at
 * a time with fw_cfg's DMA interface (QEMU copies them into memory, outside the instruction
 * count); each chunk is replayed twice, first without the calls (the loop alone), then with
 * them, and the difference is what kmalloc and kfree cost. Per trace it prints
 *
 *     bench: trace name=NAME ops=N ticks=T empty=E            (all of it replayed)
 *     bench: trace name=NAME oom_at=I                          (kmalloc returned NULL)
 *
 * then frees what is still live. A trace needs no more memory than the heap can grow to.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "icount.h"
#include "kprintf.h"
#include "ktest.h"
#include "memlayout.h"
#include "x86.h"

#if CHECKPOINT >= 3 && __has_include("heap.h")
#include "heap.h"

#define TRACE_PREFIX   "opt/teachos/trace/"
#define TRACE_MAGIC    "teachos-gtrace1"
#define TRACE_HEADER   32
#define TRACE_CHUNK    8192 /* ops per chunk: 64 KiB */
#define TRACE_SLOTS    (1u << 17)
#define TRACE_FREE_BIT (1u << 31)

/* fw_cfg on x86: I/O ports, and the DMA interface (QEMU's docs/specs/fw_cfg.rst). */
#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA     0x511
#define FW_CFG_PORT_DMA_HI   0x514
#define FW_CFG_PORT_DMA_LO   0x518
#define FW_CFG_ID	     0x0001
#define FW_CFG_FILE_DIR	     0x0019
#define FW_CFG_ID_DMA	     (1u << 1)
#define FW_CFG_DMA_ERROR     (1u << 0)
#define FW_CFG_DMA_READ	     (1u << 1)
#define FW_CFG_DMA_SELECT    (1u << 3)
#define FW_CFG_NAME_MAX	     56

struct fw_cfg_dma {
	uint32_t control; /* big-endian, as everything the DMA interface reads */
	uint32_t length;
	uint64_t address;
} __attribute__((aligned(16)));

struct trace_op {
	uint32_t slot; /* | TRACE_FREE_BIT for a free */
	uint32_t size;
};

static struct trace_op chunk[TRACE_CHUNK];
static void *slots[TRACE_SLOTS];
static struct fw_cfg_dma dma;

static void read_ports(void *buf, size_t n)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < n; i++)
		p[i] = inb(FW_CFG_PORT_DATA);
}

/* Read n bytes of the selected item (select it first if select >= 0) into buf: by DMA,
 * which takes no guest instructions. False if the device says it failed. */
static bool read_dma(int select, void *buf, uint32_t n)
{
	uint32_t control = FW_CFG_DMA_READ;
	uint64_t pa = virt_to_phys(&dma);

	if (select >= 0)
		control |= FW_CFG_DMA_SELECT | (uint32_t)select << 16;
	dma.control = __builtin_bswap32(control);
	dma.length = __builtin_bswap32(n);
	dma.address = __builtin_bswap64(virt_to_phys(buf));
	__asm__ volatile("" : : : "memory");
	outl(FW_CFG_PORT_DMA_HI, __builtin_bswap32((uint32_t)(pa >> 32)));
	outl(FW_CFG_PORT_DMA_LO, __builtin_bswap32((uint32_t)pa)); /* this write starts it */
	__asm__ volatile("" : : : "memory");
	return (__builtin_bswap32(dma.control) & FW_CFG_DMA_ERROR) == 0;
}

/* Instructions of replaying ops[0..n): with calls, or the same loop without them. Returns
 * the index of an allocation that failed, or -1. */
static long replay(const struct trace_op *ops, uint32_t n, bool calls, uint64_t *ticks)
{
	uint64_t start = bench_ticks();

	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = ops[i].slot & ~TRACE_FREE_BIT;

		if (ops[i].slot & TRACE_FREE_BIT) {
			if (calls) {
				kfree(slots[slot]);
				slots[slot] = NULL;
			} else {
				bench_escape(slots[slot]);
			}
		} else if (calls) {
			void *p = kmalloc(ops[i].size);
			if (!p) {
				*ticks += bench_ticks() - start;
				return i;
			}
			slots[slot] = p;
		} else {
			bench_escape(&slots[slot]);
			slots[slot] = slots[slot];
		}
	}
	*ticks += bench_ticks() - start;
	return -1;
}

static void replay_file(const char *name, uint16_t select, uint32_t size)
{
	uint8_t header[TRACE_HEADER];
	uint64_t ticks = 0, empty = 0;
	uint32_t ops, nslots, done = 0;

	if (size < TRACE_HEADER || !read_dma(select, header, TRACE_HEADER) ||
	    memcmp(header, TRACE_MAGIC, sizeof(TRACE_MAGIC))) {
		kprintf("bench: trace name=%s error=bad_file\n", name);
		return;
	}
	memcpy(&ops, header + 16, 4);
	memcpy(&nslots, header + 20, 4);
	if (nslots > TRACE_SLOTS || (uint64_t)ops * sizeof(struct trace_op) + TRACE_HEADER > size) {
		kprintf("bench: trace name=%s error=too_big slots=%u\n", name, nslots);
		return;
	}
	memset(slots, 0, nslots * sizeof(slots[0]));
	long oom = -1;
	while (done < ops && oom < 0) {
		uint32_t n = ops - done < TRACE_CHUNK ? ops - done : TRACE_CHUNK;
		if (!read_dma(-1, chunk, n * (uint32_t)sizeof(struct trace_op))) {
			kprintf("bench: trace name=%s error=dma\n", name);
			break;
		}
		replay(chunk, n, false, &empty);
		oom = replay(chunk, n, true, &ticks);
		if (oom >= 0)
			kprintf("bench: trace name=%s oom_at=%lu\n", name,
				done + (unsigned long)oom);
		done += n;
	}
	if (oom < 0 && done == ops)
		kprintf("bench: trace name=%s ops=%u ticks=%lu empty=%lu\n", name, ops, ticks,
			empty);
	for (uint32_t i = 0; i < nslots; i++) /* what is still live (a trace that stopped) */
		if (slots[i]) {
			kfree(slots[i]);
			slots[i] = NULL;
		}
}

KTEST_SCENARIO(bench_trace)
{
	char sig[4];
	uint32_t id, count;

	outw(FW_CFG_PORT_SELECTOR, 0);
	read_ports(sig, sizeof(sig));
	outw(FW_CFG_PORT_SELECTOR, FW_CFG_ID);
	read_ports(&id, sizeof(id));
	if (memcmp(sig, "QEMU", 4) || !(id & FW_CFG_ID_DMA)) {
		kprintf("bench: trace error=no_fw_cfg_dma\n");
		return;
	}
	outw(FW_CFG_PORT_SELECTOR, FW_CFG_FILE_DIR);
	read_ports(&count, sizeof(count));
	count = __builtin_bswap32(count);
	/* The directory first (reading a file moves the device away from it). */
	static struct {
		uint32_t size;
		uint16_t select;
		char name[FW_CFG_NAME_MAX];
	} files[16];
	int n = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct {
			uint32_t size;
			uint16_t select, reserved;
			char name[FW_CFG_NAME_MAX];
		} f;
		read_ports(&f, sizeof(f));
		f.name[FW_CFG_NAME_MAX - 1] = '\0';
		if (strncmp(f.name, TRACE_PREFIX, strlen(TRACE_PREFIX)) ||
		    n == (int)ARRAY_SIZE(files))
			continue;
		files[n].size = __builtin_bswap32(f.size);
		files[n].select = __builtin_bswap16(f.select);
		memcpy(files[n].name, f.name, FW_CFG_NAME_MAX);
		n++;
	}
	for (int i = 0; i < n; i++)
		replay_file(files[i].name + strlen(TRACE_PREFIX), files[i].select, files[i].size);
	kprintf("bench: trace_done files=%d\n", n);
}

#endif
