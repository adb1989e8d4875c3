/*
 * Lab 08, step 8: a randomized layout. aslr_entropy and aslr_choose called directly, many
 * times, every layout checked against its ranges; the same seed gives the same layouts; and a
 * program started twice lands at two different places.
 */
#include <string.h>
#include "aslr.h"
#include "ktry.h"
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
static const struct elf_info largest = {true, 0, USER_LOAD_MAX - USER_BOTTOM, 0x1000};

/* The images the range tests place, and how their failures name them. */
static const struct elf_info *const imgs[] = {&small_pie, &largest, &fixed_exec};
static const char *const img_what[] = {"a small program", "one as large as allowed",
				       "one at fixed addresses (ET_EXEC)"};

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
	struct user_layout l;

	for (size_t k = 0; k < ARRAY_SIZE(imgs); k++)
		for (int i = 0; i < DRAWS / 4; i++) {
			memset(&l, 0xa5, sizeof(l));
			aslr_choose(&l, imgs[k]);
			const char *bad = out_of_range(&l, imgs[k]);
			if (bad) {
				FAIL(t,
				     "%s, layout %d: %s (base 0x%lx, heap 0x%lx, stack top 0x%lx)",
				     img_what[k], i, bad, l.load_base, l.heap_start, l.stack_top);
				return;
			}
		}
}

/* What aslr_choose gets in one test of edges_stay_in_their_ranges. */
struct forced_choice {
	const struct elf_info *img;
	struct user_layout l;
};

static void choose(void *arg)
{
	struct forced_choice *c = arg;

	aslr_choose(&c->l, c->img);
}

/* aslr_choose(l, img) with every draw of aslr_random() giving v. Whatever stops it (a TODO, a
 * fault) stops the test as if it had been called directly, once the generator is back. */
static void choose_forced(struct user_layout *l, const struct elf_info *img, uint64_t v)
{
	struct forced_choice c = {.img = img};
	struct ktry_result r;

	memset(&c.l, 0xa5, sizeof(c.l));
	aslr_force_values(&v, 1);
	int kind = ktry_call(choose, &c, KTRY_ANY, &r);
	aslr_force_values(NULL, 0);
	if (kind)
		ktry_raise_again(&r);
	*l = c.l;
}

/* A value for every draw to give, and what it is (for the failure's message). */
struct edge {
	uint64_t v;
	const char *what;
};

#define MAX_EDGES 24

/* n - 1, n and n + 1, for a range of n pages, into e[i ...]; returns the next free index. */
static size_t count_edges(struct edge *e, size_t i, uint64_t n, const char *const what[3])
{
	for (int d = -1; d <= 1; d++)
		e[i++] = (struct edge){n + (uint64_t)d, what[d + 1]};
	return i;
}

/* The random choices at their edges: every draw of aslr_random() made 0, 1, UINT64_MAX, and
 * the page count n of each range, n - 1 and n + 1, through the test hook of kernel/aslr.h.
 * r % n and a multiply-high (r * n) >> 64 both stay inside; a range one page too large (n + 1
 * pages) gets its page n from r = n, or from r = UINT64_MAX, every time. */
KTEST(aslr, edges_stay_in_their_ranges, 3)
{
	static const char *const load_what[3] = {"the number of pages load_base may be on, minus 1",
						 "the number of pages load_base may be on",
						 "the number of pages load_base may be on, plus 1"};
	static const char *const heap_what[3] = {
		"the number of heap gaps, USER_HEAP_GAP_MAX / PAGE_SIZE, minus 1",
		"the number of heap gaps, USER_HEAP_GAP_MAX / PAGE_SIZE",
		"the number of heap gaps, USER_HEAP_GAP_MAX / PAGE_SIZE, plus 1"};
	static const char *const stack_what[3] = {
		"the number of pages stack_top may be on, minus 1",
		"the number of pages stack_top may be on",
		"the number of pages stack_top may be on, plus 1"};
	struct edge e[MAX_EDGES] = {
		{0, "0"},
		{1, "1"},
		{UINT64_MAX, "UINT64_MAX"},
		{UINT64_MAX - 1, "UINT64_MAX - 1"},
		{1UL << 63, "2^63"},
		{(1UL << 63) - 1, "2^63 - 1"},
		{UINT32_MAX, "2^32 - 1"},
		{1UL << 32, "2^32"},
	};
	size_t fixed = 8;
	struct user_layout l;

	for (size_t k = 0; k < ARRAY_SIZE(imgs); k++) {
		size_t n = fixed;

		n = count_edges(e, n, USER_HEAP_GAP_MAX / PAGE_SIZE, heap_what);
		n = count_edges(e, n, (USER_STACK_TOP_MAX - USER_STACK_TOP_MIN) / PAGE_SIZE + 1,
				stack_what);
		if (imgs[k]->relocatable)
			n = count_edges(e, n,
					(USER_LOAD_MAX - imgs[k]->hi - USER_BOTTOM) / PAGE_SIZE + 1,
					load_what);
		for (size_t i = 0; i < n; i++) {
			choose_forced(&l, imgs[k], e[i].v);
			const char *bad = out_of_range(&l, imgs[k]);
			if (bad) {
				FAIL(t,
				     "%s, every draw of aslr_random() giving 0x%lx (%s): %s (base "
				     "0x%lx, heap gap 0x%lx, stack top 0x%lx). A random page of [lo, hi] "
				     "is lo + (r %% n) * PAGE_SIZE with n = (hi - lo) / PAGE_SIZE + 1: is "
				     "a range one page too large, or does it start a page too low?",
				     img_what[k], e[i].v, e[i].what, bad, l.load_base,
				     l.heap_start - l.image_end, l.stack_top);
				return;
			}
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
	for (int i = 0; i < 4; i++)
		if (memcmp(&a[i], &b[i], sizeof(a[i]))) {
			FAIL(t,
			     "seeded twice the same, layout %d differs: image 0x%lx, heap 0x%lx, stack "
			     "top 0x%lx, then image 0x%lx, heap 0x%lx, stack top 0x%lx; every random "
			     "choice must come from aslr_random()",
			     i + 1, a[i].load_base, a[i].heap_start, a[i].stack_top, b[i].load_base,
			     b[i].heap_start, b[i].stack_top);
			break;
		}
	if (!memcmp(&a[0], &c, sizeof(c)))
		FAIL(t,
		     "two seeds gave the same first layout (image 0x%lx, heap 0x%lx, stack top "
		     "0x%lx)",
		     c.load_base, c.heap_start, c.stack_top);
	if (!memcmp(&a[0], &a[1], sizeof(c)))
		FAIL(t,
		     "two layouts in a row are the same (image 0x%lx, heap 0x%lx, stack top 0x%lx)",
		     a[0].load_base, a[0].heap_start, a[0].stack_top);
}

/* The program layout, started twice: two layouts, each what the program sees of itself
 * (it exits 0 when SYS_layout agrees with its own addresses). */
KTEST(aslr, a_program_started_twice_lands_apart, 3)
{
	static const char *const argv[] = {"layout"};
	struct user_layout l[2];
	struct test_output o;
	char how[TEST_HOW_MAX];

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
