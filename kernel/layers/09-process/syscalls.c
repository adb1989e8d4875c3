/*
 * The system calls of layer 09 (kernel/process_abi.h). fork, exec and wait take what the
 * program passed, check it, and call lab 09 (proc_fork, exec_copy_args and proc_exec,
 * proc_wait); read, getppid, image and frames are the kernel's alone. fork, exec and wait
 * are a process's: a program started by layer 08 alone (program_start) gets -ENOSYS.
 *
 * Every call that writes into the program prepares the range first (cow_prepare_write: a
 * page still shared copy-on-write becomes the program's own), then checks it as lab 08's
 * copyout does, and checks it before it does anything that cannot be undone: wait reaps the
 * child only once it knows where the status can go.
 */
#include <string.h>
#include "heap.h"
#include "kprintf.h"
#include "local.h"
#include "paging.h"
#include "program_hooks.h"
#include "thread.h"

#define READ_MAX 256 /* bytes a read returns at most: a console line */

/* The range is writable for the program, copy-on-write pages made its own first. */
static bool writable(struct program *p, uint64_t uaddr, size_t len)
{
	uspace_prepare_write(&p->space, uaddr, len);
	return uaccess_ok(&p->space, uaddr, len, true);
}

/* fork(): the child's pid, or 0 in the child. */
static long sys_fork(struct syscall_frame *f)
{
	struct process *pr = proc_current();

	return pr ? proc_fork(pr, f) : -ENOSYS;
}

/* exec(name, argv): returns only on an error. */
static long sys_exec(struct syscall_frame *f)
{
	struct process *pr = proc_current();
	char name[PROGRAM_NAME_MAX];

	if (!pr)
		return -ENOSYS;
	long n = copyinstr(&pr->prog->space, name, f->rdi, sizeof(name));
	if (n < 0)
		return n;
	const struct user_image *img = user_image_find(name);
	if (!img)
		return -ENOENT;
	struct exec_args *a = kmalloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	int r = exec_copy_args(&pr->prog->space, f->rsi, a);
	if (r == 0)
		r = proc_exec(pr, name, img->data, img->size, a->argc, a->argv, f);
	kfree(a);
	if (r == 0) /* the thread is named after what it runs */
		ksnprintf(thread_current()->name, THREAD_NAME_MAX, "%s", pr->prog->name);
	return r;
}

/* wait(pid, status): the pid of a child that ended (-1: any), its status in *status if not
 * NULL. */
static long sys_wait(struct syscall_frame *f)
{
	struct process *pr = proc_current();
	uint64_t ustatus = f->rsi;
	int status;

	if (!pr)
		return -ENOSYS;
	if (ustatus && !writable(pr->prog, ustatus, sizeof(status)))
		return -EFAULT; /* before a child is reaped and its status lost */
	int r = proc_wait(pr, (int)f->rdi, &status);
	if (r >= 0 && ustatus &&
	    (!writable(pr->prog, ustatus, sizeof(status)) ||
	     copyout(&pr->prog->space, ustatus, &status, sizeof(status)) < 0))
		return -EFAULT;
	return r;
}

/* read(0, buf, len): a line of the console (or its first len bytes); 0 at the end. */
static long sys_read(struct syscall_frame *f)
{
	struct program *p = program_current();
	uint64_t buf = f->rsi, len = MIN(f->rdx, (uint64_t)READ_MAX);
	char line[READ_MAX];

	if (f->rdi != 0)
		return -EBADF;
	if (!len)
		return 0;
	if (!writable(p, buf, len))
		return -EFAULT;
	long n = tty_read(p, line, len);
	if (n > 0 && (!writable(p, buf, (size_t)n) || copyout(&p->space, buf, line, (size_t)n) < 0))
		return -EFAULT;
	return n;
}

/* getppid(): the parent's pid, 0 without one. */
static long sys_getppid(struct syscall_frame *f)
{
	struct process *pr = proc_current();

	return pr && pr->parent ? pr->parent->pid : 0;
}

/* image(i, name, size): the name of image i (in name order) into name[size], its size in
 * bytes; -ENOENT past the last, -ENAMETOOLONG if the name does not fit. */
static long sys_image(struct syscall_frame *f)
{
	struct program *p = program_current();
	const struct user_image *img = user_image_at(f->rdi);

	if (!img)
		return -ENOENT;
	size_t n = strlen(img->name) + 1;
	if (n > f->rdx)
		return -ENAMETOOLONG;
	if (!writable(p, f->rsi, n) || copyout(&p->space, f->rsi, img->name, n) < 0)
		return -EFAULT;
	return (long)img->size;
}

/* frames(): the kernel's free frames. */
static long sys_frames(struct syscall_frame *f)
{
	return (long)kframes_free();
}

void proc_syscalls_register(void)
{
	syscall_register(SYS_fork, sys_fork);
	syscall_register(SYS_exec, sys_exec);
	syscall_register(SYS_wait, sys_wait);
	syscall_register(SYS_read, sys_read);
	syscall_register(SYS_getppid, sys_getppid);
	syscall_register(SYS_image, sys_image);
	syscall_register(SYS_frames, sys_frames);
}
