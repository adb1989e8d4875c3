/*
 * boot.S: from the multiboot entry to 64-bit C.
 *
 * QEMU's multiboot loader jumps to _start with the CPU in 32-bit protected mode, paging off,
 * EAX = 0x2badb002 and EBX = the physical address of the boot information. To reach
 * kernel_main in 64-bit mode we (handouts/01-boot.md walks through each step):
 *
 *   1. build page tables that map the first GiB three times: at its own address (so the
 *      instruction after turning paging on is still mapped), at DIRECT_MAP_BASE (the direct
 *      map) and at KERNEL_VMA (where the kernel is linked), with 2 MiB pages;
 *   2. load CR3 with the top-level table;
 *   3. enable PAE in CR4 (64-bit paging is an extension of PAE paging);
 *   4. set EFER.LME, asking for long mode once paging is on;
 *   5. enable paging in CR0, which activates long mode (in 32-bit compatibility mode);
 *   6. load a GDT with a 64-bit code segment and far-jump into it.
 *
 * Then, already given: load the data segments, jump to the higher half, switch to the boot
 * stack and call kernel_main(magic, mbi).
 *
 * This part is linked at its physical address (see kernel/kernel.ld), so every address here
 * is the real one: no arithmetic needed before paging is on. EDI and ESI hold kernel_main's
 * arguments from the first instructions on: leave them alone. EAX, EBX, ECX and EDX are free.
 */
#include "memlayout.h"
#include "pte.h"
#include "x86.h"
#include "gdt.h"

	.section .boot.text, "ax"
	.code32
	.globl _start
	.type _start, @function
_start:
	cli
	mov	$boot_stack32_top, %esp
	mov	%eax, %edi		/* multiboot magic: kernel_main's first argument */
	mov	%ebx, %esi		/* boot information: its second argument */
	lidt	null_idt		/* until the real IDT: any exception resets the machine */

	/*
	 * Step 1: the boot page tables.
	 *   boot_pml4[0]       -> boot_pdpt_low    identity map of the first 512 GiB slot
	 *   boot_pml4[256]     -> boot_pdpt_low    direct map at DIRECT_MAP_BASE
	 *   boot_pml4[511]     -> boot_pdpt_high   top 512 GiB, where KERNEL_VMA is
	 *   boot_pdpt_low[0]   -> boot_pd          first GiB
	 *   boot_pdpt_high[510]-> boot_pd          KERNEL_VMA = -2 GiB is entry 510
	 *   boot_pd[i]         =  i * 2 MiB, present, writable, huge (for i = 0 .. 511)
	 * The tables are in .boot.bss, zeroed by the loader.
	 */
	/// SOLUTION BEGIN
	mov	$boot_pdpt_low + (PTE_PRESENT | PTE_WRITABLE), %eax
	mov	%eax, boot_pml4
	mov	%eax, boot_pml4 + 256 * 8
	mov	$boot_pdpt_high + (PTE_PRESENT | PTE_WRITABLE), %eax
	mov	%eax, boot_pml4 + 511 * 8
	mov	$boot_pd + (PTE_PRESENT | PTE_WRITABLE), %eax
	mov	%eax, boot_pdpt_low
	mov	%eax, boot_pdpt_high + 510 * 8

	mov	$boot_pd, %ebx
	mov	$(PTE_PRESENT | PTE_WRITABLE | PTE_HUGE), %eax	/* entry 0 maps physical 0 */
	mov	$PT_ENTRIES, %ecx
1:	mov	%eax, (%ebx)		/* the high half of each entry stays 0 */
	add	$HUGE_PAGE_SIZE, %eax
	add	$8, %ebx
	loop	1b
	/// SOLUTION END
	/// STARTER: ud2	/* TODO step 1: build the boot page tables (see above) */

	/* Step 2: CR3 = the physical address of boot_pml4. */
	/// SOLUTION BEGIN
	mov	$boot_pml4, %eax
	mov	%eax, %cr3
	/// SOLUTION END
	/// STARTER: ud2	/* TODO step 2: load CR3 with boot_pml4 */

	/* Step 3: set CR4.PAE. */
	/// SOLUTION BEGIN
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	/// SOLUTION END
	/// STARTER: ud2	/* TODO step 3: set CR4_PAE in CR4 */

	/* Step 4: set EFER.LME (EFER is model-specific register MSR_EFER: rdmsr / wrmsr). */
	/// SOLUTION BEGIN
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	/// SOLUTION END
	/// STARTER: ud2	/* TODO step 4: set EFER_LME in MSR_EFER */

	/* Step 5: set CR0.PG (protection, CR0.PE, is already on). Long mode is now active. */
	/// SOLUTION BEGIN
	mov	%cr0, %eax
	or	$CR0_PG, %eax
	mov	%eax, %cr0
	/// SOLUTION END
	/// STARTER: ud2	/* TODO step 5: set CR0_PG in CR0 */

	/*
	 * Step 6: load boot_gdt (fill in its descriptors below first) and far-jump to
	 * long_mode_entry through the 64-bit code segment, selector GDT_KERNEL_CODE.
	 */
	/// SOLUTION BEGIN
	lgdt	boot_gdt_ptr
	ljmp	$GDT_KERNEL_CODE, $long_mode_entry
	/// SOLUTION END
	/// STARTER: ud2	/* TODO step 6: lgdt boot_gdt_ptr, then ljmp to long_mode_entry */
	.size _start, . - _start

	.code64
long_mode_entry:
	/* In 64-bit mode. The data segment registers still hold 32-bit selectors: reload them. */
	mov	$GDT_KERNEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	movabs	$higher_half, %rax	/* jump to where the kernel is linked */
	jmp	*%rax

	.text
	.cfi_sections .debug_frame
higher_half:
	.cfi_startproc
	.cfi_undefined rip		/* for debuggers: the outermost frame, nothing called us */
	/* The GDT is still addressed through the identity map, which checkpoint 02 removes. */
	lgdt	boot_gdt_ptr_high
	movabs	$__stack_top, %rsp
	xor	%ebp, %ebp		/* the end of the frame-pointer chain for backtraces */
	mov	%edi, %edi		/* switching modes left the upper halves undefined: zero them */
	mov	%esi, %esi
	call	kernel_main
1:	cli				/* kernel_main does not return; if it did, stop here */
	hlt
	jmp	1b
	.cfi_endproc

	.section .boot.data, "aw"
	.align 8
/*
 * The boot GDT: a null descriptor, then a 64-bit code segment (GDT_KERNEL_CODE = 0x08) and a
 * data segment (GDT_KERNEL_DATA = 0x10). In long mode base and limit are ignored; what matters
 * is the access byte (bits 40-47: present, ring 0, code or data, readable/writable) and for
 * code the L bit (bit 53: 64-bit) with D (bit 54) clear.
 */
boot_gdt:
	.quad	0
	/// SOLUTION BEGIN
	.quad	0x00af9a000000ffff	/* code: access 0x9a, flags G and L */
	.quad	0x00cf92000000ffff	/* data: access 0x92, flags G and D/B */
	/// SOLUTION END
	/// STARTER: .quad	0	/* TODO step 6: the 64-bit code segment descriptor */
	/// STARTER: .quad	0	/* TODO step 6: the data segment descriptor */
boot_gdt_end:

boot_gdt_ptr:			/* lgdt's operand while running at physical addresses */
	.word	boot_gdt_end - boot_gdt - 1
	.quad	boot_gdt
boot_gdt_ptr_high:		/* the same table, through the direct map */
	.word	boot_gdt_end - boot_gdt - 1
	.quad	boot_gdt + DIRECT_MAP_BASE

null_idt:			/* limit 0: every exception escalates to a reset */
	.word	0
	.long	0

	.section .boot.bss, "aw", @nobits
	.align 4096
	.globl boot_pml4
boot_pml4:	.space 4096
boot_pdpt_low:	.space 4096
boot_pdpt_high:	.space 4096
boot_pd:	.space 4096
boot_stack32:	.space 256
boot_stack32_top:
