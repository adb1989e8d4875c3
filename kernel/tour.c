/*
 * The tour `make qemu` shows: a short demonstration of what each layer up to the current
 * checkpoint gives the kernel.
 */
#include "boot.h"
#include "build_info.h"
#include "cmdline.h"
#include "kprintf.h"
#include "memmap.h"
#include "layers.h"
#include "x86.h"

static void tour_boot(void)
{
	kprintf("\n== 01-boot: a 64-bit kernel that knows its RAM ==\n");
	kprintf("long mode: EFER.LMA=%d, code segment L=%d\n", !!(boot_cpu.efer & EFER_LMA),
		!!(boot_cpu.cs_descriptor & (1ULL << 53)));
	kprintf("command line: \"%s\"\n", cmdline_raw());
	kprintf("usable RAM: %lu MiB in %d regions\n", boot_memmap.usable_bytes >> 20,
		boot_memmap.count);
	kprintf("a breakpoint (int3) is reported and execution continues:\n");
	__asm__ volatile("int3");
	kprintf("... and we are back.\n");
}

void tour(void)
{
	tour_boot();
#if CHECKPOINT >= 2
	tour_paging(); /* kernel/paging.c */
#endif
#if CHECKPOINT >= 3
	tour_heap(); /* kernel/heap.c */
#endif
#if CHECKPOINT >= 6
	tour_buddy(); /* kernel/pages.c */
#endif
#if CHECKPOINT >= 7
	tour_threads(); /* kernel/threads.c */
#endif
	kprintf("\nThe tour of checkpoint %s is over. Try `make grade LAB=%d`.\n", CHECKPOINT_NAME,
		CHECKPOINT);
}
