/*
 * Lab 02, step 11: the page-fault report's words for each bit of the error code. Pure C: runs
 * in the kernel and on the host. The black-box tests (grade/tests/test_02_paging.py) check the
 * report a real fault prints.
 */
#include "kprintf.h"
#include "ktest.h"
#include "pagefault.h"

KTEST(pagefault, not_present_read_in_kernel_mode, 1)
{
	char buf[160];

	page_fault_describe(buf, sizeof(buf), 0, 0xdeadb000);
	EXPECT_STREQ(t, buf, "address 0x00000000deadb000, read, page not present, kernel mode");
}

KTEST(pagefault, write_to_a_read_only_page, 1)
{
	char buf[160];

	page_fault_describe(buf, sizeof(buf), PF_PRESENT | PF_WRITE, 0xffffffff8010d008UL);
	EXPECT_STREQ(t, buf,
		     "address 0xffffffff8010d008, write, protection violation, kernel mode");
}

KTEST(pagefault, every_error_code, 3)
{
	char buf[160], want[160];

	for (uint64_t e = 0; e < 32; e++) {
		uint64_t addr = 0x123456789000UL + e * 8;
		/* An instruction fetch is an "execute" whatever the write bit says. */
		ksnprintf(want, sizeof(want), "address 0x%016lx, %s, %s, %s%s", addr,
			  e & PF_INSTR	 ? "execute"
			  : e & PF_WRITE ? "write"
					 : "read",
			  e & PF_PRESENT ? "protection violation" : "page not present",
			  e & PF_USER ? "user mode" : "kernel mode",
			  e & PF_RSVD ? ", reserved bit" : "");
		page_fault_describe(buf, sizeof(buf), e, addr);
		if (strcmp(buf, want)) {
			FAIL(t, "error code 0x%lx: got \"%s\", expected \"%s\"", e, buf, want);
			return;
		}
	}
}
