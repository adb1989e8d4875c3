/*
 * Frame reference counts (see kernel/frameref.h): one owner more, one fewer, and the frame
 * back to the buddy allocator when the last owner lets go.
 *
 * A count is a uint16_t in the kernel's table (frame_ref_slot). Changing it is a read, an add
 * and a write: preempted between the read and the write, a process would write back a count
 * that misses another's change (two drops that both read 2 and both write 1 leave a frame
 * that no space maps, never freed; two takes that lose one free a frame still mapped). So
 * each change runs with interrupts off.
 *
 *   fork of a 3-page parent:   counts 1 1 1  ->  take x3  ->  2 2 2
 *   the child exits:           drop x3       ->  1 1 1   (nothing freed)
 *   the parent exits:          drop x3       ->  0 0 0   (3 frames back to the buddy)
 */
#include "frameref.h"
#include "irq.h"
#include "panic.h"
/// STARTER: #include "todo.h"

/* Step 2: the count of the frame at pa (0 outside RAM). */
unsigned frame_ref_count(phys_addr_t pa)
{
	/// SOLUTION BEGIN
	uint16_t *c = frame_ref_slot(pa);

	return c ? *c : 0;
	/// SOLUTION END
	/// STARTER: TODO("step 2: *frame_ref_slot(pa), or 0 when it is NULL");
}

/* Step 2: one more owner of a counted frame. */
void frame_ref_take(phys_addr_t pa)
{
	/// SOLUTION BEGIN
	uint16_t *c = frame_ref_slot(pa);
	unsigned long flags = irq_save();

	if (!c || *c == 0) {
		irq_restore(flags);
		panic("frame_ref_take: frame 0x%lx has no count: it is free, or was never counted",
		      pa);
	}
	if (*c == FRAME_REF_MAX) {
		irq_restore(flags);
		panic("frame_ref_take: frame 0x%lx already has %u owners", pa, FRAME_REF_MAX);
	}
	(*c)++;
	irq_restore(flags);
	/// SOLUTION END
	/// STARTER: TODO("step 2: with interrupts off: panic if the count (frame_ref_slot) is missing or 0, or at FRAME_REF_MAX; else add one");
}

/* Step 2: one owner fewer; the last one frees the frame. */
void frame_ref_drop(phys_addr_t pa)
{
	/// SOLUTION BEGIN
	uint16_t *c = frame_ref_slot(pa);
	unsigned long flags = irq_save();

	if (!c || *c == 0) {
		irq_restore(flags);
		panic("frame_ref_drop: frame 0x%lx has no owner left: freed twice?", pa);
	}
	bool last = --*c == 0;
	irq_restore(flags);
	if (last)
		frame_ref_release(pa);
	/// SOLUTION END
	/// STARTER: TODO("step 2: with interrupts off: panic if the count is missing or 0; take one off; if that was the last owner, frame_ref_release(pa)");
}
