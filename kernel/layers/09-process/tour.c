/*
 * Layer 09's part of the tour: copy-on-write seen from the kernel (a space forked, a page
 * written on each side, the frames counted), then init and the shell, with a session the
 * tour types. On a terminal (console.interactive), the shell is then the reader's.
 */
#include "cow.h"
#include "frameref.h"
#include "heap.h"
#include "kprintf.h"
#include "layer.h"
#include "local.h"
#include "paging.h"
#include "program_hooks.h"
#include "trap.h"

/* What the tour types into the shell, a command a line. */
static const char session[] = "ls\n"
			      "echo exec gives each command a program of its own\n"
			      "hello from the shell\n"
			      "fault null-write\n"
			      "nosuch\n"
			      "forktest many 20\n";

/* The page of the stack's top in both spaces: its frame, count and permissions, in words. */
static void show_page(const char *who, struct uspace *s, uint64_t va)
{
	uint64_t *pte = uspace_pte(s, va);
	phys_addr_t pa = *pte & PTE_ADDR_MASK;

	kprintf("    %-7s frame 0x%08lx, count %u, %s%s\n", who, pa, frame_ref_count(pa),
		*pte & PTE_WRITABLE ? "writable" : "read-only", *pte & PTE_COW ? ", PTE_COW" : "");
}

/*
 * "<n> frames free", and how that compares with `before` (when heap_before was the kernel
 * heap's size): the same, or the difference and, as far as it is known, why: the kernel heap
 * only grows, and keeps the pages it grew by.
 */
static void say_frames(uint64_t before, size_t heap_before)
{
	uint64_t now = kframes_free(), grew = (kheap_size() - heap_before) / PAGE_SIZE;

	if (now >= before) {
		kprintf("%lu frames free, %s (%lu)\n", now,
			now == before ? "as before" : "more than before", before);
		return;
	}
	kprintf("%lu frames free, %lu fewer than before (%lu)", now, before - now, before);
	if (grew == before - now)
		kprintf(": the kernel heap grew by as many pages, and keeps them\n");
	else if (grew)
		kprintf(", %lu of them pages the kernel heap grew by (it keeps them)\n", grew);
	else
		kprintf("\n");
}

static void tour_cow(void)
{
	static const char *const argv[] = {"hello"};
	const struct user_image *img = user_image_find("hello");
	struct uspace parent, child;
	struct syscall_frame start;
	uint64_t at_start = kframes_free();
	size_t heap = kheap_size();

	if (!img || program_load_space(&parent, "hello", img->data, img->size, 1, argv, &start)) {
		kprintf("no space to show copy-on-write with\n");
		return;
	}
	uint64_t va = parent.layout.stack_top - PAGE_SIZE, before = kframes_free();
	if (uspace_init(&child) < 0) {
		uspace_destroy(&parent);
		return;
	}
	int r = uspace_fork(&child, &parent);
	uint64_t forked = kframes_free();
	kprintf("hello loaded in a space: %lu pages. uspace_fork copies it into another:\n",
		parent.pages);
	kprintf("  %lu frames taken (page tables only), %lu pages shared%s\n", before - forked,
		child.pages, r ? ": it failed" : "");
	kprintf("  the top page of the stack in both:\n");
	show_page("parent", &parent, va);
	show_page("child", &child, va);
	if (r == 0 && cow_fault(&child, va, PF_PRESENT | PF_WRITE | PF_USER) == 0) {
		uint64_t copied = kframes_free();
		kprintf("  the child writes it: a copy-on-write fault, %lu frame taken for the "
			"child's copy:\n",
			forked - copied);
		show_page("parent", &parent, va);
		show_page("child", &child, va);
		if (cow_fault(&parent, va, PF_PRESENT | PF_WRITE | PF_USER) == 0) {
			kprintf("  then the parent writes it: no other owner, so no copy (%lu frames "
				"taken):\n",
				copied - kframes_free());
			show_page("parent", &parent, va);
		}
	}
	uspace_destroy(&child);
	uspace_destroy(&parent);
	kprintf("  both spaces destroyed: ");
	say_frames(at_start, heap);
}

static void tour_shell(void)
{
	static const char *const argv[] = {"init", "sh"};
	uint64_t frames = kframes_free();
	size_t heap = kheap_size(), left;
	int err = 0, status;
	char how[64];

	kprintf("\ninit starts the shell, which reads the console; the tour types a few "
		"commands%s\n",
		tty_interactive() ? ", then the shell is yours (help says what it knows; Ctrl-D "
				    "or exit ends it, Ctrl-C a program it runs)"
				  : " (on a terminal, `make qemu` then gives you the shell)");
	tty_type(session);
	tty_start();
	struct process *init = proc_spawn("init", 2, argv, NULL, true, &err);
	if (!init) {
		tty_stop();
		kprintf("init could not start: error %d\n", err);
		return;
	}
	int pid = init->pid;
	proc_join(init, UINT64_MAX, &status);
	tty_stop();
	if (WAIT_EXITED(status))
		ksnprintf(how, sizeof(how), "exited with status %d", WAIT_EXIT_CODE(status));
	else if (WAIT_FAULTED(status))
		ksnprintf(how, sizeof(how), "was ended by exception %d", WAIT_FAULT_VECTOR(status));
	else
		ksnprintf(how, sizeof(how), "was ended by the kernel");
	left = proc_count();
	if (left)
		kprintf("init (pid %d) %s; %zu %s not reaped: ", pid, how, left,
			left == 1 ? "process is" : "processes are");
	else
		kprintf("init (pid %d) %s; every process reaped: ", pid, how);
	say_frames(frames, heap);
}

void procs_tour(void)
{
	const char *why = processes_unavailable();

	if (why) {
		kprintf("no processes yet: %s\n", why);
		return;
	}
	LAB_STEP("09-process: the tour", tour_cow(); tour_shell());
}
