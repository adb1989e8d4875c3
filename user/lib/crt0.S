/*
 * Where every program starts (its ELF entry point). The kernel enters with rdi = argc,
 * rsi = argv and rsp a multiple of 16 (kernel/user_abi.h), the program loaded at a base of
 * its choosing (ASLR). First fix the program's own pointers for that base (start.c), then run
 * main and exit with what it returns.
 */
	.text
	.globl _start
	.type _start, @function
_start:
	xor	%ebp, %ebp		/* the outermost frame: backtraces end here */
	mov	%rdi, %r12		/* argc and argv, kept across the call (callee-saved) */
	mov	%rsi, %r13
	lea	__ehdr_start(%rip), %rdi /* the ELF header, at the image's address 0: the base */
	lea	_DYNAMIC(%rip), %rsi
	call	__user_relocate
	mov	%r12, %rdi
	mov	%r13, %rsi
	call	__user_main		/* never returns */
	ud2
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
