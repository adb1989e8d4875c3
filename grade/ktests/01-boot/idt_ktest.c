/*
 * Lab 01: the IDT. Its gates are checked bit by bit, then real exceptions are raised inside
 * the tests: each must arrive at the right vector's handler with the CPU's own record of it.
 */
#include <string.h>
#include "gdt.h"
#include "idt.h"
#include "ktest.h"
#include "x86.h"

static uint64_t gate_offset(const struct idt_gate *g)
{
	return g->offset_low | (uint64_t)g->offset_mid << 16 | (uint64_t)g->offset_high << 32;
}

KTEST(idt, loaded_with_256_gates, 2)
{
	struct descriptor_table_ptr p;

	sidt(&p);
	EXPECT_EQ(t, p.base, (uint64_t)idt);
	EXPECT_EQ(t, p.limit, sizeof(struct idt_gate) * TRAP_VECTORS - 1);
}

KTEST(idt, every_gate_points_at_its_stub, 3)
{
	for (int v = 0; v < TRAP_VECTORS; v++) {
		const struct idt_gate *g = &idt[v];

		if (gate_offset(g) != (uint64_t)trap_stubs[v] || g->selector != GDT_KERNEL_CODE ||
		    (g->type_attr & 0x9f) != (IDT_PRESENT | IDT_TYPE_INTERRUPT_GATE)) {
			FAIL(t,
			     "gate %d: offset 0x%lx selector 0x%x type/attributes 0x%x; expected "
			     "offset 0x%lx (trap_stubs[%d]) selector 0x%x, present interrupt gate",
			     v, gate_offset(g), g->selector, g->type_attr, (uint64_t)trap_stubs[v],
			     v, GDT_KERNEL_CODE);
			return;
		}
		/* DPL 0: int n from user code must not raise it. The breakpoint may be DPL 3. */
		int dpl = (g->type_attr >> IDT_DPL_SHIFT) & 3;
		if (dpl != 0 && !(v == VEC_BP && dpl == 3)) {
			FAIL(t,
			     "gate %d has DPL %d: every gate but the breakpoint's (which may be 3) "
			     "must be DPL 0, or user code could raise vector %d with int $%d",
			     v, dpl, v, v);
			return;
		}
	}
}

KTEST(idt, double_fault_has_its_own_stack, 2)
{
	EXPECT_EQ(t, idt[VEC_DF].ist, IST_DOUBLE_FAULT);
}

KTEST(idt, set_gate_encodes_every_field, 2)
{
	struct idt_gate saved = idt[0xf0];
	void *handler = (void *)0xffffffff80123456UL;

	/* over a gate full of ones: every field must be written, none ORed into the old one */
	memset(&idt[0xf0], 0xff, sizeof(idt[0xf0]));
	idt_set_gate(0xf0, handler, 5, 3);
	struct idt_gate g = idt[0xf0];
	idt[0xf0] = saved;

	EXPECT_EQ(t, g.offset_low, 0x3456);
	EXPECT_EQ(t, g.offset_mid, 0x8012);
	EXPECT_EQ(t, g.offset_high, 0xffffffffu);
	EXPECT_EQ(t, g.selector, GDT_KERNEL_CODE);
	EXPECT_EQ(t, g.ist, 5);
	EXPECT_EQ(t, g.type_attr, IDT_PRESENT | 3 << IDT_DPL_SHIFT | IDT_TYPE_INTERRUPT_GATE);
	if (g.reserved != 0)
		FAIL(t, "the gate's reserved field is 0x%x: idt_set_gate must set it to 0",
		     g.reserved);
}

/* Labels on the faulting instructions, so the tests know the exact rip to expect. */
extern char idt_test_divide_site[], idt_test_ud_site[], idt_test_pf_site[];

KTEST(idt, divide_error_arrives_at_vector_0, 2)
{
	struct ktry_result r;

	bool faulted = CATCH_FAULT(&r, __asm__ volatile("xor %%ecx, %%ecx\n"
							"idt_test_divide_site: div %%ecx"
							:
							:
							: "eax", "ecx", "edx"));
	ASSERT_TRUE(t, faulted);
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_DE);
	EXPECT_EQ(t, r.rip, (uint64_t)idt_test_divide_site); /* a fault: rip is the instruction */
}

KTEST(idt, invalid_opcode_arrives_at_vector_6, 2)
{
	struct ktry_result r;

	ASSERT_TRUE(t, CATCH_FAULT(&r, __asm__ volatile("idt_test_ud_site: ud2")));
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_UD);
	EXPECT_EQ(t, r.rip, (uint64_t)idt_test_ud_site);
}

KTEST(idt, page_fault_arrives_with_error_code_and_cr2, 3)
{
	struct ktry_result r;
	/* Not mapped by any checkpoint: PML4 slot 2, far from everything the kernel uses. */
	volatile uint64_t *p = (volatile uint64_t *)0x10000000123UL;

	ASSERT_TRUE(t, CATCH_FAULT(&r, __asm__ volatile("idt_test_pf_site: movq $1, (%0)"
							:
							: "r"(p)
							: "memory")));
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_PF);
	EXPECT_EQ(t, r.rip, (uint64_t)idt_test_pf_site);
	EXPECT_EQ(t, r.cr2, (uint64_t)p);
	EXPECT_EQ(t, r.error & (PF_WRITE | PF_PRESENT), (uint64_t)PF_WRITE);
}
