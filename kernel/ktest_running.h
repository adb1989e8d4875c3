/*
 * What code outside the tests may ask of the test framework, as Linux's <kunit/test-bug.h>:
 * is a test running, which, and fail it. Kernel code includes this, never ktest.h: a thread a
 * test started that runs into a TODO fails that test, and a deadlock names it.
 */
#pragma once

#define KTEST_NAME_MAX 96

/* "suite.name" of the test running now, or NULL outside tests (a scenario, the tour). */
const char *ktest_running(void);

/* Fail the test running now with msg as it is (no file:line in front); nothing outside tests. */
void ktest_fail_running(const char *msg);

struct ktry_result;

/* After such a failure: the frames that led to the fault or panic in res (ktry.h), as lines
 * "#N 0x..." that the grader turns into function and file:line; nothing outside tests. */
void ktest_trace_running(const struct ktry_result *res);
