/*
 * Lab 02 scenarios: faults nothing catches, so the kernel's own reports must say what
 * happened. The grader (grade/tests/test_02_paging.py) reads the reports and checks them
 * against the address it chose and the addresses of the symbols below.
 */
#include "attest.h"
#include "boot.h"
#include "cmdline.h"
#include "kprintf.h"
#include "ktest.h"
#include "memmap.h"
#include "multiboot.h"
#include "paging.h"

#define DEFAULT_FAULT_ADDR _UL(0x0000008000000123)

/* Map a page, write to it, unmap it, then read or write it again (fault_addr=,
 * fault_access=read|write on the command line). */
KTEST_SCENARIO(unmapped_touch)
{
	uint64_t addr = cmdline_get_u64("fault_addr", DEFAULT_FAULT_ADDR);
	uint64_t page = align_down(addr, PAGE_SIZE);
	char access[8] = "write";
	phys_addr_t pa = kframe_alloc();

	cmdline_get("fault_access", access, sizeof(access));
	if (!pa || kmap_page(page, pa, PTE_WRITABLE | PTE_NO_EXECUTE) < 0) {
		kprintf("scenario unmapped_touch: could not map a page at 0x%lx (frame 0x%lx, "
			"paging_ready %d)\n",
			page, pa, paging_ready);
		return;
	}
	*(volatile uint8_t *)addr = 1;
	kprintf("scenario unmapped_touch: wrote to 0x%lx; unmapping its page\n", addr);
	kunmap_page(page);
	if (!strcmp(access, "read"))
		(void)*(volatile uint8_t *)addr;
	else
		*(volatile uint8_t *)addr = 2;
	kprintf("scenario unmapped_touch: the %s went through without a page fault\n", access);
}

/* Room in .data for one `ret`, executed below. */
uint8_t scenario_data_code[16] __aligned(16);

KTEST_SCENARIO(execute_data)
{
	*(volatile uint8_t *)scenario_data_code = 0xc3; /* ret */
	((void (*)(void))(uintptr_t)scenario_data_code)();
	kprintf("scenario execute_data: the code in .data ran\n");
}

/* Never reached; read through volatile so the recursion below cannot be proved endless. */
static volatile uint64_t recursion_limit = ~0UL;

static uint64_t recurse(uint64_t depth)
{
	volatile uint8_t frame[512];

	frame[0] = (uint8_t)depth;
	if (depth >= recursion_limit)
		return 0;
	return recurse(depth + 1) + frame[0];
}

KTEST_SCENARIO(stack_overflow)
{
	kprintf("scenario stack_overflow: recursing with 512-byte frames on a %lu KiB stack\n",
		(uint64_t)(__stack_top - __stack_bottom) >> 10);
	kprintf("scenario stack_overflow: depth %lu?\n", recurse(0));
}

/*
 * Sign the boot loader's own memory map for the grader (kernel/layers/02-paging/init.c signs the frame
 * counts), then read the last byte of RAM through the direct map.
 */
KTEST_SCENARIO(memory)
{
	phys_addr_t end = 0;

	for (uint64_t p = boot_mbi->mmap_addr; p < boot_mbi->mmap_addr + boot_mbi->mmap_length;) {
		const struct multiboot_mmap_entry *e = phys_to_virt(p);
		attest_printf("mmap base=0x%lx len=0x%lx type=%u", (uint64_t)e->addr,
			      (uint64_t)e->len, e->type);
		p += e->size + sizeof(e->size);
	}

	for (int i = 0; i < boot_memmap.count; i++)
		if (boot_memmap.regions[i].type == MEMMAP_USABLE)
			end = MAX(end, boot_memmap.regions[i].base + boot_memmap.regions[i].len);
	uint8_t b = *(volatile uint8_t *)phys_to_virt(end - 1);
	kprintf("scenario memory: read the last byte of RAM (physical 0x%lx) through the direct "
		"map: 0x%02x\n",
		end - 1, b);
}
