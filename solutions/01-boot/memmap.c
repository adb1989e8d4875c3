/*
 * Reading the boot loader's memory map (see kernel/memmap.h). The multiboot loader leaves a
 * list of variable-size entries at mbi->mmap_addr; each starts with its own size, not
 * counting the size field itself.
 */
#include "kprintf.h"
/// STARTER: #include "todo.h"
#include "memlayout.h"
#include "memmap.h"

struct memmap boot_memmap;

/* Steps 10 and 11: copy the regions, then print them and the total. */
int memmap_init(const struct multiboot_info *mbi)
{
	/// SOLUTION BEGIN
	struct memmap *m = &boot_memmap;

	m->count = 0;
	m->usable_bytes = 0;
	if (!(mbi->flags & MULTIBOOT_INFO_MEM_MAP))
		return -1;

	uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
	while (p < end && m->count < MEMMAP_MAX) {
		const struct multiboot_mmap_entry *e = phys_to_virt(p);

		if (e->len) { /* loaders may pad the list with empty entries */
			m->regions[m->count++] = (struct memmap_region){e->addr, e->len, e->type};
			if (e->type == MEMMAP_USABLE)
				m->usable_bytes += e->len;
		}
		p += e->size + sizeof(e->size);
	}

	for (int i = 0; i < m->count; i++) {
		const struct memmap_region *r = &m->regions[i];
		kprintf("memmap: [0x%016lx-0x%016lx] %s\n", r->base, r->base + r->len - 1,
			memmap_type_name(r->type));
	}
	kprintf("memmap: %lu KiB usable\n", m->usable_bytes / 1024);
	return m->count;
	/// SOLUTION END
	/// STARTER: TODO("steps 10-11: copy each non-empty mmap entry into boot_memmap, add up the usable bytes, print each region and the total");
}
