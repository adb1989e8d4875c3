/*
 * Lab 01: the memory map in boot_memmap, compared with the boot loader's own list (read here
 * directly from the multiboot information).
 */
#include <string.h>
#include "boot.h"
#include "ktest.h"
#include "memlayout.h"
#include "memmap.h"

/* A loader's list made up here, in the kernel image (the direct map reaches it). */
static struct multiboot_mmap_entry made_up[MEMMAP_MAX + 1];

/* Copy a made-up list of n entries (none empty) with memmap_init, and check what it kept:
 * all of them, up to MEMMAP_MAX. */
static void copy_made_up_list(struct ktest *t, int n)
{
	struct multiboot_info mbi = {.flags = MULTIBOOT_INFO_MEM_MAP,
				     .mmap_length = (uint32_t)(n * sizeof(made_up[0])),
				     .mmap_addr = (uint32_t)virt_to_phys(made_up)};
	int want = n < MEMMAP_MAX ? n : MEMMAP_MAX;

	for (int i = 0; i < n; i++)
		made_up[i] = (struct multiboot_mmap_entry){
			.size = sizeof(made_up[i]) - sizeof(made_up[i].size),
			.addr = (uint64_t)i << 21,
			.len = (1u << 20) + (uint64_t)i * PAGE_SIZE,
			.type = i % 2 ? MULTIBOOT_MEMORY_AVAILABLE : MULTIBOOT_MEMORY_RESERVED};
	int got = memmap_init(&mbi);
	EXPECT_EQ(t, got, want);
	EXPECT_EQ(t, boot_memmap.count, want);
	const struct memmap_region *last = &boot_memmap.regions[want - 1];
	if (boot_memmap.count == want &&
	    (last->base != made_up[want - 1].addr || last->len != made_up[want - 1].len))
		FAIL(t,
		     "a list of %d entries: region %d is [0x%lx, +0x%lx), expected entry %d's [0x%lx, +0x%lx)",
		     n, want - 1, last->base, last->len, want - 1, made_up[want - 1].addr,
		     made_up[want - 1].len);
}

/*
 * A list as the multiboot spec allows it: entries of 32 bytes (a size field of 28, so 8 bytes
 * after each entry's fields belong to no field), one of them empty in the middle. Copied after
 * other lists, so the total must start from 0 again.
 */
#define ODD_ENTRIES 4
#define ODD_STRIDE  32
static uint8_t odd_list[ODD_ENTRIES * ODD_STRIDE] __aligned(8);

static void copy_odd_list(struct ktest *t)
{
	static const struct {
		uint64_t addr, len;
		uint32_t type;
	} want[ODD_ENTRIES] = {{0x0, 0x9fc00, MULTIBOOT_MEMORY_AVAILABLE},
			       {0x9fc00, 0, MULTIBOOT_MEMORY_RESERVED}, /* empty: skipped */
			       {0x100000, 0x700000, MULTIBOOT_MEMORY_AVAILABLE},
			       {0xfffc0000, 0x40000, MULTIBOOT_MEMORY_RESERVED}};
	struct multiboot_info mbi = {.flags = MULTIBOOT_INFO_MEM_MAP,
				     .mmap_length = sizeof(odd_list),
				     .mmap_addr = (uint32_t)virt_to_phys(odd_list)};

	memset(odd_list, 0xee, sizeof(odd_list)); /* the 8 bytes past each entry: junk */
	for (int i = 0; i < ODD_ENTRIES; i++)
		*(struct multiboot_mmap_entry *)(odd_list + i * ODD_STRIDE) =
			(struct multiboot_mmap_entry){.size = ODD_STRIDE - 4,
						      .addr = want[i].addr,
						      .len = want[i].len,
						      .type = want[i].type};
	int got = memmap_init(&mbi);
	int n = 0;
	for (int i = 0; i < ODD_ENTRIES; i++) {
		if (!want[i].len)
			continue;
		const struct memmap_region *r = &boot_memmap.regions[n];
		if (n >= boot_memmap.count || r->base != want[i].addr || r->len != want[i].len ||
		    r->type != want[i].type) {
			FAIL(t,
			     "a list of 4 entries of 32 bytes each (size field 28), the second one "
			     "empty: region %d should be entry %d's [0x%lx, +0x%lx) type %u, "
			     "boot_memmap has %d regions%s. The next entry is size + 4 bytes on, "
			     "whatever the entry's size; an empty entry is skipped, not the end",
			     n, i, want[i].addr, want[i].len, want[i].type, boot_memmap.count,
			     n < boot_memmap.count ? ", that one different" : "");
			return;
		}
		n++;
	}
	EXPECT_EQ(t, got, 3);
	EXPECT_EQ(t, boot_memmap.count, 3);
	if (boot_memmap.usable_bytes != 0x9fc00 + 0x700000)
		FAIL(t,
		     "memmap_init on a list with 0x%x usable bytes, after other lists: "
		     "usable_bytes is 0x%lx (it must start from 0 at each call)",
		     0x9fc00 + 0x700000, boot_memmap.usable_bytes);

	/* no memory map from the loader: -1 */
	mbi.flags = 0;
	got = memmap_init(&mbi);
	if (got != -1)
		FAIL(t,
		     "memmap_init with no MULTIBOOT_INFO_MEM_MAP in mbi->flags returned %d: "
		     "it must return -1 (the loader passed no memory map)",
		     got);
}

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

	/* The edges of boot_memmap's room, on a list of the test's own: MEMMAP_MAX entries are
	 * all kept, to the last; with one more, MEMMAP_MAX of them. */
	struct memmap real = boot_memmap;
	copy_made_up_list(t, MEMMAP_MAX);
	copy_made_up_list(t, MEMMAP_MAX + 1);
	copy_odd_list(t);
	boot_memmap = real;
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
