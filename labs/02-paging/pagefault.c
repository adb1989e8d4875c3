/*
 * The page-fault report (kernel/pagefault.h): the CPU's error code in words. Each of its low
 * bits answers one question about the access that faulted:
 *
 *   bit 0 (PF_PRESENT)  0: the page was not present       1: it was, but the access is not allowed
 *   bit 1 (PF_WRITE)    0: a read                         1: a write
 *   bit 2 (PF_USER)     0: in kernel mode                 1: in user mode
 *   bit 3 (PF_RSVD)     1: a paging entry had a reserved bit set
 *   bit 4 (PF_INSTR)    1: an instruction fetch (an execute)
 *
 * CR2 holds the address the access tried to reach. For example error 0x3 at CR2 0xffffffff8010d000
 * is a kernel write to a present page: writing to read-only data.
 */
#include "kprintf.h"
#include "pagefault.h"
#include "todo.h"

#define REPORT_MAX 160

/* Step 11: the words for each bit, in the order kernel/pagefault.h gives. */
int page_fault_describe(char *buf, size_t size, uint64_t error, uint64_t addr)
{
	TODO("step 11: ksnprintf \"address 0x<16 hex digits>, <read|write|execute>, <page not present|protection violation>, <kernel|user> mode[, reserved bit]\" from the error bits");
}

void page_fault_report(const struct trap_frame *tf, uint64_t addr)
{
	char line[REPORT_MAX];

	page_fault_describe(line, sizeof(line), tf->error, addr);
	kprintf(PAGE_FAULT_PREFIX "%s\n", line);
}
