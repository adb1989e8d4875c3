/*
 * A small printf: the formatting engine behind kprintf and ksnprintf. Plain C with no kernel
 * dependencies, so grade/ktests/00-kernel/kprintf_test.c runs it on the host too.
 */
#include <stdbool.h>
#include <stdint.h>
#include "kprintf.h"

struct spec {
	bool left; /* '-' flag */
	bool zero; /* '0' flag */
	int width; /* minimum field width, 0 if none */
	int prec;  /* precision, -1 if none */
	char len;  /* 'H' hh, 'h', 'l', 'L' ll/j, 'z' z/t, 0 for int */
	char conv; /* the conversion character */
};

struct out {
	kprintf_sink_t sink;
	void *ctx;
	int count;
};

static void emit(struct out *o, const char *s, size_t n)
{
	if (n) {
		o->sink(o->ctx, s, n);
		o->count += (int)n;
	}
}

static void emit_repeat(struct out *o, char c, int n)
{
	char buf[16];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = c;
	while (n > 0) {
		int k = n < (int)sizeof(buf) ? n : (int)sizeof(buf);
		emit(o, buf, (size_t)k);
		n -= k;
	}
}

/* Emit body (with an optional sign/prefix) padded to the field width. */
static void emit_field(struct out *o, const struct spec *sp, const char *prefix, const char *body,
		       int body_len, int min_digits)
{
	int prefix_len = 0;

	while (prefix[prefix_len])
		prefix_len++;
	int zeros = min_digits > body_len ? min_digits - body_len : 0;
	int total = prefix_len + zeros + body_len;
	int pad = sp->width > total ? sp->width - total : 0;

	if (pad && sp->zero && !sp->left && sp->prec < 0) {
		zeros += pad; /* zero padding goes between the sign and the digits */
		pad = 0;
	}
	if (!sp->left)
		emit_repeat(o, ' ', pad);
	emit(o, prefix, (size_t)prefix_len);
	emit_repeat(o, '0', zeros);
	emit(o, body, (size_t)body_len);
	if (sp->left)
		emit_repeat(o, ' ', pad);
}

static int utoa(uint64_t v, unsigned base, bool upper, char *end)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char *p = end;

	do {
		*--p = digits[v % base];
		v /= base;
	} while (v);
	return (int)(end - p);
}

static void format_number(struct out *o, struct spec *sp, uint64_t uv, bool negative)
{
	char buf[24];
	unsigned base = 10;
	const char *prefix = negative ? "-" : "";

	switch (sp->conv) {
	case 'x':
	case 'X':
	case 'p':
		base = 16;
		break;
	case 'o':
		base = 8;
		break;
	}
	int n = utoa(uv, base, sp->conv == 'X', buf + sizeof(buf));
	if (sp->prec == 0 && uv == 0)
		n = 0; /* printf prints nothing for a zero with precision 0 */
	if (sp->conv == 'p') {
		prefix = "0x";
		sp->prec = 16;
	}
	emit_field(o, sp, prefix, buf + sizeof(buf) - n, n, sp->prec);
}

static uint64_t arg_unsigned(const struct spec *sp, va_list *ap)
{
	switch (sp->len) {
	case 'H':
		return (unsigned char)va_arg(*ap, unsigned int);
	case 'h':
		return (unsigned short)va_arg(*ap, unsigned int);
	case 'l':
		return va_arg(*ap, unsigned long);
	case 'L':
		return va_arg(*ap, unsigned long long);
	case 'z':
		return va_arg(*ap, size_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static int64_t arg_signed(const struct spec *sp, va_list *ap)
{
	switch (sp->len) {
	case 'H':
		return (signed char)va_arg(*ap, int);
	case 'h':
		return (short)va_arg(*ap, int);
	case 'l':
		return va_arg(*ap, long);
	case 'L':
		return va_arg(*ap, long long);
	case 'z':
		return va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, int);
	}
}

/* Parse one conversion after its '%'; returns the character after it. */
static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){.prec = -1};
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		sp->prec = 0;
		if (*f == '*') {
			sp->prec = va_arg(*ap, int);
			if (sp->prec < 0)
				sp->prec = -1;
			f++;
		}
		while (*f >= '0' && *f <= '9')
			sp->prec = sp->prec * 10 + (*f++ - '0');
	}
	switch (*f) {
	case 'h':
		sp->len = f[1] == 'h' ? 'H' : 'h';
		f += f[1] == 'h' ? 2 : 1;
		break;
	case 'l':
		sp->len = f[1] == 'l' ? 'L' : 'l';
		f += f[1] == 'l' ? 2 : 1;
		break;
	case 'j':
		sp->len = 'L';
		f++;
		break;
	case 'z':
	case 't':
		sp->len = 'z';
		f++;
		break;
	}
	sp->conv = *f;
	return *f ? f + 1 : f;
}

int kvformat(kprintf_sink_t sink, void *ctx, const char *fmt, va_list ap_in)
{
	struct out o = {sink, ctx, 0};
	struct spec sp;
	va_list ap;

	va_copy(ap, ap_in);
	while (*fmt) {
		const char *lit = fmt;

		while (*fmt && *fmt != '%')
			fmt++;
		emit(&o, lit, (size_t)(fmt - lit));
		if (!*fmt)
			break;
		const char *start = fmt;
		fmt = parse_spec(fmt + 1, &sp, &ap);
		switch (sp.conv) {
		case 'd':
		case 'i': {
			int64_t v = arg_signed(&sp, &ap);
			format_number(&o, &sp, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			format_number(&o, &sp, arg_unsigned(&sp, &ap), false);
			break;
		case 'p':
			format_number(&o, &sp, (uintptr_t)va_arg(ap, void *), false);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			sp.prec = -1;
			emit_field(&o, &sp, "", &c, 1, 0);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n = 0;

			if (!s)
				s = "(null)";
			while (s[n] && (sp.prec < 0 || n < sp.prec))
				n++;
			sp.zero = false;
			sp.prec = -1;
			emit_field(&o, &sp, "", s, n, 0);
			break;
		}
		case '%':
			emit(&o, "%", 1);
			break;
		default:
			/* Unknown conversion: print it as written so the mistake is visible. */
			emit(&o, start, (size_t)(fmt - start));
			break;
		}
	}
	va_end(ap);
	return o.count;
}

struct buf_sink {
	char *buf;
	size_t size; /* room including the terminating NUL */
	size_t used;
};

static void buf_write(void *ctx, const char *s, size_t n)
{
	struct buf_sink *b = ctx;

	for (size_t i = 0; i < n && b->used + 1 < b->size; i++)
		b->buf[b->used++] = s[i];
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_sink b = {buf, size, 0};
	int n = kvformat(buf_write, &b, fmt, ap);

	if (size)
		buf[b.used] = '\0';
	return n;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void console_sink(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	console_write(s, n);
}

int kvprintf(const char *fmt, va_list ap)
{
	unsigned long flags = console_lock();
	int n = kvformat(console_sink, NULL, fmt, ap);
	console_unlock(flags);
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}
