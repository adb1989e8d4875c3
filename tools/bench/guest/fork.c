/*
 * Scenario bench_fork: fork + exit + wait of a process with 4 MiB of memory it has written
 * to, with copy-on-write (lab 09's fork, as the kernel runs it) and with an eager copy
 * (checkpoint 09 on). It runs the program forkbench of user/ twice, which forks 20 times and
 * waits for each child (user/forkbench.c), and prints its line each time:
 *     bench: fork label=cow kib=4096 forks=20 ticks=T
 *     bench: fork label=eager kib=4096 forks=20 ticks=T
 * Under -icount (icount.h) ticks / forks is the instructions of one fork, exit and wait.
 *
 * The eager run swaps the fork system call for fork_eager below for the length of the run:
 * the same steps as lab 09's proc_fork, but the child gets a copy of every page at once, as
 * a kernel without copy-on-write would give it.
 *
 * The lines marked ADAPT follow the interfaces of kernel/process.h and kernel/uspace.h; if
 * they change and the bench kernel of checkpoint 09 no longer builds, `make bench` says so:
 * fix those lines.
 */
#include "icount.h"
#include "kprintf.h"
#include "ktest.h"

#if CHECKPOINT >= 9 && __has_include("process.h")
#include <string.h>
#include "cow.h"
#include "paging.h"
#include "process.h"

#define FORKS  "20"
#define KIB    "4096"
#define RUN_MS 120000 /* far more than either run takes */

struct eager_copy {
	struct uspace *child;
	int err;
};

/* The parent's page at va into the child: a new frame with the same bytes. */
static bool copy_page(uint64_t va, uint64_t *pte, void *arg)
{
	struct eager_copy *c = arg;
	phys_addr_t copy = kframe_alloc();
	uint64_t flags = *pte & VM_MAP_FLAGS;

	if (!copy) {
		c->err = -ENOMEM;
		return false;
	}
	if (*pte & PTE_COW) /* the parent's page is copy-on-write: the copy is plainly writable */
		flags |= PTE_WRITABLE;
	memcpy(phys_to_virt(copy), phys_to_virt(*pte & PTE_ADDR_MASK), PAGE_SIZE);
	if (vm_map(&c->child->vm, va, copy, flags) < 0) { /* ADAPT */
		kframe_free(copy);
		c->err = -ENOMEM;
		return false;
	}
	c->child->pages++;
	return true;
}

/* fork with an eager copy: proc_fork's steps, every page copied instead of shared. */
static long fork_eager(struct syscall_frame *f)
{
	struct process *parent = proc_current();
	struct process *child = parent ? proc_alloc(parent) : NULL; /* ADAPT */

	if (!child)
		return parent ? -EAGAIN : -ENOSYS;
	int r = proc_attach(child, parent->prog->name); /* ADAPT */
	if (r == 0) {
		struct eager_copy c = {&child->prog->space, 0};

		uspace_walk(&parent->prog->space, 0, USER_TOP, copy_page, &c); /* ADAPT */
		child->prog->space.layout = parent->prog->space.layout;
		r = c.err;
	}
	if (r == 0) {
		child->prog->start_frame = *f;
		child->prog->start_frame.rax = 0;
		r = proc_launch(child); /* ADAPT */
	}
	if (r < 0) {
		proc_discard(child); /* ADAPT */
		return r;
	}
	return child->pid;
}

static void run(const char *label)
{
	const char *const argv[] = {"forkbench", label, KIB, FORKS};
	int err = 0, status;
	struct process *p = proc_spawn("forkbench", 4, argv, NULL, false, &err); /* ADAPT */

	if (!p) {
		kprintf("bench: fork failed to start the program forkbench (error %d)\n", err);
		return;
	}
	if (!proc_join(p, RUN_MS, &status)) /* ADAPT */
		kprintf("bench: fork forkbench %s still runs after %d ms\n", label, RUN_MS);
}

KTEST_SCENARIO(bench_fork)
{
	syscall_fn_t cow = syscall_table[SYS_fork];

	run("cow");
	syscall_table[SYS_fork] = fork_eager;
	run("eager");
	syscall_table[SYS_fork] = cow;
}

#endif
