/* Small compiler helpers used across the kernel and its host builds. */
#pragma once

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The struct of type `type` whose member `member` is at `ptr`. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define __noreturn			__attribute__((noreturn))
#define __unused			__attribute__((unused))
#define __printf(fmt, args)		__attribute__((format(printf, fmt, args)))
#define __packed			__attribute__((packed))
#define __aligned(n)			__attribute__((aligned(n)))

#define likely(x)			__builtin_expect(!!(x), 1)
#define unlikely(x)			__builtin_expect(!!(x), 0)

#define MIN(a, b)			((a) < (b) ? (a) : (b))
#define MAX(a, b)			((a) > (b) ? (a) : (b))

/* The exponent of the smallest power of two that is at least n: 0 for n = 1, 3 for 5 to 8,
 * 4 for 9 to 16. The highest set bit of n - 1, plus one, found in one instruction. */
static inline unsigned log2_ceil(size_t n)
{
	return n <= 1 ? 0 : 64 - (unsigned)__builtin_clzl(n - 1);
}
