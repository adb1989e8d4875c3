/*
 * The GDT with segments for ring 3, and the TSS (see kernel/segments.h for the table and why
 * its order is what it is).
 *
 * A code or data descriptor, 8 bytes (Intel SDM vol. 3, figure 3-8):
 *
 *   63      56 55   52 51    48 47      40 39        16 15        0
 *   | base    | flags | limit  | access   | base       | limit      |
 *   | 31..24  | G D L | 19..16 | P DPL S  | 23..0      | 15..0      |
 *                               type
 *
 * In 64-bit mode the CPU ignores base and limit of code and data segments; what matters is
 * P (present), DPL (the ring that may use it), S (code or data), the type (code: executable,
 * readable; data: writable) and, for code, L (64-bit). The kernel's code segment, for one,
 * is 0x00af9a000000ffff: limit 0xfffff, access 0x9a (present, DPL 0, code, readable), flags
 * 0xa (G, L). The TSS's descriptor is a system descriptor of 16 bytes: base and limit do
 * matter there, and the base needs all 64 bits.
 */
#include <string.h>
#include "compiler.h"
#include "segments.h"
#include "todo.h"
#include "x86.h"

#define SEG_LIMIT_MAX 0xfffff /* 20 bits, in pages with G: all of it (ignored in 64-bit mode) */

static uint64_t gdt[SEG_GDT_ENTRIES] __aligned(16);
static struct tss tss __aligned(16);
static uint8_t double_fault_stack[SEG_IST_STACK_SIZE] __aligned(16) __unused;

/*
 * Given: load the GDT and the task register. The code and data segment registers keep
 * their selectors (0x08 and 0x10 mean the same in this table as in the one before), so only
 * the descriptor caches need reloading: CS with a far return, the others with a move.
 */
static __unused void segments_load(void)
{
	struct descriptor_table_ptr p = {sizeof(gdt) - 1, (uint64_t)gdt};

	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw %w2, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\t"
			 "ltr %w3"
			 :
			 : "m"(p), "i"(SEG_KERNEL_CODE), "r"(SEG_KERNEL_DATA), "r"(SEG_TSS)
			 : "rax", "memory");
}

/* Step 1: a code or data descriptor with this access byte and these flags (base 0, the
 * largest limit). */
static __unused uint64_t segment_descriptor(uint8_t access, uint8_t flags)
{
	TODO("step 1: limit bits 0-15 and 48-51 (SEG_LIMIT_MAX), access byte at bit 40, flags at bit 52; base 0");
}

/*
 * Step 1: the table of kernel/segments.h, the TSS (the double fault's IST slot at the top of
 * double_fault_stack, no I/O bitmap), then segments_load.
 */
void segments_init(void)
{
	TODO("step 1: fill gdt[] (null, kernel code and data, user data then user code with DPL 3, the TSS's 16-byte descriptor), set tss.ist for IST_DOUBLE_FAULT and tss.iomap_base, then segments_load()");
}

/* Step 1: the stack for entries from ring 3. */
void tss_set_rsp0(uint64_t rsp0)
{
	TODO("step 1: store rsp0 in the TSS");
}

const struct tss *tss_get(void)
{
	return &tss;
}
