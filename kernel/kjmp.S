/* kjmp_set / kjmp_jump: the kernel's setjmp and longjmp (see kjmp.h). */

	.text
/* int kjmp_set(kjmp_buf buf): saves rbx rbp r12-r15, the caller's rsp and return address. */
	.globl kjmp_set
	.type kjmp_set, @function
kjmp_set:
	mov	%rbx, 0(%rdi)
	mov	%rbp, 8(%rdi)
	mov	%r12, 16(%rdi)
	mov	%r13, 24(%rdi)
	mov	%r14, 32(%rdi)
	mov	%r15, 40(%rdi)
	lea	8(%rsp), %rdx		/* the caller's rsp once we return */
	mov	%rdx, 48(%rdi)
	mov	(%rsp), %rdx		/* our return address */
	mov	%rdx, 56(%rdi)
	xor	%eax, %eax
	ret
	.size kjmp_set, . - kjmp_set

/* void kjmp_jump(kjmp_buf buf, int value): never returns; kjmp_set returns value (0 → 1). */
	.globl kjmp_jump
	.type kjmp_jump, @function
kjmp_jump:
	mov	%esi, %eax
	test	%eax, %eax
	jnz	1f
	inc	%eax
1:	mov	0(%rdi), %rbx
	mov	8(%rdi), %rbp
	mov	16(%rdi), %r12
	mov	24(%rdi), %r13
	mov	32(%rdi), %r14
	mov	40(%rdi), %r15
	mov	48(%rdi), %rsp
	jmp	*56(%rdi)
	.size kjmp_jump, . - kjmp_jump
