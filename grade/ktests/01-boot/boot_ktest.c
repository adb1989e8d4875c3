/*
 * Lab 01: the CPU state the boot code leaves, read from the hardware (EFER, CR0, CR4, the
 * code segment's descriptor) as kernel_main found it, not from anything the kernel prints.
 */
#include "boot.h"
#include "ktest.h"
#include "memlayout.h"
#include "pte.h"
#include "x86.h"

/* Bits of a code segment descriptor. */
#define DESC_PRESENT (1ULL << 47)
#define DESC_CODE    (1ULL << 43)
#define DESC_LONG    (1ULL << 53)
#define DESC_DB	     (1ULL << 54)

KTEST(long_mode, efer_long_mode_active, 2)
{
	EXPECT_TRUE(t, boot_cpu.efer & EFER_LME);
	EXPECT_TRUE(t, boot_cpu.efer & EFER_LMA); /* the CPU's own word that long mode is on */
}

KTEST(long_mode, paging_and_pae_enabled, 2)
{
	EXPECT_TRUE(t, boot_cpu.cr0 & CR0_PG);
	EXPECT_TRUE(t, boot_cpu.cr0 & CR0_PE);
	EXPECT_TRUE(t, boot_cpu.cr4 & CR4_PAE);
}

KTEST(long_mode, code_segment_is_64_bit, 2)
{
	uint64_t d = boot_cpu.cs_descriptor;

	EXPECT_EQ(t, boot_cpu.cs & ~7u, 0x08u);
	EXPECT_TRUE(t, d & DESC_PRESENT);
	EXPECT_TRUE(t, d & DESC_CODE);
	EXPECT_TRUE(t, d & DESC_LONG); /* L = 1: 64-bit code */
	EXPECT_FALSE(t, d & DESC_DB);  /* D must be 0 when L is 1 */
}

/* Walk the boot page tables by hand: the entry for va at each level, down to a 2 MiB page. */
static uint64_t boot_pd_entry(uint64_t va)
{
	const uint64_t *pml4 = phys_to_virt(boot_cpu.cr3 & PTE_ADDR_MASK);
	uint64_t e = pml4[(va >> 39) & 511];

	if (!(e & PTE_PRESENT))
		return 0;
	const uint64_t *pdpt = phys_to_virt(e & PTE_ADDR_MASK);
	e = pdpt[(va >> 30) & 511];
	if (!(e & PTE_PRESENT))
		return 0;
	const uint64_t *pd = phys_to_virt(e & PTE_ADDR_MASK);
	return pd[(va >> 21) & 511];
}

KTEST(long_mode, boot_tables_map_the_first_gib_three_times, 3)
{
	/* Identity, direct map and kernel image: all three views of every 2 MiB page agree,
	 * from the first to the last of the 512. */
	for (uint64_t pa = 0; pa < BOOT_MAP_SIZE; pa += HUGE_PAGE_SIZE) {
		uint64_t views[3] = {pa, DIRECT_MAP_BASE + pa, KERNEL_VMA + pa};
		for (int i = 0; i < 3; i++) {
			uint64_t e = boot_pd_entry(views[i]);
			if (!(e & PTE_PRESENT) || !(e & PTE_HUGE) || (e & PTE_ADDR_MASK) != pa) {
				FAIL(t,
				     "virtual 0x%lx should map physical 0x%lx with a 2 MiB page, but its page-directory entry is 0x%lx",
				     views[i], pa, e);
				return;
			}
		}
	}
	/* Writable, or the kernel could not have run. */
	EXPECT_TRUE(t, boot_pd_entry(KERNEL_VMA + KERNEL_PHYS_BASE) & PTE_WRITABLE);
}
