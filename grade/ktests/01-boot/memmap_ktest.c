/*
 * Lab 01: the memory map in boot_memmap, compared with the boot loader's own list (read here
 * directly from the multiboot information).
 */
#include "boot.h"
#include "ktest.h"
#include "memlayout.h"
#include "memmap.h"

KTEST(memmap, matches_the_boot_loader, 3)
{
	int n = 0;
	uint64_t p = boot_mbi->mmap_addr, end = p + boot_mbi->mmap_length;

	ASSERT_TRUE(t, boot_mbi->flags & MULTIBOOT_INFO_MEM_MAP);
	for (; p < end; p += ((const struct multiboot_mmap_entry *)phys_to_virt(p))->size + 4) {
		const struct multiboot_mmap_entry *e = phys_to_virt(p);
		if (!e->len)
			continue;
		ASSERT_LT(t, n, boot_memmap.count);
		const struct memmap_region *r = &boot_memmap.regions[n++];
		EXPECT_EQ(t, r->base, e->addr);
		EXPECT_EQ(t, r->len, e->len);
		EXPECT_EQ(t, r->type, e->type);
	}
	EXPECT_EQ(t, boot_memmap.count, n);
}

KTEST(memmap, no_empty_regions, 2)
{
	for (int i = 0; i < boot_memmap.count; i++)
		if (boot_memmap.regions[i].len == 0)
			FAIL(t, "region %d has length 0 (empty entries must be skipped)", i);
	EXPECT_GT(t, boot_memmap.count, 0);
}

KTEST(memmap, usable_total_is_the_sum, 2)
{
	uint64_t sum = 0;

	ASSERT_GT(t, boot_memmap.count, 0); /* 0 is the sum of no regions: that proves nothing */
	for (int i = 0; i < boot_memmap.count; i++)
		if (boot_memmap.regions[i].type == MEMMAP_USABLE)
			sum += boot_memmap.regions[i].len;
	EXPECT_EQ(t, boot_memmap.usable_bytes, sum);
}

KTEST(memmap, kernel_is_in_usable_ram, 1)
{
	uint64_t start = (uint64_t)__image_phys_start, end = (uint64_t)__image_phys_end;

	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *r = &boot_memmap.regions[i];
		if (r->type == MEMMAP_USABLE && r->base <= start && end <= r->base + r->len)
			return;
	}
	FAIL(t, "no usable region holds the kernel image [0x%lx, 0x%lx)", start, end);
}
