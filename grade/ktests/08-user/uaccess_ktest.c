/*
 * Lab 08, step 5: what a program hands the kernel. uaccess_ok, copyin, copyout and copyinstr
 * called directly on a space built by hand (user_fixture.h: lab 02's functions only), whose
 * pages are:
 *
 *   0x400000 code (read, execute)   0x401000 data (read, write)   0x402000 read-only
 *   0x403000 nothing                0x404000-0x406000 two data pages   0x406000 nothing
 *   0x7ff000000000 one stack page (read, write), nothing under or above it
 */
#include <string.h>
#include "kprintf.h"
#include "paging.h"
#include "user_fixture.h"

#define STACK_TOP (HAND_STACK_VA + PAGE_SIZE)
#define PAIR_END  (HAND_PAIR_VA + 2 * PAGE_SIZE)
#define FILL	  0x5c
#define WHY_MAX	  320 /* why_refuse's words */

static const uint64_t bad[] = {
	0,			  /* NULL */
	8,			  /* next to it */
	USER_BOTTOM - 8,	  /* below the program's part */
	HAND_PAIR_VA - PAGE_SIZE, /* a hole: not mapped */
	PAIR_END,		  /* after the pair: not mapped */
	HAND_STACK_VA - 8,	  /* under the stack */
	USER_TOP - 8,		  /* the last page of the lower half */
	USER_TOP,
	0x0000800000000000UL, /* not canonical */
	0xffff7ffffffffff8UL,
	0xffff800000001000UL,  /* the direct map: mapped, but the kernel's */
	KERNEL_VMA + 0x100000, /* the kernel image: mapped, the kernel's */
	0xfffffffffffffff8UL,
};

/* What a page needs, checked in this order: to be read, the first two; to be written, all. */
static const struct {
	uint64_t flag;
	const char *lacking; /* what the page is without it */
} needs[] = {
	{PTE_PRESENT, "not mapped"},
	{PTE_USER, "mapped without PTE_USER (the kernel's)"},
	{PTE_WRITABLE, "not writable"},
};

static const char *flag_name(uint64_t flag)
{
	return flag == PTE_PRESENT ? "PTE_PRESENT" : flag == PTE_USER ? "PTE_USER" : "PTE_WRITABLE";
}

/*
 * Why uaccess_ok must refuse [addr, +len) for reading (writing), and what it seems to have
 * missed, into buf: the pages the range touches, the first that is not the program's to read
 * (write) and why, then a hint. Asked about that page alone and whole, a uaccess_ok that
 * refuses it did not look at it here (its loop stops too soon): the hint says so; one that
 * accepts it does not check the flag the page lacks: the hint names that flag.
 */
static const char *why_refuse(char *buf, size_t size, const struct uspace *s, uint64_t addr,
			      uint64_t len, bool write)
{
	if (addr < USER_BOTTOM || addr >= USER_TOP || len > USER_TOP - addr) {
		ksnprintf(
			buf, size,
			"it is not all inside [USER_BOTTOM, USER_TOP): refuse by arithmetic first, "
			"uaddr < USER_BOTTOM, uaddr >= USER_TOP and len > USER_TOP - uaddr");
		return buf;
	}
	uint64_t first = align_down(addr, PAGE_SIZE), last = align_down(addr + len - 1, PAGE_SIZE);
	uint64_t count = (last - first) / PAGE_SIZE + 1;

	for (uint64_t page = first; page <= last; page += PAGE_SIZE) {
		uint64_t entry = vm_leaf_entry(&s->vm, page);
		size_t i = 0;

		while (i < ARRAY_SIZE(needs) - !write && (entry & needs[i].flag))
			i++;
		if (i == ARRAY_SIZE(needs) - !write)
			continue;
		int n = ksnprintf(buf, size, "the range touches %lu page%s, ", count,
				  count == 1 ? "" : "s");
		if (count == 1)
			n += ksnprintf(buf + n, size - (size_t)n, "0x%lx, which", page);
		else
			n += ksnprintf(buf + n, size - (size_t)n, "0x%lx to 0x%lx, and %s, 0x%lx,",
				       first, last,
				       page == first  ? "its first"
				       : page == last ? "its last"
						      : "one in between",
				       page);
		if (uaccess_ok(s, page, PAGE_SIZE, write))
			ksnprintf(
				buf + n, size - (size_t)n,
				" is %s: uaccess_ok accepts that page even alone and whole, so it "
				"does not check %s in the leaf entry",
				needs[i].lacking, flag_name(needs[i].flag));
		else
			ksnprintf(
				buf + n, size - (size_t)n,
				" is %s; uaccess_ok refuses that page alone and whole, so here it "
				"never looked at it: check every page from align_down(uaddr) to the "
				"one holding the last byte, uaddr + len - 1",
				needs[i].lacking);
		return buf;
	}
	ksnprintf(buf, size, "(every page of it is the program's: the test is wrong)");
	return buf;
}

static bool build(struct ktest *t, struct uspace *s)
{
	static const char hello[] = "hello";

	if (!programs_require(t) || !hand_space_build(t, s, "\xc3", 1))
		return false;
	space_poke(s, HAND_DATA_VA, hello, sizeof(hello));
	return true;
}

/* Every bad address refused, for reading and writing, and nothing copied either way. */
KTEST(uaccess, bad_addresses_are_refused, 5)
{
	struct uspace s;
	uint8_t buf[16], src[16];
	char why[WHY_MAX];

	if (!build(t, &s))
		return;
	memset(src, 0x77, sizeof(src));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		bool read = uaccess_ok(&s, bad[i], 8, false);

		memset(buf, FILL, sizeof(buf));
		if (read || uaccess_ok(&s, bad[i], 8, true))
			FAIL(t, "uaccess_ok accepts 8 bytes at 0x%lx for %s: %s", bad[i],
			     read ? "reading" : "writing",
			     why_refuse(why, sizeof(why), &s, bad[i], 8, !read));
		if (copyin(&s, buf, bad[i], 8) != -EFAULT)
			FAIL(t, "copyin from 0x%lx did not give -EFAULT", bad[i]);
		if (buf[0] != FILL || buf[7] != FILL)
			FAIL(t, "copyin from 0x%lx wrote into the kernel's buffer", bad[i]);
		if (copyout(&s, bad[i], src, 8) != -EFAULT)
			FAIL(t, "copyout to 0x%lx did not give -EFAULT", bad[i]);
	}
	hand_space_free(&s);
}

struct range {
	uint64_t addr, len;
	bool read, write; /* what uaccess_ok must answer */
	const char *what;
};

/* Ranges: each page they touch counts, the length may be anything, nothing may wrap. */
KTEST(uaccess, every_page_of_a_range_counts, 5)
{
	static const struct range ranges[] = {
		{HAND_DATA_VA, 8, true, true, "8 bytes of data"},
		{HAND_PAIR_VA, 2 * PAGE_SIZE, true, true, "two whole pages"},
		{HAND_PAIR_VA + PAGE_SIZE - 4, 8, true, true, "8 bytes across two data pages"},
		{HAND_PAIR_VA, 2 * PAGE_SIZE + 1, false, false, "one byte past the pair"},
		{HAND_DATA_VA + PAGE_SIZE - 4, 8, true, false, "from data into read-only"},
		{HAND_CODE_VA, 16, true, false, "code: readable, not writable"},
		{HAND_CODE_VA, 0x4001, false, false, "code to the pair, over the hole at 0x403000"},
		{HAND_DATA_VA, ~0UL, false, false, "a length of 2^64 - 1"},
		{HAND_DATA_VA, 1UL << 63, false, false, "a length of 2^63"},
		{HAND_DATA_VA, USER_TOP - HAND_DATA_VA + 1, false, false, "up to past USER_TOP"},
		{0xfffffffffffff000UL, 0x2000, false, false, "wrapping around 2^64"},
		{STACK_TOP - 8, 8, true, true, "the top of the stack"},
		{STACK_TOP - 8, 16, false, false, "past the top of the stack"},
		{HAND_STACK_VA - 4, 8, false, false, "from under the stack into it"},
	};
	struct uspace s;
	char why[WHY_MAX];

	if (!build(t, &s))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++) {
		const struct range *r = &ranges[i];
		bool read = uaccess_ok(&s, r->addr, r->len, false);
		bool write = uaccess_ok(&s, r->addr, r->len, true);
		const char *hint = "";

		if (read && !r->read)
			hint = why_refuse(why, sizeof(why), &s, r->addr, r->len, false);
		else if (write && !r->write)
			hint = why_refuse(why, sizeof(why), &s, r->addr, r->len, true);
		if (read != r->read || write != r->write)
			FAIL(t, "%s [0x%lx, +0x%lx): reading %s, writing %s; expected %s, %s%s%s",
			     r->what, r->addr, r->len, read ? "allowed" : "refused",
			     write ? "allowed" : "refused", r->read ? "allowed" : "refused",
			     r->write ? "allowed" : "refused", *hint ? ": " : "", hint);
	}
	hand_space_free(&s);
}

/* copyout needs writable pages; reading the same pages is fine. */
KTEST(uaccess, copyout_needs_a_writable_page, 3)
{
	static const struct range refused[] = {
		{HAND_CODE_VA, 1, true, false, "the code page"},
		{HAND_RO_VA, 8, true, false, "the read-only page"},
		{HAND_DATA_VA + PAGE_SIZE - 4, 8, true, false,
		 "data running into the read-only page"},
	};
	struct uspace s;
	uint8_t buf[8], code = 0;
	const uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	char why[WHY_MAX];

	if (!build(t, &s))
		return;
	if (copyin(&s, &code, HAND_CODE_VA, 1) != 0 || code != 0xc3)
		FAIL(t,
		     "copyin of the code page's first byte gave 0x%x, not 0xc3: a page the "
		     "program may read but not write can be read",
		     code);
	if (copyin(&s, buf, HAND_RO_VA, 8) != 0)
		FAIL(t,
		     "copyin from the read-only page 0x%lx was refused: only copyout needs a "
		     "writable page",
		     HAND_RO_VA);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		const struct range *r = &refused[i];
		long got = copyout(&s, r->addr, src, r->len);

		if (got != -EFAULT)
			FAIL(t, "copyout of %lu byte(s) to %s at 0x%lx gave %ld, not -EFAULT: %s",
			     r->len, r->what, r->addr, got,
			     why_refuse(why, sizeof(why), &s, r->addr, r->len, true));
	}
	uint8_t after[8];
	space_peek(&s, HAND_CODE_VA, &code, 1);
	space_peek(&s, HAND_DATA_VA + PAGE_SIZE - 4, after, 8);
	if (code != 0xc3 || after[0] != 0 || after[4] != 0)
		FAIL(t,
		     "a refused copyout wrote all the same (code 0x%x, data 0x%x, read-only 0x%x; "
		     "expected 0xc3, 0, 0)",
		     code, after[0], after[4]);
	hand_space_free(&s);
}

/* Copies that cross pages land in the right frames, both ways. */
KTEST(uaccess, copies_cross_pages, 3)
{
	struct uspace s;
	static uint8_t out[300], in[300], direct[300];

	if (!build(t, &s))
		return;
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 1);
	uint64_t at = HAND_PAIR_VA + PAGE_SIZE - 100;
	EXPECT_EQ(t, copyout(&s, at, out, sizeof(out)), 0);
	space_peek(&s, at, direct, sizeof(direct));
	EXPECT_EQ(t, memcmp(direct, out, sizeof(out)), 0);
	EXPECT_EQ(t, copyin(&s, in, at, sizeof(in)), 0);
	EXPECT_EQ(t, memcmp(in, out, sizeof(in)), 0);
	hand_space_free(&s);
}

/* Zero bytes are fine whatever the address: nothing is touched. */
KTEST(uaccess, zero_bytes_are_always_fine, 1)
{
	struct uspace s;
	uint8_t b = FILL;

	if (!build(t, &s))
		return;
	EXPECT_TRUE(t, uaccess_ok(&s, 0, 0, true));
	EXPECT_EQ(t, copyin(&s, &b, 0, 0), 0);
	EXPECT_EQ(t, copyout(&s, KERNEL_VMA, &b, 0), 0);
	EXPECT_EQ(t, b, FILL);
	hand_space_free(&s);
}

/* copyinstr: up to the NUL, never a page past it; too long; into a hole; not the program's. */
KTEST(uaccess, copyinstr_stops_where_it_must, 5)
{
	struct uspace s;
	char dst[32], name[40];

	if (!build(t, &s))
		return;
	EXPECT_EQ(t, copyinstr(&s, dst, HAND_DATA_VA, sizeof(dst)), 5);
	EXPECT_STREQ(t, dst, "hello");
	EXPECT_EQ(t, copyinstr(&s, dst, HAND_DATA_VA + 5, 1), 0); /* "" fits in 1 */

	memset(name, 'n', sizeof(name));
	name[31] = '\0';
	space_poke(&s, HAND_PAIR_VA, name, sizeof(name));
	EXPECT_EQ(t, copyinstr(&s, dst, HAND_PAIR_VA, 32), 31);
	EXPECT_EQ(t, copyinstr(&s, dst, HAND_PAIR_VA, 31), -ENAMETOOLONG);

	/* "ab" ending with its NUL on the last byte before the hole: fine */
	space_poke(&s, PAIR_END - 3, "ab", 3);
	EXPECT_EQ(t, copyinstr(&s, dst, PAIR_END - 3, sizeof(dst)), 2);
	/* "abc" without a NUL before the hole */
	space_poke(&s, PAIR_END - 3, "abc", 3);
	EXPECT_EQ(t, copyinstr(&s, dst, PAIR_END - 3, sizeof(dst)), -EFAULT);

	static const uint64_t nowhere[] = {0, HAND_PAIR_VA - PAGE_SIZE, 0x0000800000000000UL,
					   KERNEL_VMA + 0x100000, ~0UL};
	for (size_t i = 0; i < ARRAY_SIZE(nowhere); i++)
		if (copyinstr(&s, dst, nowhere[i], sizeof(dst)) != -EFAULT)
			FAIL(t, "copyinstr from 0x%lx did not give -EFAULT", nowhere[i]);
	hand_space_free(&s);
}

/*
 * The edges of what is the program's. Two pages added to the space: the last page of the
 * lower half, mapped for the program (a range may end exactly at USER_TOP), and the hole at
 * 0x403000 mapped for the kernel only (no PTE_USER: never the program's, whatever else):
 *
 *   0x402000 read-only | 0x403000 kernel only | 0x404000 pair ...   0x7fffffffe000 last page
 */
KTEST(uaccess, user_top_and_kernel_only_pages, 3)
{
	static const uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	const uint64_t last = USER_TOP - PAGE_SIZE, kpage = HAND_PAIR_VA - PAGE_SIZE;
	struct uspace s;
	uint8_t buf[8];
	char why[WHY_MAX];

	if (!build(t, &s))
		return;
	phys_addr_t last_pa = kframe_alloc(), k_pa = kframe_alloc();
	if (!last_pa || !k_pa ||
	    vm_map(&s.vm, last, last_pa, PTE_USER | PTE_WRITABLE | PTE_NO_EXECUTE) < 0 ||
	    vm_map(&s.vm, kpage, k_pa, PTE_WRITABLE | PTE_NO_EXECUTE) < 0) {
		FAIL(t, "no memory for the test's two extra pages");
		goto out;
	}
	memset(phys_to_virt(last_pa), 0, PAGE_SIZE);
	memset(phys_to_virt(k_pa), FILL, PAGE_SIZE);

	static const struct range edges[] = {
		{USER_TOP - PAGE_SIZE, PAGE_SIZE, true, true, "the whole last page"},
		{USER_TOP - 8, 8, true, true, "the last 8 bytes below USER_TOP"},
		{USER_TOP - 1, 1, true, true, "the last byte below USER_TOP"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(edges); i++) {
		const struct range *r = &edges[i];

		if (!uaccess_ok(&s, r->addr, r->len, false) ||
		    !uaccess_ok(&s, r->addr, r->len, true))
			FAIL(t,
			     "uaccess_ok refuses %s [0x%lx, +0x%lx), a page mapped user and "
			     "writable: a range may end exactly at USER_TOP (refuse only len > "
			     "USER_TOP - uaddr)",
			     r->what, r->addr, r->len);
	}
	if (copyout(&s, USER_TOP - 8, src, 8) != 0 || copyin(&s, buf, USER_TOP - 8, 8) != 0 ||
	    memcmp(buf, src, 8))
		FAIL(t, "copyout then copyin of the last 8 bytes below USER_TOP did not give them "
			"back");
	if (uaccess_ok(&s, USER_TOP - 8, 9, false))
		FAIL(t, "uaccess_ok accepts [0x%lx, +9), which runs one byte past USER_TOP",
		     USER_TOP - 8);

	static const struct range kernel_only[] = {
		{HAND_PAIR_VA - PAGE_SIZE, 8, false, false, "8 bytes of it"},
		{HAND_PAIR_VA - 4, 8, false, false, "8 bytes from it into the pair"},
		{HAND_RO_VA + PAGE_SIZE - 4, 8, false, false, "8 bytes from read-only into it"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(kernel_only); i++) {
		const struct range *r = &kernel_only[i];
		bool read = uaccess_ok(&s, r->addr, r->len, false);
		bool write = uaccess_ok(&s, r->addr, r->len, true);

		if (read || write)
			FAIL(t, "uaccess_ok allows %s%s%s for %s [0x%lx, +0x%lx): %s",
			     read ? "reading" : "", read && write ? " and " : "",
			     write ? "writing" : "", r->what, r->addr, r->len,
			     why_refuse(why, sizeof(why), &s, r->addr, r->len, !read));
	}
	memset(buf, 0, sizeof(buf));
	if (copyin(&s, buf, kpage, 8) != -EFAULT || buf[0] != 0)
		FAIL(t, "copyin from 0x%lx (no PTE_USER) did not give -EFAULT, or copied", kpage);
	if (copyout(&s, kpage, src, 8) != -EFAULT || *(const uint8_t *)phys_to_virt(k_pa) != FILL)
		FAIL(t, "copyout to 0x%lx (no PTE_USER) did not give -EFAULT, or wrote", kpage);
out:
	if (last_pa && vm_translate(&s.vm, last) == last_pa)
		vm_unmap(&s.vm, last);
	if (k_pa && vm_translate(&s.vm, kpage) == k_pa)
		vm_unmap(&s.vm, kpage);
	if (last_pa)
		kframe_free(last_pa);
	if (k_pa)
		kframe_free(k_pa);
	hand_space_free(&s);
}
