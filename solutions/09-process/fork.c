/*
 * fork (see kernel/process.h): a second process where there was one, the same program at the
 * same instruction, told apart only by what fork returns.
 *
 * The trick is the system call frame (kernel/syscall.h). The parent entered the kernel with
 * SYSCALL; its frame holds every register it had, rip pointing after the syscall instruction.
 * The child starts its life with a copy of that frame: it "returns" from the same fork, at the
 * same place, with the same registers and the same (shared) memory, except rax, which is 0 in
 * the child and the child's pid in the parent:
 *
 *     parent                                   child (a copy of the frame, rax = 0)
 *     pid = fork();    rax = 7  <--+---------> rax = 0
 *     if (pid == 0) ...            |
 *                                  +-- the same rip, rsp, rbx, rbp, r12-r15
 *
 * Everything is taken before anything is launched, and each failure gives back what was
 * taken: a fork that fails leaves the table, the frames and the parent as they were.
 */
#include "cow.h"
#include "process.h"
/// STARTER: #include "todo.h"

/* Step 3: a slot, a program with a copy-on-write space, the parent's frame, launched. */
int proc_fork(struct process *parent, const struct syscall_frame *f)
{
	/// SOLUTION BEGIN
	struct process *child = proc_alloc(parent);

	if (!child)
		return -EAGAIN;
	int r = proc_attach(child, parent->prog->name);
	if (r == 0)
		r = uspace_fork(&child->prog->space, &parent->prog->space);
	if (r == 0) {
		child->prog->start_frame = *f;
		child->prog->start_frame.rax = 0; /* what fork returns in the child */
		r = proc_launch(child);
	}
	if (r < 0) {
		proc_discard(child);
		return r;
	}
	return child->pid;
	/// SOLUTION END
	/// STARTER: TODO("step 3: proc_alloc(parent) (NULL: -EAGAIN); proc_attach with the parent's program name; uspace_fork into the child's space; its start_frame = *f with rax 0; proc_launch; on any error proc_discard and return it; else the child's pid");
}
