/*
 * layout: where this start of the program put its parts (ASLR: different at every start).
 * Asks the kernel (SYS_layout) and checks the answer against addresses it sees itself: its
 * code, a local variable, the break. Exits 0 if they agree, else with one bit per mismatch.
 */
#include "user.h"

static int counter = 1; /* in .data */

int main(int argc, char **argv)
{
	struct user_layout l;
	int local = 0, bad = 0;

	if (layout(&l) < 0) {
		printf("layout: SYS_layout failed\n");
		return 1;
	}
	uint64_t code = (uint64_t)main, data = (uint64_t)&counter, stack = (uint64_t)&local;
	uint64_t brk = (uint64_t)sbrk(0);

	printf("layout: image at 0x%lx, data at 0x%lx, heap from 0x%lx, stack top "
	       "0x%lx (a local at 0x%lx)\n",
	       l.image_start, data, l.heap_start, l.stack_top, stack);
	if (code < l.image_start || code >= l.image_end || data < l.image_start ||
	    data >= l.image_end)
		bad |= 1;
	if (stack < l.stack_bottom || stack >= l.stack_top)
		bad |= 2;
	if (brk != l.brk || l.brk != l.heap_start)
		bad |= 4;
	if (l.entry < l.image_start || l.entry >= l.image_end)
		bad |= 8;
	if (bad)
		printf("layout: what SYS_layout says and what the program sees differ (0x%x)\n",
		       bad);
	return bad + counter - 1;
}
