/*
 * The interrupt descriptor table (see kernel/idt.h for the gate layout): 256 gates, one per
 * vector, each pointing at that vector's entry stub in kernel/trapentry.S.
 */
#include "gdt.h"
#include "idt.h"
#include "kprintf.h"
#include "todo.h"
#include "trap.h"
#include "x86.h"

struct idt_gate idt[TRAP_VECTORS] __aligned(16);

/* Step 7: encode one gate. */
void idt_set_gate(int vector, void *handler, int ist, int dpl)
{
	TODO("step 7: split the handler address into the gate's three offset fields, set the selector, IST and type/DPL/present byte");
}

/* Step 8: fill the table and load it. */
void idt_init(void)
{
	TODO("step 8: point every vector at trap_stubs[vector] (double faults on IST_DOUBLE_FAULT), then lidt");
}

/* Step 9: say what happened. */
void exception_report(const struct trap_frame *tf)
{
	TODO("step 9: print the EXCEPTION line with vector, name, error code, rip (and cr2 for a page fault)");
}
