/*
 * Lab 09, step 5: exec. exec_copy_args on a space loaded from a program (argv arrays written
 * into it by the test); proc_exec from programs that exec (exectest), run as processes of
 * their own: no fork is needed.
 */
#include <string.h>
#include "heap.h"
#include "kprintf.h"
#include "paging.h"
#include "proc_fixture.h"

#define ARRAY_AT   0x100 /* where in the stack page the tests put argv: offsets from its start */
#define STRINGS_AT 0x400
#define DAMAGE_AT  18 /* e_machine, in the ELF header */
#define TRUNCATED  200

static struct uspace space;
static uint64_t page; /* the stack's lowest page: writable, the test's to fill */

static bool load(struct ktest *t)
{
	if (!space_load(t, &space, "hello", 0))
		return false;
	page = space.layout.stack_bottom;
	return true;
}

/* Put the strings and an array of pointers to them (ended by NULL unless !terminated) into
 * the space; returns the array's address. bad_at >= 0: that pointer is garbage instead. */
static uint64_t put_argv(int argc, const char *const strings[], bool terminated, int bad_at)
{
	uint64_t at = page + STRINGS_AT, ptrs[USER_ARGC_MAX + 8];

	for (int i = 0; i < argc; i++) {
		size_t n = strlen(strings[i]) + 1;
		space_poke(&space, at, strings[i], n);
		ptrs[i] = i == bad_at ? 0xffff800000100000UL : at;
		at += n;
	}
	ptrs[argc] = 0;
	space_poke(&space, page + ARRAY_AT, ptrs, (argc + terminated) * sizeof(uint64_t));
	return page + ARRAY_AT;
}

KTEST(exec, copy_args_copies_argv, 3)
{
	static const char *const words[] = {"echo", "a", "", "the last one"};
	struct exec_args *a = kmalloc(sizeof(*a));

	ASSERT_NOT_NULL(t, a);
	if (!load(t)) {
		kfree(a);
		return;
	}
	int r = exec_copy_args(&space, put_argv(4, words, true, -1), a);
	EXPECT_EQ(t, r, 0);
	EXPECT_EQ(t, a->argc, 4);
	for (int i = 0; r == 0 && i < 4 && i < a->argc; i++) {
		if (!a->argv[i] || strcmp(a->argv[i], words[i]))
			FAIL(t, "argv[%d] is \"%s\", not \"%s\"", i,
			     a->argv[i] ? a->argv[i] : "(null)", words[i]);
		else if (a->argv[i] < a->strings || a->argv[i] >= a->strings + sizeof(a->strings))
			FAIL(t,
			     "argv[%d] points outside the kernel's copy (a->strings): the program's "
			     "memory is going away",
			     i);
	}
	if (r == 0 && a->argc == 4)
		EXPECT_NULL(t, a->argv[4]);
	/* no array at all: no arguments */
	EXPECT_EQ(t, exec_copy_args(&space, 0, a), 0);
	EXPECT_EQ(t, a->argc, 0);
	EXPECT_NULL(t, a->argv[0]);
	uspace_destroy(&space);
	kfree(a);
}

KTEST(exec, copy_args_refuses_too_much, 2)
{
	static char long_string[USER_ARGS_MAX + 16];
	static const char *many[USER_ARGC_MAX + 1];
	static char quarter[USER_ARGS_MAX / 4], full[sizeof(((struct exec_args *)0)->strings)];
	struct exec_args *a = kmalloc(sizeof(*a));

	ASSERT_NOT_NULL(t, a);
	if (!load(t)) {
		kfree(a);
		return;
	}
	for (int i = 0; i <= USER_ARGC_MAX; i++)
		many[i] = "x";
	memset(long_string, 'l', sizeof(long_string) - 1);
	memset(quarter, 'q', sizeof(quarter) - 1);
	memset(full, 'f', sizeof(full) - 1);
	int r = exec_copy_args(&space, put_argv(USER_ARGC_MAX, many, true, -1), a);
	if (r != 0)
		FAIL(t, "exec_copy_args of %d arguments (USER_ARGC_MAX) gave %d, not 0",
		     USER_ARGC_MAX, r);
	r = exec_copy_args(&space, put_argv(USER_ARGC_MAX + 1, many, true, -1), a);
	if (r != -E2BIG)
		FAIL(t,
		     "exec_copy_args of %d arguments, one more than USER_ARGC_MAX, gave %d, not "
		     "-E2BIG",
		     USER_ARGC_MAX + 1, r);
	/* one string that fills a->strings to its last byte with its NUL: not too much */
	space_poke(&space, page + STRINGS_AT, full, sizeof(full));
	uint64_t one[2] = {page + STRINGS_AT, 0};
	space_poke(&space, page + ARRAY_AT, one, sizeof(one));
	r = exec_copy_args(&space, page + ARRAY_AT, a);
	if (r != 0)
		FAIL(t,
		     "exec_copy_args of one string of %zu bytes, which with its NUL fills "
		     "a->strings exactly, gave %d, not 0: the room left is sizeof(a->strings) "
		     "minus what the strings before took",
		     sizeof(full) - 1, r);
	else if (a->argc != 1 || strlen(a->argv[0]) != sizeof(full) - 1)
		FAIL(t,
		     "exec_copy_args of one string of %zu bytes gave argc %d and argv[0] of %zu "
		     "bytes, not 1 and the string",
		     sizeof(full) - 1, a->argc, a->argc ? strlen(a->argv[0]) : 0);
	/* the strings, too long for the page put_argv fills: written one at a time instead */
	space_poke(&space, page + STRINGS_AT, long_string, sizeof(long_string));
	uint64_t ptrs[3] = {page + STRINGS_AT, page + STRINGS_AT, 0};
	space_poke(&space, page + ARRAY_AT, ptrs, sizeof(ptrs));
	r = exec_copy_args(&space, page + ARRAY_AT, a);
	if (r != -E2BIG)
		FAIL(t,
		     "exec_copy_args of two strings of %zu bytes each (USER_ARGS_MAX is %d) gave "
		     "%d, not -E2BIG",
		     sizeof(long_string) - 1, USER_ARGS_MAX, r);
	uint64_t eight[9];
	space_poke(&space, page + STRINGS_AT, quarter, sizeof(quarter));
	for (int i = 0; i < 8; i++)
		eight[i] = page + STRINGS_AT;
	eight[8] = 0;
	space_poke(&space, page + ARRAY_AT, eight, sizeof(eight));
	r = exec_copy_args(&space, page + ARRAY_AT, a);
	if (r != -E2BIG)
		FAIL(t,
		     "exec_copy_args of eight strings of %zu bytes (twice USER_ARGS_MAX, %d, in "
		     "all) gave %d, not -E2BIG",
		     sizeof(quarter) - 1, USER_ARGS_MAX, r);
	uspace_destroy(&space);
	kfree(a);
}

KTEST(exec, copy_args_refuses_bad_pointers, 2)
{
	static const char *const words[] = {"echo", "hi"};
	struct exec_args *a = kmalloc(sizeof(*a));

	ASSERT_NOT_NULL(t, a);
	if (!load(t)) {
		kfree(a);
		return;
	}
	EXPECT_EQ(t, exec_copy_args(&space, 0xffff800000100000UL, a), -EFAULT);
	EXPECT_EQ(t, exec_copy_args(&space, USER_BOTTOM - PAGE_SIZE, a), -EFAULT);
	EXPECT_EQ(t, exec_copy_args(&space, put_argv(2, words, true, 1), a), -EFAULT);
	/* an array with no NULL that runs off the top of the stack, into the unmapped page
	 * above: two pointers to "hi" right below stack_top */
	uint64_t two[2] = {page + STRINGS_AT, page + STRINGS_AT};
	space_poke(&space, page + STRINGS_AT, "hi", 3);
	space_poke(&space, space.layout.stack_top - sizeof(two), two, sizeof(two));
	EXPECT_EQ(t, exec_copy_args(&space, space.layout.stack_top - sizeof(two), a), -EFAULT);
	uspace_destroy(&space);
	kfree(a);
}

/* A process that execs echo: echo's output, its status; the pid and parent stay. */
KTEST(exec, exec_runs_another_program, 3)
{
	static const char *const args[] = {"exectest", "args"}, *const keep[] = {"exectest",
										 "keep"};
	struct test_output *o = kmalloc(sizeof(*o));
	struct proc_leaks l;
	int status = -1;

	ASSERT_NOT_NULL(t, o);
	if (!procs_require(t)) {
		kfree(o);
		return;
	}
	proc_leaks_start(t, &l);
	if (proc_run(t, "exectest", 2, args, false, o, TEST_PROC_DEADLINE_MS, &status)) {
		if (strcmp(o->buf, "exec gives echo these words\n") || status != 0)
			FAIL(t,
			     "exectest args (exec of echo with 5 arguments) ended with status 0x%x "
			     "and wrote \"%s\", not echo's \"exec gives echo these words\\n\"",
			     status, o->buf);
	}
	proc_expect_ok(t, "exectest", 2, keep, false);
	proc_leaks_check(t, &l,
			 "two processes that exec (each exec gives the old address space back)");
	kfree(o);
}

/* What the test's handler of system call 56 execs: a damaged copy of hello. */
static uint8_t *damaged;
static size_t damaged_size;

static long exec_damaged(struct syscall_frame *f)
{
	static const char *const argv[] = {"damaged"};

	return proc_exec(proc_current(), "damaged", damaged, damaged_size, 1, argv, f);
}

/* exec of what cannot run: an error, and the caller goes on as it was; nothing kept. */
KTEST(exec, a_failed_exec_leaves_the_caller_as_it_was, 3)
{
	static const char *const fail[] = {"exectest", "fail"}, *const bad[] = {"exectest",
										"badelf"};
	const struct user_image *img = user_image_find("hello");
	struct proc_leaks l;

	ASSERT_NOT_NULL(t, img);
	if (!procs_require(t))
		return;
	damaged = kmalloc(img->size);
	ASSERT_NOT_NULL(t, damaged);
	proc_leaks_start(t, &l);
	proc_expect_ok(t, "exectest", 2, fail, false);
	syscall_fn_t old = test_syscall_set(TEST_SYS_A, exec_damaged);
	memcpy(damaged, img->data, img->size);
	damaged[DAMAGE_AT] = 3; /* EM_386 */
	damaged_size = img->size;
	proc_expect_ok(t, "exectest", 2, bad, false);
	memcpy(damaged, img->data, img->size);
	damaged_size = TRUNCATED; /* the headers, not the segments */
	proc_expect_ok(t, "exectest", 2, bad, false);
	test_syscall_set(TEST_SYS_A, old);
	proc_leaks_check(t, &l, "execs that failed");
	kfree(damaged);
}

static char name_problem[KTRY_MSG_MAX];

/* System call 56 of exectest badelf, for the test of the name: exec of hello (a name shorter
 * than exectest's), and a look at the name it leaves. */
static long exec_hello(struct syscall_frame *f)
{
	static const char *const argv[] = {"hello"};
	const struct user_image *img = user_image_find("hello");
	struct process *pr = proc_current();
	int r = proc_exec(pr, "hello", img->data, img->size, 1, argv, f);

	if (r == 0 && strcmp(pr->prog->name, "hello"))
		ksnprintf(name_problem, sizeof(name_problem),
			  "after exectest's exec of hello the program's name is \"%.40s\", not "
			  "\"hello\": copy the new name into prog->name with its NUL",
			  pr->prog->name);
	else if (r)
		ksnprintf(name_problem, sizeof(name_problem), "proc_exec of hello gave %d, not 0",
			  r);
	return r;
}

/* A process that execs is named after its new program, whatever the old name's length. */
KTEST(exec, exec_renames_the_process, 1)
{
	static const char *const argv[] = {"exectest", "badelf"};
	struct test_output *o = kmalloc(sizeof(*o));
	int status = -1;

	ASSERT_NOT_NULL(t, o);
	ASSERT_NOT_NULL(t, user_image_find("hello"));
	if (!procs_require(t)) {
		kfree(o);
		return;
	}
	name_problem[0] = '\0';
	syscall_fn_t old = test_syscall_set(TEST_SYS_A, exec_hello);
	bool ended = proc_run(t, "exectest", 2, argv, false, o, TEST_PROC_DEADLINE_MS, &status);
	test_syscall_set(TEST_SYS_A, old);
	if (name_problem[0])
		FAIL(t, "%s", name_problem);
	else if (ended && !strstr(o->buf, "hello from ring 3: I am 'hello'"))
		FAIL(t, "exectest's exec of hello did not run hello; the output: %s", o->buf);
	kfree(o);
}
