/*
 * Processes (checkpoint 09): a program of lab 08 with a place in a family. A process has a
 * pid, a parent, children, and one program (its address space and its thread); it is made by
 * fork, changes what it runs with exec, ends with exit (or a fault), and stays in the table
 * as a zombie, holding its status, until its parent waits for it. Lab 09 writes it
 * (labs/09-process/): the table (step 1), fork (step 3), exec (step 5), exit and wait (step
 * 6); frameref.h (step 2) and cow.h (steps 3, 4) hold the rest. The kernel gives the pieces
 * at the end of this file (kernel/layers/09-process).
 *
 * A process's life:
 *
 *     proc_alloc               fork: proc_launch           its program ends: proc_exit
 *   UNUSED -------> NEW ---------------------------> RUNNING --------------------> ZOMBIE
 *     ^        (a slot, a parent;         (runs, sleeps, waits,          (pages given back; the
 *     |         no program yet)            execs other programs)          slot keeps its status)
 *     |                                                                          |
 *     +------------------------ proc_reap, in the parent's wait ----------------+
 *
 * A family, with the links of struct process:
 *
 *     init (pid 1) <---------------------------------- parent ---+
 *       children: sh -> (orphans handed over)                     |
 *                 |                                               |
 *                 v                                               |
 *     sh (pid 2)                                                  |
 *       children: hello (pid 5) <-> forktest (pid 6)          a child whose parent
 *                                     children: ...           ended: an orphan, given
 *                                                             to init, which reaps it
 *
 * Locking: on one CPU, interrupts off (irq_save) is the lock of the table and of every link:
 * a process is preempted like any thread, and another one (its child, ending) may change the
 * same lists meanwhile.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "elf.h"
#include "list.h"
#include "process_abi.h"
#include "program.h"
#include "syscall.h"
#include "thread.h"

#define PROC_MAX 64 /* processes at once: the table's slots (fork beyond: -EAGAIN) */

enum proc_state {
	PROC_UNUSED,  /* a free slot */
	PROC_NEW,     /* taken (proc_alloc): a parent, no program running yet */
	PROC_RUNNING, /* its program runs (or sleeps, or waits): anything but ended */
	PROC_ZOMBIE,  /* its program has ended; the slot keeps its status until it is waited for */
};

struct process {
	int pid; /* its program's pid (0 until it has one) */
	enum proc_state state;
	struct process *parent;	   /* NULL: started by the kernel, or an orphan with no init */
	struct list_node children; /* its children, linked through their `sibling` */
	struct list_node sibling;  /* in parent->children */
	struct program *prog;	   /* its program (program.h): space, thread, how it ended */
	int status;		   /* ZOMBIE: what wait reports (process_abi.h's WAIT_*) */
	struct wait_queue waiters; /* its thread, blocked in wait until a child ends */
	bool kernel_waits;	   /* started by the kernel (proc_spawn), which waits for it */
};

/* The table: slot i is proc_table[i]. */
extern struct process proc_table[PROC_MAX];

/* ---- lab 09, step 1 (labs/09-process/proc.c) --------------------------------------------- */

/*
 * A free slot of the table (state PROC_UNUSED), made a new process: every field cleared,
 * state PROC_NEW, its children list and wait queue empty, parent set and, if parent is not
 * NULL, the new process added to the end of parent's children. Returns NULL when every slot
 * is taken. With interrupts off while it looks and links.
 */
struct process *proc_alloc(struct process *parent);

/*
 * Give the slot back: pr leaves its parent's children (if it has a parent) and becomes
 * PROC_UNUSED. pr must have no children left (panic "proc_free: ..." otherwise: they would
 * point at a free slot). Its program is not touched (proc_reap or proc_discard frees it).
 */
void proc_free(struct process *pr);

/* ---- lab 09, step 3 (labs/09-process/fork.c) --------------------------------------------- */

/*
 * fork, for the process parent whose system call frame is f: a child with a copy-on-write
 * copy of parent's address space (uspace_fork), parent's output, and f's registers as its
 * first (rax 0: fork returns 0 in the child), launched. Returns the child's pid, or -EAGAIN
 * (the table is full) or -ENOMEM (a program record, a table or a thread could not be had);
 * then nothing of the child is left.
 */
int proc_fork(struct process *parent, const struct syscall_frame *f);

/* ---- lab 09, step 5 (labs/09-process/exec.c) --------------------------------------------- */

/* The arguments of exec, copied into the kernel: argv[0 .. argc) point into strings. */
struct exec_args {
	int argc;
	const char *argv[USER_ARGC_MAX + 1]; /* argv[argc] is NULL */
	char strings[USER_ARGS_MAX];	     /* the strings, one after the other, with NULs */
};

/*
 * Copy the program's argv (an array of string pointers at uargv in s, ended by NULL) into *a.
 * Returns 0, -EFAULT (the array or a string is not readable), or -E2BIG (more than
 * USER_ARGC_MAX strings, or more than the strings room holds). uargv 0 means no arguments.
 */
int exec_copy_args(const struct uspace *s, uint64_t uargv, struct exec_args *a);

/*
 * Replace pr's program with the image (called name) and arguments argv[0 .. argc), in the
 * system call whose frame is f: build the new space first (program_load_space); if that
 * fails, return its error (-ENOEXEC, -ENOMEM, -E2BIG) with pr unchanged. Else make the new
 * space pr's and the live one, give back the old, take the new name, and put the new
 * program's first registers into *f: the system call then "returns" into the new program.
 * Returns 0.
 */
int proc_exec(struct process *pr, const char *name, const void *image, size_t size, int argc,
	      const char *const argv[], struct syscall_frame *f);

/* ---- lab 09, step 6 (labs/09-process/exit.c) --------------------------------------------- */

/*
 * pr's program has ended with this status (WAIT_*), its pages given back: the kernel calls
 * this on pr's own thread. pr becomes a zombie holding status; its children go to proc_init()
 * (the end of its list), or lose their parent when there is none (or pr is init itself); the
 * thread of pr's parent is woken if it waits, and init's if it got a zombie. All with
 * interrupts off.
 */
void proc_exit(struct process *pr, int status);

/*
 * wait and waitpid for pr: a child of pr that is a zombie, with this pid (any child for pid
 * -1): reap it (proc_reap), store its status in *status and return its pid. If pr has such
 * children but none has ended yet, block (thread_block on pr->waiters) until one does.
 * -ECHILD if pr has no child at all (pid -1) or none with this pid.
 */
int proc_wait(struct process *pr, int pid, int *status);

/* ---- given (kernel/layers/09-process) ---------------------------------------------------- */

/* The process whose program runs now, or NULL (a kernel thread, or a program of lab 08's). */
struct process *proc_current(void);

/* The process orphans go to (the first process, init), or NULL when there is none. */
struct process *proc_init(void);

/* Slots in use (not PROC_UNUSED). */
size_t proc_count(void);

/*
 * Give pr (NEW) a program called name with an empty address space (uspace_init), writing
 * where pr's parent writes: pr->prog, pr->pid. Returns 0, or -ENOMEM.
 */
int proc_attach(struct process *pr, const char *name);

/*
 * Start pr's program (its thread, from prog->start_frame): PROC_RUNNING. 0, or -ENOMEM. From
 * then on pr may run at any moment, before its launcher takes another step: whatever it
 * starts with must be set before.
 */
int proc_launch(struct process *pr);

/*
 * For the tests: a function proc_launch calls after each launch that worked, on the thread that
 * launched. The tests of fork set one that yields, so that every child runs before its parent
 * goes on: a fork that still changes the child after launching it fails every time, and not
 * only when a timer tick falls in between. NULL: none. Returns the hook it replaces.
 */
typedef void (*proc_launch_hook_t)(struct process *pr);
proc_launch_hook_t proc_set_launch_hook(proc_launch_hook_t hook);

/* Undo proc_alloc and proc_attach for a process never launched: its program and pages go,
 * then its slot (proc_free). */
void proc_discard(struct process *pr);

/* For a ZOMBIE child: wait for its thread to finish, free its program, free its slot
 * (proc_free). Returns its status. */
int proc_reap(struct process *child);

/* What wait reports for a program that ended as p did (WAIT_*). */
int proc_status_of(const struct program *p);

/* NULL if processes can run at this checkpoint, else why not. */
const char *processes_unavailable(void);

/*
 * For the kernel (the tour, tests): start the image called name as a process of its own
 * (no parent), writing to out (NULL: the console), and make it init, the one orphans go to,
 * if as_init. Returns it, or NULL with *err: -ENOSYS (processes_unavailable), -ENOENT,
 * -ENOEXEC, -E2BIG, -EAGAIN, -ENOMEM.
 */
struct process *proc_spawn(const char *name, int argc, const char *const argv[],
			   struct program_output *out, bool as_init, int *err);

/*
 * Wait up to ms milliseconds for a process proc_spawn started to end, then reap it and return
 * true with its status in *status; false if it is still running after ms.
 */
bool proc_join(struct process *pr, uint64_t ms, int *status);
