/*
 * Lab 02, steps 12-14 and the kernel's frames: the kernel's own address space, looked at
 * entry by entry and poked at (writes to code, execution of data, the guard page), and the
 * kernel's frame allocator over the real memory map.
 */
#include "boot.h"
#include "kprintf.h"
#include "kvm.h"
#include "ktest.h"
#include "memlayout.h"
#include "memmap.h"
#include "paging.h"
#include "pte.h"
#include "trap.h"
#include "vm.h"
#include "x86.h"

#define LOW_MEMORY_END _UL(0x100000)
#define MiB	       _UL(0x100000)

static bool need_kernel_tables(struct ktest *t)
{
	if (!paging_ready)
		FAIL(t,
		     "the kernel's own page tables are not live (paging_ready is false): see what "
		     "the kernel skipped while booting");
	return paging_ready;
}

/*
 * Check every page of [start, end) of the image: mapped to va - KERNEL_VMA by a 4 KiB page
 * whose entry has exactly the permission bits `want` among W, U, NX (and is global).
 */
static void expect_image_pages(struct ktest *t, const char *what, uint64_t start, uint64_t end,
			       uint64_t want)
{
	const uint64_t perm = PTE_WRITABLE | PTE_USER | PTE_NO_EXECUTE;

	for (uint64_t va = align_down(start, PAGE_SIZE); va < end; va += PAGE_SIZE) {
		if (va == (uint64_t)__stack_guard)
			continue;
		uint64_t e = vm_leaf_entry(&kernel_vm, va);
		phys_addr_t pa = vm_translate(&kernel_vm, va);
		if (pa != va - KERNEL_VMA || (e & PTE_HUGE) || (e & perm) != want ||
		    !(e & PTE_GLOBAL)) {
			FAIL(t,
			     "%s page 0x%lx: entry 0x%lx (maps physical 0x%lx); expected a global 4 KiB page at 0x%lx,%s%s%s",
			     what, va, e, pa, va - KERNEL_VMA,
			     want & PTE_WRITABLE ? " writable" : " read-only",
			     want & PTE_NO_EXECUTE ? ", no-execute" : ", executable", ", not user");
			return;
		}
	}
}

KTEST(kvm, kernel_runs_on_its_own_tables, 1)
{
	if (!need_kernel_tables(t))
		return;
	EXPECT_EQ(t, read_cr3() & PTE_ADDR_MASK, kernel_vm.pml4);
	EXPECT_NE(t, kernel_vm.pml4, boot_cpu.cr3 & PTE_ADDR_MASK);
	if (!(read_cr4() & CR4_PGE))
		FAIL(t,
		     "CR4.PGE is off (CR4 = 0x%lx): without it PTE_GLOBAL means nothing and every "
		     "CR3 load flushes the kernel's pages from the TLB; kvm_activate must set it",
		     read_cr4());
}

KTEST(kvm, identity_map_is_gone, 2)
{
	struct ktry_result r;
	volatile uint8_t *low = (volatile uint8_t *)(KERNEL_PHYS_BASE + 0x40);

	if (!need_kernel_tables(t))
		return;
	EXPECT_EQ(t, vm_translate(&kernel_vm, 0), VM_NOT_MAPPED);
	EXPECT_EQ(t, vm_translate(&kernel_vm, (uint64_t)low), VM_NOT_MAPPED);
	EXPECT_EQ(t, vm_translate(&kernel_vm, BOOT_MAP_SIZE - 1), VM_NOT_MAPPED);
	ASSERT_TRUE(t, CATCH_FAULT(&r, (void)*low));
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_PF);
	EXPECT_EQ(t, r.cr2, (uint64_t)low);
	EXPECT_EQ(t, r.error & PF_PRESENT, 0u);
}

/* A word in .rodata to write to, a label in .text, and room in .data for a `ret` to call. */
static const uint64_t rodata_word = 0x1234;
static uint8_t data_code[16] __aligned(16) = {0xcc};
extern char kvm_test_text_site[];

KTEST(kvm, text_is_read_and_execute, 3)
{
	struct ktry_result r;
	volatile uint8_t *code = (volatile uint8_t *)kvm_test_text_site;

	if (!need_kernel_tables(t))
		return;
	expect_image_pages(t, ".text", (uint64_t)__text_start, (uint64_t)__text_end, 0);
	__asm__ volatile("kvm_test_text_site: nop");
	uint8_t old = *code;
	if (!CATCH_FAULT(&r, *code = old)) {
		FAIL(t,
		     "writing to .text at 0x%lx did not fault: .text must be read-only, and CR0.WP must be set for the kernel to obey it",
		     (uint64_t)code);
		return;
	}
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_PF);
	EXPECT_EQ(t, r.cr2, (uint64_t)code);
	EXPECT_EQ(t, r.error & (PF_PRESENT | PF_WRITE), (uint64_t)(PF_PRESENT | PF_WRITE));
}

KTEST(kvm, rodata_is_read_only, 2)
{
	struct ktry_result r;
	volatile uint64_t *p = (volatile uint64_t *)&rodata_word;

	if (!need_kernel_tables(t))
		return;
	expect_image_pages(t, ".rodata", (uint64_t)__rodata_start, (uint64_t)__rodata_end,
			   PTE_NO_EXECUTE);
	EXPECT_EQ(t, *p, 0x1234u);
	if (!CATCH_FAULT(&r, *p = 0x4321)) {
		FAIL(t, "writing to .rodata at 0x%lx did not fault (read-only? CR0.WP?)",
		     (uint64_t)p);
		return;
	}
	EXPECT_EQ(t, r.cr2, (uint64_t)p);
	EXPECT_EQ(t, r.error & (PF_PRESENT | PF_WRITE), (uint64_t)(PF_PRESENT | PF_WRITE));
	EXPECT_EQ(t, *p, 0x1234u);
}

KTEST(kvm, data_is_not_executable, 3)
{
	struct ktry_result r;
	void (*fn)(void) = (void (*)(void))(uintptr_t)data_code;

	if (!need_kernel_tables(t))
		return;
	*(volatile uint8_t *)data_code = 0xc3; /* ret */
	EXPECT_TRUE(t, rdmsr(MSR_EFER) & EFER_NXE);
	expect_image_pages(t, ".data and .bss", (uint64_t)__data_start, (uint64_t)__bss_end,
			   PTE_WRITABLE | PTE_NO_EXECUTE);
	if (!CATCH_FAULT(&r, fn())) {
		FAIL(t, "calling a `ret` in .data at 0x%lx did not fault: .data must be no-execute",
		     (uint64_t)data_code);
		return;
	}
	EXPECT_EQ(t, r.vector, (uint64_t)VEC_PF);
	EXPECT_EQ(t, r.cr2, (uint64_t)data_code);
	EXPECT_EQ(t, r.error & (PF_PRESENT | PF_INSTR), (uint64_t)(PF_PRESENT | PF_INSTR));
}

KTEST(kvm, guard_page_under_the_stack_is_unmapped, 2)
{
	struct ktry_result r;
	uint64_t guard = (uint64_t)__stack_guard;
	volatile uint64_t *p = (volatile uint64_t *)(guard + PAGE_SIZE - 8);

	if (!need_kernel_tables(t))
		return;
	EXPECT_EQ(t, vm_translate(&kernel_vm, guard), VM_NOT_MAPPED);
	EXPECT_EQ(t, vm_translate(&kernel_vm, (uint64_t)__stack_bottom),
		  virt_to_phys(__stack_bottom));
	EXPECT_EQ(t, vm_translate(&kernel_vm, guard - 1), virt_to_phys((void *)(guard - 1)));
	if (!CATCH_FAULT(&r, (void)*p)) {
		FAIL(t, "reading the guard page at 0x%lx did not fault: it must stay unmapped",
		     (uint64_t)p);
		return;
	}
	EXPECT_EQ(t, r.cr2, (uint64_t)p);
	EXPECT_EQ(t, r.error & PF_PRESENT, 0u);
}

static int frames_left; /* how many more frames limited_alloc hands out */

static phys_addr_t limited_alloc(void)
{
	if (frames_left == 0)
		return 0;
	frames_left--;
	return kframe_alloc();
}

/*
 * Expect va mapped to pa in as by a global 4 KiB page with exactly the permission bits want
 * among W, U, NX; or, with pa == VM_NOT_MAPPED, not mapped at all. False after a failure.
 */
static bool expect_layout_page(struct ktest *t, struct vm_space *as, const char *what, uint64_t va,
			       phys_addr_t pa, uint64_t want)
{
	const uint64_t perm = PTE_WRITABLE | PTE_USER | PTE_NO_EXECUTE;
	uint64_t e = vm_leaf_entry(as, va);
	phys_addr_t got = vm_translate(as, va);

	if (pa == VM_NOT_MAPPED
		    ? got == VM_NOT_MAPPED
		    : got == pa && !(e & PTE_HUGE) && (e & perm) == want && (e & PTE_GLOBAL))
		return true;
	if (pa == VM_NOT_MAPPED)
		FAIL(t,
		     "kvm_map_image on a made-up layout: %s, 0x%lx, is mapped (to 0x%lx), expected unmapped",
		     what, va, got);
	else
		FAIL(t,
		     "kvm_map_image on a made-up layout: %s, 0x%lx: entry 0x%lx (maps physical 0x%lx); expected a global 4 KiB page at va - l->virt_offset = 0x%lx,%s%s, not user",
		     what, va, e, got, pa, want & PTE_WRITABLE ? " writable" : " read-only",
		     want & PTE_NO_EXECUTE ? ", no-execute" : ", executable");
	return false;
}

/*
 * kvm_map_image on a layout of its own, in an address space of its own: every address, the
 * guard page and the offset come from the layout it is given, never from the kernel's own
 * symbols or KERNEL_VMA, and vm_map's error comes back. Each part lies in a 2 MiB area of its
 * own, so each needs a page table of its own.
 */
KTEST(kvm, image_map_follows_its_layout, 2)
{
	const uint64_t base = KERNEL_VMA + 512 * MiB;
	const struct kvm_layout l = {
		.text_start = base,
		.text_end = base + 2 * PAGE_SIZE,
		.rodata_start = base + 2 * MiB,
		.rodata_end = base + 2 * MiB + PAGE_SIZE,
		.data_start = base + 4 * MiB,
		.data_end = base + 4 * MiB + 3 * PAGE_SIZE,
		.stack_guard = base + 4 * MiB + PAGE_SIZE,
		.virt_offset = base - 64 * MiB, /* base is physical 64 MiB */
	};
	const uint64_t pa_of_base = 64 * MiB;
	struct {
		const char *what;
		uint64_t va;
		bool mapped;
		uint64_t want;
	} pages[] = {
		{"the page before .text", base - PAGE_SIZE, false, 0},
		{".text's first page", base, true, 0},
		{".text's last page", base + PAGE_SIZE, true, 0},
		{"the page after .text", base + 2 * PAGE_SIZE, false, 0},
		{".rodata's page", l.rodata_start, true, PTE_NO_EXECUTE},
		{"the page after .rodata", l.rodata_end, false, 0},
		{".data's first page", l.data_start, true, PTE_WRITABLE | PTE_NO_EXECUTE},
		{"the layout's stack_guard", l.stack_guard, false, 0},
		{".data's last page", l.data_end - PAGE_SIZE, true, PTE_WRITABLE | PTE_NO_EXECUTE},
		{"the page after .data", l.data_end, false, 0},
	};
	struct vm_space as;

	ASSERT_EQ(t, vm_init(&as, kframe_alloc, kframe_free), 0);
	int err = kvm_map_image(&as, &l);
	if (err)
		FAIL(t,
		     "kvm_map_image on a made-up layout (frames to spare) returned %d, expected 0",
		     err);
	for (size_t i = 0; !err && i < ARRAY_SIZE(pages); i++)
		if (!expect_layout_page(t, &as, pages[i].what, pages[i].va,
					pages[i].mapped ? pages[i].va - base + pa_of_base
							: VM_NOT_MAPPED,
					pages[i].want))
			break;
	vm_destroy(&as);

	/* Frames for the PML4, the PDPT, the PD and the page tables of .text and .rodata only. */
	frames_left = 5;
	ASSERT_EQ(t, vm_init(&as, limited_alloc, kframe_free), 0);
	err = kvm_map_image(&as, &l);
	if (err != VM_ENOMEM)
		FAIL(t,
		     "kvm_map_image with no frame left for .data's page table returned %d, expected "
		     "VM_ENOMEM (%d): return the first error of vm_map",
		     err, VM_ENOMEM);
	vm_destroy(&as);
}

KTEST(kvm, direct_map_covers_all_ram, 2)
{
	if (!need_kernel_tables(t))
		return;
	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *r = &boot_memmap.regions[i];
		if (r->type != MEMMAP_USABLE)
			continue;
		phys_addr_t samples[3] = {r->base, r->base + r->len - 1,
					  r->base + ktest_random_range(t, 0, r->len - 1)};
		for (int s = 0; s < 3; s++) {
			uint64_t va = DIRECT_MAP_BASE + samples[s];
			uint64_t e = vm_leaf_entry(&kernel_vm, va);
			if (vm_translate(&kernel_vm, va) != samples[s] || !(e & PTE_WRITABLE) ||
			    !(e & PTE_NO_EXECUTE) || !(e & PTE_GLOBAL) || (e & PTE_USER)) {
				FAIL(t,
				     "direct map of physical 0x%lx (at 0x%lx): translates to 0x%lx, entry 0x%lx; expected itself, writable, no-execute, global, not user",
				     samples[s], va, vm_translate(&kernel_vm, va), e);
				return;
			}
			(void)*(volatile uint8_t *)va; /* and it can be read */
		}
	}

	/*
	 * The rounding, at the edges, on a map of its own in an address space of its own: usable
	 * [3 MiB + 4 KiB, 7 MiB - 4 KiB) rounds out to the 2 MiB pages at 2, 4 and 6 MiB; usable
	 * [10 MiB, 12 MiB) is exactly the page at 10 MiB; reserved [12 MiB, 14 MiB) is not RAM.
	 */
	static struct memmap odd;
	struct vm_space as;
	odd.count = 3;
	odd.regions[0] =
		(struct memmap_region){3 * MiB + PAGE_SIZE, 4 * MiB - 2 * PAGE_SIZE, MEMMAP_USABLE};
	odd.regions[1] = (struct memmap_region){10 * MiB, 2 * MiB, MEMMAP_USABLE};
	odd.regions[2] = (struct memmap_region){12 * MiB, 2 * MiB, MEMMAP_RESERVED};
	ASSERT_EQ(t, vm_init(&as, kframe_alloc, kframe_free), 0);
	int err = kvm_map_ram(&as, &odd);
	EXPECT_EQ(t, err, 0);
	for (uint64_t pa = 0; !err && pa < 16 * MiB; pa += HUGE_PAGE_SIZE) {
		bool want = pa == 2 * MiB || pa == 4 * MiB || pa == 6 * MiB || pa == 10 * MiB;
		bool mapped = vm_translate(&as, DIRECT_MAP_BASE + pa) == pa;
		if (mapped != want)
			FAIL(t,
			     "usable RAM [3 MiB + 4 KiB, 7 MiB - 4 KiB) and [10 MiB, 12 MiB): the direct "
			     "map %s the 2 MiB page at %lu MiB, which it should %s",
			     mapped ? "has" : "lacks", pa / MiB, want ? "have" : "not");
	}
	vm_destroy(&as);

	/* Out of frames: a PML4 and a PDPT, but no PD for the 2 MiB pages. */
	frames_left = 2;
	ASSERT_EQ(t, vm_init(&as, limited_alloc, kframe_free), 0);
	err = kvm_map_ram(&as, &odd);
	if (err != VM_ENOMEM)
		FAIL(t,
		     "kvm_map_ram with no frame left for a page directory returned %d, expected "
		     "VM_ENOMEM (%d): pass on the error of vm_map",
		     err, VM_ENOMEM);
	vm_destroy(&as);
}

/* ---- the kernel's frames ------------------------------------------------------------------- */

static bool in_range(phys_addr_t pa, phys_addr_t start, phys_addr_t end)
{
	return pa + PAGE_SIZE > start && pa < end;
}

/* True if the frame at pa must never be handed out: low 1 MiB, the kernel image. */
static bool kernel_reserved(phys_addr_t pa)
{
	return in_range(pa, 0, LOW_MEMORY_END) ||
	       in_range(pa, (uint64_t)__image_phys_start, (uint64_t)__image_phys_end);
}

static bool need_frames(struct ktest *t)
{
	if (!kframes_total())
		FAIL(t, "the kernel has no frames: frame_init was skipped while booting");
	return kframes_total() != 0;
}

KTEST(kframes, total_matches_the_memory_map, 2)
{
	uint64_t whole = 0;

	if (!need_frames(t))
		return;
	for (int i = 0; i < boot_memmap.count; i++) {
		const struct memmap_region *r = &boot_memmap.regions[i];
		if (r->type == MEMMAP_USABLE)
			whole += ((r->base + r->len) >> PAGE_SHIFT) -
				 (align_up(r->base, PAGE_SIZE) >> PAGE_SHIFT);
	}
	EXPECT_EQ(t, frame_count_total(&kernel_frames), whole);
	EXPECT_LE(t, frame_count_free(&kernel_frames), whole);
}

KTEST(kframes, image_and_low_memory_are_never_free, 2)
{
	if (!need_frames(t))
		return;
	for (phys_addr_t pa = 0; pa < (uint64_t)__image_phys_end; pa += PAGE_SIZE) {
		if (kernel_reserved(pa) && frame_is_free(&kernel_frames, pa)) {
			FAIL(t, "frame 0x%lx is free in kernel_frames, but it is %s", pa,
			     pa < LOW_MEMORY_END ? "in the low 1 MiB" : "part of the kernel image");
			return;
		}
	}
}

/*
 * Take every frame the kernel's source has, chaining them through their first word (so no
 * memory is needed to remember them), then give them all back. Exhaustion must end with 0,
 * not a panic; no frame may come twice or from the low 1 MiB or the kernel image.
 */
KTEST(kframes, exhaustion_returns_zero_and_no_frame_comes_twice, 3)
{
	uint64_t start = kframes_free(), n = 0;
	phys_addr_t head = 0, pa;

	if (!need_frames(t))
		return;
	while ((pa = kframe_alloc()) != 0) {
		if ((pa & (PAGE_SIZE - 1)) || kernel_reserved(pa) ||
		    (paging_ready && vm_translate(&kernel_vm, DIRECT_MAP_BASE + pa) != pa)) {
			FAIL(t, "kframe_alloc returned 0x%lx, %s", pa,
			     kernel_reserved(pa) ? "a reserved frame" : "not a frame of RAM");
			break;
		}
		/* The frame remembers the one before; a frame handed out twice breaks the chain
		 * and the count below, or panics when freed twice. */
		*(phys_addr_t *)phys_to_virt(pa) = head;
		head = pa;
		if (++n > start)
			break;
	}
	EXPECT_EQ(t, n, start);
	EXPECT_EQ(t, kframes_free(), 0u);
	EXPECT_EQ(t, kframe_alloc_contig(1), 0u);
	while (head) {
		phys_addr_t next = *(phys_addr_t *)phys_to_virt(head);
		kframe_free(head);
		head = next;
	}
	EXPECT_EQ(t, kframes_free(), start);
}

KTEST(kframes, contig_frames_are_contiguous_free_ram, 1)
{
	uint64_t start = kframes_free();
	phys_addr_t pa;

	if (!need_frames(t))
		return;
	ASSERT_NE(t, pa = kframe_alloc_contig(64), 0u);
	EXPECT_EQ(t, pa & (PAGE_SIZE - 1), 0u);
	for (int i = 0; i < 64; i++)
		if (kernel_reserved(pa + i * PAGE_SIZE))
			FAIL(t, "frame %d of the run at 0x%lx is reserved", i, pa);
	EXPECT_EQ(t, kframes_free(), start - 64);
	kframe_free_contig(pa, 64);
	EXPECT_EQ(t, kframes_free(), start);
}
