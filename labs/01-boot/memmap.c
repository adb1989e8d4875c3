/*
 * Reading the boot loader's memory map (see kernel/memmap.h). The multiboot loader leaves a
 * list of variable-size entries at mbi->mmap_addr; each starts with its own size, not
 * counting the size field itself.
 */
#include "kprintf.h"
#include "todo.h"
#include "memlayout.h"
#include "memmap.h"

struct memmap boot_memmap;

/* Steps 10 and 11: copy the regions, then print them and the total. */
int memmap_init(const struct multiboot_info *mbi)
{
	TODO("steps 10-11: copy each non-empty mmap entry into boot_memmap, add up the usable bytes, print each region and the total");
}
