/*
 * kernel_main: the kernel's life after boot.S, the same at every checkpoint:
 *
 *   1. record the CPU state the boot code left, start the console, read the command line;
 *   2. bring up each layer of this checkpoint, 01 to N, in order (kernel/layer.h);
 *   3. run what the command line asks for: tests (ktest=...), one scenario (scenario=...),
 *      or by default the tour of what this checkpoint can do; then leave QEMU.
 *
 * A layer whose functions still hold TODOs is skipped with a note rather than stopping the
 * kernel, so the tests of the layers below it still run.
 */
#include "boot.h"
#include "cmdline.h"
#include "gdt.h"
#include "kprintf.h"
#include "ktest.h"
#include "layer.h"
#include "memlayout.h"
#include "panic.h"
#include "qemu.h"
#include "serial.h"

struct boot_cpu_state boot_cpu;
const struct multiboot_info *boot_mbi;

static void record_boot_cpu_state(void)
{
	boot_cpu.cr0 = read_cr0();
	boot_cpu.cr3 = read_cr3();
	boot_cpu.cr4 = read_cr4();
	boot_cpu.efer = rdmsr(MSR_EFER);
	boot_cpu.cs = read_cs();
	sgdt(&boot_cpu.gdtr);
	/* The boot tables still map the first GiB at its own address, so a low base is readable. */
	uint64_t base = boot_cpu.gdtr.base;
	if (base < BOOT_MAP_SIZE)
		base += DIRECT_MAP_BASE;
	if ((boot_cpu.cs & ~7u) + 7u <= boot_cpu.gdtr.limit)
		boot_cpu.cs_descriptor = *(const uint64_t *)(base + (boot_cpu.cs & ~7u));
}

static void read_command_line(uint32_t mb_magic, uint64_t mbi_phys)
{
	if (mb_magic != MULTIBOOT_BOOTLOADER_MAGIC)
		panic("kernel_main: not started by a multiboot loader (eax was 0x%x, not 0x%x)",
		      mb_magic, MULTIBOOT_BOOTLOADER_MAGIC);
	boot_mbi = phys_to_virt(mbi_phys);
	if (boot_mbi->flags & MULTIBOOT_INFO_CMDLINE)
		cmdline_set(phys_to_virt(boot_mbi->cmdline));
}

void kernel_main(uint32_t mb_magic, uint64_t mbi_phys)
{
	record_boot_cpu_state();
	serial_init();
	kprintf("\nteachos: checkpoint %s (%s)\n", build_checkpoint_name, build_layers);
	read_command_line(mb_magic, mbi_phys);
	gdt_init();
	layers_init();

	bool ok = true;
	if (cmdline_has("ktest") || cmdline_has("ktest.list"))
		ok = ktest_main();
	else if (!ktest_scenario_main(&ok))
		layers_tour();
	qemu_exit(ok ? QEMU_EXIT_SUCCESS : QEMU_EXIT_FAILURE);
}
