/*
 * ktest: the kernel's unit-test framework, in the style of Linux's KUnit.
 *
 *     KTEST(bump, one_byte_left, 2)              // suite, test name, points
 *     {
 *             struct bump h;
 *             bump_init(&h, arena, 64);
 *             ASSERT_NOT_NULL(t, bump_alloc(&h, 63, 1));
 *             // should be: [63 bytes used | 1 byte free]
 *             EXPECT_NOT_NULL(t, bump_alloc(&h, 1, 1));
 *             EXPECT_NULL(t, bump_alloc(&h, 1, 1));
 *     }
 *
 * A linker section collects every KTEST; the kernel runs the suites named on its command line,
 * in that order (ktest=bump,linked_list; ktest=all runs every suite in file order), and prints
 * the results as KTAP version 1 on the console. EXPECT_* records a failure and carries on;
 * ASSERT_* records it and ends the test.
 * A test also ends, failed, when it reaches a TODO, panics unexpectedly or takes a CPU fault;
 * the next test runs regardless. The same test sources build into host programs
 * (kernel/host/) to run under AddressSanitizer and UBSan.
 *
 * Test files live in grade/ktests/NN-name/. Files named *_ktest.c run only in the kernel;
 * the others run in both places. The grading harness reads the KTEST(...) lines to know
 * which tests exist and what they are worth, so keep each on one line.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "compiler.h"
#include "ktry.h"

struct ktest;

struct ktest_case {
	const char *suite;
	const char *name;
	void (*run)(struct ktest *t);
	int points;
	const char *file;
	int line;
};

/* Optional per-suite hooks, run around every test of the suite. */
struct ktest_suite {
	const char *name;
	void (*init)(struct ktest *t);
	void (*exit)(struct ktest *t);
};

/* The state of the test being run; tests pass it to every EXPECT and ASSERT. */
struct ktest {
	const struct ktest_case *test;
	int failures;
	char first_failure[KTRY_MSG_MAX];
	uint64_t rng;
	void *priv; /* for a suite's init/exit hooks */
};

#define KTEST(suite, name, points)                                                            \
	static void ktest_fn_##suite##_##name(struct ktest *t);                               \
	static const struct ktest_case ktest_case_##suite##_##name = {                        \
		#suite, #name, ktest_fn_##suite##_##name, points, __FILE__, __LINE__};        \
	static const struct ktest_case *ktest_ptr_##suite##_##name                            \
		__attribute__((used, section("ktest_cases"))) = &ktest_case_##suite##_##name; \
	static void ktest_fn_##suite##_##name(struct ktest *t)

#define KTEST_SUITE(suite, init_fn, exit_fn)                                              \
	static const struct ktest_suite ktest_suite_##suite = {#suite, init_fn, exit_fn}; \
	static const struct ktest_suite *ktest_suite_ptr_##suite                          \
		__attribute__((used, section("ktest_suites"))) = &ktest_suite_##suite

/* Record a failure (printed as a KTAP diagnostic); with fatal, also end the test. */
void ktest_fail(struct ktest *t, bool fatal, const char *file, int line, const char *fmt, ...)
	__printf(5, 6);
/* How a compared value is printed: pointers in hex, signed numbers with their sign. */
enum ktest_value_kind {
	KTEST_UNSIGNED,
	KTEST_SIGNED,
	KTEST_POINTER,
};

#define KTEST_POINTER_CLASS 5 /* what __builtin_classify_type says of a pointer */
#define KTEST_KIND(v)                                                                           \
	(__builtin_classify_type(v) == KTEST_POINTER_CLASS ? KTEST_POINTER                      \
							   : _Generic((v), int                  \
								      : KTEST_SIGNED, long      \
								      : KTEST_SIGNED, long long \
								      : KTEST_SIGNED, default   \
								      : KTEST_UNSIGNED))

void ktest_fail_cmp(struct ktest *t, bool fatal, const char *file, int line, const char *a,
		    const char *op, const char *b, uint64_t va, uint64_t vb,
		    enum ktest_value_kind ka, enum ktest_value_kind kb);

/* a_text and b_text are #a and #b of the EXPECT or ASSERT the test wrote: stringified here, an
 * argument would print with its macros expanded (h.classes[(9 - 1)] for h.classes[TOP_CLASS]). */
#define KTEST_CMP(t, fatal, a, op, b, a_text, b_text)                                       \
	do {                                                                                \
		__typeof__((a) + 0) ktest_a_ = (a);                                         \
		__typeof__((b) + 0) ktest_b_ = (b);                                         \
		_Pragma("GCC diagnostic push");                                             \
		_Pragma("GCC diagnostic ignored \"-Wsign-compare\"");                       \
		bool ktest_ok_ = ktest_a_ op ktest_b_;                                      \
		_Pragma("GCC diagnostic pop");                                              \
		if (!ktest_ok_)                                                             \
			ktest_fail_cmp(t, fatal, __FILE__, __LINE__, a_text, #op, b_text,   \
				       (uint64_t)(uintptr_t)ktest_a_,                       \
				       (uint64_t)(uintptr_t)ktest_b_, KTEST_KIND(ktest_a_), \
				       KTEST_KIND(ktest_b_));                               \
	} while (0)

#define KTEST_TRUE(t, fatal, cond, ...)                                        \
	do {                                                                   \
		if (!(cond))                                                   \
			ktest_fail(t, fatal, __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

#define EXPECT_EQ(t, a, b) KTEST_CMP(t, false, a, ==, b, #a, #b)
#define EXPECT_NE(t, a, b) KTEST_CMP(t, false, a, !=, b, #a, #b)
#define EXPECT_LT(t, a, b) KTEST_CMP(t, false, a, <, b, #a, #b)
#define EXPECT_LE(t, a, b) KTEST_CMP(t, false, a, <=, b, #a, #b)
#define EXPECT_GT(t, a, b) KTEST_CMP(t, false, a, >, b, #a, #b)
#define EXPECT_GE(t, a, b) KTEST_CMP(t, false, a, >=, b, #a, #b)
#define EXPECT_TRUE(t, c)  KTEST_TRUE(t, false, c, "expected %s to be true", #c)
#define EXPECT_FALSE(t, c) KTEST_TRUE(t, false, !(c), "expected %s to be false", #c)
/* p is evaluated once: a call such as EXPECT_NULL(t, bump_alloc(&h, 1, 1)) runs once. */
#define KTEST_NULL(t, fatal, p, p_text)                                                            \
	do {                                                                                       \
		const void *ktest_p_ = (const void *)(p);                                          \
		if (ktest_p_ != NULL)                                                              \
			ktest_fail(t, fatal, __FILE__, __LINE__, "expected %s to be NULL, got %p", \
				   p_text, ktest_p_);                                              \
	} while (0)
#define EXPECT_NULL(t, p)     KTEST_NULL(t, false, p, #p)
#define EXPECT_NOT_NULL(t, p) KTEST_TRUE(t, false, (p) != NULL, "expected %s not to be NULL", #p)
#define EXPECT_STREQ(t, a, b)                   \
	KTEST_TRUE(t, false, !strcmp((a), (b)), \
		   "expected %s == %s, but they are \"%s\" and \"%s\"", #a, #b, (a), (b))

#define ASSERT_EQ(t, a, b)    KTEST_CMP(t, true, a, ==, b, #a, #b)
#define ASSERT_NE(t, a, b)    KTEST_CMP(t, true, a, !=, b, #a, #b)
#define ASSERT_LT(t, a, b)    KTEST_CMP(t, true, a, <, b, #a, #b)
#define ASSERT_LE(t, a, b)    KTEST_CMP(t, true, a, <=, b, #a, #b)
#define ASSERT_GT(t, a, b)    KTEST_CMP(t, true, a, >, b, #a, #b)
#define ASSERT_GE(t, a, b)    KTEST_CMP(t, true, a, >=, b, #a, #b)
#define ASSERT_TRUE(t, c)     KTEST_TRUE(t, true, c, "expected %s to be true", #c)
#define ASSERT_FALSE(t, c)    KTEST_TRUE(t, true, !(c), "expected %s to be false", #c)
#define ASSERT_NULL(t, p)     KTEST_NULL(t, true, p, #p)
#define ASSERT_NOT_NULL(t, p) KTEST_TRUE(t, true, (p) != NULL, "expected %s not to be NULL", #p)

/*
 * Record a failure of t with msg as it is (no file:line in front): for what the kernel notices
 * on a test's behalf, such as a thread the test started running into a TODO.
 */
void ktest_fail_msg(struct ktest *t, const char *msg);

/* A failure with a message of the test's own: FAIL(t, "block %d overlaps block %d", i, j). */
#define FAIL(t, ...) ktest_fail(t, false, __FILE__, __LINE__, __VA_ARGS__)

/*
 * Run the statement(s) expecting a panic whose message contains `substr`:
 *     EXPECT_PANIC(t, "double free", bump_free(&h, p));
 */
#define EXPECT_PANIC(t, substr, ...)                                                    \
	do {                                                                            \
		struct ktry ktest_k_;                                                   \
		ktry_push(&ktest_k_, KTRY_PANIC);                                       \
		if (kjmp_set(ktest_k_.jb) == 0) {                                       \
			__VA_ARGS__;                                                    \
			ktry_pop(&ktest_k_);                                            \
			ktest_fail(t, false, __FILE__, __LINE__,                        \
				   "expected %s to panic with \"%s\", but it returned", \
				   #__VA_ARGS__, substr);                               \
		} else if (!strstr(ktest_k_.res.msg, substr)) {                         \
			ktest_fail(t, false, __FILE__, __LINE__,                        \
				   "expected a panic with \"%s\", got: %s", substr,     \
				   ktest_k_.res.msg);                                   \
		}                                                                       \
	} while (0)

/*
 * Run the statement(s) expecting a CPU exception; on return *out holds what the CPU reported
 * (vector, error code, rip, cr2). Evaluates to true if it faulted.
 *     struct ktry_result r;
 *     if (CATCH_FAULT(&r, *(volatile char *)p = 1)) EXPECT_EQ(t, r.cr2, (uint64_t)p);
 */
#define CATCH_FAULT(out, ...)                         \
	({                                            \
		struct ktry ktest_k_;                 \
		volatile bool ktest_faulted_ = false; \
		ktry_push(&ktest_k_, KTRY_FAULT);     \
		if (kjmp_set(ktest_k_.jb) == 0) {     \
			__VA_ARGS__;                  \
			ktry_pop(&ktest_k_);          \
		} else {                              \
			ktest_faulted_ = true;        \
		}                                     \
		*(out) = ktest_k_.res;                \
		ktest_faulted_;                       \
	})

/* Pseudo-random numbers for randomized tests, reproducible from the seed the run prints. */
uint64_t ktest_random(struct ktest *t);
/* Uniform in [lo, hi]. */
uint64_t ktest_random_range(struct ktest *t, uint64_t lo, uint64_t hi);
/* The seed of this run (ktest.seed=N on the command line). */
uint64_t ktest_seed(void);

/*
 * Run the tests the command line selects, printing KTAP. Returns true if every test passed.
 *   ktest=all | ktest=suite[,suite...] | ktest=suite.test   which tests to run
 *   ktest.seed=N                                             seed for ktest_random
 *   ktest.list                                               print the registered tests
 */
bool ktest_main(void);

/*
 * A scenario is code the harness runs alone in a boot (scenario=name on the command line)
 * and judges by what the console shows: things a test cannot observe from the inside, such
 * as the report of an exception that stops the kernel.
 */
struct ktest_scenario {
	const char *name;
	void (*run)(void);
};

#define KTEST_SCENARIO(name)                                                                   \
	static void ktest_scenario_fn_##name(void);                                            \
	static const struct ktest_scenario ktest_scenario_##name = {#name,                     \
								    ktest_scenario_fn_##name}; \
	static const struct ktest_scenario *ktest_scenario_ptr_##name                          \
		__attribute__((used, section("ktest_scenarios"))) = &ktest_scenario_##name;    \
	static void ktest_scenario_fn_##name(void)

/*
 * If the command line says scenario=name, run it and return true (false if none is named).
 * An unknown name prints the known ones and returns true with *ok false.
 */
bool ktest_scenario_main(bool *ok);
