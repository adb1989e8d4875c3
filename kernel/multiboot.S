/*
 * The multiboot (version 1) header that lets QEMU's -kernel load us. The "a.out kludge" flag
 * gives the load addresses here explicitly, which QEMU needs for a 64-bit ELF; kernel.ld
 * computes them. The loader jumps to _start (labs/01-boot/boot.S) in 32-bit protected mode
 * with paging off, EAX = 0x2badb002 and EBX = the physical address of the boot information.
 */
#define MB_MAGIC 0x1badb002
#define MB_PAGE_ALIGN (1 << 0)	/* load modules on page boundaries */
#define MB_MEMORY_INFO (1 << 1)	/* we want the memory map */
#define MB_AOUT_KLUDGE (1 << 16) /* the address fields below are valid */
#define MB_FLAGS (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE)

	.section .multiboot, "a"
	.align 4
multiboot_header:
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)	/* checksum: the three fields add up to 0 */
	.long	multiboot_header	/* header_addr: where this header is loaded */
	.long	__image_phys_start	/* load_addr: start of the image */
	.long	__load_phys_end		/* load_end_addr: end of the data in the file */
	.long	__image_phys_end	/* bss_end_addr: end of the image once .bss is zeroed */
	.long	_start			/* entry_addr */
