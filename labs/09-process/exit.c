/*
 * exit and wait (see kernel/process.h): a process that ends becomes a zombie, and its parent
 * learns how it ended.
 *
 * Why zombies. When a program ends, the kernel gives back at once everything that costs
 * memory: its pages and page tables (lab 08's uspace_destroy, through the counts of step 2).
 * What stays is the slot, a few dozen bytes, holding the one thing the parent may still ask
 * for: the status. The slot goes when the parent waits (proc_reap). A parent that never
 * waits keeps its zombies until it ends itself; then they are orphans like its living
 * children, and go to init, whose whole job is to wait for them.
 *
 *   sh waits            hello exits               sh wakes, reaps
 *   sh: in wait    -->  hello: ZOMBIE, status  --> wait returns hello's pid and status;
 *   (blocked on         0x0300; sh woken           hello's slot UNUSED
 *    sh->waiters)
 *
 * The lost wakeup. wait looks for a zombie child, finds none, and blocks. If the child ended
 * between the look and the block, its wakeup found nobody waiting, and the parent sleeps
 * forever. With interrupts off from the look to the block (thread_block keeps them off until
 * the thread is switched away), no child can end in between: it would have to run.
 */
#include "compiler.h"
#include "irq.h"
#include "process.h"
#include "todo.h"

/* Step 6: a zombie, its children handed on, its parent told. */
void proc_exit(struct process *pr, int status)
{
	TODO("step 6: with interrupts off: status, PROC_ZOMBIE; move each child to proc_init()'s children (parent = init; NULL if there is none); wake the parent's waiters if there is a parent (the processes the kernel starts have none: NULL), and init's if it got a zombie");
}

/* Step 6, helper: pr's child with this pid (any child for -1), preferring one that has ended;
 * NULL if there is none. Interrupts are off. */
static __unused struct process *find_child(struct process *pr, int pid, bool *zombie)
{
	TODO("step 6: walk pr->children: a child with this pid (any for -1), a zombie if there is one; *zombie says whether it is");
}

/* Step 6: block until a child ends, reap it. */
int proc_wait(struct process *pr, int pid, int *status)
{
	TODO("step 6: with interrupts off, loop: find_child; none: -ECHILD; a zombie: interrupts back on, *status = proc_reap(it), return its pid; else thread_block(&pr->waiters) and look again");
}
