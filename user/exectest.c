/*
 * exectest <mode> [n]: exec, checked from the inside. Lab 09's tests run it
 * (grade/ktests/09-process); each mode prints "exectest <mode>: ok ..." and exits 0 when all
 * held, or says what did not and exits 1. `exectest` alone lists the modes.
 *
 *   args       exec echo with arguments: echo prints them
 *   same P Q   (what `keep` execs) the pid is P and the parent's pid Q
 *   keep       exec keeps the pid and the parent
 *   fail       exec of what cannot run (-ENOENT, -E2BIG, -EFAULT) leaves the caller as it was
 *   badelf     (with a test's handler for system call 56) exec of a damaged image: -ENOEXEC
 *   loop N     exec itself N times (default 1000), counting down
 */
#include <stdarg.h>
#include "user.h"

#define LOOPS	     1000
#define TEST_SYS_A   56 /* a number the tests give a handler of their own */
#define CANARY	     0x5ca1ab1e
#define LONG_ARG     5000
#define TOO_MANY     40
#define NUMBER_CHARS 24

static const char *mode = "";
static volatile int canary = CANARY; /* in .data */

static int fail(const char *fmt, ...) __printf(1, 2);
static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("exectest %s: ", mode);
	va_start(ap, fmt);
	vdprintf(1, fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

static int args(void)
{
	char *argv[] = {"echo", "exec", "gives", "echo", "these", "words", NULL};
	int r = exec("echo", argv);

	return fail("exec(\"echo\") returned %d (%s)", r, errstr(r));
}

static int same(char **argv)
{
	long pid = atol_or(argv[2], -1), ppid = atol_or(argv[3], -1);

	if (getpid() != pid || getppid() != ppid)
		return fail("after exec the pid is %d and the parent %d, not %ld and %ld", getpid(),
			    getppid(), pid, ppid);
	printf("exectest keep: ok: pid %d and parent %d kept across exec\n", getpid(), getppid());
	return 0;
}

static int keep(void)
{
	char pid[NUMBER_CHARS], ppid[NUMBER_CHARS];
	char *argv[] = {"exectest", "same", pid, ppid, NULL};

	snprintf(pid, sizeof(pid), "%d", getpid());
	snprintf(ppid, sizeof(ppid), "%d", getppid());
	int r = exec("exectest", argv);
	return fail("exec(\"exectest\") returned %d (%s)", r, errstr(r));
}

/* The caller must be as it was: its data, heap and stack. */
static int intact(const char *after, const char *heap, const char *stack)
{
	if (canary != CANARY || strcmp(heap, "heap") || strcmp(stack, "stack"))
		return fail("after %s the program's memory changed: a failed exec must leave the "
			    "caller as it was",
			    after);
	return 0;
}

static int failing(void)
{
	static char long_arg[LONG_ARG];
	char stack[8] = "stack", *heap = malloc(8), *many[TOO_MANY + 1];
	char *one[] = {"echo", long_arg, NULL};
	int r, bad = 0;

	if (!heap)
		return fail("malloc failed");
	memcpy(heap, "heap", 5);
	memset(long_arg, 'a', sizeof(long_arg) - 1);
	for (int i = 0; i < TOO_MANY; i++)
		many[i] = "x";
	many[TOO_MANY] = NULL;
#define EXPECT(call, want)                                                      \
	do {                                                                    \
		r = (call);                                                     \
		if (r != (want))                                                \
			bad |= fail("%s returned %d, not %s", #call, r, #want); \
		bad |= intact(#call, heap, stack);                              \
	} while (0)
	EXPECT(exec("nosuch", NULL), -ENOENT);
	EXPECT(exec("", NULL), -ENOENT);
	EXPECT(exec("echo", many), -E2BIG);
	EXPECT(exec("echo", one), -E2BIG);
	EXPECT(exec(NULL, NULL), -EFAULT);
	EXPECT(exec("echo", (char *const *)0xffff800000000000UL), -EFAULT);
#undef EXPECT
	if (bad)
		return 1;
	printf("exectest fail: ok: -ENOENT, -E2BIG and -EFAULT, and the caller went on\n");
	return 0;
}

static int badelf(void)
{
	char stack[8] = "stack", *heap = malloc(8);

	if (!heap)
		return fail("malloc failed");
	memcpy(heap, "heap", 5);
	long r = syscall3(TEST_SYS_A, 0, 0, 0);
	if (r == -ENOSYS)
		return fail("no handler for system call %d: only a test runs this mode",
			    TEST_SYS_A);
	if (r != -ENOEXEC)
		return fail("exec of a damaged image returned %ld, not -ENOEXEC (%d)", r, -ENOEXEC);
	if (intact("the exec of a damaged image", heap, stack))
		return 1;
	printf("exectest badelf: ok: -ENOEXEC, and the caller went on\n");
	return 0;
}

/* n - 1 in decimal into buf (the loop runs this program a thousand times: no printf) */
static void count_down(long n, char *buf)
{
	char digits[NUMBER_CHARS];
	int k = 0;

	for (n--; k == 0 || n; n /= 10)
		digits[k++] = (char)('0' + n % 10);
	while (k)
		*buf++ = digits[--k];
	*buf = '\0';
}

static int loop(long n)
{
	char count[NUMBER_CHARS];
	char *argv[] = {"exectest", "loop", count, NULL};

	if (n <= 0) {
		printf("exectest loop: ok\n");
		return 0;
	}
	count_down(n, count);
	int r = exec("exectest", argv);
	return fail("exec with %ld to go returned %d (%s)", n, r, errstr(r));
}

int main(int argc, char **argv)
{
	mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "loop"))
		return loop(argc > 2 ? atol_or(argv[2], LOOPS) : LOOPS);
	if (!strcmp(mode, "args"))
		return args();
	if (!strcmp(mode, "same") && argc == 4)
		return same(argv);
	if (!strcmp(mode, "keep"))
		return keep();
	if (!strcmp(mode, "fail"))
		return failing();
	if (!strcmp(mode, "badelf"))
		return badelf();
	printf("exectest: args keep fail badelf loop\n");
	return 2;
}
