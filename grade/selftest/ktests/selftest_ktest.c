/*
 * Suites for testing the grading harness itself (grade/selftest/test_harness.py). The second
 * test of "selftest" misbehaves in the way misbehave=... on the command line asks, so the
 * harness's words for each kind of failure can be checked (with fail_then_hang it fails, and
 * the third test hangs); "selftest_next" runs after it when
 * both are booted together, as the grader's batches do.
 */
#include "cmdline.h"
#include "idt.h"
#include "kprintf.h"
#include "ktest.h"
#include "memlayout.h"
#include "memmap.h"
#include "panic.h"
#include "qemu.h"
#include "trap.h"
#include "x86.h"

static bool misbehave(const char *what)
{
	char how[32];

	return cmdline_get("misbehave", how, sizeof(how)) && !strcmp(how, what);
}

static bool first_ran; /* in this boot */

static uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Write a byte to every page of RAM from 16 MiB (above the kernel image) to 1 GiB (as far as
 * the boot tables' direct map reaches): the host must then back all of that for QEMU. */
static void write_ram(void)
{
	const uint64_t from = 16ULL << 20, to = 1ULL << 30;
	uint64_t pages = 0;

	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *r = &boot_memmap.regions[i];
		uint64_t start = r->base < from ? from : r->base;
		uint64_t end = r->base + r->len > to ? to : r->base + r->len;

		if (r->type != MEMMAP_USABLE)
			continue;
		for (uint64_t pa = (start + 4095) & ~4095ULL; pa + 4096 <= end; pa += 4096, pages++)
			*(volatile uint8_t *)phys_to_virt(pa) = 0xa5;
	}
	kprintf("selftest: wrote to %lu pages of RAM\n", pages);
}

/* A read of a field of a record at an address nothing maps (1 TiB), out of line: the fault's
 * trace must lead back to the test that called it. */
static __attribute__((noinline)) uint64_t read_unmapped_field(void)
{
	static const volatile uint64_t *volatile record = (const uint64_t *)0x10000000000;

	return record[8];
}

KTEST(selftest, first, 1)
{
	first_ran = true;
	EXPECT_EQ(t, 1 + 1, 2);
}

KTEST(selftest, second, 1)
{
	if (misbehave("hang")) {
		cli();
		for (;;)
			hlt();
	}
	if (misbehave("spin")) {
		cli();
		for (;;)
			__asm__ volatile("pause");
	}
	if (misbehave("triple_fault")) {
		struct descriptor_table_ptr none = {0, 0};
		lidt(&none);
		__asm__ volatile("int3");
	}
	if (misbehave("panic"))
		panic("selftest: a deliberate panic");
	if (misbehave("unmapped_read"))
		EXPECT_EQ(t, read_unmapped_field(), 0);
	if (misbehave("ring3_exception")) { /* as if a handler passed a program's fault on */
		struct trap_frame tf = {.vector = VEC_UD, .rip = 0x401000, .cs = 0x23};
		trap_exception_default(&tf);
	}
	if (misbehave("flood"))
		for (;;)
			kprintf("flooding the serial port, flooding the serial port\n");
	if (misbehave("bad_utf8"))
		kprintf("bytes that are not UTF-8: \xff\xfe\xc3\x28 and on\n");
	if (misbehave("write_ram")) {
		write_ram();
		cli();
		for (;;)
			hlt();
	}
	if (misbehave("exit_code"))
		qemu_exit(0x05);
	if (misbehave("fail") || misbehave("fail_then_hang"))
		EXPECT_EQ(t, 2 + 2, 5);
	if (misbehave("fail_addresses")) {
		uint64_t kernel_address = 0xffffffff80100000ULL;
		const void *p = (const void *)kernel_address;
		EXPECT_EQ(t, kernel_address, 0);
		EXPECT_EQ(t, p, NULL);
		EXPECT_EQ(t, -1, 1);
	}
}

KTEST(selftest, third, 1)
{
	if (misbehave("fail_then_hang")) {
		cli();
		for (;;)
			hlt();
	}
	EXPECT_TRUE(t, true);
}

/* Fails only behind "selftest" in the same boot, with misbehave=after_selftest: a suite that
 * a batch's earlier suites disturb. With misbehave=subtest_forever it prints the line that
 * starts a suite again and again, slowly, and never ends. */
KTEST(selftest_next, only, 1)
{
	if (misbehave("after_selftest"))
		EXPECT_FALSE(t, first_ran);
	if (misbehave("subtest_forever"))
		for (;;) {
			kprintf("    # Subtest: selftest_next\n");
			for (uint64_t start = tsc(); tsc() - start < 10000000;)
				__asm__ volatile("pause");
		}
}

KTEST_SCENARIO(kernel_panic)
{
	panic("selftest: a deliberate panic");
}
