/*
 * The process table (see kernel/process.h): PROC_MAX slots, each a struct process that is
 * free (PROC_UNUSED) or one process, from its fork to the wait that reaps it.
 *
 * A fixed table, as in xv6 and early Unix, rather than records from kmalloc: its size is the
 * limit on processes (a fork bomb fills it and gets -EAGAIN, and the kernel goes on with the
 * memory it had), and a slot is found again by its index. The family is a tree of lists: each
 * process has a list of its children, linked through their `sibling` nodes, and a pointer up.
 *
 *   proc_alloc(sh):  slot 5 was free  ->  slot 5: NEW, parent sh, sibling at the end of
 *                                         sh's children: [hello, forktest, (5)]
 *   proc_free(5):    slot 5 leaves sh's children  ->  UNUSED
 */
#include <string.h>
#include "irq.h"
#include "panic.h"
#include "process.h"
#include "todo.h"

struct process proc_table[PROC_MAX];

/* Step 1: the first free slot, a new process in it, linked to its parent. */
struct process *proc_alloc(struct process *parent)
{
	TODO("step 1: with interrupts off, find a slot of proc_table in state PROC_UNUSED; clear it, PROC_NEW, list_init(&children), wait_queue_init(&waiters), parent, and list_add_tail(&sibling, &parent->children) if parent; NULL when none is free");
}

/* Step 1: out of the parent's children, and the slot free again. */
void proc_free(struct process *pr)
{
	TODO("step 1: with interrupts off: panic if pr has children; list_del(&pr->sibling) if it has a parent; parent NULL; state PROC_UNUSED");
}
