/*
 * kprintf's formatting, checked through ksnprintf. Runs in the kernel and on the host (where
 * UBSan also watches the varargs handling).
 */
#include <stdint.h>
#include "kprintf.h"
#include "ktest.h"

/* Format into a buffer and compare with the expected text. */
#define EXPECT_FORMAT(t, expected, ...)                              \
	do {                                                         \
		char buf_[128];                                      \
		int n_ = ksnprintf(buf_, sizeof(buf_), __VA_ARGS__); \
		EXPECT_STREQ(t, buf_, expected);                     \
		EXPECT_EQ(t, n_, (int)strlen(expected));             \
	} while (0)

KTEST(kprintf, decimal, 0)
{
	EXPECT_FORMAT(t, "0", "%d", 0);
	EXPECT_FORMAT(t, "42 -42", "%d %i", 42, -42);
	EXPECT_FORMAT(t, "-2147483648", "%d", INT32_MIN);
	EXPECT_FORMAT(t, "4294967295", "%u", UINT32_MAX);
	EXPECT_FORMAT(t, "-9223372036854775808", "%ld", INT64_MIN);
	EXPECT_FORMAT(t, "18446744073709551615", "%lu", UINT64_MAX);
	EXPECT_FORMAT(t, "18446744073709551615", "%llu", 0xffffffffffffffffULL);
	EXPECT_FORMAT(t, "123456789", "%zu", (size_t)123456789);
}

KTEST(kprintf, hex, 0)
{
	EXPECT_FORMAT(t, "0", "%x", 0);
	EXPECT_FORMAT(t, "deadbeef DEADBEEF", "%x %X", 0xdeadbeef, 0xdeadbeef);
	EXPECT_FORMAT(t, "ffffffff80100000", "%lx", 0xffffffff80100000UL);
	EXPECT_FORMAT(t, "ff", "%hhx", (unsigned char)0x1ff);
	EXPECT_FORMAT(t, "17", "%o", 15);
}

KTEST(kprintf, width_and_padding, 0)
{
	EXPECT_FORMAT(t, "   42", "%5d", 42);
	EXPECT_FORMAT(t, "42   |", "%-5d|", 42);
	EXPECT_FORMAT(t, "00042", "%05d", 42);
	EXPECT_FORMAT(t, "-0042", "%05d", -42);
	EXPECT_FORMAT(t, "0000beef", "%08x", 0xbeef);
	EXPECT_FORMAT(t, "000000000009fc00", "%016lx", 0x9fc00UL);
	EXPECT_FORMAT(t, "123456", "%3d", 123456); /* a width never cuts */
	EXPECT_FORMAT(t, "  7", "%*d", 3, 7);
	EXPECT_FORMAT(t, "007", "%.3d", 7);
}

KTEST(kprintf, strings_and_chars, 0)
{
	EXPECT_FORMAT(t, "hello", "%s", "hello");
	EXPECT_FORMAT(t, "  abc|abc  |", "%5s|%-5s|", "abc", "abc");
	EXPECT_FORMAT(t, "ab", "%.2s", "abcdef");
	const char *volatile null_string = NULL; /* volatile: hide it from the compiler's checks */
	EXPECT_FORMAT(t, "(null)", "%s", null_string);
	EXPECT_FORMAT(t, "x", "%c", 'x');
	EXPECT_FORMAT(t, "  x", "%3c", 'x');
	EXPECT_FORMAT(t, "100%", "%d%%", 100);
}

KTEST(kprintf, pointers, 0)
{
	EXPECT_FORMAT(t, "0x0000000000001000", "%p", (void *)0x1000);
	EXPECT_FORMAT(t, "0xffffffff80100000", "%p", (void *)0xffffffff80100000UL);
}

KTEST(kprintf, truncation, 0)
{
	char buf[8];

	/* ksnprintf returns the full length but writes at most size - 1 characters. */
	EXPECT_EQ(t, ksnprintf(buf, sizeof(buf), "%s", "0123456789"), 10);
	EXPECT_STREQ(t, buf, "0123456");
	EXPECT_EQ(t, ksnprintf(buf, 1, "abc"), 3);
	EXPECT_STREQ(t, buf, "");
	EXPECT_EQ(t, ksnprintf(NULL, 0, "%d", 12345), 5);
}

KTEST(kprintf, unknown_conversion_is_visible, 0)
{
	/* A conversion kprintf does not know is printed as written, not silently dropped. */
	char buf[32];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
	ksnprintf(buf, sizeof(buf), "a%qb");
#pragma GCC diagnostic pop
	EXPECT_STREQ(t, buf, "a%qb");
}
