/*
 * Faults in ring 3 (see kernel/program.h): an exception a program causes ends that program,
 * never the kernel.
 *
 * Every exception comes to the same handler whatever the ring it came from, so the first
 * question is whose it is. The CPU says: it pushed the interrupted CS, and the low two bits of
 * a code selector are the privilege level the code ran at. 3: the program; 0: the kernel (a
 * kernel bug, or a test that expects it), which gets what it got before this layer
 * (user_fault_pass_on).
 *
 * What a program can cause, and how it shows:
 *
 *   *(int *)0 = 1            #PF, error 0x6 (write, not present, user), CR2 = 0
 *   write to its code        #PF, error 0x7 (write, protection, user)
 *   jump into its stack      #PF, error 0x15 (instruction fetch, protection, user): NX
 *   read a kernel address    #PF, error 0x5 (protection, user): no PTE_USER
 *   recurse without end      #PF at the guard page under its stack
 *   x / 0                    #DE
 *   ud2                      #UD
 *   cli, hlt, in, out,       #GP, error 0: privileged, or I/O without permission (no I/O
 *   mov %rax, %cr3              bitmap in the TSS, IOPL 0)
 *   int3, int $0x80          #GP, error (vector << 3) | 2: the IDT's gates are DPL 0
 *
 * CR2 is read at once: it is the CPU's only record of the faulting address, and any later page
 * fault (in the kernel, handling this one) would overwrite it.
 */
#include "kprintf.h"
#include "pagefault.h"
#include "program.h"
#include "segments.h"
/// STARTER: #include "todo.h"
#include "trap.h"
#include "x86.h"

#define FAULT_REPORT_MAX 200

/* Step 7: the report line of kernel/program.h. */
int user_fault_describe(char *buf, size_t size, const struct program *p, const struct user_fault *f)
{
	/// SOLUTION BEGIN
	int n = ksnprintf(buf, size, "program '%s' (pid %d): %s at rip 0x%016lx", p->name, p->pid,
			  trap_name(f->vector), f->rip);

	if (n < 0 || (size_t)n >= size)
		return n;
	if (f->vector == VEC_PF)
		return n + ksnprintf(buf + n, size - (size_t)n, ": ") +
		       page_fault_describe(buf + n + 2, size - (size_t)n - 2, f->error, f->cr2);
	return n + ksnprintf(buf + n, size - (size_t)n, ", error 0x%lx", f->error);
	/// SOLUTION END
	/// STARTER: TODO("step 7: \"program '<name>' (pid N): <trap_name> at rip 0x<16 hex>\", then for #PF \": \" and page_fault_describe(error, cr2), else \", error 0x<hex>\"");
}

/*
 * Step 7: a fault from ring 3 (the CS the CPU saved has RPL 3) ends the current program
 * (record, describe, program_end_fault); any other is passed on.
 */
void user_fault(struct trap_frame *tf)
{
	/// SOLUTION BEGIN
	uint64_t cr2 = read_cr2(); /* first: nothing may fault before we have it */

	if ((tf->cs & 3) != SEG_RPL_USER) {
		user_fault_pass_on(tf);
		return;
	}
	struct user_fault f = {tf->vector, tf->error, tf->rip, tf->vector == VEC_PF ? cr2 : 0};
	char report[FAULT_REPORT_MAX];

	user_fault_describe(report, sizeof(report), program_current(), &f);
	program_end_fault(&f, report);
	/// SOLUTION END
	/// STARTER: TODO("step 7: read CR2 first; if tf->cs's RPL is not 3, user_fault_pass_on(tf) and return; else fill a struct user_fault (cr2 only for #PF), user_fault_describe it, program_end_fault");
}
