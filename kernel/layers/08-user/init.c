/*
 * Checkpoint 08 joins the kernel: programs in ring 3. The programs themselves are built from
 * user/ and put into the kernel image by layer.mk; program.c runs them.
 *
 * Bringing it up (user_layer_init), each call into lab code a LAB_STEP (layer.h):
 *   1. segments_init (step 1): the GDT with user segments and the TSS replace kernel/gdt.c's,
 *      interrupts off; tss_set_rsp0 once, to know it is written;
 *   2. syscall_init (step 2): SYSCALL on, entering at syscall_entry;
 *   3. the system calls of the layer into the table; every exception a program can cause,
 *      and the timer, through usertrap.c; the switch hook that loads each thread's address
 *      space and kernel stack (program.c); the ASLR generator seeded.
 * Programs need threads (each runs on one) and the kernel's page tables; without them, or
 * when step 1 or 2 reaches a TODO, the kernel goes on as at checkpoint 07 and
 * programs_unavailable() says why.
 */
#include "irq.h"
#include "kprintf.h"
#include "layer.h"
#include "layer_access.h"
#include "local.h"
#include "paging.h"
#include "segments.h"
#include "thread.h"

#define WHY_MAX KTRY_MSG_MAX

bool programs_up;
static bool segments_up, syscalls_up;
static char why[WHY_MAX] = "08-user: the layer was not brought up";
static char segments_why[WHY_MAX] = "08-user: the layer was not brought up";
static char syscalls_why[WHY_MAX] = "08-user: the layer was not brought up";

const char *programs_unavailable(void)
{
	return programs_up ? NULL : why;
}

const char *segments_unavailable(void)
{
	return segments_up ? NULL : segments_why;
}

const char *syscalls_unavailable(void)
{
	return syscalls_up ? NULL : syscalls_why;
}

static void bring_up_segments(void)
{
	unsigned long flags = irq_save();

	segments_up =
		LAB_STEP_WHY("08-user: segments_init", segments_why, WHY_MAX, segments_init()) &&
		LAB_STEP_WHY("08-user: tss_set_rsp0", segments_why, WHY_MAX, tss_set_rsp0(0));
	irq_restore(flags);
}

static void user_layer_init(void)
{
	if (!paging_ready || !thread_current()) {
		ksnprintf(why, WHY_MAX, "08-user: programs need %s (see the notes above)",
			  !paging_ready ? "the kernel's own page tables (lab 02)"
					: "threads (lab 07)");
		ksnprintf(segments_why, WHY_MAX, "%s", why);
		ksnprintf(syscalls_why, WHY_MAX, "%s", why);
		kprintf("user: %s\n", why);
		return;
	}
	bring_up_segments();
	syscalls_up = LAB_STEP_WHY("08-user: syscall_init", syscalls_why, WHY_MAX, syscall_init());
	if (!segments_up || !syscalls_up) {
		ksnprintf(why, WHY_MAX, "%s", segments_up ? syscalls_why : segments_why);
		return;
	}
	syscalls_register_layer();
	usertrap_init();
	program_switch_hook_init();
	aslr_boot_seed();
	programs_up = true;
	kprintf("user: ring 3 is open: user code 0x%x, user data 0x%x, TSS 0x%x; SYSCALL enters "
		"at syscall_entry; %zu programs in the image\n",
		SEG_USER_CODE | SEG_RPL_USER, SEG_USER_DATA | SEG_RPL_USER, SEG_TSS,
		user_image_count());
}

LAYER(8, "08-user", "programs in ring 3", user_layer_init, user_tour);
