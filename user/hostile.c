/*
 * hostile: every kind of bad argument, on every system call that takes one, each compared
 * with the error the kernel must give (kernel/user_abi.h). Prints each mismatch and exits
 * with how many there were: 0 means the kernel refused everything it had to, and nothing
 * else. The kernel must survive all of it.
 */
#include "bad_addresses.h"
#include "user.h"

#define NAME_MAX_08 32 /* PROGRAM_NAME_MAX: find() copies at most this, NUL included */

static int checks, failures;
static const struct user_layout rodata_layout = {0}; /* read-only: copyout must refuse it */

/* -EBADF (-9), and so on: a result as the reader looks it up (kernel/user_abi.h). */
static const char *result_text(char *buf, size_t size, long v)
{
	static const struct {
		long error;
		const char *name;
	} names[] = {{ENOENT, "ENOENT"},   {E2BIG, "E2BIG"},
		     {ENOEXEC, "ENOEXEC"}, {EBADF, "EBADF"},
		     {ENOMEM, "ENOMEM"},   {EFAULT, "EFAULT"},
		     {EINVAL, "EINVAL"},   {ENAMETOOLONG, "ENAMETOOLONG"},
		     {ENOSYS, "ENOSYS"}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (v == -names[i].error) {
			snprintf(buf, size, "-%s (%ld)", names[i].name, v);
			return buf;
		}
	snprintf(buf, size, "%ld", v);
	return buf;
}

static void expect(const char *what, uint64_t arg, long got, long want)
{
	char g[32], w[32];

	checks++;
	if (got == want)
		return;
	failures++;
	printf("hostile: %s(0x%lx) = %s, expected %s\n", what, arg, result_text(g, sizeof(g), got),
	       result_text(w, sizeof(w), want));
}

static long raw(long nr, long a1, long a2, long a3)
{
	return syscall3(nr, a1, a2, a3);
}

int main(int argc, char **argv)
{
	struct user_layout l;
	static char buf[64] = "0123456789abcdef";
	char self_name[NAME_MAX_08];

	/* argv[0]'s string is at the top of the stack, where a test below writes: keep a copy */
	snprintf(self_name, sizeof(self_name), "%s", argv[0]);
	if (layout(&l) < 0) {
		printf("hostile: layout failed\n");
		return 100;
	}
	struct bad_address bad[BAD_ADDRESSES];

	bad_addresses(&l, bad);
	for (size_t i = 0; i < BAD_ADDRESSES; i++) {
		uint64_t p = bad[i].addr;

		expect("write(1, p, 8)", p, raw(SYS_write, 1, (long)p, 8), -EFAULT);
		expect("layout(p)", p, raw(SYS_layout, (long)p, 0, 0), -EFAULT);
		expect("find(p)", p, raw(SYS_find, (long)p, 0, 0), -EFAULT);
	}

	/* Lengths: near 2^64, wrapping, running off the top or into unmapped pages. */
	uint64_t b = (uint64_t)buf;
	expect("write(1, buf, -1)", b, raw(SYS_write, 1, (long)b, -1), -EFAULT);
	expect("write(1, buf, 2^63)", b, raw(SYS_write, 1, (long)b, (long)(1UL << 63)), -EFAULT);
	expect("write(1, buf, USER_TOP - buf + 1)", b,
	       raw(SYS_write, 1, (long)b, (long)(0x00007ffffffff000UL - b + 1)), -EFAULT);
	expect("write(1, 0xfffffffffffff000, 0x2000)", 0,
	       raw(SYS_write, 1, (long)0xfffffffffffff000UL, 0x2000), -EFAULT);
	expect("write(1, stack_top - 8, 16)", l.stack_top - 8,
	       raw(SYS_write, 1, (long)(l.stack_top - 8), 16), -EFAULT);
	expect("write(1, image_end - 8, 16)", l.image_end - 8,
	       raw(SYS_write, 1, (long)(l.image_end - 8), 16), -EFAULT);
	expect("write(1, NULL, 0)", 0, raw(SYS_write, 1, 0, 0), 0);
	expect("write(1, buf, 0)", b, raw(SYS_write, 1, (long)b, 0), 0);

	/* copyout into memory the program may not write. */
	expect("layout(rodata)", (uint64_t)&rodata_layout,
	       raw(SYS_layout, (long)&rodata_layout, 0, 0), -EFAULT);
	expect("layout(main)", (uint64_t)main, raw(SYS_layout, (long)main, 0, 0), -EFAULT);
	expect("layout(stack_top - 8)", l.stack_top - 8,
	       raw(SYS_layout, (long)(l.stack_top - 8), 0, 0), -EFAULT);

	/* Strings: too long, running into an unmapped page, fine. */
	char name[NAME_MAX_08 + 8];
	memset(name, 'x', sizeof(name));
	name[NAME_MAX_08 - 1] = '\0'; /* 31 characters: fits */
	expect("find(31 x)", 0, raw(SYS_find, (long)name, 0, 0), -ENOENT);
	name[NAME_MAX_08 - 1] = 'x';
	name[NAME_MAX_08] = '\0'; /* 32 characters: does not */
	expect("find(32 x)", 0, raw(SYS_find, (long)name, 0, 0), -ENAMETOOLONG);
	char *edge = (char *)(l.stack_top - 3); /* no NUL before the unmapped page above */
	memcpy(edge, "hel", 3);
	expect("find(\"hel\" at the stack's top)", (uint64_t)edge, raw(SYS_find, (long)edge, 0, 0),
	       -EFAULT);
	expect("find(\"no-such-program\")", 0, raw(SYS_find, (long)"no-such-program", 0, 0),
	       -ENOENT);
	long self = raw(SYS_find, (long)self_name, 0, 0);
	if (self <= 0) {
		printf("hostile: find(\"%s\") = %ld: the program cannot find itself\n", self_name,
		       self);
		failures++;
	}

	/* File descriptors, all 64 bits of them. */
	expect("write(0, buf, 1)", 0, raw(SYS_write, 0, (long)b, 1), -EBADF);
	expect("write(3, buf, 1)", 3, raw(SYS_write, 3, (long)b, 1), -EBADF);
	expect("write(-1, buf, 1)", (uint64_t)-1, raw(SYS_write, -1, (long)b, 1), -EBADF);
	expect("write(2^32 + 1, buf, 1)", (1UL << 32) + 1,
	       raw(SYS_write, (long)((1UL << 32) + 1), (long)b, 1), -EBADF);

	/* System call numbers: every 64-bit value may arrive. */
	const uint64_t nosys[] = {8,	     SYSCALL_MAX - 1,	       SYSCALL_MAX, SYSCALL_MAX + 1,
				  1UL << 31, (1UL << 32) | SYS_getpid, 1UL << 63,   (uint64_t)-1};
	for (size_t i = 0; i < sizeof(nosys) / sizeof(nosys[0]); i++)
		expect("syscall", nosys[i], raw((long)nosys[i], 0, 0, 0), -ENOSYS);

	/* sleep and sbrk with absurd numbers. */
	expect("sleep", (uint64_t)-1, raw(SYS_sleep, -1, 0, 0), -EINVAL);
	expect("sbrk(0)", 0, raw(SYS_sbrk, 0, 0, 0), (long)l.heap_start);
	expect("sbrk(-1) on an empty heap", (uint64_t)-1, raw(SYS_sbrk, -1, 0, 0), -EINVAL);
	expect("sbrk(INT64_MIN)", 1UL << 63, raw(SYS_sbrk, (long)(1UL << 63), 0, 0), -EINVAL);
	expect("sbrk(INT64_MAX)", ~0UL >> 1, raw(SYS_sbrk, (long)(~0UL >> 1), 0, 0), -ENOMEM);
	expect("sbrk(USER_HEAP_MAX + 1)", 0x40000001, raw(SYS_sbrk, 0x40000001, 0, 0), -ENOMEM);
	expect("sbrk(0) after those", 0, raw(SYS_sbrk, 0, 0, 0), (long)l.heap_start);

	printf("hostile: %d checks, %d failed\n", checks, failures);
	return failures;
}
