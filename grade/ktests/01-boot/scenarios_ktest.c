/*
 * Lab 01 scenarios: exceptions with nothing to catch them, so lab 01's exception_report()
 * must say what happened. The grader (grade/tests/test_01_boot.py) checks the report against
 * the addresses of the labels below, and against the fault address it chose.
 */
#include "attest.h"
#include "cmdline.h"
#include "ktest.h"
#include "memmap.h"

KTEST_SCENARIO(breakpoint)
{
	/* int3 is a trap: the CPU reports the address after it, and execution continues. */
	__asm__ volatile("int3\n.globl scenario_breakpoint_next\nscenario_breakpoint_next:");
}

KTEST_SCENARIO(divide_error)
{
	__asm__ volatile("xor %%ecx, %%ecx\n"
			 ".globl scenario_divide_site\nscenario_divide_site: div %%ecx"
			 :
			 :
			 : "eax", "ecx", "edx");
}

KTEST_SCENARIO(page_fault)
{
	volatile uint64_t *p = (volatile uint64_t *)cmdline_get_u64("fault_addr", 0x10000000000UL);

	*p = 1;
}

KTEST_SCENARIO(boot)
{
	/* The grader reads what booting printed (the memory map) and holds it against this
	 * signed copy of boot_memmap's totals, which lab code cannot print for itself. */
	attest_printf("memmap usable_kib=%lu regions=%d", boot_memmap.usable_bytes / 1024,
		      boot_memmap.count);
	for (int i = 0; i < boot_memmap.count && i < MEMMAP_MAX; i++)
		attest_printf("memmap region %d base=0x%lx len=0x%lx type=%u", i,
			      boot_memmap.regions[i].base, boot_memmap.regions[i].len,
			      boot_memmap.regions[i].type);
}
