/*
 * Lab 08, step 1: the GDT with user segments and the TSS, read back from the CPU itself (sgdt,
 * str) rather than from the lab's variables.
 */
#include "idt.h"
#include "paging.h"
#include "segments.h"
#include "user_fixture.h"
#include "x86.h"

#define DESC_ACCESS(d) ((unsigned)((d) >> 40) & 0xff)
#define DESC_FLAGS(d)  ((unsigned)((d) >> 52) & 0xf)
#define TSS_TYPE_MASK  0x0d /* types 9 (available) and 11 (busy: ltr sets that bit) */

static uint64_t gdt_entry(const struct descriptor_table_ptr *g, unsigned sel)
{
	return ((const uint64_t *)g->base)[sel / 8];
}

static uint16_t read_tr(void)
{
	uint16_t tr;

	__asm__ volatile("str %0" : "=r"(tr));
	return tr;
}

/* What a selector's descriptor should be: present, this DPL, code or data, 64-bit code. */
static void expect_segment(struct ktest *t, const struct descriptor_table_ptr *g, unsigned sel,
			   const char *what, unsigned dpl, bool code)
{
	uint64_t d = gdt_entry(g, sel);
	unsigned access = DESC_ACCESS(d), flags = DESC_FLAGS(d);

	if (!(access & SEG_ACCESS_PRESENT) || !(access & SEG_ACCESS_SEGMENT))
		FAIL(t, "GDT 0x%x (%s) is 0x%016lx: not a present code or data segment", sel, what,
		     d);
	else if (((access >> 5) & 3) != dpl)
		FAIL(t, "GDT 0x%x (%s) has DPL %u, not %u", sel, what, (access >> 5) & 3, dpl);
	else if (!!(access & SEG_ACCESS_CODE) != code)
		FAIL(t, "GDT 0x%x (%s) is a %s segment, not a %s one", sel, what,
		     access & SEG_ACCESS_CODE ? "code" : "data", code ? "code" : "data");
	else if (!(access & SEG_ACCESS_RW))
		FAIL(t, "GDT 0x%x (%s) is not %s", sel, what, code ? "readable" : "writable");
	else if (code && ((flags & SEG_FLAG_LONG) == 0 || (flags & SEG_FLAG_DB)))
		FAIL(t, "GDT 0x%x (%s) is not 64-bit code (L=1, D=0): flags 0x%x", sel, what,
		     flags);
}

/* The five segments where SYSCALL and SYSRET will look for them. */
KTEST(segments, user_segments_in_sysret_order, 3)
{
	struct descriptor_table_ptr g;

	if (!segments_require(t))
		return;
	sgdt(&g);
	ASSERT_GE(t, g.limit + 1, SEG_GDT_ENTRIES * 8);
	EXPECT_EQ(t, gdt_entry(&g, 0), 0);
	expect_segment(t, &g, SEG_KERNEL_CODE, "kernel code", 0, true);
	expect_segment(t, &g, SEG_KERNEL_DATA, "kernel data", 0, false);
	expect_segment(t, &g, SEG_USER_DATA, "user data", 3, false);
	expect_segment(t, &g, SEG_USER_CODE, "user code", 3, true);
	EXPECT_EQ(t, read_cs(), SEG_KERNEL_CODE);
}

/* The task register holds 0x28, whose descriptor is a present 64-bit TSS at the TSS. */
KTEST(segments, the_tss_is_loaded, 3)
{
	struct descriptor_table_ptr g;

	if (!segments_require(t))
		return;
	sgdt(&g);
	EXPECT_EQ(t, read_tr(), SEG_TSS);
	uint64_t lo = gdt_entry(&g, SEG_TSS), hi = gdt_entry(&g, SEG_TSS + 8);
	uint64_t base = ((lo >> 16) & 0xffffff) | ((lo >> 56) << 24) | (hi << 32);
	uint64_t limit = (lo & 0xffff) | (((lo >> 48) & 0xf) << 16);
	unsigned access = DESC_ACCESS(lo);
	EXPECT_TRUE(t, access & SEG_ACCESS_PRESENT);
	EXPECT_EQ(t, access & 0x1f & TSS_TYPE_MASK, SEG_ACCESS_TSS);
	EXPECT_EQ(t, (access >> 5) & 3, 0);
	EXPECT_EQ(t, base, (uint64_t)tss_get());
	EXPECT_GE(t, limit, sizeof(struct tss) - 1);
}

/*
 * The double fault keeps its own stack in the new TSS (the IDT still sends it to
 * IST_DOUBLE_FAULT): a mapped, writable stack of the kernel; and there is no I/O bitmap.
 */
KTEST(segments, the_double_fault_keeps_its_stack, 3)
{
	if (!segments_require(t))
		return;
	const struct tss *tss = tss_get();
	uint64_t top = tss->ist[IST_DOUBLE_FAULT - 1];

	if (top == 0) {
		FAIL(t,
		     "the TSS's IST%d entry is 0: the double fault has no stack of its own "
		     "(tss_init)",
		     IST_DOUBLE_FAULT);
		return;
	}
	if (top % 16)
		FAIL(t, "the double fault's stack top 0x%llx is not 16-byte aligned",
		     (unsigned long long)top);
	if ((unsigned)(idt[VEC_DF].ist & 7) != IST_DOUBLE_FAULT)
		FAIL(t, "the IDT's double-fault gate uses IST%u, not IST%d",
		     (unsigned)(idt[VEC_DF].ist & 7), IST_DOUBLE_FAULT);
	uint64_t e = vm_leaf_entry(&kernel_vm, top - 8);
	if (!(e & PTE_PRESENT) || !(e & PTE_WRITABLE) || (e & PTE_USER))
		FAIL(t,
		     "the double fault's stack top 0x%llx is mapped by entry 0x%llx: it must be "
		     "present, writable and the kernel's only",
		     (unsigned long long)top, (unsigned long long)e);
	if (vm_translate(&kernel_vm, top - SEG_IST_STACK_SIZE) == VM_NOT_MAPPED)
		FAIL(t, "the double fault's stack is not mapped %d bytes below its top 0x%llx",
		     SEG_IST_STACK_SIZE, (unsigned long long)top);
	if (tss->iomap_base < sizeof(struct tss))
		FAIL(t,
		     "the TSS's iomap_base is %u, inside the TSS: it must be at least %zu (no I/O "
		     "bitmap)",
		     (unsigned)tss->iomap_base, sizeof(struct tss));
}

/* tss_set_rsp0 is what the CPU will read. */
KTEST(segments, rsp0_is_set, 1)
{
	if (!segments_require(t))
		return;
	uint64_t old = tss_get()->rsp[0];

	tss_set_rsp0(0xffffe00000123450UL);
	uint64_t got = tss_get()->rsp[0];
	tss_set_rsp0(old);
	EXPECT_EQ(t, got, 0xffffe00000123450UL);
}
