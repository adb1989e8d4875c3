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
/// STARTER: #include "todo.h"

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
	/// SOLUTION BEGIN
	const struct elf64_ehdr *eh = image;

	if (size < sizeof(*eh))
		return ELF_TRUNCATED;
	if (memcmp(eh->e_ident,
		   "\x7f"
		   "ELF",
		   4) != 0)
		return ELF_BAD_MAGIC;
	if (eh->e_ident[ELF_EI_CLASS] != ELF_CLASS64 || eh->e_ident[ELF_EI_DATA] != ELF_DATA_LSB)
		return ELF_BAD_CLASS;
	if (eh->e_machine != ELF_EM_X86_64)
		return ELF_BAD_MACHINE;
	if (eh->e_type != ELF_ET_EXEC && eh->e_type != ELF_ET_DYN)
		return ELF_BAD_TYPE;
	if (eh->e_phentsize != sizeof(struct elf64_phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS || eh->e_phoff % 8)
		return ELF_BAD_PHDRS;
	if (eh->e_phoff > size || size - eh->e_phoff < eh->e_phnum * sizeof(struct elf64_phdr))
		return ELF_TRUNCATED;

	bool relocatable = eh->e_type == ELF_ET_DYN;
	uint64_t floor = relocatable ? 0 : USER_BOTTOM;
	uint64_t ceiling = relocatable ? USER_LOAD_MAX - USER_BOTTOM : USER_LOAD_MAX;
	uint64_t lo = UINT64_MAX, hi = 0;
	const struct elf64_phdr *ph = phdrs(image);
	int loads = 0;

	for (int i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *p = &ph[i];

		if (p->p_type == ELF_PT_INTERP)
			return ELF_INTERP;
		if (p->p_type != ELF_PT_LOAD || p->p_memsz == 0)
			continue;
		if (p->p_filesz > p->p_memsz)
			return ELF_BAD_SEGMENT;
		if (p->p_offset > size || p->p_filesz > size - p->p_offset)
			return ELF_TRUNCATED;
		if ((p->p_flags & ELF_PF_W) && (p->p_flags & ELF_PF_X))
			return ELF_WRITE_EXEC;
		if (p->p_vaddr < floor || p->p_vaddr > ceiling || p->p_memsz > ceiling - p->p_vaddr)
			return ELF_OUTSIDE;
		lo = MIN(lo, align_down(p->p_vaddr, PAGE_SIZE));
		hi = MAX(hi, align_up(p->p_vaddr + p->p_memsz, PAGE_SIZE));
		if (hi - lo > USER_IMAGE_MAX)
			return ELF_TOO_BIG;
		for (int j = 0; j < i; j++)
			if (ph[j].p_type == ELF_PT_LOAD && ph[j].p_memsz &&
			    pages_overlap(ph[j].p_vaddr, ph[j].p_memsz, p->p_vaddr, p->p_memsz))
				return ELF_OVERLAP;
		loads++;
	}
	if (!loads)
		return ELF_NO_LOAD;

	bool entry_ok = false;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == ELF_PT_LOAD && (ph[i].p_flags & ELF_PF_X) &&
		    eh->e_entry >= ph[i].p_vaddr && eh->e_entry - ph[i].p_vaddr < ph[i].p_memsz)
			entry_ok = true;
	if (!entry_ok)
		return ELF_BAD_ENTRY;
	*info = (struct elf_info){relocatable, lo, hi, eh->e_entry};
	return ELF_OK;
	/// SOLUTION END
	/// STARTER: TODO("step 4: check header, program header table and each PT_LOAD in the order above (sizes without overflow: a <= size && b <= size - a), track the span [lo, hi), then the entry; fill *info");
}

/* Step 4: each PT_LOAD's pages, mapped with its permissions, filled from the file. */
int elf_load(struct uspace *s, const void *image, size_t size, uint64_t base)
{
	/// SOLUTION BEGIN
	const struct elf64_ehdr *eh = image;
	const struct elf64_phdr *ph = phdrs(image);

	(void)size; /* elf_check has seen every offset and size fit */
	for (int i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *p = &ph[i];

		if (p->p_type != ELF_PT_LOAD || p->p_memsz == 0)
			continue;
		uint64_t start = align_down(base + p->p_vaddr, PAGE_SIZE);
		uint64_t end = align_up(base + p->p_vaddr + p->p_memsz, PAGE_SIZE);
		uint64_t prot = (p->p_flags & ELF_PF_W ? PTE_WRITABLE : 0) |
				(p->p_flags & ELF_PF_X ? 0 : PTE_NO_EXECUTE);

		if (uspace_map(s, start, end - start, prot) < 0)
			return -ENOMEM;
		/* The frames are zeroed: what follows p_filesz (the .bss) is already 0. */
		uspace_poke(s, base + p->p_vaddr, (const char *)image + p->p_offset, p->p_filesz);
	}
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 4: for each PT_LOAD with p_memsz > 0: uspace_map its pages at base + p_vaddr (PTE_WRITABLE if ELF_PF_W, PTE_NO_EXECUTE unless ELF_PF_X), uspace_poke its p_filesz bytes from p_offset; -ENOMEM if a map fails");
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
	/// SOLUTION BEGIN
	uint64_t uptr[USER_ARGC_MAX + 1];
	size_t bytes = 0;

	if (argc < 0 || argc > USER_ARGC_MAX)
		return -E2BIG;
	for (int i = 0; i < argc; i++)
		bytes += strnlen(argv[i], USER_ARGS_MAX) + 1;
	if (align_up(bytes, 8) + (argc + 1) * sizeof(uint64_t) > USER_ARGS_MAX)
		return -E2BIG;
	const struct user_layout *l = &s->layout;
	int r = uspace_map(s, l->stack_bottom, l->stack_top - l->stack_bottom,
			   PTE_WRITABLE | PTE_NO_EXECUTE);
	if (r < 0)
		return r;

	uint64_t sp = l->stack_top;
	for (int i = argc - 1; i >= 0; i--) {
		size_t len = strlen(argv[i]) + 1;

		sp -= len;
		uspace_poke(s, sp, argv[i], len);
		uptr[i] = sp;
	}
	uptr[argc] = 0;
	sp = align_down(sp, 8) - (argc + 1) * sizeof(uint64_t);
	uspace_poke(s, sp, uptr, (argc + 1) * sizeof(uint64_t));
	start->argc = (uint64_t)argc;
	start->uargv = sp;
	start->rsp = align_down(sp, 16);
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 4: -E2BIG for argc > USER_ARGC_MAX or more than USER_ARGS_MAX bytes; uspace_map the stack (writable, no-execute); uspace_poke the strings from the top down, then the NULL-ended array under them (8-aligned); fill start (rsp 16-aligned under the array)");
}
