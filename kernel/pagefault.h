/*
 * The page-fault report: what a page fault's error code and CR2 say, in words. Lab 02 writes
 * page_fault_describe (labs/02-paging/pagefault.c); kernel/trap.c prints the report after
 * lab 01's EXCEPTION line for every page fault nothing else handles. The grader reads it, so
 * the format is fixed:
 *
 *   PAGE FAULT: address 0x00000000deadb000, write, page not present, kernel mode
 *   PAGE FAULT: address 0xffffffff80106000, execute, protection violation, kernel mode
 *   PAGE FAULT: address 0x0000000000400000, read, protection violation, user mode, reserved bit
 *
 * That is: the address as 16 hex digits; the access ("read", "write" or "execute": an
 * instruction fetch); "page not present" or "protection violation" (the page was present
 * but the access not allowed); "kernel mode" or "user mode"; and ", reserved bit" when the
 * CPU found a reserved bit set in a paging entry.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "trap.h"

#define PAGE_FAULT_PREFIX "PAGE FAULT: "

/*
 * Write the report of a page fault with this error code at this address into buf, from
 * "address" on (no prefix, no newline): "address 0x00000000deadb000, write, page not present,
 * kernel mode". At most size - 1 characters and a NUL; returns what ksnprintf returns.
 */
int page_fault_describe(char *buf, size_t size, uint64_t error, uint64_t addr);

/* Print PAGE_FAULT_PREFIX, the description and a newline for the fault in tf at addr (CR2). */
void page_fault_report(const struct trap_frame *tf, uint64_t addr);
