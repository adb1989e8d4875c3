/* The system calls of kernel/user_abi.h as C functions. */
#include "user.h"

void exit(int status)
{
	for (;;) /* SYS_exit does not return */
		syscall3(SYS_exit, status, 0, 0);
}

long write(int fd, const void *buf, size_t len)
{
	return syscall3(SYS_write, fd, (long)buf, (long)len);
}

int getpid(void)
{
	return (int)syscall3(SYS_getpid, 0, 0, 0);
}

void yield(void)
{
	syscall3(SYS_yield, 0, 0, 0);
}

long sleep_ms(uint64_t ms)
{
	return syscall3(SYS_sleep, (long)ms, 0, 0);
}

long sys_sbrk(int64_t delta)
{
	return syscall3(SYS_sbrk, delta, 0, 0);
}

void *sbrk(intptr_t delta)
{
	long r = sys_sbrk(delta);

	return r < 0 ? (void *)-1 : (void *)r;
}

long layout(struct user_layout *out)
{
	return syscall3(SYS_layout, (long)out, 0, 0);
}

long find(const char *name)
{
	return syscall3(SYS_find, (long)name, 0, 0);
}

long atol_or(const char *s, long dflt)
{
	long v = 0, sign = 1;

	if (!s || !*s)
		return dflt;
	if (*s == '-') {
		sign = -1;
		s++;
	}
	if (!*s)
		return dflt;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return dflt;
		v = v * 10 + (*s - '0');
	}
	return sign * v;
}
