/*
 * What layer 02 gives the rest of the kernel (kernel/layers/02-paging): the kernel's frame
 * source and its own address space, built at boot from lab 02's frame allocator
 * (kernel/frame.h), page tables (kernel/vm.h) and kernel tables (kernel/kvm.h). Later layers
 * use only what is here.
 *
 * Frames. Until checkpoint 06 the kernel's frames come from kernel_frames, a bitmap
 * allocator over all of RAM that never hands out the low 1 MiB (so 0 means failure), the
 * kernel image (the boot page tables and boot stack included) or its own bitmap. At
 * checkpoint 06, layer 06 makes the buddy allocator the source: it takes every run still free
 * in the bitmap (frame_for_each_free_run), retires the bitmap (frame_retire_all) and calls
 * kframe_set_source(&its_source).
 *
 * Frames allocated before the switch (page tables, heap pages) may be given back through
 * kframe_free after it: the new source must accept frames it did not hand out itself.
 *
 * Address space. paging_ready says the kernel runs on its own tables (kernel_vm); until then
 * (and for good if lab 02 could not build them) it runs on lab 01's boot tables, which map
 * only the first GiB, so the bitmap and every page table built at boot live below
 * BOOT_MAP_SIZE.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "frame.h"
#include "memlayout.h"
#include "pte.h"
#include "trap.h"
#include "vm.h"

/* One frame from the kernel's source (contents undefined), or 0 when none is left. */
phys_addr_t kframe_alloc(void);
/* Give back a frame from kframe_alloc. Panics on a double free or a frame never handed out. */
void kframe_free(phys_addr_t pa);
/* n physically contiguous frames (the address of the first), or 0. */
phys_addr_t kframe_alloc_contig(size_t n);
/* Give back the n frames kframe_alloc_contig(n) returned at pa, all at once. */
void kframe_free_contig(phys_addr_t pa, size_t n);
/* Frames free right now in the kernel's source: for leak checks in tests. */
uint64_t kframes_free(void);
/* Frames of RAM the kernel's source manages. */
uint64_t kframes_total(void);

/* A frame source the kernel can switch to (layer 06's buddy allocator). */
struct kframe_source {
	const char *name;
	phys_addr_t (*alloc)(void);
	void (*free)(phys_addr_t pa);
	phys_addr_t (*alloc_contig)(size_t n);
	void (*free_contig)(phys_addr_t pa, size_t n);
	uint64_t (*count_free)(void);
	uint64_t (*count_total)(void);
};

/* From now on every kframe_* call goes to src (which must stay valid). */
void kframe_set_source(const struct kframe_source *src);

/* The source the kframe_* calls use now; NULL until lab 02's frame_init has run. */
const struct kframe_source *kframe_source(void);

/* Lab 02's bitmap as a frame source: the kernel's until checkpoint 06. */
extern const struct kframe_source kframe_bitmap_source;

/* The bitmap allocator behind the kframe_* calls until checkpoint 06. */
extern struct frame_allocator kernel_frames;

/*
 * Map the 4 KiB page at va to the frame at pa in the kernel's address space; flags are
 * PTE_* bits (vm_map's rules). Returns 0, VM_ENOMEM, or VM_ENOTRDY before paging_ready.
 * Panics if something is mapped at va already.
 */
int kmap_page(uint64_t va, phys_addr_t pa, uint64_t flags);

/* Unmap the page at va in the kernel's address space: 0, VM_ENOENT or VM_ENOTRDY. */
int kunmap_page(uint64_t va);

/* The kernel's own tables are live (CR3 = kernel_vm.pml4). */
extern bool paging_ready;

/* The kernel's address space (valid when paging_ready). */
extern struct vm_space kernel_vm;
