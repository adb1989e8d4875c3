/*
 * exec (see kernel/process.h): the same process, another program. The pid, the parent, the
 * children and the output stay; the address space, the registers and the name are the new
 * program's.
 *
 * The rule that shapes it: an exec that fails must leave the caller exactly as it was, still
 * running its old program, with an error to look at. So everything that can fail happens
 * before anything of the old program is touched:
 *
 *   1. copy the arguments into the kernel (they live in the old space, which is going away);
 *   2. build the new space from the image, complete (program_load_space): a bad ELF, too
 *      many arguments or no memory fail here, and the old space is still there;
 *   3. only then, the part that cannot fail: the new space becomes the process's and the
 *      live one, the old one is given back, and the system call's frame becomes the new
 *      program's first registers, so that the return from exec lands at its entry point.
 *
 * The arguments, copied: argv = {"echo", "hi", NULL} at 0x7f00001ff0e0 in the program:
 *
 *   strings: e c h o \0 h i \0          argv[0] -> strings + 0, argv[1] -> strings + 5
 */
#include <string.h>
#include "irq.h"
#include "process.h"
#include "program_hooks.h"
/// STARTER: #include "todo.h"

/* Step 5: argv, an array of string pointers ended by NULL, into the kernel. */
int exec_copy_args(const struct uspace *s, uint64_t uargv, struct exec_args *a)
{
	/// SOLUTION BEGIN
	size_t used = 0;

	a->argc = 0;
	for (;; a->argc++) {
		uint64_t ustr;

		if (!uargv)
			break;
		if (copyin(s, &ustr, uargv + (uint64_t)a->argc * sizeof(ustr), sizeof(ustr)) < 0)
			return -EFAULT;
		if (!ustr)
			break;
		if (a->argc == USER_ARGC_MAX)
			return -E2BIG;
		long n = copyinstr(s, a->strings + used, ustr, sizeof(a->strings) - used);
		if (n == -ENAMETOOLONG)
			return -E2BIG;
		if (n < 0)
			return (int)n;
		a->argv[a->argc] = a->strings + used;
		used += (size_t)n + 1;
	}
	a->argv[a->argc] = NULL;
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 5: argc = 0; while uargv: copyin the pointer argv[argc] (-EFAULT), stop at NULL; more than USER_ARGC_MAX: -E2BIG; copyinstr the string into strings after the last one (-ENAMETOOLONG there means -E2BIG; -EFAULT), point argv[argc] at it; argv[argc] = NULL");
}

/* Step 5: the new program built first, then swapped in. */
int proc_exec(struct process *pr, const char *name, const void *image, size_t size, int argc,
	      const char *const argv[], struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	struct program *p = pr->prog;
	struct uspace fresh, old;
	struct syscall_frame start;
	int r = program_load_space(&fresh, name, image, size, argc, argv, &start);

	if (r < 0)
		return r;		  /* nothing of the old program was touched */
	unsigned long flags = irq_save(); /* a switch must never load half of it */
	old = p->space;
	p->space = fresh;
	uspace_activate(&p->space);
	irq_restore(flags);
	uspace_destroy(&old);
	size_t n = strnlen(name, PROGRAM_NAME_MAX - 1);
	memcpy(p->name, name, n);
	p->name[n] = '\0';
	*f = start;
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 5: program_load_space into a new struct uspace (an error: return it, nothing changed); with interrupts off swap it into pr->prog->space and uspace_activate it; uspace_destroy the old one; copy name into prog->name; *f = the new start frame; 0");
}
