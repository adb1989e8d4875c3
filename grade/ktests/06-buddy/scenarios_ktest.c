/*
 * Lab 06 scenarios, for grade/tests/test_06_buddy.py: what the kernel's buddy holds on a
 * machine of any size, and frames from before the switch given back to it. Each signs its
 * findings (kernel/attest.h); kernel/layers/06-buddy/init.c signed what each region got at boot.
 */
#include "attest.h"
#include "boot.h"
#include "buddy_check.h"
#include "kprintf.h"
#include "ktest.h"
#include "ktry.h"
#include "multiboot.h"
#include "layer_access.h"
#include "paging.h"

#define DRAIN_MAX 8192 /* blocks: 16 GiB is about 4100 blocks of order 10 */

/* Sign the boot loader's own memory map (not lab 01's copy of it). */
static void sign_boot_map(void)
{
	for (uint64_t p = boot_mbi->mmap_addr; p < boot_mbi->mmap_addr + boot_mbi->mmap_length;) {
		const struct multiboot_mmap_entry *e = phys_to_virt(p);
		attest_printf("mmap base=0x%lx len=0x%lx type=%u", (uint64_t)e->addr,
			      (uint64_t)e->len, e->type);
		p += e->size + sizeof(e->size);
	}
}

/* Every region keeps every invariant; prints the first one broken. */
static bool regions_ok(const char *scenario)
{
	char why[BUDDY_CHECK_MSG_MAX];

	for (size_t i = 0; i < pages_region_count(); i++)
		if (!buddy_check(pages_region(i), why, sizeof(why))) {
			kprintf("scenario %s: region %zu: %s\n", scenario, i, why);
			return false;
		}
	return true;
}

/*
 * Take every free frame from the kernel's source, in the largest blocks it has (without
 * touching them: on a 16 GiB machine that would cost the host 16 GiB), then give them all
 * back: the frames handed out must be the frames counted free, and the counts of every order
 * must come back.
 */
KTEST_SCENARIO(buddy_memory)
{
	static struct {
		phys_addr_t pa;
		unsigned order;
	} block[DRAIN_MAX];
	size_t nblocks = 0;
	uint64_t got = 0, free = kframes_free();

	sign_boot_map();
	if (!pages_buddy_ready()) {
		kprintf("scenario buddy_memory: the buddy allocator is not the kernel's frame source\n");
		return;
	}
	bool ok = regions_ok("buddy_memory");
	for (int k = BUDDY_MAX_ORDER; k >= 0 && nblocks < DRAIN_MAX; k--) {
		phys_addr_t pa;
		while (nblocks < DRAIN_MAX && (pa = kframe_alloc_contig(UINT64_C(1) << k)) != 0) {
			block[nblocks].pa = pa;
			block[nblocks++].order = (unsigned)k;
			got += UINT64_C(1) << k;
		}
	}
	uint64_t left = kframes_free();
	while (nblocks) {
		nblocks--;
		kframe_free_contig(block[nblocks].pa, UINT64_C(1) << block[nblocks].order);
	}
	ok = ok && regions_ok("buddy_memory");
	kprintf("scenario buddy_memory: took %lu frames of the %lu free, %lu left; all given back, "
		"%lu free\n",
		got, free, left, kframes_free());
	attest_printf("buddy drained free=%lu got=%lu left=%lu after=%lu invariants=%s", free, got,
		      left, kframes_free(), ok ? "ok" : "broken");
}

static void free_frame(void *arg)
{
	kframe_free(*(const phys_addr_t *)arg);
}

/*
 * Give back, through kframe_free, the frames kernel/layers/06-buddy/init.c kept from lab 02's bitmap just
 * before the switch (boot with pages.keep=N): the buddy never handed them out, yet must take
 * them, merge them with their free buddies, and then catch a double free of one.
 */
KTEST_SCENARIO(frames_from_before_the_switch)
{
	const phys_addr_t *kept;
	size_t n = pages_kept_frames(&kept), reserved = 0;
	uint64_t free = kframes_free();
	struct ktry_result res;

	if (!pages_buddy_ready() || n == 0) {
		kprintf("scenario frames_from_before_the_switch: %s\n",
			n ? "the buddy allocator is not the kernel's frame source"
			  : "no frames were kept (boot with pages.keep=N)");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct buddy_region *r = pages_region_of(kept[i] >> PAGE_SHIFT);
		reserved += r && buddy_frame(r, kept[i] >> PAGE_SHIFT) == BUDDY_RESERVED;
	}
	for (size_t i = 0; i < n; i++)
		if (ktry_call(free_frame, (void *)&kept[i], KTRY_PANIC, &res)) {
			kprintf("scenario frames_from_before_the_switch: kframe_free(0x%lx): %s\n",
				kept[i], res.msg);
			return;
		}
	uint64_t after = kframes_free();
	bool ok = regions_ok("frames_from_before_the_switch");
	bool caught = ktry_call(free_frame, (void *)&kept[0], KTRY_PANIC, &res) != 0;
	kprintf("scenario frames_from_before_the_switch: %zu frames given back, %lu free before, "
		"%lu after; a second kframe_free(0x%lx) %s\n",
		n, free, after, kept[0], caught ? res.msg : "returned");
	attest_printf("buddy kept frames=%zu reserved=%zu free_before=%lu free_after=%lu "
		      "invariants=%s double_free=%s",
		      n, reserved, free, after, ok ? "ok" : "broken",
		      caught && strstr(res.msg, "double free") ? "caught" : "missed");
}
