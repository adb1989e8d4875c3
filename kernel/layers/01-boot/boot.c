/*
 * Checkpoint 01 joins the kernel: lab 01's IDT and the boot loader's memory map come up
 * first, and the tour shows long mode, the command line, the RAM and a breakpoint.
 * (Lab 01's boot code itself has run before kernel_main: it is how the kernel got here.)
 */
#include "boot.h"
#include "cmdline.h"
#include "idt.h"
#include "kprintf.h"
#include "layer.h"
#include "memmap.h"

static void boot_layer_init(void)
{
	int r = 0;

	LAB_STEP("01-boot: idt_init", idt_init());
	if (!LAB_STEP_INTO("01-boot: memmap_init", r, memmap_init(boot_mbi)))
		return;
	if (r < 0)
		kprintf("kernel: the boot loader passed no memory map\n");
	kprintf("kernel: %lu KiB usable RAM in %d regions\n", boot_memmap.usable_bytes / 1024,
		boot_memmap.count);
}

static void boot_tour(void)
{
	kprintf("long mode: EFER.LMA=%d, code segment L=%d\n", !!(boot_cpu.efer & EFER_LMA),
		!!(boot_cpu.cs_descriptor & (1ULL << 53)));
	kprintf("command line: \"%s\"\n", cmdline_raw());
	kprintf("usable RAM: %lu MiB in %d regions\n", boot_memmap.usable_bytes >> 20,
		boot_memmap.count);
	kprintf("a breakpoint (int3) is reported and execution continues:\n");
	__asm__ volatile("int3");
	kprintf("... and we are back.\n");
}

LAYER(1, "01-boot", "a 64-bit kernel that knows its RAM", boot_layer_init, boot_tour);
