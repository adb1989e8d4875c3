/*
 * The kernel's own GDT and TSS, installed right after boot. The boot GDT of lab 01 gets the
 * CPU into 64-bit mode; this one adds a TSS whose interrupt stack table gives the double-fault
 * handler a stack of its own, so a kernel stack overflow is reported instead of resetting.
 */
#pragma once

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_TSS		0x18

/* IST slot of the double-fault handler's stack. */
#define IST_DOUBLE_FAULT 1

#ifndef __ASSEMBLER__
/* Load the kernel GDT (code, data, TSS) and the task register. */
void gdt_init(void);
#endif
