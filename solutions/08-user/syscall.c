/*
 * System calls (see kernel/syscall.h): turning SYSCALL on, the table that maps a number to
 * its handler, and the calls of lab 08.
 *
 * How a call goes, for write(1, "hi\n", 3) in a program:
 *
 *     ring 3   rax = SYS_write, rdi = 1, rsi = buf, rdx = 3; syscall
 *     ring 0   syscall_entry: kernel stack, frame saved, interrupts on
 *              syscall_handle -> syscall_dispatch(f): table[1] = sys_write
 *              sys_write(f): fd 1, uaccess_ok(buf, 3), copyin, program_write: 3
 *              f->rax = 3; syscall_return(f): registers back, SYSRET
 *     ring 3   rax = 3, the next instruction
 *
 * Every handler takes the frame, reads its arguments from it (rdi, rsi, rdx, r10, r8, r9)
 * and returns what goes back in rax. A pointer from the program is a number until uspace.c
 * has checked it: a handler never dereferences one.
 */
#include "irq.h"
#include "program.h"
#include "segments.h"
#include "syscall.h"
#include "thread.h"
/// STARTER: #include "todo.h"
#include "uspace.h"
#include "x86.h"

#define WRITE_CHUNK	     256		/* bytes copied in per piece */
#define SYSCALL_SLEEP_MAX_MS (60UL * 60 * 1000) /* an hour: longer sleeps are refused */

/*
 * Step 2: SYSCALL on. STAR: the kernel's CS in bits 47-32 (SYSCALL loads SS from the next
 * descriptor); in bits 63-48 the selector SYSRET adds 8 (SS) and 16 (CS) to, with RPL 3:
 * SEG_KERNEL_DATA | 3, so that SS = 0x1b and CS = 0x23. LSTAR: syscall_entry. SFMASK: the
 * rflags bits a call must not start with.
 */
void syscall_init(void)
{
	/// SOLUTION BEGIN
	wrmsr(MSR_STAR, ((uint64_t)SEG_KERNEL_CODE << STAR_KERNEL_SHIFT) |
				((uint64_t)(SEG_KERNEL_DATA | SEG_RPL_USER) << STAR_USER_SHIFT));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, RFLAGS_IF | RFLAGS_DF | RFLAGS_TF | RFLAGS_AC);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	/// SOLUTION END
	/// STARTER: TODO("step 2: wrmsr STAR (kernel CS at bit 32; SEG_KERNEL_DATA | 3 at bit 48), LSTAR (syscall_entry), SFMASK (IF, DF, TF, AC), and set EFER.SCE");
}

/* Step 2: the handler of f->rax in syscall_table, or -ENOSYS; the result in f->rax. */
void syscall_dispatch(struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	uint64_t nr = f->rax; /* all 64 bits are the program's choice */

	if (nr < SYSCALL_MAX && syscall_table[nr])
		f->rax = (uint64_t)syscall_table[nr](f);
	else
		f->rax = (uint64_t)-ENOSYS;
	/// SOLUTION END
	/// STARTER: TODO("step 2: if f->rax (64 bits) is below SYSCALL_MAX and has a handler, f->rax = its result; else f->rax = -ENOSYS");
}

/* ---- the calls ------------------------------------------------------------------------- */

/* Step 6: end the program with the status in rdi (an int). */
long sys_exit(struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	program_exit((int)f->rdi);
	/// SOLUTION END
	/// STARTER: TODO("step 6: program_exit with the status in rdi");
}

/* Step 6: the program's pid. */
long sys_getpid(struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	return program_current()->pid;
	/// SOLUTION END
	/// STARTER: TODO("step 6: return program_current()'s pid");
}

/* Step 6: another thread's turn. */
long sys_yield(struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	thread_yield();
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 6: thread_yield, return 0");
}

/* Step 6: sleep rdi milliseconds; more than SYSCALL_SLEEP_MAX_MS is -EINVAL. */
long sys_sleep(struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	if (f->rdi > SYSCALL_SLEEP_MAX_MS)
		return -EINVAL;
	thread_sleep(f->rdi);
	return 0;
	/// SOLUTION END
	/// STARTER: TODO("step 6: -EINVAL above SYSCALL_SLEEP_MAX_MS, else thread_sleep(rdi), return 0");
}

/*
 * Step 6: write(fd, buf, len). fd 1 and 2 go to the program's output (program_write); any
 * other is -EBADF. The whole buffer is checked first (uaccess_ok: -EFAULT and nothing
 * written), then copied in pieces of WRITE_CHUNK bytes. Returns len.
 */
long sys_write(struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	struct program *p = program_current();
	uint64_t fd = f->rdi, buf = f->rsi, len = f->rdx;
	char chunk[WRITE_CHUNK];

	if (fd != 1 && fd != 2)
		return -EBADF;
	if (!uaccess_ok(&p->space, buf, len, false))
		return -EFAULT;
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < WRITE_CHUNK ? len - done : WRITE_CHUNK;

		if (copyin(&p->space, chunk, buf + done, n) < 0)
			return done ? (long)done : -EFAULT;
		program_write(p, chunk, n);
		done += n;
	}
	return (long)len;
	/// SOLUTION END
	/// STARTER: TODO("step 6: fd 1 or 2 (else -EBADF); uaccess_ok the whole buffer (else -EFAULT); copyin WRITE_CHUNK bytes at a time and program_write them; return len");
}

/*
 * Step 6: sbrk(delta): move the end of the heap (space.layout.brk) by delta bytes and return
 * where it was. Growing maps the pages the heap newly reaches (writable, no-execute), and
 * may not take the heap past heap_start + USER_HEAP_MAX (-ENOMEM); when uspace_map fails it
 * is -ENOMEM too, and brk stays. Shrinking unmaps the pages the heap no longer reaches, and
 * may not go below heap_start (-EINVAL). delta is any 64-bit value the program chose.
 */
long sys_sbrk(struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	struct program *p = program_current();
	struct user_layout *l = &p->space.layout;
	int64_t delta = (int64_t)f->rdi;
	uint64_t old = l->brk, used = old - l->heap_start;

	if (delta > 0) {
		if ((uint64_t)delta > USER_HEAP_MAX - used)
			return -ENOMEM;
		uint64_t from = align_up(old, PAGE_SIZE),
			 to = align_up(old + (uint64_t)delta, PAGE_SIZE);
		if (to > from &&
		    uspace_map(&p->space, from, to - from, PTE_WRITABLE | PTE_NO_EXECUTE) < 0)
			return -ENOMEM;
		l->brk = old + (uint64_t)delta;
	} else if (delta < 0) {
		uint64_t shrink = 0 - (uint64_t)delta; /* -delta overflows for INT64_MIN */
		if (shrink > used)
			return -EINVAL;
		uint64_t from = align_up(old - shrink, PAGE_SIZE), to = align_up(old, PAGE_SIZE);
		if (to > from)
			uspace_unmap(&p->space, from, to - from);
		l->brk = old - shrink;
	}
	return (long)old;
	/// SOLUTION END
	/// STARTER: TODO("step 6: grow (at most USER_HEAP_MAX in all, uspace_map the new pages, else -ENOMEM) or shrink (not below heap_start: -EINVAL; uspace_unmap the pages left), update layout.brk, return the old brk");
}
