/*
 * Lab 08, step 8: a randomized layout. aslr_entropy and aslr_choose called directly, many
 * times, every layout checked against its ranges; the same seed gives the same layouts; and a
 * program started twice lands at two different places.
 */
#include <string.h>
#include "aslr.h"
#include "trap.h"
#include "user_fixture.h"

#define DRAWS	      256
#define ENTROPY_DRAWS 8
#define MIN_DISTINCT  (DRAWS - 4)
#define SEED_A	      0x0123456789abcdefUL
#define SEED_B	      0xfedcba9876543210UL
#define HI_BIT	      (1UL << 39) /* half of USER_LOAD_MAX: some bases above, some below */

static const struct elf_info small_pie = {true, 0, 0x7000, 0x1000};
static const struct elf_info fixed_exec = {false, USER_BOTTOM, USER_BOTTOM + 0x5000,
					   USER_BOTTOM + 0x1000};

/* Put the generator back as the boot left it, after a test seeded it. */
static void restore_seed(bool had, uint64_t seed)
{
	if (had)
		aslr_seed(seed);
}

/* What is wrong with l for img, or NULL. */
static const char *out_of_range(const struct user_layout *l, const struct elf_info *img)
{
	if (l->load_base % PAGE_SIZE)
		return "load_base is not page-aligned";
	if (img->relocatable &&
	    (l->load_base < USER_BOTTOM || l->load_base + img->hi > USER_LOAD_MAX))
		return "the image is not inside [USER_BOTTOM, USER_LOAD_MAX)";
	if (!img->relocatable && l->load_base != 0)
		return "a fixed-address image (ET_EXEC) was moved";
	if (l->image_start != l->load_base + img->lo || l->image_end != l->load_base + img->hi ||
	    l->entry != l->load_base + img->entry)
		return "image_start, image_end or entry is not the image's, moved by load_base";
	if (l->heap_start % PAGE_SIZE || l->heap_start < l->image_end ||
	    l->heap_start - l->image_end >= USER_HEAP_GAP_MAX)
		return "heap_start is not a page after the image, less than USER_HEAP_GAP_MAX away";
	if (l->brk != l->heap_start)
		return "brk is not heap_start";
	if (l->stack_top % PAGE_SIZE || l->stack_top < USER_STACK_TOP_MIN ||
	    l->stack_top > USER_STACK_TOP_MAX)
		return "stack_top is not a page in [USER_STACK_TOP_MIN, USER_STACK_TOP_MAX]";
	if (l->stack_bottom != l->stack_top - USER_STACK_SIZE)
		return "stack_bottom is not stack_top - USER_STACK_SIZE";
	return NULL;
}

/* True if the instruction at rip is RDRAND (0f c7 /6, after a REX prefix or none). */
static bool is_rdrand(uint64_t rip)
{
	const uint8_t *i = (const uint8_t *)rip;

	if ((i[0] & 0xf0) == 0x40)
		i++;
	return i[0] == 0x0f && i[1] == 0xc7 && ((i[2] >> 3) & 7) == 6;
}

/* One draw of the entropy source into *v, or false after failing t saying how it faulted. */
static bool draw_entropy(struct ktest *t, uint64_t *v)
{
	struct ktry_result r;

	if (!CATCH_FAULT(&r, *v = aslr_entropy()))
		return true;
	if (r.vector == VEC_UD && is_rdrand(r.rip))
		FAIL(t,
		     "aslr_entropy ran RDRAND on a CPU that lacks it (#UD at rip 0x%lx): "
		     "ask CPUID (leaf 1, ECX bit 30) first, and without it use the TSC",
		     r.rip);
	else
		FAIL(t, "aslr_entropy faulted: %s", r.msg);
	return false;
}

/* The entropy source gives new bits at every call, on any CPU (the one of the grader's QEMU
 * has no RDRAND). */
KTEST(aslr, entropy_changes, 2)
{
	uint64_t v[ENTROPY_DRAWS];

	for (int i = 0; i < ENTROPY_DRAWS; i++)
		if (!draw_entropy(t, &v[i]))
			return;
	for (int i = 0; i < ENTROPY_DRAWS; i++)
		for (int j = 0; j < i; j++)
			if (v[i] == v[j])
				FAIL(t, "aslr_entropy gave 0x%lx twice", v[i]);
}

/* Every layout inside its ranges, for a small program, one as large as allowed, and one at
 * fixed addresses. */
KTEST(aslr, layouts_stay_in_their_ranges, 4)
{
	const struct elf_info largest = {true, 0, USER_LOAD_MAX - USER_BOTTOM, 0x1000};
	const struct elf_info *imgs[] = {&small_pie, &largest, &fixed_exec};
	struct user_layout l;

	for (size_t k = 0; k < ARRAY_SIZE(imgs); k++)
		for (int i = 0; i < DRAWS / 4; i++) {
			memset(&l, 0xa5, sizeof(l));
			aslr_choose(&l, imgs[k]);
			const char *bad = out_of_range(&l, imgs[k]);
			if (bad) {
				FAIL(t,
				     "image %zu, layout %d: %s (base 0x%lx, heap 0x%lx, stack top 0x%lx)",
				     k, i, bad, l.load_base, l.heap_start, l.stack_top);
				return;
			}
		}
}

/* Starts differ: DRAWS layouts, nearly all with their own base and stack, spread over the
 * whole range (some bases above half of it, some below). */
KTEST(aslr, layouts_differ_from_start_to_start, 4)
{
	static uint64_t base[DRAWS], stack[DRAWS], gap[DRAWS];
	int distinct_base = 0, distinct_stack = 0, distinct_gap = 0, high = 0;
	struct user_layout l;

	for (int i = 0; i < DRAWS; i++) {
		aslr_choose(&l, &small_pie);
		base[i] = l.load_base;
		stack[i] = l.stack_top;
		gap[i] = l.heap_start - l.image_end;
		high += base[i] >= HI_BIT;
	}
	for (int i = 0; i < DRAWS; i++) {
		bool b = true, s = true, g = true;
		for (int j = 0; j < i; j++) {
			b &= base[j] != base[i];
			s &= stack[j] != stack[i];
			g &= gap[j] != gap[i];
		}
		distinct_base += b;
		distinct_stack += s;
		distinct_gap += g;
	}
	if (distinct_base < MIN_DISTINCT || distinct_stack < MIN_DISTINCT ||
	    distinct_gap < MIN_DISTINCT)
		FAIL(t,
		     "of %d layouts only %d load bases, %d stack tops and %d heap gaps differ "
		     "(at least %d of each should): %s",
		     DRAWS, distinct_base, distinct_stack, distinct_gap, MIN_DISTINCT,
		     distinct_base < MIN_DISTINCT ? "the load base is not random enough"
		     : distinct_stack < MIN_DISTINCT
			     ? "the stack top is not random enough"
			     : "the gap between the image and the heap is not "
			       "random enough");
	if (high < DRAWS / 4 || high > DRAWS * 3 / 4)
		FAIL(t, "%d of %d load bases are above 0x%lx: not spread over the range", high,
		     DRAWS, HI_BIT);
}

/* The same seed, the same layouts; another seed, others. */
KTEST(aslr, the_same_seed_gives_the_same_layout, 3)
{
	struct user_layout a[4], b[4], c;
	uint64_t boot_seed = 0;
	bool had = aslr_seeded(&boot_seed);

	aslr_seed(SEED_A);
	for (int i = 0; i < 4; i++)
		aslr_choose(&a[i], &small_pie);
	aslr_seed(SEED_A);
	for (int i = 0; i < 4; i++)
		aslr_choose(&b[i], &small_pie);
	aslr_seed(SEED_B);
	aslr_choose(&c, &small_pie);
	restore_seed(had, boot_seed);
	EXPECT_EQ(t, memcmp(a, b, sizeof(a)), 0);
	EXPECT_NE(t, memcmp(&a[0], &c, sizeof(c)), 0);
	EXPECT_NE(t, memcmp(&a[0], &a[1], sizeof(c)), 0);
}

/* The program layout, started twice: two layouts, each what the program sees of itself
 * (it exits 0 when SYS_layout agrees with its own addresses). */
KTEST(aslr, a_program_started_twice_lands_apart, 3)
{
	static const char *const argv[] = {"layout"};
	struct user_layout l[2];
	struct test_output o;
	char how[PROGRAM_NOTE_MAX + 32];

	if (!programs_require(t))
		return;
	for (int i = 0; i < 2; i++) {
		struct program *p = test_run(t, "layout", 1, argv, &o, TEST_PROGRAM_DEADLINE_MS);
		if (!p)
			return;
		l[i] = p->space.layout;
		if (p->end != PROGRAM_EXITED || p->status != 0)
			FAIL(t, "layout %s; it wrote: %s", test_how_it_ended(p, how, sizeof(how)),
			     o.buf);
		program_free(p);
	}
	if (l[0].load_base == l[1].load_base || l[0].stack_top == l[1].stack_top ||
	    l[0].heap_start == l[1].heap_start)
		FAIL(t,
		     "two starts of layout: image at 0x%lx and 0x%lx, heap at 0x%lx and 0x%lx, stack "
		     "top 0x%lx and 0x%lx; each should be new at every start (aslr_choose, "
		     "labs/08-user/aslr.c)",
		     l[0].load_base, l[1].load_base, l[0].heap_start, l[1].heap_start,
		     l[0].stack_top, l[1].stack_top);
}
