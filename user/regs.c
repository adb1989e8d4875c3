/*
 * regs: what a system call must leave alone. Loads every register but rcx and r11 (which
 * SYSCALL itself uses) with a known value, makes a system call, and checks them all after it,
 * rsp included. Then writes a line with the direction flag set: the kernel must not copy
 * backwards because a program left DF on (SFMASK clears it). Exits with one bit per register
 * that changed (bit 13: the line came out wrong).
 */
#include "user.h"

#define NREGS 13
static const char *const names[NREGS] = {"rbx", "rbp", "r12", "r13", "r14", "r15", "rdi",
					 "rsi", "rdx", "r10", "r8",  "r9",  "rsp"};
uint64_t regs_after[NREGS];
uint64_t regs_rsp_before;
long regs_roundtrip(long nr);

/* long regs_roundtrip(long nr): rax = nr, the others a pattern (0x1010...01 * (i + 1)),
 * syscall, every register stored in regs_after, the callee-saved ones restored. */
__asm__(".text\n"
	".globl regs_roundtrip\n"
	".hidden regs_roundtrip\n"
	"regs_roundtrip:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rdi, %rax\n"
	"	movabs $0x0101010101010101, %rbx\n"
	"	movabs $0x0202020202020202, %rbp\n"
	"	movabs $0x0303030303030303, %r12\n"
	"	movabs $0x0404040404040404, %r13\n"
	"	movabs $0x0505050505050505, %r14\n"
	"	movabs $0x0606060606060606, %r15\n"
	"	movabs $0x0707070707070707, %rdi\n"
	"	movabs $0x0808080808080808, %rsi\n"
	"	movabs $0x0909090909090909, %rdx\n"
	"	movabs $0x0a0a0a0a0a0a0a0a, %r10\n"
	"	movabs $0x0b0b0b0b0b0b0b0b, %r8\n"
	"	movabs $0x0c0c0c0c0c0c0c0c, %r9\n"
	"	mov %rsp, regs_rsp_before(%rip)\n"
	"	syscall\n"
	"	mov %rbx, regs_after+0(%rip)\n"
	"	mov %rbp, regs_after+8(%rip)\n"
	"	mov %r12, regs_after+16(%rip)\n"
	"	mov %r13, regs_after+24(%rip)\n"
	"	mov %r14, regs_after+32(%rip)\n"
	"	mov %r15, regs_after+40(%rip)\n"
	"	mov %rdi, regs_after+48(%rip)\n"
	"	mov %rsi, regs_after+56(%rip)\n"
	"	mov %rdx, regs_after+64(%rip)\n"
	"	mov %r10, regs_after+72(%rip)\n"
	"	mov %r8, regs_after+80(%rip)\n"
	"	mov %r9, regs_after+88(%rip)\n"
	"	mov %rsp, regs_after+96(%rip)\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n");

int main(int argc, char **argv)
{
	int bad = 0;
	long pid = regs_roundtrip(SYS_getpid);

	for (int i = 0; i < NREGS; i++) {
		uint64_t want =
			i < NREGS - 1 ? 0x0101010101010101UL * (uint64_t)(i + 1) : regs_rsp_before;

		if (regs_after[i] != want) {
			printf("regs: %s is 0x%lx after the system call, was 0x%lx\n", names[i],
			       regs_after[i], want);
			bad |= 1 << i;
		}
	}
	if (pid != getpid()) {
		printf("regs: getpid said %ld through the pattern, %d without\n", pid, getpid());
		bad |= 1 << NREGS;
	}
	static const char line[] = "regs: written with DF set\n";
	long n;
	__asm__ volatile("std\n\tsyscall\n\tcld"
			 : "=a"(n)
			 : "a"(SYS_write), "D"(1), "S"(line), "d"(sizeof(line) - 1)
			 : "rcx", "r11", "memory");
	if (n != (long)sizeof(line) - 1)
		bad |= 1 << NREGS;
	printf("regs: %s\n", bad ? "some registers changed" : "every register kept");
	return bad;
}
