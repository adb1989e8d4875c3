/*
 * The random numbers behind ASLR (kernel/aslr.h): splitmix64 over a 64-bit state, seeded at
 * boot from the command line (aslr.seed=N, else ktest.seed=N: a graded run repeats exactly)
 * or from lab 08's entropy source, which an unseeded kernel also mixes into every draw. Until
 * aslr_entropy is written (a TODO) the time-stamp counter stands in for it. A test can put
 * values of its own in the generator's place (aslr_force_values).
 */
#include "aslr.h"
#include "cmdline.h"
#include "irq.h"
#include "kprintf.h"
#include "ktry.h"
#include "local.h"

static uint64_t state, seed_used;
static bool seeded;
static const uint64_t *forced; /* aslr_force_values: the values, and the next one's index */
static size_t forced_count, forced_next;

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static void call_entropy(void *out)
{
	*(uint64_t *)out = aslr_entropy();
}

/* aslr_entropy, or the TSC while it is a TODO. */
static uint64_t entropy(void)
{
	uint64_t v = 0;

	if (ktry_call(call_entropy, &v, KTRY_TODO, NULL) != 0)
		v = rdtsc();
	return v;
}

/* splitmix64 (Steele, Lea, Flood): a good 64-bit sequence from any state, even 0. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t aslr_random(void)
{
	uint64_t mix = seeded || forced ? 0 : entropy();
	unsigned long flags = irq_save();
	uint64_t v;

	if (forced) {
		v = forced[forced_next];
		forced_next = (forced_next + 1) % forced_count;
	} else {
		state ^= mix;
		v = splitmix64(&state);
	}
	irq_restore(flags);
	return v;
}

void aslr_seed(uint64_t seed)
{
	unsigned long flags = irq_save();

	state = seed_used = seed;
	seeded = true;
	irq_restore(flags);
}

void aslr_force_values(const uint64_t *values, size_t count)
{
	unsigned long flags = irq_save();

	forced = count ? values : NULL;
	forced_count = count;
	forced_next = 0;
	irq_restore(flags);
}

bool aslr_seeded(uint64_t *seed)
{
	if (seeded && seed)
		*seed = seed_used;
	return seeded;
}

void aslr_boot_seed(void)
{
	const char *key = cmdline_has("aslr.seed") ? "aslr.seed" : "ktest.seed";

	if (cmdline_has(key)) {
		aslr_seed(cmdline_get_u64(key, 0));
		return;
	}
	state = entropy();
	seeded = false;
}

void aslr_fixed(struct user_layout *l, const struct elf_info *img)
{
	uint64_t base = img->relocatable ? USER_BOTTOM : 0;

	l->load_base = base;
	l->image_start = base + img->lo;
	l->image_end = base + img->hi;
	l->entry = base + img->entry;
	l->heap_start = l->brk = l->image_end;
	l->stack_top = USER_STACK_TOP_MAX;
	l->stack_bottom = l->stack_top - USER_STACK_SIZE;
}
