/*
 * Privilege levels (checkpoint 08): the GDT with segments for ring 3 and the TSS that says
 * where the CPU puts its stack when something pulls it out of ring 3. Lab 08 writes it
 * (labs/08-user/segments.c, step 1), and it replaces the GDT of kernel/gdt.c at boot.
 *
 * The GDT, one 8-byte descriptor per selector (the TSS takes two):
 *
 *   selector  descriptor                  used by
 *   0x00      null                        (the CPU requires it)
 *   0x08      kernel code, 64-bit, DPL 0  the kernel (CS); SYSCALL loads it
 *   0x10      kernel data, DPL 0          the kernel (SS); SYSCALL loads 0x08 + 8
 *   0x18      user data, DPL 3            a program (SS = 0x1b); SYSRET loads STAR + 8
 *   0x20      user code, 64-bit, DPL 3    a program (CS = 0x23); SYSRET loads STAR + 16
 *   0x28      TSS (16 bytes)              ltr
 *
 * That order is not free: SYSCALL and SYSRET take the segments from the STAR MSR
 * (syscall.h), kernel CS and SS as one selector and the next, user SS and CS as the two
 * after another one, data first. A selector's low two bits are its requested privilege level:
 * 0x1b is descriptor 0x18 asked for by ring 3.
 *
 * The TSS of 64-bit mode holds no task state any more, only stack pointers: rsp0, the stack
 * the CPU switches to when an interrupt or exception arrives in ring 3 (each program's thread
 * has its own, so the kernel sets rsp0 at every switch to a program's thread), and the
 * interrupt stack table (ist), stacks for chosen vectors whatever the ring (the double fault
 * uses IST_DOUBLE_FAULT, lab 01). iomap_base past the TSS's end means no I/O permission bitmap:
 * in and out from ring 3 are refused (#GP).
 */
#pragma once

#include <stdint.h>
#include "compiler.h"
#include "gdt.h"

#define SEG_KERNEL_CODE GDT_KERNEL_CODE /* 0x08, as kernel/gdt.c */
#define SEG_KERNEL_DATA GDT_KERNEL_DATA /* 0x10 */
#define SEG_USER_DATA	0x18
#define SEG_USER_CODE	0x20
#define SEG_TSS		0x28
#define SEG_RPL_USER	3 /* the low bits of a selector used from ring 3 */
#define SEG_GDT_ENTRIES 7 /* null, 4 segments, the TSS's two */

/* A segment descriptor's access byte (bits 40-47) and flags (bits 52-55): Intel SDM vol. 3,
 * 3.4.5. In 64-bit mode base and limit of code and data segments are ignored. */
#define SEG_ACCESS_PRESENT  0x80
#define SEG_ACCESS_DPL_USER 0x60 /* DPL 3 */
#define SEG_ACCESS_SEGMENT  0x10 /* code or data (not a system descriptor like the TSS) */
#define SEG_ACCESS_CODE	    0x08 /* executable */
#define SEG_ACCESS_RW	    0x02 /* code: readable; data: writable */
#define SEG_ACCESS_TSS	    0x09 /* system descriptor type: available 64-bit TSS */
#define SEG_FLAG_LONG	    0x2	 /* L: 64-bit code */
#define SEG_FLAG_DB	    0x4	 /* D/B: 32-bit (must be 0 with L) */
#define SEG_FLAG_GRAN	    0x8	 /* G: limit in 4 KiB units */

#define SEG_IST_STACK_SIZE  8192 /* the double fault's stack (kernel/gdt.c has one as large) */

/* The 64-bit TSS (Intel SDM vol. 3, figure 8-11). */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3]; /* rsp[0]: the stack for entries from ring 3; 1, 2: unused rings */
	uint64_t reserved1;
	uint64_t ist[7]; /* interrupt stack table: ist[k - 1] is IST slot k */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base; /* offset of the I/O permission bitmap; sizeof(struct tss): none */
} __packed;

_Static_assert(sizeof(struct tss) == 104, "TSS layout");
_Static_assert(__builtin_offsetof(struct tss, rsp) == 4, "TSS layout");
_Static_assert(__builtin_offsetof(struct tss, ist) == 36, "TSS layout");

/* ---- lab 08, step 1 (labs/08-user/segments.c) -------------------------------------------- */

/*
 * Build the GDT above and the TSS (rsp0 0 for now, IST_DOUBLE_FAULT's slot pointing at the top
 * of a stack of SEG_IST_STACK_SIZE bytes, no I/O bitmap), then load them (the given
 * segments_load). The kernel calls it once at boot, interrupts off, after kernel/gdt.c's
 * gdt_init; from then on the CPU uses these tables.
 */
void segments_init(void);

/* The stack the CPU switches to on an interrupt or exception in ring 3 (TSS rsp0). */
void tss_set_rsp0(uint64_t rsp0);

/* The TSS, for tests and the tour to read. */
const struct tss *tss_get(void);
