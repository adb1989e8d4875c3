/*
 * forktest <mode> [n]: fork, exit and wait, checked from the inside. Lab 09's tests run it
 * (grade/ktests/09-process); each mode prints "forktest <mode>: ok ..." and exits 0 when all
 * held, or says what did not and exits 1. `forktest` alone lists the modes.
 *
 *   share     the child sees the parent's memory: data, bss, heap and stack
 *   private   after fork, writes are private both ways: the child's (the parent waiting),
 *             then the parent's (made at once)
 *   many N    N children (default 100), in waves, each exit status to the right pid
 *   tree      two parents with three children each: statuses go to the right parent
 *   orphan    a child leaves a grandchild behind: it gets a new parent (init)
 *   nochild   wait without a child, or for a pid that is not one: -ECHILD
 *   fault     children ended by a page fault, a divide error, an invalid opcode
 *   zombie    a child exits; (a test's handler of system call 56 looks at it); then wait
 *   late      wait blocks until a child that sleeps first exits
 *   cycles N  N times (default 1000): fork, the child exits, wait
 *   chain     a fork bomb: each process forks the next until fork fails (-EAGAIN)
 *   pressure  (with a test's handler for system call 56, a fork that runs out of memory
 *             first): the child of the fork that worked exits
 *   hostile   bad pointers and numbers for the calls of lab 09
 */
#include <stdarg.h>
#include "bad_addresses.h"
#include "user.h"

#define PAGE	   4096
#define PAGES	   12
#define WAVE	   25
#define MANY	   100
#define CYCLES	   1000
#define ORPHAN_MS  2000 /* how long the grandchild waits for its parent to go */
#define LATE_MS	   30
#define TEST_SYS   56 /* a number the tests give a handler of their own */
#define FORK_NOT_0 95 /* the exit code of a child whose fork did not return 0 */

static char data[PAGES * PAGE] = {1}; /* in .data */
static char bss[PAGES * PAGE];	      /* in .bss */
static const char *mode = "";

static int fail(const char *fmt, ...) __printf(1, 2);
static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("forktest %s: ", mode);
	va_start(ap, fmt);
	vdprintf(1, fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

static void fill(char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i += PAGE / 4)
		p[i] = c;
}

/* The offset of the first byte of p[0 .. len) (of those fill writes) that is not c, or -1. */
static long differs(const char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i += PAGE / 4)
		if (p[i] != c)
			return (long)i;
	return -1;
}

/*
 * fork, and in a child that fork did not give 0 (it would take itself for the parent, and
 * wait for a child it does not have): fail saying so, and exit. The system calls are made
 * inline, with no call between them: the check reads registers only, so that a child whose
 * stack is still the parent's (a bug of its own) is not taken for one of these.
 */
static int forked(void)
{
	long me = syscall3(SYS_getpid, 0, 0, 0), pid = syscall3(SYS_fork, 0, 0, 0);

	if (pid != 0 && syscall3(SYS_getpid, 0, 0, 0) != me) {
		fail("the child's fork returned %ld, not 0 (the child is pid %d, its parent %ld)",
		     pid, getpid(), me);
		exit(FORK_NOT_0);
	}
	return (int)pid;
}

/* waitpid(pid) must give pid and an exit with code: 0, or fail saying what it gave. */
static int expect_exit(int pid, int code, const char *who)
{
	char how[64];
	int status = -1, r = waitpid(pid, &status);

	if (r > 0 && r != pid)
		return fail("waitpid(%d) for %s reaped pid %d, another child: waitpid(pid) waits "
			    "for that child only",
			    pid, who, r);
	if (r == -ECHILD)
		return fail("waitpid(%d) for %s returned -ECHILD, but pid %d is a child not yet "
			    "reaped: waitpid must wait until it ends",
			    pid, who, pid);
	if (r != pid)
		return fail("waitpid(%d) for %s returned %d (%s)", pid, who, r, errstr(r));
	if (!WAIT_EXITED(status) || WAIT_EXIT_CODE(status) != code)
		return fail("%s (pid %d) %s, not exit status %d", who, pid,
			    wait_describe(status, how, sizeof(how)), code);
	return 0;
}

static int share(void)
{
	char stack[2 * PAGE], *heap = malloc(3 * PAGE);

	if (!heap)
		return fail("malloc failed");
	fill(data, sizeof(data), 'd');
	fill(bss, sizeof(bss), 'b');
	fill(heap, 3 * PAGE, 'h');
	fill(stack, sizeof(stack), 's');
	int pid = forked();
	if (pid < 0)
		return fail("fork: %s", errstr(pid));
	if (pid == 0) {
		int bad = (differs(data, sizeof(data), 'd') >= 0) |
			  (differs(bss, sizeof(bss), 'b') >= 0) << 1 |
			  (differs(heap, 3 * PAGE, 'h') >= 0) << 2 |
			  (differs(stack, sizeof(stack), 's') >= 0) << 3;
		exit(bad);
	}
	if (expect_exit(pid, 0, "the child (which checks data, bss, heap and stack)"))
		return 1;
	printf("forktest share: ok: the child saw the parent's data, bss, heap and stack\n");
	return 0;
}

/* In a child: write 'C' over data and bss, and exit 0 if it reads back, else 3. */
static __noreturn void write_own_copies(void)
{
	fill(data, sizeof(data), 'C');
	fill(bss, sizeof(bss), 'C');
	exit(differs(data, sizeof(data), 'C') >= 0 || differs(bss, sizeof(bss), 'C') >= 0 ? 3 : 0);
}

static int private(void)
{
	char how[64];
	int status = -1;

	/* The child's writes, first with the parent only waiting: in whichever order the two run,
	 * the parent must still read its own 'A' once the child has written 'C' and exited. */
	fill(data, sizeof(data), 'A'); /* writable translations of every page in the TLB */
	fill(bss, sizeof(bss), 'A');
	int pid = forked();
	if (pid == 0)
		write_own_copies();
	if (pid < 0)
		return fail("fork: %s", errstr(pid));
	int r = waitpid(pid, &status);
	if (r != pid)
		return fail("waitpid(%d) returned %d (%s)", pid, r, errstr(r));
	if (!WAIT_EXITED(status) || WAIT_EXIT_CODE(status) != 0)
		return fail("the child %s after writing its copies",
			    wait_describe(status, how, sizeof(how)));
	long d = differs(data, sizeof(data), 'A'), b = differs(bss, sizeof(bss), 'A');
	if (d >= 0 || b >= 0)
		return fail(
			"the child's writes after fork reached the parent (%s + 0x%lx is '%c'): "
			"the pages were not write-protected in both",
			d >= 0 ? "data" : "bss", d >= 0 ? d : b, d >= 0 ? data[d] : bss[b]);

	/* Then the parent's writes, made at once after fork: the child has most likely not run
	 * yet, and must not see them. */
	pid = forked();
	if (pid == 0) {
		if (differs(data, sizeof(data), 'A') >= 0 || differs(bss, sizeof(bss), 'A') >= 0)
			exit(2); /* the parent's write after fork reached us */
		write_own_copies();
	}
	if (pid < 0)
		return fail("fork: %s", errstr(pid));
	fill(data, sizeof(data), 'P');
	fill(bss, sizeof(bss), 'P');
	r = waitpid(pid, &status);
	if (r != pid)
		return fail("waitpid(%d) returned %d (%s)", pid, r, errstr(r));
	if (WAIT_EXITED(status) && WAIT_EXIT_CODE(status) == 2)
		return fail("the child saw the parent's writes made after fork: the parent's pages "
			    "stayed writable for it (not write-protected, or its TLB not flushed)");
	if (!WAIT_EXITED(status) || WAIT_EXIT_CODE(status) != 0)
		return fail("the child %s after writing its copies",
			    wait_describe(status, how, sizeof(how)));
	d = differs(data, sizeof(data), 'P'), b = differs(bss, sizeof(bss), 'P');
	if (d >= 0 || b >= 0)
		return fail(
			"the parent's page changed after the child wrote it (%s + 0x%lx is '%c'): "
			"the page was not write-protected in both",
			d >= 0 ? "data" : "bss", d >= 0 ? d : b, d >= 0 ? data[d] : bss[b]);
	printf("forktest private: ok: after fork each side's writes stayed its own\n");
	return 0;
}

static int many(long n)
{
	int pids[WAVE];
	char how[64];

	for (long done = 0; done < n;) {
		int wave = (int)(n - done < WAVE ? n - done : WAVE);
		for (int i = 0; i < wave; i++) {
			pids[i] = forked();
			if (pids[i] == 0)
				exit((int)((done + i) % 200) + 1);
			if (pids[i] < 0)
				return fail("fork %ld: %s", done + i, errstr(pids[i]));
		}
		for (int k = 0; k < wave; k++) {
			int status = -1, r = wait(&status), i = 0;
			while (i < wave && pids[i] != r)
				i++;
			if (i == wave)
				return fail(
					"wait returned %d (%s), not one of this wave's children", r,
					r < 0 ? errstr(r) : "a pid");
			int want = (int)((done + i) % 200) + 1;
			if (!WAIT_EXITED(status) || WAIT_EXIT_CODE(status) != want)
				return fail(
					"child %d (pid %d) %s, not exit status %d: the status of "
					"another child?",
					(int)(done + i), r, wait_describe(status, how, sizeof(how)),
					want);
			pids[i] = 0;
		}
		done += wave;
	}
	int r = wait(NULL);
	if (r != -ECHILD)
		return fail("after reaping all %ld children, wait returned %d, not -ECHILD", n, r);
	printf("forktest many: ok: %ld children, each status to the right pid\n", n);
	return 0;
}

static int tree(void)
{
	int parents[2];

	for (int p = 0; p < 2; p++) {
		parents[p] = forked();
		if (parents[p] < 0)
			return fail("fork: %s", errstr(parents[p]));
		if (parents[p] == 0) { /* a parent of three */
			int me = getpid(), kids[3];
			for (int k = 0; k < 3; k++) {
				kids[k] = forked();
				if (kids[k] == 0)
					exit(getppid() == me ? 10 * (p + 1) + k : 99);
				if (kids[k] < 0)
					exit(98);
			}
			for (int k = 2; k >= 0; k--) /* in another order than they were made */
				if (expect_exit(kids[k], 10 * (p + 1) + k, "a grandchild"))
					exit(97);
			exit(wait(NULL) == -ECHILD ? 0 : 96);
		}
	}
	for (int p = 0; p < 2; p++)
		if (expect_exit(parents[p], 0, "a parent of three"))
			return 1;
	printf("forktest tree: ok: two parents, three children each, every status to its parent\n");
	return 0;
}

static int orphan(void)
{
	int pid = forked();

	if (pid < 0)
		return fail("fork: %s", errstr(pid));
	if (pid == 0) {
		int me = getpid(), g = forked();
		if (g == 0) {
			for (int t = 0; getppid() == me && t < ORPHAN_MS / 10; t++)
				sleep_ms(10); /* until the parent has gone */
			int now = getppid();
			printf("forktest orphan: pid %d lost its parent %d; its parent is now %d\n",
			       getpid(), me, now);
			exit(now == me ? 1 : 0);
		}
		exit(g < 0 ? 1 : 0); /* and leave the grandchild behind */
	}
	if (expect_exit(pid, 0, "the child that forks and leaves"))
		return 1;
	if (wait(NULL) != -ECHILD)
		return fail("the orphan is still this process's child");
	printf("forktest orphan: ok: child %d exited before its own child\n", pid);
	return 0;
}

static int nochild(void)
{
	int r = wait(NULL);

	if (r != -ECHILD)
		return fail("wait with no child returned %d, not -ECHILD (%d)", r, -ECHILD);
	if ((r = waitpid(4242, NULL)) != -ECHILD)
		return fail("waitpid(4242) with no child returned %d, not -ECHILD", r);
	int pid = forked();
	if (pid == 0)
		exit(7);
	if ((r = waitpid(pid + 1000, NULL)) != -ECHILD)
		return fail("waitpid of a pid that is not a child returned %d, not -ECHILD%s", r,
			    r == pid ? ": it reaped another child (waitpid(pid) waits for that "
				       "child only)"
				     : "");
	if (expect_exit(pid, 7, "the child"))
		return 1;
	if ((r = waitpid(pid, NULL)) != -ECHILD)
		return fail("waitpid of a child already reaped returned %d, not -ECHILD", r);
	printf("forktest nochild: ok: -ECHILD without a child\n");
	return 0;
}

static int fault(void)
{
	static const int vectors[] = {14, 0, 6};
	char how[64];

	for (int i = 0; i < 3; i++) {
		int pid = forked();
		if (pid < 0)
			return fail("fork: %s", errstr(pid));
		if (pid == 0) {
			if (i == 0)
				*(volatile int *)0 = 1;
			else if (i == 1) {
				unsigned q;
				__asm__ volatile("div %2" : "=a"(q) : "a"(1), "r"(0), "d"(0));
			} else
				__asm__ volatile("ud2");
			exit(99);
		}
		int status = -1, r = waitpid(pid, &status);
		if (r != pid)
			return fail("waitpid(%d) returned %d (%s)", pid, r, errstr(r));
		if (!WAIT_FAULTED(status) || WAIT_FAULT_VECTOR(status) != vectors[i])
			return fail("child %d %s (status 0x%x), not ended by exception %d", pid,
				    wait_describe(status, how, sizeof(how)), status, vectors[i]);
	}
	printf("forktest fault: ok: #PF, #DE and #UD reported to the parent\n");
	return 0;
}

static int zombie(void)
{
	int pid = forked();

	if (pid == 0)
		exit(9);
	if (pid < 0)
		return fail("fork: %s", errstr(pid));
	long r = syscall3(TEST_SYS, pid, 0, 0);
	if (r == -ENOSYS)
		return fail("no handler for system call %d: only a test runs this mode", TEST_SYS);
	if (expect_exit(pid, 9, "the child"))
		return 1;
	printf("forktest zombie: ok\n");
	return 0;
}

static int late(void)
{
	int pid = forked();

	if (pid == 0) {
		sleep_ms(LATE_MS);
		exit(3);
	}
	if (pid < 0)
		return fail("fork: %s", errstr(pid));
	if (expect_exit(pid, 3, "the child that sleeps first"))
		return 1;
	printf("forktest late: ok: wait waited for the child\n");
	return 0;
}

static int pressure(void)
{
	long pid = syscall3(TEST_SYS, 0, 0, 0); /* a fork, made by the test's handler */

	if (pid == 0)
		exit(4);
	if (pid == -ENOSYS)
		return fail("no handler for system call %d: only a test runs this mode", TEST_SYS);
	if (pid < 0)
		return fail("the fork under memory pressure never worked: %s", errstr(pid));
	if (expect_exit((int)pid, 4, "the child of the fork that worked"))
		return 1;
	printf("forktest pressure: ok\n");
	return 0;
}

static int cycles(long n)
{
	for (long i = 0; i < n; i++) {
		int pid = forked();
		if (pid == 0)
			exit((int)(i & 0x7f));
		if (pid < 0)
			return fail("fork %ld: %s", i, errstr(pid));
		if (expect_exit(pid, (int)(i & 0x7f), "the child"))
			return 1;
	}
	printf("forktest cycles: ok: %ld forks, exits and waits\n", n);
	return 0;
}

/*
 * Each process forks the next and waits for it, until fork fails. The exit code carries up
 * how many processes the chain has below (bits 0-5) and how the last fork failed (bits 6-7:
 * 1 EAGAIN, 2 ENOMEM, 3 another error).
 */
static int chain(void)
{
	int below = 0;

	for (;;) {
		int pid = forked();
		if (pid == 0)
			continue; /* the child forks the next */
		if (pid < 0)
			exit((pid == -EAGAIN ? 1 : pid == -ENOMEM ? 2 : 3) << 6);
		int status = 0;
		if (waitpid(pid, &status) != pid || !WAIT_EXITED(status))
			exit(3 << 6);
		below = (WAIT_EXIT_CODE(status) & 0x3f) + 1;
		exit((WAIT_EXIT_CODE(status) & 0xc0) | (below > 0x3f ? 0x3f : below));
	}
}

static int bomb(void)
{
	int pid = forked();

	if (pid < 0)
		return fail("the first fork: %s", errstr(pid));
	if (pid == 0)
		chain();
	int status = 0;
	if (waitpid(pid, &status) != pid || !WAIT_EXITED(status))
		return fail("the chain did not end with an exit");
	int n = (WAIT_EXIT_CODE(status) & 0x3f) + 1, how = WAIT_EXIT_CODE(status) >> 6;
	printf("forktest chain: %d processes below this one, then fork said %s\n", n,
	       how == 1	  ? "EAGAIN"
	       : how == 2 ? "ENOMEM"
			  : "something else");
	if (how != 1)
		return fail("a full process table must make fork return -EAGAIN");
	printf("forktest chain: ok\n");
	return 0;
}

static const char readonly[8] = "rodata"; /* in .rodata: the kernel must not write it */
static int refusals, refusals_missed;

/* A call that must give want with the bad address p (what it is: bad_addresses.h). */
static void refused(const char *call, uint64_t p, const char *what, long got, long want)
{
	refusals++;
	if (got == want)
		return;
	refusals_missed++;
	fail("%s with p = 0x%lx (%s) returned %ld (%s), not %ld (%s)", call, p, what, got,
	     errstr(got), want, errstr(want));
}

/*
 * Every bad address on every pointer of lab 09's calls (bad_addresses.h, as hostile tries
 * them on lab 08's), then targets the kernel may not write (read-only pages, ranges that run
 * off the end of what is mapped), then the other bad arguments. A child that has exited waits
 * through it all: wait must check where the status goes before it reaps the child. read is
 * only ever given a buffer it must refuse: with a good one it would wait for a line typed.
 */
static int hostile(void)
{
	struct bad_address bad[BAD_ADDRESSES];
	struct user_layout l;
	char name[40];
	int status = -1;
	long r;

	mode = "hostile"; /* argv[1]'s string is at the top of the stack, where tests write */
	if (layout(&l) < 0)
		return fail("layout failed");
	bad_addresses(&l, bad);
	int pid = forked();
	if (pid < 0)
		return fail("fork: %s", errstr(pid));
	if (pid == 0)
		exit(5);
	for (int i = 0; i < BAD_ADDRESSES; i++) {
		uint64_t p = bad[i].addr;
		const char *w = bad[i].what;

		if (p) { /* a NULL status is none wanted, a NULL argv no arguments: both fine */
			char *args[] = {"echo", (char *)p, NULL};
			refused("waitpid(child, p)", p, w, waitpid(pid, (int *)p), -EFAULT);
			refused("wait(p)", p, w, wait((int *)p), -EFAULT);
			refused("exec(\"echo\", p)", p, w, exec("echo", (char *const *)p), -EFAULT);
			refused("exec(\"echo\", {\"echo\", p, NULL})", p, w, exec("echo", args),
				-EFAULT);
		}
		refused("exec(p, NULL)", p, w, exec((const char *)p, NULL), -EFAULT);
		refused("read(0, p, 8)", p, w, read(0, (void *)p, 8), -EFAULT);
		refused("read(0, p, 2^64 - 1)", p, w, read(0, (void *)p, ~0UL), -EFAULT);
		refused("image(0, p, 32)", p, w, image(0, (char *)p, 32), -EFAULT);
		refused("image(0, p, 2^64 - 1)", p, w, image(0, (char *)p, ~0UL), -EFAULT);
	}
	const struct bad_address unwritable[] = {
		{(uint64_t)readonly, "read-only data"},
		{(uint64_t)(uintptr_t)main, "the program's code"},
		{l.stack_top - 1, "the stack's last byte: the rest runs off its top"},
		{l.image_end - 1, "the image's last byte: the rest runs off its end"},
	};
	for (size_t i = 0; i < sizeof(unwritable) / sizeof(unwritable[0]); i++) {
		uint64_t p = unwritable[i].addr;
		const char *w = unwritable[i].what;

		refused("waitpid(child, p)", p, w, waitpid(pid, (int *)p), -EFAULT);
		refused("read(0, p, 8)", p, w, read(0, (void *)p, 8), -EFAULT);
		refused("read(0, p, 2^64 - 1)", p, w, read(0, (void *)p, ~0UL), -EFAULT);
		refused("image(0, p, 32)", p, w, image(0, (char *)p, 32), -EFAULT);
		refused("image(0, p, 2^64 - 1)", p, w, image(0, (char *)p, ~0UL), -EFAULT);
	}
	if ((r = waitpid(pid, &status)) != pid || !WAIT_EXITED(status) ||
	    WAIT_EXIT_CODE(status) != 5)
		return fail(
			"after the bad pointers, waitpid(%d) returned %ld with status 0x%x: the "
			"child was lost to a bad pointer",
			pid, r, status);
	if (readonly[0] != 'r')
		return fail("the kernel wrote into read-only data");

	/* Strings and arrays that run into the unmapped page above the stack. */
	char *edge = (char *)(l.stack_top - 3); /* no NUL before the page above */
	memcpy(edge, "ech", 3);
	refused("exec(p) of \"ech\" and no NUL", (uint64_t)edge, "3 bytes below the stack's top",
		exec(edge, NULL), -EFAULT);
	char **last = (char **)(l.stack_top - sizeof(char *)); /* no NULL after it */
	*last = "echo";
	refused("exec(\"echo\", p) of an argv with no NULL", (uint64_t)last,
		"the stack's last pointer", exec("echo", last), -EFAULT);

	/* The other arguments: names too long, file descriptors and image numbers of 64 bits. */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	refused("exec(p) of a name of 39 bytes", (uint64_t)name, "a good buffer", exec(name, NULL),
		-ENAMETOOLONG);
	refused("read(1, p, 8)", (uint64_t)name, "a good buffer", read(1, name, 8), -EBADF);
	refused("read(2^32, p, 8)", (uint64_t)name, "a good buffer",
		syscall3(SYS_read, (1L << 32), (long)name, 8), -EBADF);
	refused("image(0, p, 1)", (uint64_t)name, "a good buffer", image(0, name, 1),
		-ENAMETOOLONG);
	refused("image(-1, p, 40)", (uint64_t)name, "a good buffer", image(-1UL, name, 40),
		-ENOENT);
	refused("image(2^32, p, 40)", (uint64_t)name, "a good buffer", image(1UL << 32, name, 40),
		-ENOENT);
	r = image(0, name, ~0UL); /* the size is the room: a name that fits is no error */
	if (r <= 0 || strnlen(name, sizeof(name)) == sizeof(name))
		return fail("image(0, buf, 2^64 - 1) returned %ld (%s), not image 0's size", r,
			    errstr(r));
	refused("wait(NULL) without a child", 0, "NULL", syscall3(SYS_wait, -1, 0, 0), -ECHILD);
	if (refusals_missed)
		return 1;
	printf("forktest hostile: ok: %d bad arguments refused\n", refusals);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol_or(argv[2], -1) : -1;

	mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "share"))
		return share();
	if (!strcmp(mode, "private"))
		return private();
	if (!strcmp(mode, "many"))
		return many(n > 0 ? n : MANY);
	if (!strcmp(mode, "tree"))
		return tree();
	if (!strcmp(mode, "orphan"))
		return orphan();
	if (!strcmp(mode, "nochild"))
		return nochild();
	if (!strcmp(mode, "fault"))
		return fault();
	if (!strcmp(mode, "zombie"))
		return zombie();
	if (!strcmp(mode, "late"))
		return late();
	if (!strcmp(mode, "pressure"))
		return pressure();
	if (!strcmp(mode, "cycles"))
		return cycles(n > 0 ? n : CYCLES);
	if (!strcmp(mode, "chain"))
		return bomb();
	if (!strcmp(mode, "hostile"))
		return hostile();
	printf("forktest: share private many tree orphan nochild fault zombie late cycles chain "
	       "pressure hostile\n");
	return 2;
}
