/*
 * A program's address space (see kernel/uspace.h for the picture): its own PML4 whose upper
 * half points at the kernel's tables, pages for the program from the kernel's frames, and
 * the checks that stand between a pointer a program hands the kernel and the kernel's use of
 * it.
 *
 * Sharing the kernel half. kernel_vm's PML4 entries 256-511 point at the level-3 tables that
 * map the whole kernel; copying those 256 entries into a new PML4 gives the program's space
 * the same kernel, at the cost of one table. None of those pages has PTE_USER, so the program
 * cannot touch them (the U bit must be set at every level for ring 3 to pass; the leaf decides
 * here). Tearing down is where it can go wrong: lab 02's vm_destroy frees every table it can
 * reach, and through those 256 entries it would reach, and free, the kernel's own.
 *
 * Checking a pointer. A program can pass anything: 0, an address in the kernel, one that is
 * not canonical, a range that wraps past 2^64 or runs off the end of the user half, a page it
 * never mapped, a read-only page to write to. uaccess_ok refuses all of them, by arithmetic
 * first (without overflowing), then by reading the page tables: a page's leaf entry must be
 * present, user and, to be written, writable. Only then does copyin/copyout touch memory,
 * through the direct map (the frame behind each page), so the kernel never faults on a
 * program's address, even when that space is not the live one.
 */
#include <string.h>
#include "compiler.h"
#include "panic.h"
#include "paging.h"
#include "todo.h"
#include "uspace.h"
#include "x86.h"

/* Given: the direct-map address of the byte at va in s, or NULL if its page is not mapped. */
static __unused void *kaddr(const struct uspace *s, uint64_t va)
{
	phys_addr_t pa = vm_translate(&s->vm, va);

	return pa == VM_NOT_MAPPED ? NULL : phys_to_virt(pa);
}

/* ---- step 3: building and tearing down ------------------------------------------------- */

/* Step 3: a PML4 of the kernel's frames whose upper half is kernel_vm's. */
int uspace_init(struct uspace *s)
{
	TODO("step 3: vm_init(&s->vm, kframe_alloc, kframe_free) (-ENOMEM if it fails), copy PML4 entries USER_PML4_KERNEL..511 from kernel_vm's, pages = 0, layout zeroed");
}

/* Step 3: zeroed frames for [va, va + len), PTE_USER | prot; all or nothing. */
int uspace_map(struct uspace *s, uint64_t va, uint64_t len, uint64_t prot)
{
	if ((va | len) & (PAGE_SIZE - 1) || len == 0 || va < USER_BOTTOM || va >= USER_TOP ||
	    len > USER_TOP - va)
		panic("uspace_map: [0x%lx, +0x%lx) is not a page-aligned range of the user half",
		      va, len);
	if (prot & ~USPACE_PROT)
		panic("uspace_map: prot 0x%lx has bits outside PTE_WRITABLE | PTE_NO_EXECUTE",
		      prot);
	TODO("step 3: for each page: kframe_alloc, zero it (phys_to_virt), vm_map with PTE_USER | prot, pages++; if a frame or a table is missing, give back this page and uspace_unmap what this call mapped, return -ENOMEM");
}

/* Step 3: unmap what is mapped in [va, va + len) and free those frames. */
void uspace_unmap(struct uspace *s, uint64_t va, uint64_t len)
{
	TODO("step 3: for each page of the range that vm_translate finds mapped: vm_unmap it, kframe_free its frame, pages--");
}

/* Step 3, helper for uspace_destroy (a uspace_walk callback): free the page's frame and
 * clear its entry. */
static __unused bool free_page(uint64_t va, uint64_t *pte, void *arg)
{
	TODO("step 3: kframe_free the frame in *pte, clear *pte, ((struct uspace *)arg)->pages--; return true");
}

/*
 * Step 3: every page's frame (uspace_walk over the user half with free_page), then the kernel
 * half's 256 PML4 entries cleared (they are the kernel's tables), then vm_destroy for the
 * tables that are left: the lower half's and the PML4. Given: the check that s is not the
 * space in CR3, whose tables the CPU would go on walking after they are freed.
 */
void uspace_destroy(struct uspace *s)
{
	if (!s->vm.pml4)
		return;
	if ((read_cr3() & PTE_ADDR_MASK) == s->vm.pml4)
		panic("uspace_destroy: this space is the one the CPU runs on (CR3): activate another "
		      "first (exec: the new space, then destroy the old)");
	TODO("step 3: uspace_walk(s, 0, USER_TOP, free_page, s); clear PML4 entries USER_PML4_KERNEL..511; vm_destroy; vm.pml4 = 0");
}

/* ---- step 5: what a program hands the kernel ------------------------------------------- */

/* Step 5: may the program read (write) every byte of [uaddr, uaddr + len)? */
bool uaccess_ok(const struct uspace *s, uint64_t uaddr, size_t len, bool write)
{
	TODO("step 5: len 0: true; refuse uaddr below USER_BOTTOM or at/above USER_TOP, and len > USER_TOP - uaddr; then every page touched needs PTE_PRESENT | PTE_USER (| PTE_WRITABLE to write) in its vm_leaf_entry");
}

/* Given: copy between the kernel and [uaddr, uaddr + len), a page at a time through the
 * direct map; the range has passed uaccess_ok. */
static __unused void copy_pages(const struct uspace *s, uint64_t uaddr, void *kbuf, size_t len,
				bool to_user)
{
	char *k = kbuf;

	while (len) {
		size_t n = MIN(len, PAGE_SIZE - (uaddr & (PAGE_SIZE - 1)));
		char *u = kaddr(s, uaddr);

		if (to_user)
			memcpy(u, k, n);
		else
			memcpy(k, u, n);
		uaddr += n;
		k += n;
		len -= n;
	}
}

/* Step 5: check, then copy from the program. */
int copyin(const struct uspace *s, void *dst, uint64_t uaddr, size_t len)
{
	TODO("step 5: uaccess_ok for reading, else -EFAULT; then copy_pages from the program");
}

/* Step 5: check (writable), then copy to the program. */
int copyout(const struct uspace *s, uint64_t uaddr, const void *src, size_t len)
{
	TODO("step 5: uaccess_ok for writing, else -EFAULT; then copy_pages to the program");
}

/*
 * Step 5: a string of unknown length: check each byte's page as the copy reaches it (a page
 * at a time), stop at the NUL, or after size bytes without one.
 */
long copyinstr(const struct uspace *s, char *dst, uint64_t uaddr, size_t size)
{
	TODO("step 5: for i < size: at the first byte and at each new page, uaccess_ok(1 byte) or -EFAULT; copy the byte (kaddr); at the NUL return i; after size bytes -ENAMETOOLONG");
}
