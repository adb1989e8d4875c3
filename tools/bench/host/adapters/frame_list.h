/*
 * framebench adapter and reference: the simplest frame allocator there is, a stack of free
 * frames linked through the frames themselves (as xv6's kalloc does). Single frames only,
 * O(1) both ways: the floor a buddy allocator's per-frame cost is compared with.
 */
#include <stddef.h>

#define ADAPTER_MAX_ORDER   0
#define ADAPTER_FRAME_BYTES 4096

struct frame_run {
	struct frame_run *next;
};

static struct frame_run *adapter_free_list;

static void adapter_init(void *base, size_t nframes)
{
	adapter_free_list = NULL;
	for (size_t i = nframes; i-- > 0;) { /* the lowest frame ends up first */
		struct frame_run *r = (struct frame_run *)((char *)base + i * ADAPTER_FRAME_BYTES);
		r->next = adapter_free_list;
		adapter_free_list = r;
	}
}

static inline void *adapter_alloc(unsigned order)
{
	struct frame_run *r = adapter_free_list;

	if (order != 0 || !r)
		return NULL;
	adapter_free_list = r->next;
	return r;
}

static inline void adapter_free(void *p, unsigned order)
{
	struct frame_run *r = p;

	(void)order;
	r->next = adapter_free_list;
	adapter_free_list = r;
}
