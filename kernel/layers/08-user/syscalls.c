/*
 * The kernel's side of system calls (kernel/syscall.h): the table, what syscall_entry calls,
 * the way out for a frame SYSRET must not return to, and the calls of layer 08: lab 08's, and
 * two the kernel gives (SYS_layout, which copies out, and SYS_find, which copies a string in).
 */
#include "kprintf.h"
#include "local.h"
#include "panic.h"
#include "program_hooks.h"
#include "trap.h"

uint64_t syscall_stack_top;
uint64_t syscall_user_rsp;
syscall_fn_t syscall_table[SYSCALL_MAX];

void syscall_register(unsigned nr, syscall_fn_t fn)
{
	if (nr >= SYSCALL_MAX)
		panic("syscall_register: %u is outside the table (0-%d)", nr, SYSCALL_MAX - 1);
	if (syscall_table[nr])
		panic("syscall_register: %u has a handler already", nr);
	syscall_table[nr] = fn;
}

void syscall_handle(struct syscall_frame *f)
{
	syscall_dispatch(f);
	if (unlikely(program_running->kill))
		program_end_killed();
}

void syscall_bad_return(struct syscall_frame *f)
{
	struct program *p = program_current();
	struct user_fault fault = {VEC_GP, 0, f->rip, 0};
	char report[PROGRAM_NOTE_MAX];

	ksnprintf(report, sizeof(report),
		  "program '%s' (pid %d): %s at rip 0x%016lx, error 0x0: the return address is "
		  "not canonical, so the kernel did not SYSRET to it",
		  p->name, p->pid, trap_name(VEC_GP), f->rip);
	program_end_fault(&fault, report);
}

/* layout(out): where the program's parts are. */
static long sys_layout(struct syscall_frame *f)
{
	struct program *p = program_current();

	uspace_prepare_write(&p->space, f->rdi, sizeof(p->space.layout));
	return copyout(&p->space, f->rdi, &p->space.layout, sizeof(p->space.layout));
}

/* find(name): the size of the program image of that name, or -ENOENT. */
static long sys_find(struct syscall_frame *f)
{
	struct program *p = program_current();
	char name[PROGRAM_NAME_MAX];
	long n = copyinstr(&p->space, name, f->rdi, sizeof(name));

	if (n < 0)
		return n;
	const struct user_image *img = user_image_find(name);
	return img ? (long)img->size : -ENOENT;
}

void syscalls_register_layer(void)
{
	syscall_register(SYS_exit, sys_exit);
	syscall_register(SYS_write, sys_write);
	syscall_register(SYS_getpid, sys_getpid);
	syscall_register(SYS_yield, sys_yield);
	syscall_register(SYS_sleep, sys_sleep);
	syscall_register(SYS_sbrk, sys_sbrk);
	syscall_register(SYS_layout, sys_layout);
	syscall_register(SYS_find, sys_find);
}
