/*
 * The interrupt descriptor table (see kernel/idt.h for the gate layout): 256 gates, one per
 * vector, each pointing at that vector's entry stub in kernel/trapentry.S.
 */
#include "gdt.h"
#include "idt.h"
#include "kprintf.h"
/// STARTER: #include "todo.h"
#include "trap.h"
#include "x86.h"

struct idt_gate idt[TRAP_VECTORS] __aligned(16);

/* Step 7: encode one gate. */
void idt_set_gate(int vector, void *handler, int ist, int dpl)
{
	/// SOLUTION BEGIN
	uint64_t offset = (uint64_t)handler;
	struct idt_gate *g = &idt[vector];

	g->offset_low = offset & 0xffff;
	g->selector = GDT_KERNEL_CODE;
	g->ist = ist & 0x7;
	g->type_attr =
		IDT_PRESENT | (uint8_t)((dpl & 3) << IDT_DPL_SHIFT) | IDT_TYPE_INTERRUPT_GATE;
	g->offset_mid = (offset >> 16) & 0xffff;
	g->offset_high = offset >> 32;
	g->reserved = 0;
	/// SOLUTION END
	/// STARTER: TODO("step 7: split the handler address into the gate's three offset fields, set the selector, IST and type/DPL/present byte");
}

/* Step 8: fill the table and load it. */
void idt_init(void)
{
	/// SOLUTION BEGIN
	for (int v = 0; v < TRAP_VECTORS; v++)
		idt_set_gate(v, trap_stubs[v], 0, 0);
	/* An int3 from anywhere is fine; double faults switch to their own stack. */
	idt_set_gate(VEC_BP, trap_stubs[VEC_BP], 0, 3);
	idt_set_gate(VEC_DF, trap_stubs[VEC_DF], IST_DOUBLE_FAULT, 0);

	struct descriptor_table_ptr p = {sizeof(idt) - 1, (uint64_t)idt};
	lidt(&p);
	/// SOLUTION END
	/// STARTER: TODO("step 8: point every vector at trap_stubs[vector] (double faults on IST_DOUBLE_FAULT), then lidt");
}

/* Step 9: say what happened. */
void exception_report(const struct trap_frame *tf)
{
	/// SOLUTION BEGIN
	kprintf("EXCEPTION: vector %lu (%s) error 0x%lx at rip 0x%lx", tf->vector,
		trap_name(tf->vector), tf->error, tf->rip);
	if (tf->vector == VEC_PF)
		kprintf(" cr2 0x%lx", read_cr2());
	kprintf("\n");
	/// SOLUTION END
	/// STARTER: TODO("step 9: print the EXCEPTION line with vector, name, error code, rip (and cr2 for a page fault)");
}
