/*
 * Starting a program: relocating it, then main.
 *
 * The programs are position-independent executables (static PIE): the code reaches
 * everything relative to rip, so it runs at any base as it is, but data that holds an address
 * (a table of function pointers, an array of strings) was filled in by the linker for base 0.
 * The linker lists each such word in the dynamic relocations (.rela.dyn, found through
 * _DYNAMIC) as R_X86_64_RELATIVE: "store base + addend at base + offset". A dynamic linker
 * would apply them; these programs have none, so _start calls __user_relocate first, before
 * anything reads such a word. It must itself need no relocation: it reads only its arguments.
 */
#include "user.h"

#define DT_NULL		  0
#define DT_RELA		  7
#define DT_RELASZ	  8
#define DT_RELAENT	  9
#define R_X86_64_RELATIVE 8
#define ELF64_R_TYPE(i)	  ((i)&0xffffffff)
#define EXIT_BAD_RELOC	  125

struct elf64_dyn {
	int64_t tag;
	uint64_t val;
};

struct elf64_rela {
	uint64_t offset, info;
	int64_t addend;
};

void __user_relocate(uintptr_t base, const struct elf64_dyn *dyn);
__noreturn void __user_main(int argc, char **argv);

void __user_relocate(uintptr_t base, const struct elf64_dyn *dyn)
{
	uint64_t rela = 0, size = 0, ent = sizeof(struct elf64_rela);

	for (; dyn->tag != DT_NULL; dyn++) {
		if (dyn->tag == DT_RELA)
			rela = dyn->val;
		else if (dyn->tag == DT_RELASZ)
			size = dyn->val;
		else if (dyn->tag == DT_RELAENT)
			ent = dyn->val;
	}
	for (uint64_t off = 0; rela && off + ent <= size; off += ent) {
		const struct elf64_rela *r = (const void *)(base + rela + off);

		if (ELF64_R_TYPE(r->info) != R_X86_64_RELATIVE)
			syscall3(SYS_exit, EXIT_BAD_RELOC, 0,
				 0); /* a static PIE has no other kind */
		*(uint64_t *)(base + r->offset) = base + (uint64_t)r->addend;
	}
}

void __user_main(int argc, char **argv)
{
	exit(main(argc, argv));
}
