/*
 * The ELF loader (see kernel/elf.h): check a program file without trusting a byte of it, put
 * its segments into an address space, and build the stack it starts on.
 *
 * Checking without overflowing. Every field is a number someone chose. "offset + filesz <=
 * size" looks right and is wrong: offset = 2^64 - 8, filesz = 16 gives 8 after the
 * wraparound, and the copy would read 16 bytes from 8 bytes before the image. The safe form
 * subtracts what is known to fit: "offset <= size && filesz <= size - offset". The same for
 * the program header table, and for "vaddr + memsz" against the top of the user half.
 *
 * A worked example: a program of user/ (ET_DYN, so linked at 0) and a base of 0x23a1b2c000:
 *
 *   LOAD vaddr 0x0000 memsz 0x0228  R     pages 0x23a1b2c000 (1 page), read-only, NX
 *   LOAD vaddr 0x1000 memsz 0x0c52  R E   0x23a1b2d000, read-only, executable
 *   LOAD vaddr 0x2000 memsz 0x0164  R     0x23a1b2e000, read-only, NX
 *   LOAD vaddr 0x3f20 memsz 0x2870  RW    0x23a1b2f000-0x23a1b32000 (3 pages), writable, NX:
 *                                         0x140 bytes from offset 0x2f20 at 0x23a1b2ff20,
 *                                         then zeros (the .bss) up to 0x23a1b32790
 *   info: lo 0, hi 0x7000; entry 0x1000 -> 0x23a1b2d000
 */
#include <string.h>
#include "compiler.h"
#include "elf.h"
#include "todo.h"

static inline const struct elf64_phdr *phdrs(const void *image)
{
	const struct elf64_ehdr *eh = image;

	return (const struct elf64_phdr *)((const char *)image + eh->e_phoff);
}

/* Given: true if the pages of [a, a + alen) and [b, b + blen) have one in common. */
static __unused bool pages_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return align_down(a, PAGE_SIZE) < align_up(b + blen, PAGE_SIZE) &&
	       align_down(b, PAGE_SIZE) < align_up(a + alen, PAGE_SIZE);
}

/*
 * Step 4: the checks of kernel/elf.h. The header: ELF_TRUNCATED, ELF_BAD_MAGIC,
 * ELF_BAD_CLASS, ELF_BAD_MACHINE, ELF_BAD_TYPE, ELF_BAD_PHDRS (also for an e_phoff that is
 * not a multiple of 8), ELF_TRUNCATED for the table. Then each program header in file order:
 * ELF_INTERP; for a PT_LOAD with p_memsz > 0: ELF_BAD_SEGMENT, ELF_TRUNCATED, ELF_WRITE_EXEC,
 * ELF_OUTSIDE, ELF_TOO_BIG (the span so far), ELF_OVERLAP (with an earlier PT_LOAD). Then
 * ELF_NO_LOAD and ELF_BAD_ENTRY.
 */
enum elf_error elf_check(const void *image, size_t size, struct elf_info *info)
{
	TODO("step 4: check header, program header table and each PT_LOAD in the order above (sizes without overflow: a <= size && b <= size - a), track the span [lo, hi), then the entry; fill *info");
}

/* Step 4: each PT_LOAD's pages, mapped with its permissions, filled from the file. */
int elf_load(struct uspace *s, const void *image, size_t size, uint64_t base)
{
	TODO("step 4: for each PT_LOAD with p_memsz > 0: uspace_map its pages at base + p_vaddr (PTE_WRITABLE if ELF_PF_W, PTE_NO_EXECUTE unless ELF_PF_X), uspace_poke its p_filesz bytes from p_offset; -ENOMEM if a map fails");
}

/*
 * Step 4: the stack, and argv on it:
 *
 *   stack_top  ->  +---------------------+
 *                  | "world\0"           |  the strings, argv[0]'s lowest
 *                  | "hello\0"           |
 *                  | (to a multiple of 8)|
 *                  | NULL                |  argv[argc]
 *                  | argv[1] ------------|--> "world"
 *   uargv      ->  | argv[0] ------------|--> "hello"
 *                  | (to a multiple of 16)
 *   rsp        ->  +---------------------+
 */
int loader_setup_stack(struct uspace *s, int argc, const char *const argv[],
		       struct user_start *start)
{
	TODO("step 4: -E2BIG for argc > USER_ARGC_MAX or more than USER_ARGS_MAX bytes; uspace_map the stack (writable, no-execute); uspace_poke the strings from the top down, then the NULL-ended array under them (8-aligned); fill start (rsp 16-aligned under the array)");
}
