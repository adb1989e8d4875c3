/*
 * The interrupt descriptor table: lab 01 (labs/01-boot/idt.c) writes these functions.
 *
 * A 64-bit interrupt gate is 16 bytes (Intel SDM vol. 3, figure 6-8):
 *
 *   bits  0-15   offset 15..0 of the handler
 *   bits 16-31   code segment selector
 *   bits 32-34   IST: which interrupt stack table entry to switch to (0 = keep the stack)
 *   bits 40-43   type: 0xE = 64-bit interrupt gate (clears IF on entry)
 *   bit  45-46   DPL: lowest privilege allowed to raise it with int n
 *   bit  47      present
 *   bits 48-63   offset 31..16
 *   bits 64-95   offset 63..32
 *   bits 96-127  reserved, zero
 */
#pragma once

#include <stdint.h>
#include "trap.h"

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;	   /* bits 0-2; the rest zero */
	uint8_t type_attr; /* type (bits 0-3), zero (bit 4), DPL (bits 5-6), present (bit 7) */
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "an IDT gate is 16 bytes");

#define IDT_TYPE_INTERRUPT_GATE 0xe
#define IDT_PRESENT		0x80
#define IDT_DPL_SHIFT		5

/* The table itself, in labs/01-boot/idt.c. */
extern struct idt_gate idt[TRAP_VECTORS];

/*
 * Make idt[vector] a present 64-bit interrupt gate to `handler` in the kernel code segment,
 * switching to interrupt stack `ist` (0 for none) and callable by `int` from privilege `dpl`.
 */
void idt_set_gate(int vector, void *handler, int ist, int dpl);

/* Point every vector at its stub in trap_stubs[] (the double fault on its own IST stack,
 * IST_DOUBLE_FAULT) and load the table. */
void idt_init(void);

/*
 * Print one line about an exception, in this format (the grader reads it):
 *   EXCEPTION: vector 3 (#BP breakpoint) error 0x0 at rip 0xffffffff80102a5b
 *   EXCEPTION: vector 14 (#PF page fault) error 0x2 at rip 0xffffffff80102a70 cr2 0x7f0000001000
 * cr2 only for a page fault. trap_dispatch calls it, then decides what happens next.
 */
void exception_report(const struct trap_frame *tf);
