/*
 * The ktest runner (see ktest.h): selects tests from the command line, runs each inside a
 * catch point so that a failure costs one test, and prints KTAP version 1:
 *
 *     KTAP version 1
 *     # ktest seed: 42
 *     1..2
 *         KTAP version 1
 *         # Subtest: bump
 *         1..2
 *         ok 1 alignment
 *         # bump_test.c:88: expected p == NULL, but p = 0xffffc00000000010 and NULL = 0
 *         not ok 2 exhaustion # bump_test.c:88: expected p == NULL, but ...
 *     not ok 1 bump
 *     ...
 *
 * When the grader gave this boot a key, each result line is followed by its tag
 * ("    # mac 4f0c..."), which the grader checks before it believes the result (attest.h).
 */
#include <stdarg.h>
#include "attest.h"
#include "cmdline.h"
#include "kprintf.h"
#include "ktest.h"
#include "ktest_running.h"

/* Section bounds: from kernel.ld in the kernel, from the linker itself on the host. Weak, so an
 * empty section (no KTEST_SUITE anywhere) is fine. */
extern const struct ktest_case *const __start_ktest_cases[] __attribute__((weak));
extern const struct ktest_case *const __stop_ktest_cases[] __attribute__((weak));
extern const struct ktest_suite *const __start_ktest_suites[] __attribute__((weak));
extern const struct ktest_suite *const __stop_ktest_suites[] __attribute__((weak));

#define SELECT_MAX CMDLINE_MAX /* all of ktest=..., however long the command line lets it be */
#define CASES_MAX  1024
#define SUITES_MAX 256
#define INDENT	   "    "

/* The registered cases sorted by file and line: the order does not depend on the compiler. */
static const struct ktest_case *cases[CASES_MAX];
static int ncases;

static bool case_before(const struct ktest_case *a, const struct ktest_case *b)
{
	int c = strcmp(a->file, b->file);

	return c < 0 || (c == 0 && a->line < b->line);
}

static void sort_cases(void)
{
	ncases = 0;
	for (const struct ktest_case *const *p = __start_ktest_cases; p < __stop_ktest_cases; p++) {
		if (ncases == CASES_MAX) {
			kprintf("# ktest: more than %d tests; the rest are ignored\n", CASES_MAX);
			break;
		}
		int i = ncases++;
		for (; i > 0 && case_before(*p, cases[i - 1]); i--) /* insertion sort */
			cases[i] = cases[i - 1];
		cases[i] = *p;
	}
}

static uint64_t seed;

uint64_t ktest_seed(void)
{
	return seed;
}

/* splitmix64: a good generator from any seed, even 0. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t ktest_random(struct ktest *t)
{
	return splitmix64(&t->rng);
}

uint64_t ktest_random_range(struct ktest *t, uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;

	return span ? lo + ktest_random(t) % span : ktest_random(t);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL; /* FNV-1a */
	return h;
}

static void record_failure(struct ktest *t, const char *msg)
{
	if (t->failures++ == 0) {
		size_t n = strnlen(msg, sizeof(t->first_failure) - 1);
		memcpy(t->first_failure, msg, n);
		t->first_failure[n] = '\0';
		for (char *p = t->first_failure; *p; p++) /* it ends up on the result's line */
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	}
	kprintf(INDENT "# %s\n", msg);
}

void ktest_fail_msg(struct ktest *t, const char *msg)
{
	record_failure(t, msg);
}

static struct ktest *current_test;
static char current_name[KTEST_NAME_MAX]; /* "suite.name" of current_test */

const char *ktest_running(void)
{
	return current_test ? current_name : NULL;
}

void ktest_fail_running(const char *msg)
{
	if (current_test)
		record_failure(current_test, msg);
}

/* The frames of res as diagnostics of the current result, for the grader to name. */
static void print_trace(const struct ktry_result *res)
{
	if (res->trace_len == 0)
		return;
	kprintf(INDENT "# called from:\n");
	for (int i = 0; i < res->trace_len; i++)
		kprintf(INDENT "# #%d 0x%016lx\n", i, res->trace[i]);
}

void ktest_trace_running(const struct ktry_result *res)
{
	if (current_test && current_test->failures == 1) /* the first failure's only */
		print_trace(res);
}

void ktest_fail(struct ktest *t, bool fatal, const char *file, int line, const char *fmt, ...)
{
	char msg[KTRY_MSG_MAX];
	va_list ap;
	int n = ksnprintf(msg, sizeof(msg), "%s:%d: ", file, line);

	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	kvsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	record_failure(t, msg);
	if (fatal)
		ktry_raise(KTRY_ABORT, msg);
}

/*
 * A compared value for a message: a pointer in hex (NULL as NULL), a number in decimal and hex
 * while it is small, in hex alone when it is large (an address in an integer, say), and with
 * its sign only if its type has one: 0xffffffff80100000 is never -2146435072.
 */
static void format_value(char *buf, size_t size, uint64_t v, enum ktest_value_kind kind)
{
	int64_t s = (int64_t)v;

	if (kind == KTEST_POINTER)
		ksnprintf(buf, size, v ? "0x%llx" : "NULL", (unsigned long long)v);
	else if (kind == KTEST_SIGNED && s >= -(1LL << 31) && s < (1LL << 31))
		ksnprintf(buf, size, "%lld (0x%llx)", (long long)s, (unsigned long long)v);
	else if (kind == KTEST_UNSIGNED && v < (1ULL << 32))
		ksnprintf(buf, size, "%llu (0x%llx)", (unsigned long long)v, (unsigned long long)v);
	else
		ksnprintf(buf, size, "0x%llx", (unsigned long long)v);
}

/* True if expr is a number as written in C (5, -1, 0x1000, 4096UL) or NULL: its value says
 * nothing that its text does not. */
static bool is_literal(const char *expr)
{
	const char *s = expr;
	bool hex = false;

	if (!strcmp(expr, "NULL"))
		return true;
	if (*s == '-')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		hex = true;
		s += 2;
	}
	if (!*s)
		return false;
	while ((*s >= '0' && *s <= '9') ||
	       (hex && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))))
		s++;
	while (*s == 'u' || *s == 'U' || *s == 'l' || *s == 'L')
		s++;
	return !*s && s != expr;
}

void ktest_fail_cmp(struct ktest *t, bool fatal, const char *file, int line, const char *a,
		    const char *op, const char *b, uint64_t va, uint64_t vb,
		    enum ktest_value_kind ka, enum ktest_value_kind kb)
{
	char sa[48], sb[48];

	format_value(sa, sizeof(sa), va, ka);
	format_value(sb, sizeof(sb), vb, kb);
	/* "but n = 4 (0x4)", not "... and 5 = 5 (0x5)": a literal's value is its text. */
	if (is_literal(b))
		ktest_fail(t, fatal, file, line, "expected %s %s %s, but %s = %s", a, op, b, a, sa);
	else if (is_literal(a))
		ktest_fail(t, fatal, file, line, "expected %s %s %s, but %s = %s", a, op, b, b, sb);
	else
		ktest_fail(t, fatal, file, line, "expected %s %s %s, but %s = %s and %s = %s", a,
			   op, b, a, sa, b, sb);
}

static const struct ktest_suite *find_suite(const char *name)
{
	for (const struct ktest_suite *const *s = __start_ktest_suites; s < __stop_ktest_suites;
	     s++)
		if (!strcmp((*s)->name, name))
			return *s;
	return NULL;
}

/* The selection from ktest=..., as "suite" or "suite.test" words. */
static char selection[SELECT_MAX];

static bool word_matches(const char *w, size_t n, const struct ktest_case *c)
{
	size_t sl = strlen(c->suite);

	if (n == 3 && !strncmp(w, "all", 3))
		return true;
	if (n == sl && !strncmp(w, c->suite, sl))
		return true;
	return n > sl && w[sl] == '.' && !strncmp(w, c->suite, sl) &&
	       strlen(c->name) == n - sl - 1 && !strncmp(w + sl + 1, c->name, n - sl - 1);
}

static bool selected(const struct ktest_case *c)
{
	for (const char *p = selection; *p;) {
		const char *w = p;
		while (*p && *p != ',')
			p++;
		if (word_matches(w, (size_t)(p - w), c))
			return true;
		if (*p)
			p++;
	}
	return false;
}

/*
 * The suites to run, in the order the selection names them: "ktest=b,a" runs b first (the
 * grader puts the suites of the lab being graded first in each boot), "all" every suite in
 * file order. Within a suite, its selected tests run in file order.
 */
static const char *plan[SUITES_MAX];
static int nplanned;

static void plan_suites(void)
{
	nplanned = 0;
	for (const char *p = selection; *p;) {
		const char *w = p;
		while (*p && *p != ',')
			p++;
		for (int i = 0; i < ncases; i++) {
			if (!word_matches(w, (size_t)(p - w), cases[i]))
				continue;
			int j = 0;
			while (j < nplanned && strcmp(plan[j], cases[i]->suite))
				j++;
			if (j < nplanned)
				continue;
			if (nplanned == SUITES_MAX) {
				kprintf("# ktest: more than %d suites; the rest are ignored\n",
					SUITES_MAX);
				return;
			}
			plan[nplanned++] = cases[i]->suite;
		}
		if (*p)
			p++;
	}
}

/*
 * Each word of the selection that names no test of this kernel, said, and then the suites it
 * has: `make qemu TEST=idtt,memmap` would otherwise run memmap alone without a word.
 */
static void say_unmatched(void)
{
	bool any = false;

	for (const char *p = selection; *p;) {
		const char *w = p;
		int i = 0;

		while (*p && *p != ',')
			p++;
		while (i < ncases && !word_matches(w, (size_t)(p - w), cases[i]))
			i++;
		if (p > w && i == ncases) {
			kprintf("# ktest: no test of this kernel is named \"%.*s\"\n", (int)(p - w),
				w);
			any = true;
		}
		if (*p)
			p++;
	}
	if (!any)
		return;
	kprintf("# ktest: its suites are");
	for (int i = 0; i < ncases; i++) {
		int j = 0;

		while (j < i && strcmp(cases[j]->suite, cases[i]->suite))
			j++;
		if (j == i) /* the suite's first case */
			kprintf(" %s", cases[i]->suite);
	}
	kprintf(" (and \"suite.test\" names one test, \"all\" every one)\n");
}

static void run_case_body(void *arg)
{
	struct ktest *t = arg;
	const struct ktest_suite *s = find_suite(t->test->suite);

	if (s && s->init)
		s->init(t);
	t->test->run(t);
	if (s && s->exit)
		s->exit(t);
}

/* The KTAP result line, and right after it its tag when this boot is graded (attest.h). */
static void print_result(const struct ktest_case *c, int number, bool ok, const char *why)
{
	char msg[KTRY_MSG_MAX], tag[ATTEST_TAG_CHARS + 1];
	unsigned long flags = console_lock(); /* the two lines stay together */

	if (ok)
		kprintf(INDENT "ok %d %s\n", number, c->name);
	else
		kprintf(INDENT "not ok %d %s # %s\n", number, c->name, why);
	ksnprintf(msg, sizeof(msg), "result %s %d %s %s", c->suite, number, c->name,
		  ok ? "ok" : "not ok");
	if (attest_tag(msg, tag))
		kprintf(INDENT "# mac %s\n", tag);
	console_unlock(flags);
}

static bool run_case(const struct ktest_case *c, int number)
{
	struct ktest t = {.test = c};
	struct ktry_result res;
	uint64_t rng_state = hash_str(hash_str(seed, c->suite), c->name);

	t.rng = splitmix64(&rng_state);
	ksnprintf(current_name, sizeof(current_name), "%s.%s", t.test->suite, t.test->name);
	current_test = &t;
	int kind = ktry_call(run_case_body, &t, KTRY_ANY, &res);
	current_test = NULL;
	char msg[KTRY_MSG_MAX + 64];

	switch (kind) {
	case 0:
	case KTRY_ABORT: /* already recorded by the ASSERT */
		break;
	case KTRY_TODO:
		record_failure(&t, res.msg);
		break;
	case KTRY_PANIC:
		ksnprintf(msg, sizeof(msg), "panic: %s", res.msg);
		record_failure(&t, msg);
		if (t.failures == 1)
			print_trace(&res);
		break;
	case KTRY_FAULT:
		record_failure(&t, res.msg);
		if (t.failures == 1)
			print_trace(&res);
		break;
	}
	print_result(c, number, t.failures == 0, t.first_failure);
	return t.failures == 0;
}

static int count_selected(const char *suite)
{
	int n = 0;

	for (int i = 0; i < ncases; i++)
		if (selected(cases[i]) && (!suite || !strcmp(cases[i]->suite, suite)))
			n++;
	return n;
}

static bool run_suite(const char *suite, int number)
{
	int n = 0;
	bool ok = true;

	kprintf(INDENT "KTAP version 1\n" INDENT "# Subtest: %s\n" INDENT "1..%d\n", suite,
		count_selected(suite));
	for (int i = 0; i < ncases; i++)
		if (selected(cases[i]) && !strcmp(cases[i]->suite, suite))
			ok &= run_case(cases[i], ++n);
	kprintf("%s %d %s\n", ok ? "ok" : "not ok", number, suite);
	return ok;
}

static void list_tests(void)
{
	for (int i = 0; i < ncases; i++)
		kprintf("# ktest case %s %s %d %s:%d\n", cases[i]->suite, cases[i]->name,
			cases[i]->points, cases[i]->file, cases[i]->line);
}

bool ktest_main(void)
{
	bool ok = true;

	sort_cases();
	if (cmdline_has("ktest.list")) {
		list_tests();
		return true;
	}
	if (!cmdline_get("ktest", selection, sizeof(selection)))
		return true;
	seed = cmdline_get_u64("ktest.seed", 1);

	plan_suites();
	kprintf("KTAP version 1\n# ktest seed: %llu\n1..%d\n", (unsigned long long)seed, nplanned);
	if (nplanned == 0)
		kprintf("# no test matches ktest=%s\n", selection);
	say_unmatched();
	for (int i = 0; i < nplanned; i++)
		ok &= run_suite(plan[i], i + 1);
	return ok && nplanned > 0;
}

extern const struct ktest_scenario *const __start_ktest_scenarios[] __attribute__((weak));
extern const struct ktest_scenario *const __stop_ktest_scenarios[] __attribute__((weak));

bool ktest_scenario_main(bool *ok)
{
	char name[64];

	if (!cmdline_get("scenario", name, sizeof(name)))
		return false;
	for (const struct ktest_scenario *const *s = __start_ktest_scenarios;
	     s < __stop_ktest_scenarios; s++) {
		if (!strcmp((*s)->name, name)) {
			kprintf("scenario %s: start\n", name);
			(*s)->run();
			kprintf("scenario %s: returned\n", name);
			attest_printf("scenario %s returned", name);
			*ok = true;
			return true;
		}
	}
	kprintf("scenario %s: no such scenario; known:", name);
	for (const struct ktest_scenario *const *s = __start_ktest_scenarios;
	     s < __stop_ktest_scenarios; s++)
		kprintf(" %s", (*s)->name);
	kprintf("\n");
	*ok = false;
	return true;
}
