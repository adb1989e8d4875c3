/*
 * Address space layout randomization (see kernel/aslr.h): where the randomness comes from,
 * and how a program's image, heap and stack are placed with it.
 *
 * A random page in a range. [lo, hi] holds (hi - lo) / PAGE_SIZE + 1 page addresses; take
 * aslr_random() modulo that count and add it, in pages, to lo. With 2^28 pages and 64 random
 * bits the modulo's bias (some values one draw in 2^36 likelier) does not matter here.
 *
 *   load_base  in [0x400000, 0x10000000000 - hi]   e.g. 0x000000b71e4c3000
 *   heap_start = image_end + 0 .. 2^18 - 1 pages    e.g. image_end + 0x2f41d000
 *   stack_top  in [0x7f0000000000, 0x7fffffffe000]  e.g. 0x00007f3c90a55000
 */
#include "aslr.h"
#include "compiler.h"
/// STARTER: #include "todo.h"
#include "uspace.h"

#define CPUID_FEATURES	 0x1u
#define CPUID_ECX_RDRAND (1u << 30)

/* Step 8: RDRAND if the CPU has it (and it delivers), else the time-stamp counter. */
uint64_t aslr_entropy(void)
{
	/// SOLUTION BEGIN
	uint32_t a, b, c, d;

	__asm__ volatile("cpuid"
			 : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(CPUID_FEATURES), "c"(0));
	if (c & CPUID_ECX_RDRAND) {
		for (int i = 0; i < ASLR_RDRAND_TRIES; i++) {
			uint64_t v;
			uint8_t ok;

			__asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) : : "cc");
			if (ok)
				return v;
		}
	}
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
	/// SOLUTION END
	/// STARTER: TODO("step 8: cpuid leaf 1: if ECX bit 30, rdrand up to ASLR_RDRAND_TRIES times (CF set: got one); else (or if it never did) rdtsc");
}

/* Step 8, helper: a page-aligned address in [lo, hi] (both page-aligned), uniformly. */
static __unused uint64_t random_page(uint64_t lo, uint64_t hi)
{
	/// SOLUTION BEGIN
	uint64_t pages = (hi - lo) / PAGE_SIZE + 1;

	return lo + (aslr_random() % pages) * PAGE_SIZE;
	/// SOLUTION END
	/// STARTER: TODO("step 8: count the pages of [lo, hi], pick one with aslr_random() % count, return its address");
}

/* Step 8: the layout of kernel/aslr.h. */
void aslr_choose(struct user_layout *l, const struct elf_info *img)
{
	/// SOLUTION BEGIN
	uint64_t base = img->relocatable ? random_page(USER_BOTTOM, USER_LOAD_MAX - img->hi) : 0;

	l->load_base = base;
	l->image_start = base + img->lo;
	l->image_end = base + img->hi;
	l->entry = base + img->entry;
	l->heap_start = l->image_end + random_page(0, USER_HEAP_GAP_MAX - PAGE_SIZE);
	l->brk = l->heap_start;
	l->stack_top = random_page(USER_STACK_TOP_MIN, USER_STACK_TOP_MAX);
	l->stack_bottom = l->stack_top - USER_STACK_SIZE;
	/// SOLUTION END
	/// STARTER: TODO("step 8: load_base (relocatable: random_page(USER_BOTTOM, USER_LOAD_MAX - img->hi), else 0); image_start/end, entry; heap_start = brk = image_end + random_page(0, USER_HEAP_GAP_MAX - PAGE_SIZE); stack_top = random_page(USER_STACK_TOP_MIN, USER_STACK_TOP_MAX), stack_bottom");
}
