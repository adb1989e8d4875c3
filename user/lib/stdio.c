/*
 * Formatted output for programs: the kernel's own formatter (kernel/kprintf.c, built into
 * every program) with a sink that collects the text and hands it to write() in pieces.
 */
#include "kprintf.h"
#include "user.h"

#define OUT_BUF 256

struct out {
	int fd;
	size_t n;
	char buf[OUT_BUF];
};

static void flush(struct out *o)
{
	if (o->n)
		write(o->fd, o->buf, o->n);
	o->n = 0;
}

static void sink(void *ctx, const char *s, size_t n)
{
	struct out *o = ctx;

	while (n) {
		size_t take = MIN(n, OUT_BUF - o->n);

		memcpy(o->buf + o->n, s, take);
		o->n += take;
		s += take;
		n -= take;
		if (o->n == OUT_BUF)
			flush(o);
	}
}

int vdprintf(int fd, const char *fmt, va_list ap)
{
	struct out o = {.fd = fd};
	int r = kvformat(sink, &o, fmt, ap);

	flush(&o);
	return r;
}

int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}

int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = vdprintf(1, fmt, ap);
	va_end(ap);
	return r;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int r = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return r;
}

int puts(const char *s)
{
	return printf("%s\n", s);
}

/* kernel/kprintf.c's kprintf writes to "the console": for a program, its fd 1. */
void console_write(const char *s, size_t n)
{
	write(1, s, n);
}

unsigned long console_lock(void)
{
	return 0;
}

void console_unlock(unsigned long flags)
{
	(void)flags;
}
