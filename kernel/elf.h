/*
 * Loading a program (checkpoint 08): ELF64 executables as the programs of user/ are built
 * (statically linked, position-independent), and the stack a program starts on. Lab 08 writes
 * it (labs/08-user/loader.c, step 4).
 *
 * An ELF file starts with a header (struct elf64_ehdr) that says what it is and where its
 * table of program headers is; each program header (struct elf64_phdr) of type PT_LOAD is a
 * segment to put in memory: p_filesz bytes from p_offset in the file, at p_vaddr, followed by
 * zeros up to p_memsz (the .bss), with the permissions of p_flags. A program of user/:
 *
 *     type DYN (position-independent: add a base to every address)   entry 0x1000
 *     LOAD  offset 0x0000  vaddr 0x0000  filesz 0x0228  memsz 0x0228  R     headers
 *     LOAD  offset 0x1000  vaddr 0x1000  filesz 0x0c52  memsz 0x0c52  R E   .text
 *     LOAD  offset 0x2000  vaddr 0x2000  filesz 0x0164  memsz 0x0164  R     .rodata
 *     LOAD  offset 0x2f20  vaddr 0x3f20  filesz 0x0140  memsz 0x2870  RW    .data, .bss
 *
 * The file comes from the kernel image, but the kernel checks it as if it came from anyone:
 * every size and offset is checked before it is used, without overflowing (elf_check).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "uspace.h"

#define ELF_MAGIC      0x464c457f /* "\x7fELF" read as a little-endian word */
#define ELF_CLASS64    2	  /* e_ident[EI_CLASS] */
#define ELF_DATA_LSB   1	  /* e_ident[EI_DATA]: little-endian */
#define ELF_EI_CLASS   4
#define ELF_EI_DATA    5
#define ELF_ET_EXEC    2 /* e_type: fixed addresses */
#define ELF_ET_DYN     3 /* e_type: position-independent */
#define ELF_EM_X86_64  62
#define ELF_PT_LOAD    1
#define ELF_PT_INTERP  3 /* wants a dynamic linker: not here */
#define ELF_PF_X       1
#define ELF_PF_W       2
#define ELF_PF_R       4
#define ELF_MAX_PHDRS  16
#define USER_IMAGE_MAX _UL(0x10000000) /* 256 MiB: the most a program's segments may span */
#define USER_ARGC_MAX  32	       /* arguments a program may start with */
#define USER_ARGS_MAX  4096	       /* bytes of arguments, as loader_setup_stack counts */

struct elf64_ehdr {
	uint8_t e_ident[16]; /* magic, class, data, version, ABI, padding */
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff; /* where the program headers are in the file */
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize; /* sizeof(struct elf64_phdr) */
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
};

struct elf64_phdr {
	uint32_t p_type;
	uint32_t p_flags; /* ELF_PF_R | W | X */
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF header layout");
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF program header layout");

/* Why elf_check refuses a file: the first problem found, in the order listed. */
enum elf_error {
	ELF_OK,
	ELF_TRUNCATED,	 /* the header, the program headers or a segment's bytes pass the end */
	ELF_BAD_MAGIC,	 /* not "\x7fELF" */
	ELF_BAD_CLASS,	 /* not 64-bit little-endian */
	ELF_BAD_MACHINE, /* not x86_64 */
	ELF_BAD_TYPE,	 /* neither ET_EXEC nor ET_DYN */
	ELF_BAD_PHDRS,	 /* e_phentsize is not 56, or e_phnum is 0 or over ELF_MAX_PHDRS */
	ELF_INTERP,	 /* a PT_INTERP: dynamically linked */
	ELF_BAD_SEGMENT, /* a PT_LOAD with p_filesz > p_memsz */
	ELF_WRITE_EXEC,	 /* a PT_LOAD both writable and executable */
	ELF_OUTSIDE,	 /* a PT_LOAD outside [USER_BOTTOM, USER_LOAD_MAX) (ET_DYN: from
			      0, under USER_LOAD_MAX - USER_BOTTOM), or its end overflows */
	ELF_TOO_BIG,	 /* the PT_LOADs span more than USER_IMAGE_MAX */
	ELF_OVERLAP,	 /* two PT_LOADs share a page */
	ELF_NO_LOAD,	 /* no PT_LOAD with p_memsz > 0 */
	ELF_BAD_ENTRY,	 /* e_entry is not inside an executable PT_LOAD */
	ELF_ERROR_COUNT,
};

/* What elf_check found in a file it accepts. */
struct elf_info {
	bool relocatable; /* ET_DYN: loaded at a base the kernel chooses */
	uint64_t lo, hi;  /* the PT_LOADs' pages: [lo, hi), page-aligned (link addresses) */
	uint64_t entry;	  /* e_entry (a link address) */
};

/* Where a program starts: what syscall_return puts in its registers the first time. */
struct user_start {
	uint64_t rip;	/* the entry point (base added) */
	uint64_t rsp;	/* its stack pointer: a multiple of 16 */
	uint64_t argc;	/* rdi */
	uint64_t uargv; /* rsi: the address of argv[0] in the program */
};

/* ---- lab 08, step 4 (labs/08-user/loader.c) ---------------------------------------------- */

/*
 * Check image[0 .. size) as an ELF program this kernel runs: ELF_OK and *info filled in, or
 * the first problem found (enum elf_error, in its order; the program headers in file order),
 * with *info untouched. Reads nothing outside the image, whatever its bytes say.
 * PT_LOADs with p_memsz 0 are ignored; program headers other than PT_LOAD and PT_INTERP too.
 */
enum elf_error elf_check(const void *image, size_t size, struct elf_info *info);

/*
 * Map every PT_LOAD of an image elf_check accepted into s at base + p_vaddr (its pages:
 * read-only unless ELF_PF_W, no-execute unless ELF_PF_X), with its p_filesz bytes from the
 * file (uspace_poke) and zeros after them. base is 0 for ET_EXEC. Returns 0, or -ENOMEM; then
 * some segments may stay mapped: the caller destroys the space.
 */
int elf_load(struct uspace *s, const void *image, size_t size, uint64_t base);

/*
 * Map the stack [s->layout.stack_bottom, stack_top) (writable, no-execute) and put argv on it:
 * the strings at the top, under them the array argv[0 .. argc] (NULL last, 8-byte aligned),
 * and rsp under that, a multiple of 16. Fills *start's rsp, argc and uargv. Returns 0,
 * -E2BIG when argc > USER_ARGC_MAX or the arguments take more than USER_ARGS_MAX bytes (then
 * nothing is mapped), or -ENOMEM. The bytes counted: every string with its NUL, their total
 * rounded up to a multiple of 8, plus 8 for each of the argc + 1 pointers of the array (the
 * NULL too); not the padding under it to 16. Exactly USER_ARGS_MAX fits: one argument of
 * 4079 characters (4080 bytes with its NUL, + 16 for argv[0] and NULL) is allowed, 4080
 * characters are not (4081, rounded up to 4088, + 16).
 */
int loader_setup_stack(struct uspace *s, int argc, const char *const argv[],
		       struct user_start *start);

/* ---- given (kernel/layers/08-user) ------------------------------------------------------- */

/* "the file is shorter than its headers say", ... for an enum elf_error. */
const char *elf_strerror(enum elf_error e);
