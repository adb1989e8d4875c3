/*
 * Checkpoint 09 joins the kernel: processes, on top of layer 08's programs.
 *
 * Bringing it up (proc_layer_init), each call into lab code a LAB_STEP (layer.h):
 *   1. processes need programs: without them (lab 08 not done) the kernel goes on as at
 *      checkpoint 08, and processes_unavailable() says why;
 *   2. the table of frame counts (frames.c), taken from the buddy before anyone shares a
 *      frame;
 *   3. lab 09's step 2 on one frame (take, count, drop, the last drop freeing it): if it
 *      works, the counted frame source goes in front of the buddy; a TODO, or counts that
 *      do not count, and the kernel keeps its frames as they were;
 *   4. lab 09's step 1 on one slot (proc_alloc, proc_free); if it works, the system calls of
 *      the layer, the page fault handler and write hook of copy-on-write (pagefault.c), and
 *      the hook that hears of every program's end (procs.c).
 * fork's, exec's and wait's own TODOs are met when a process first calls them: that program
 * ends, with the note, and the kernel goes on.
 */
#include "frameref.h"
#include "kprintf.h"
#include "layer.h"
#include "layer_access.h"
#include "local.h"
#include "paging.h"

#define WHY_MAX KTRY_MSG_MAX

bool processes_up;
static bool counts_up;
static char why[WHY_MAX] = "09-process: the layer was not brought up";
static char counts_why[WHY_MAX] = "09-process: the layer was not brought up";
static struct process *probe;
static const char *problem;

const char *processes_unavailable(void)
{
	return processes_up ? NULL : why;
}

const char *frame_counts_unavailable(void)
{
	return counts_up ? NULL : counts_why;
}

/* Step 1 on one slot: a new process, then the slot free again. */
static void check_table(void)
{
	probe = proc_alloc(NULL);
	if (!probe || probe->state != PROC_NEW || probe->parent)
		problem = "proc_alloc(NULL) gives no PROC_NEW process without a parent";
	else {
		proc_free(probe);
		if (probe->state != PROC_UNUSED)
			problem = "proc_free leaves the slot in use";
	}
}

/* Step 2 on one frame; if it stops half-way, the frame goes back as it came. */
static bool check_counts(void)
{
	phys_addr_t pa = kframe_alloc();

	if (!pa) {
		ksnprintf(why, WHY_MAX, "09-process: no frame left to check the counts with");
		return false;
	}
	problem = NULL;
	bool done = LAB_STEP_WHY("09-process: frame_ref_take, frame_ref_drop", why, WHY_MAX,
				 problem = frame_refs_check(pa));
	if (done && !problem)
		return true;
	uint16_t *c = frame_ref_slot(pa);
	if (c && *c) { /* not given back by the last drop */
		*c = 0;
		kframe_free(pa);
	}
	if (problem) {
		ksnprintf(why, WHY_MAX, "09-process: step 2 (labs/09-process/frameref.c): %s",
			  problem);
		kprintf("proc: %s\n", why);
	}
	return false;
}

static void proc_layer_init(void)
{
	const char *no = programs_unavailable();

	if (no) {
		ksnprintf(why, WHY_MAX, "09-process: processes need programs: %s", no);
		ksnprintf(counts_why, WHY_MAX, "%s", why);
		kprintf("proc: %s\n", why);
		return;
	}
	if (!frame_refs_init()) {
		ksnprintf(why, WHY_MAX, "09-process: no memory for the table of frame counts");
		ksnprintf(counts_why, WHY_MAX, "%s", why);
		return;
	}
	if (!check_counts()) {
		ksnprintf(counts_why, WHY_MAX, "%s", why);
		return;
	}
	frame_refs_install();
	counts_up = true;
	problem = NULL;
	if (!LAB_STEP_WHY("09-process: proc_alloc, proc_free", why, WHY_MAX, check_table()))
		return;
	if (problem) {
		ksnprintf(why, WHY_MAX, "09-process: step 1 (labs/09-process/proc.c): %s", problem);
		kprintf("proc: %s\n", why);
		return;
	}
	proc_syscalls_register();
	cow_handlers_init();
	procs_end_hook_init();
	processes_up = true;
	/* What boot checked (steps 1 and 2), no more: fork and the rest meet their first caller. */
	kprintf("proc: processes are up: a table of %d, the frames counted; %s\n", PROC_MAX,
		tty_interactive() ? "the console is a terminal: the shell reads the keyboard"
				  : "the console's input is what the kernel types");
}

LAYER(9, "09-process", "processes: fork, exec, wait", proc_layer_init, procs_tour);
