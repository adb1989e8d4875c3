/* The kernel's GDT and TSS (see gdt.h). */
#include <stdint.h>
#include "compiler.h"
#include "gdt.h"
#include "x86.h"

#define IST_STACK_SIZE 8192

/* The 64-bit TSS (Intel SDM vol. 3, figure 8-11): only the stack pointers matter here. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3]; /* stacks for privilege levels 0-2 */
	uint64_t reserved1;
	uint64_t ist[7]; /* interrupt stack table, slots 1-7 */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;

_Static_assert(sizeof(struct tss) == 104, "TSS layout");

static struct tss tss;
static uint8_t double_fault_stack[IST_STACK_SIZE] __aligned(16);

/*
 * Descriptors: null, 64-bit code (L=1), data, then the TSS, which takes two slots.
 * Access byte 0x9a = present, ring 0, code, readable; 0x92 = present, ring 0, data, writable.
 */
static uint64_t gdt[5] = {
	0,
	0x00af9a000000ffffULL,
	0x00cf92000000ffffULL,
};

void gdt_init(void)
{
	uint64_t base = (uint64_t)&tss;
	uint64_t limit = sizeof(tss) - 1;

	tss.ist[IST_DOUBLE_FAULT - 1] = (uint64_t)(double_fault_stack + IST_STACK_SIZE);
	tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */

	/* A 16-byte system descriptor: type 0x9 = available 64-bit TSS, present. */
	gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		 ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[4] = base >> 32;

	struct descriptor_table_ptr p = {sizeof(gdt) - 1, (uint64_t)gdt};
	__asm__ volatile("lgdt %0\n\t"
			 /* reload CS with a far return, then the data segments */
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw %w2, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\t"
			 "movw %%ax, %%fs\n\t"
			 "movw %%ax, %%gs\n\t"
			 "ltr %w3"
			 :
			 : "m"(p), "i"(GDT_KERNEL_CODE), "r"(GDT_KERNEL_DATA), "r"(GDT_TSS)
			 : "rax", "memory");
}
