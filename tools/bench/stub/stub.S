/*
 * The smallest kernel QEMU's multiboot loader will start: the reference the boot benchmark
 * measures teachos against. It writes one line to COM1 and leaves through isa-debug-exit,
 * so its boot time is QEMU's own (firmware, loading, starting the CPU) and nothing more.
 * The line holds the time-stamp counter, which under -icount shift=0 is the number of
 * instructions since QEMU started the machine, as teachos's bench_boot scenario prints it:
 *     bench: boot ticks=0x0000000000123456
 *
 * Built by tools/bench/bench.py as a 32-bit ELF with the same multiboot "a.out kludge"
 * header as kernel/multiboot.S, so QEMU loads it the same way.
 */
#define MB_MAGIC       0x1badb002
#define MB_PAGE_ALIGN  (1 << 0)
#define MB_MEMORY_INFO (1 << 1)
#define MB_AOUT_KLUDGE (1 << 16)
#define MB_FLAGS       (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE)
#define COM1           0x3f8
#define EXIT_PORT      0xf4	/* kernel/qemu.h: QEMU_EXIT_PORT */
#define EXIT_SUCCESS   0x10	/* kernel/qemu.h: QEMU_EXIT_SUCCESS, QEMU exits with 33 */

	.section .multiboot, "a"
	.align 4
multiboot_header:
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)
	.long	multiboot_header	/* header_addr */
	.long	__image_start		/* load_addr */
	.long	__image_end		/* load_end_addr */
	.long	__image_end		/* bss_end_addr: no bss */
	.long	_start			/* entry_addr */

	.text
	.code32
	.globl _start
_start:
	mov	$stack_top, %esp	/* multiboot leaves ESP undefined */
	rdtsc
	mov	%eax, %ebx		/* low half, printed second */
	mov	%edx, %ebp		/* high half, printed first */
	mov	$COM1, %dx
	mov	$message, %esi
	mov	$message_end - message, %ecx
	rep outsb
	mov	%ebp, %eax
	call	put_hex32
	mov	%ebx, %eax
	call	put_hex32
	mov	$'\n', %al
	outb	%al, %dx
	mov	$EXIT_PORT, %dx
	mov	$EXIT_SUCCESS, %al
	outb	%al, %dx
1:	hlt
	jmp	1b

/* put_hex32: write EAX to port DX as 8 hex digits. Clobbers EAX, ECX, ESI. */
put_hex32:
	mov	%eax, %esi
	mov	$8, %ecx
2:	rol	$4, %esi
	mov	%esi, %eax
	and	$0xf, %eax
	movb	hex_digits(%eax), %al
	outb	%al, %dx
	loop	2b
	ret

	.section .rodata
message:
	.ascii	"bench: boot ticks=0x"
message_end:
hex_digits:
	.ascii	"0123456789abcdef"

	.data
	.align	16
stack:
	.fill	16, 4, 0		/* put_hex32's return address is all it holds */
stack_top:
