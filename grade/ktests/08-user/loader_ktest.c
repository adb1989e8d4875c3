/*
 * Lab 08, step 4: the ELF loader. elf_check on the programs of user/ and on copies of them
 * corrupted one field at a time (each refused with its own reason), on truncated and randomly
 * damaged copies placed right before an unmapped page (it must never read past the image);
 * then elf_load and loader_setup_stack into spaces the test reads back page by page.
 */
#include <string.h>
#include "heap.h"
#include "paging.h"
#include "user_fixture.h"

#define TEST_BASE     0x0000001000000000UL /* where the tests load an image */
#define SENTINEL      0xa5
#define FENCE_VA      0x00000000c0000000UL /* kernel_vm: pages for an image, then an unmapped one */
#define FENCE_PAGES   8
#define RANDOM_ROUNDS 300
#define HEADER_BYTES  512 /* what random damage hits: the ELF and program headers */
#define STACK_TOP     0x00007f0000100000UL

/* A private copy of the image called name (kmalloc), to damage. */
static uint8_t *copy_of(struct ktest *t, const char *name, size_t *size)
{
	const struct user_image *img = user_image_find(name);
	uint8_t *c;

	if (!img) {
		FAIL(t, "no program '%s' in the kernel image", name);
		return NULL;
	}
	c = kmalloc(img->size);
	if (!c) {
		FAIL(t, "no memory for a copy of '%s'", name);
		return NULL;
	}
	memcpy(c, img->data, img->size);
	*size = img->size;
	return c;
}

static struct elf64_ehdr *ehdr(uint8_t *img)
{
	return (struct elf64_ehdr *)img;
}

static struct elf64_phdr *phdr(uint8_t *img, int i)
{
	return (struct elf64_phdr *)(img + ehdr(img)->e_phoff) + i;
}

/* The index of the first PT_LOAD with exactly these flags, or of the first one with memsz
 * > filesz when flags is 0. -1 if none. */
static int load_with(uint8_t *img, uint32_t flags)
{
	for (int i = 0; i < ehdr(img)->e_phnum; i++) {
		struct elf64_phdr *p = phdr(img, i);
		if (p->p_type == ELF_PT_LOAD &&
		    (flags ? p->p_flags == flags : p->p_memsz > p->p_filesz))
			return i;
	}
	return -1;
}

static int code_seg(uint8_t *img)
{
	return load_with(img, ELF_PF_R | ELF_PF_X);
}

static int data_seg(uint8_t *img)
{
	return load_with(img, ELF_PF_R | ELF_PF_W);
}

/* A fixed-address variant: ET_EXEC, every address moved up by USER_BOTTOM. */
static void make_exec(uint8_t *img)
{
	ehdr(img)->e_type = ELF_ET_EXEC;
	ehdr(img)->e_entry += USER_BOTTOM;
	for (int i = 0; i < ehdr(img)->e_phnum; i++)
		if (phdr(img, i)->p_type == ELF_PT_LOAD)
			phdr(img, i)->p_vaddr += USER_BOTTOM;
}

/* Every program of user/ is accepted: position-independent, linked at 0, entry in its code. */
KTEST(loader, accepts_the_programs_of_user, 3)
{
	ASSERT_GT(t, user_image_count(), 0);
	for (size_t i = 0; i < user_image_count(); i++) {
		const struct user_image *img = user_image_at(i);
		struct elf_info info;
		enum elf_error e = elf_check(img->data, img->size, &info);

		if (e != ELF_OK) {
			FAIL(t, "elf_check refuses '%s': %s", img->name, elf_strerror(e));
			continue;
		}
		EXPECT_TRUE(t, info.relocatable);
		EXPECT_EQ(t, info.lo, 0);
		EXPECT_EQ(t, info.hi % PAGE_SIZE, 0);
		EXPECT_TRUE(t, info.entry > info.lo && info.entry < info.hi);
		EXPECT_EQ(t, info.entry, ((const struct elf64_ehdr *)img->data)->e_entry);
	}
	size_t size;
	uint8_t *img = copy_of(t, "hello", &size);
	if (!img)
		return;
	struct elf_info info;
	make_exec(img);
	EXPECT_EQ(t, elf_check(img, size, &info), ELF_OK);
	EXPECT_FALSE(t, info.relocatable);
	EXPECT_EQ(t, info.lo, USER_BOTTOM);
	kfree(img);
}

struct damage {
	const char *what;
	void (*apply)(uint8_t *img, size_t *size);
	enum elf_error want;
};

static void short_header(uint8_t *img, size_t *size)
{
	*size = sizeof(struct elf64_ehdr) - 1;
}
static void bad_magic(uint8_t *img, size_t *size)
{
	img[1] = 'X';
}
static void class32(uint8_t *img, size_t *size)
{
	img[ELF_EI_CLASS] = 1;
}
static void big_endian(uint8_t *img, size_t *size)
{
	img[ELF_EI_DATA] = 2;
}
static void i386(uint8_t *img, size_t *size)
{
	ehdr(img)->e_machine = 3;
}
static void aarch64(uint8_t *img, size_t *size)
{
	ehdr(img)->e_machine = 183;
}
static void relocatable_obj(uint8_t *img, size_t *size)
{
	ehdr(img)->e_type = 1;
}
static void core(uint8_t *img, size_t *size)
{
	ehdr(img)->e_type = 4;
}
static void phentsize(uint8_t *img, size_t *size)
{
	ehdr(img)->e_phentsize = 32;
}
static void no_phdrs(uint8_t *img, size_t *size)
{
	ehdr(img)->e_phnum = 0;
}
static void many_phdrs(uint8_t *img, size_t *size)
{
	ehdr(img)->e_phnum = ELF_MAX_PHDRS + 1;
}
static void odd_phoff(uint8_t *img, size_t *size)
{
	ehdr(img)->e_phoff = 65;
}
static void phdrs_past_end(uint8_t *img, size_t *size)
{
	ehdr(img)->e_phoff = *size - 8;
}
static void phoff_wraps(uint8_t *img, size_t *size)
{
	ehdr(img)->e_phoff = ~0UL - 7;
}
static void cut_in_code(uint8_t *img, size_t *size)
{
	*size = phdr(img, code_seg(img))->p_offset + 16;
}
static void interp(uint8_t *img, size_t *size)
{
	for (int i = 0; i < ehdr(img)->e_phnum; i++)
		if (phdr(img, i)->p_type != ELF_PT_LOAD)
			phdr(img, i)->p_type = ELF_PT_INTERP;
}
static void filesz_over_memsz(uint8_t *img, size_t *size)
{
	phdr(img, code_seg(img))->p_filesz = phdr(img, code_seg(img))->p_memsz + 1;
}
static void offset_wraps(uint8_t *img, size_t *size)
{
	phdr(img, code_seg(img))->p_offset = ~0UL - 7;
}
static void write_exec(uint8_t *img, size_t *size)
{
	phdr(img, code_seg(img))->p_flags |= ELF_PF_W;
}
static void in_kernel_dyn(uint8_t *img, size_t *size)
{
	phdr(img, data_seg(img))->p_vaddr = 0xffff800000000000UL;
}
static void in_kernel_exec(uint8_t *img, size_t *size)
{
	make_exec(img);
	phdr(img, data_seg(img))->p_vaddr = KERNEL_VMA;
}
static void below_bottom_exec(uint8_t *img, size_t *size)
{
	ehdr(img)->e_type = ELF_ET_EXEC;
}
static void memsz_wraps(uint8_t *img, size_t *size)
{
	phdr(img, data_seg(img))->p_memsz = ~0UL - 0xfff;
}
static void huge(uint8_t *img, size_t *size)
{
	phdr(img, data_seg(img))->p_memsz = USER_IMAGE_MAX;
}
static void overlap(uint8_t *img, size_t *size)
{
	phdr(img, data_seg(img))->p_vaddr = phdr(img, code_seg(img))->p_vaddr + 8;
}
static void nothing_to_load(uint8_t *img, size_t *size)
{
	for (int i = 0; i < ehdr(img)->e_phnum; i++)
		if (phdr(img, i)->p_type == ELF_PT_LOAD)
			phdr(img, i)->p_type = 0;
}
static void entry_in_data(uint8_t *img, size_t *size)
{
	ehdr(img)->e_entry = phdr(img, data_seg(img))->p_vaddr;
}
static void entry_in_headers(uint8_t *img, size_t *size)
{
	ehdr(img)->e_entry = 0x10;
}
static void entry_past_code(uint8_t *img, size_t *size)
{
	struct elf64_phdr *c = phdr(img, code_seg(img));
	ehdr(img)->e_entry = c->p_vaddr + c->p_memsz;
}

static const struct damage header_damage[] = {
	{"a file shorter than the ELF header", short_header, ELF_TRUNCATED},
	{"a wrong magic number", bad_magic, ELF_BAD_MAGIC},
	{"a 32-bit ELF", class32, ELF_BAD_CLASS},
	{"a big-endian ELF", big_endian, ELF_BAD_CLASS},
	{"a program for i386", i386, ELF_BAD_MACHINE},
	{"a program for aarch64", aarch64, ELF_BAD_MACHINE},
	{"an object file (ET_REL)", relocatable_obj, ELF_BAD_TYPE},
	{"a core dump (ET_CORE)", core, ELF_BAD_TYPE},
	{"program headers of 32 bytes", phentsize, ELF_BAD_PHDRS},
	{"no program headers", no_phdrs, ELF_BAD_PHDRS},
	{"too many program headers", many_phdrs, ELF_BAD_PHDRS},
	{"program headers at an odd offset", odd_phoff, ELF_BAD_PHDRS},
	{"program headers running past the end", phdrs_past_end, ELF_TRUNCATED},
	{"program headers at 2^64 - 8", phoff_wraps, ELF_TRUNCATED},
};

static const struct damage segment_damage[] = {
	{"a file cut in the middle of its code", cut_in_code, ELF_TRUNCATED},
	{"a PT_INTERP (dynamically linked)", interp, ELF_INTERP},
	{"a segment with p_filesz > p_memsz", filesz_over_memsz, ELF_BAD_SEGMENT},
	{"a segment at file offset 2^64 - 8", offset_wraps, ELF_TRUNCATED},
	{"a writable and executable segment", write_exec, ELF_WRITE_EXEC},
	{"an ET_DYN segment in the kernel half", in_kernel_dyn, ELF_OUTSIDE},
	{"an ET_EXEC segment at KERNEL_VMA", in_kernel_exec, ELF_OUTSIDE},
	{"an ET_EXEC segment below USER_BOTTOM", below_bottom_exec, ELF_OUTSIDE},
	{"a segment whose end wraps around", memsz_wraps, ELF_OUTSIDE},
	{"a segment of USER_IMAGE_MAX bytes", huge, ELF_TOO_BIG},
	{"two segments on one page", overlap, ELF_OVERLAP},
	{"nothing to load", nothing_to_load, ELF_NO_LOAD},
	{"the entry point in the data", entry_in_data, ELF_BAD_ENTRY},
	{"the entry point in the headers", entry_in_headers, ELF_BAD_ENTRY},
	{"the entry point just past the code", entry_past_code, ELF_BAD_ENTRY},
};

/* Each damage refused with its reason, *info untouched. */
static void check_damage(struct ktest *t, const struct damage *d, size_t n)
{
	size_t size;
	uint8_t *img = copy_of(t, "memtest", &size);

	if (!img)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct user_image *orig = user_image_find("memtest");
		struct elf_info info, untouched;

		memcpy(img, orig->data, orig->size);
		size = orig->size;
		d[i].apply(img, &size);
		memset(&info, SENTINEL, sizeof(info));
		untouched = info;
		enum elf_error e = elf_check(img, size, &info);
		if (e != d[i].want)
			FAIL(t, "%s: elf_check says \"%s\" (%d), expected \"%s\" (%d)", d[i].what,
			     elf_strerror(e), e, elf_strerror(d[i].want), d[i].want);
		else if (memcmp(&info, &untouched, sizeof(info)))
			FAIL(t, "%s: refused, but *info was changed", d[i].what);
	}
	kfree(img);
}

#define NEAR_CEILING 0x100000UL /* 1 MiB: memtest's segments fit under it */

/* Edges that are still fine (elf_check must say ELF_OK). */
static void spans_image_max(uint8_t *img, size_t *size)
{
	struct elf64_phdr *d = phdr(img, data_seg(img)); /* the last segment, from 0 */
	d->p_memsz = USER_IMAGE_MAX - d->p_vaddr;
}

static void ends_at_the_ceiling(uint8_t *img, size_t *size)
{
	const uint64_t ceiling = USER_LOAD_MAX - USER_BOTTOM, shift = ceiling - NEAR_CEILING;

	ehdr(img)->e_entry += shift;
	for (int i = 0; i < ehdr(img)->e_phnum; i++)
		if (phdr(img, i)->p_type == ELF_PT_LOAD)
			phdr(img, i)->p_vaddr += shift;
	struct elf64_phdr *d = phdr(img, data_seg(img));
	d->p_memsz = ceiling - d->p_vaddr;
}

static const struct damage fine_edges[] = {
	{"segments that span exactly USER_IMAGE_MAX (only more is ELF_TOO_BIG)", spans_image_max,
	 ELF_OK},
	{"an ET_DYN segment ending exactly at USER_LOAD_MAX - USER_BOTTOM (only past it is "
	 "ELF_OUTSIDE)",
	 ends_at_the_ceiling, ELF_OK},
};

/* Each edge accepted. */
static void check_fine(struct ktest *t, const struct damage *d, size_t n)
{
	size_t size;
	uint8_t *img = copy_of(t, "memtest", &size);

	if (!img)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct user_image *orig = user_image_find("memtest");
		struct elf_info info;

		memcpy(img, orig->data, orig->size);
		size = orig->size;
		d[i].apply(img, &size);
		enum elf_error e = elf_check(img, size, &info);
		if (e != ELF_OK)
			FAIL(t, "%s: elf_check says \"%s\" (%d), expected it accepted", d[i].what,
			     elf_strerror(e), e);
	}
	kfree(img);
}

KTEST(loader, refuses_bad_headers, 4)
{
	check_damage(t, header_damage, ARRAY_SIZE(header_damage));
}

KTEST(loader, refuses_bad_segments, 5)
{
	check_damage(t, segment_damage, ARRAY_SIZE(segment_damage));
	check_fine(t, fine_edges, ARRAY_SIZE(fine_edges));
}

/* A refused image costs nothing: program_load maps nothing and keeps no frame. */
KTEST(loader, a_refused_image_leaves_nothing, 2)
{
	uint64_t frames = kframes_free();
	size_t size;
	uint8_t *img = copy_of(t, "memtest", &size);

	if (!img)
		return;
	const struct damage *all[] = {header_damage, segment_damage};
	const size_t counts[] = {ARRAY_SIZE(header_damage), ARRAY_SIZE(segment_damage)};
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < counts[k]; i++) {
			const struct user_image *orig = user_image_find("memtest");
			struct program *p = program_create("damaged");
			if (!p)
				break;
			memcpy(img, orig->data, orig->size);
			size = orig->size;
			all[k][i].apply(img, &size);
			int r = program_load(p, img, size, 0, NULL);
			if (r != -ENOEXEC)
				FAIL(t, "%s: program_load gave %d, not -ENOEXEC", all[k][i].what,
				     r);
			program_free(p);
		}
	kfree(img);
	EXPECT_EQ(t, kframes_free(), frames);
}

/* Map count pages at FENCE_VA in kernel_vm, with the page after them unmapped. */
static bool fence_map(struct ktest *t, int count)
{
	for (int i = 0; i < count; i++) {
		phys_addr_t pa = kframe_alloc();
		if (!pa ||
		    kmap_page(FENCE_VA + i * PAGE_SIZE, pa, PTE_WRITABLE | PTE_NO_EXECUTE) < 0) {
			FAIL(t, "no memory for the test's pages");
			return false;
		}
	}
	return true;
}

static void fence_unmap(int count)
{
	for (int i = 0; i < count; i++) {
		uint64_t va = FENCE_VA + i * PAGE_SIZE;
		phys_addr_t pa = vm_translate(&kernel_vm, va);
		if (pa != VM_NOT_MAPPED) {
			kunmap_page(va);
			kframe_free(pa);
		}
	}
}

/* elf_check with a catch point: its answer, or -1 (and *r) if it faulted. */
static int check_caught(const uint8_t *img, size_t size, struct elf_info *info,
			struct ktry_result *r)
{
	volatile int e = ELF_OK;

	if (CATCH_FAULT(r, e = elf_check(img, size, info)))
		return -1;
	return e;
}

/*
 * Cut short at random, or damaged at random in its headers, and placed so that its last byte
 * is the last mapped one: elf_check never faults, whatever it answers, and what it accepts
 * makes sense.
 */
KTEST(loader, never_reads_past_the_image, 4)
{
	const struct user_image *orig = user_image_find("memtest");
	uint8_t *end = (uint8_t *)(FENCE_VA + FENCE_PAGES * PAGE_SIZE);
	struct ktry_result r;

	ASSERT_NOT_NULL(t, orig);
	ASSERT_LE(t, orig->size, FENCE_PAGES * PAGE_SIZE);
	if (!fence_map(t, FENCE_PAGES)) {
		fence_unmap(FENCE_PAGES);
		return;
	}
	for (int round = 0; round < RANDOM_ROUNDS && !t->failures; round++) {
		size_t size = orig->size;
		bool cut = round % 2 == 0;

		if (cut)
			size = ktest_random_range(t, 0, orig->size);
		uint8_t *img = end - size;
		memcpy(img, orig->data, size);
		if (!cut)
			for (int k = 0; k < 4; k++)
				img[ktest_random_range(t, 0, HEADER_BYTES - 1)] =
					(uint8_t)ktest_random(t);
		struct elf_info info;
		int e = check_caught(img, size, &info, &r);
		if (e < 0) {
			FAIL(t, "elf_check on a %s image of %zu bytes read outside it: %s",
			     cut ? "truncated" : "damaged", size, r.msg);
			break;
		}
		if (e == ELF_OK && (info.lo >= info.hi || info.hi - info.lo > USER_IMAGE_MAX))
			FAIL(t, "elf_check accepted a damaged image with the span [0x%lx, 0x%lx)",
			     info.lo, info.hi);
	}
	fence_unmap(FENCE_PAGES);
}

/*
 * Loaded at TEST_BASE: each PT_LOAD's pages present and user, writable only if PF_W,
 * executable only if PF_X, holding the file's bytes and zeros after them (the .bss); no other
 * page mapped.
 */
KTEST(loader, load_maps_each_segment, 5)
{
	const struct user_image *img = user_image_find("memtest");
	const struct elf64_ehdr *eh = (const void *)img->data;
	const struct elf64_phdr *ph = (const void *)(img->data + eh->e_phoff);
	uint64_t frames = kframes_free(), expect_pages = 0;
	static uint8_t page[PAGE_SIZE];
	struct elf_info info;
	struct uspace s;

	ASSERT_EQ(t, elf_check(img->data, img->size, &info), ELF_OK);
	ASSERT_EQ(t, uspace_init(&s), 0);
	ASSERT_EQ(t, elf_load(&s, img->data, img->size, TEST_BASE), 0);
	ASSERT_GE(t, load_with((uint8_t *)img->data, 0), 0); /* it has a .bss */
	for (int i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *p = &ph[i];
		if (p->p_type != ELF_PT_LOAD || !p->p_memsz)
			continue;
		uint64_t start = align_down(TEST_BASE + p->p_vaddr, PAGE_SIZE);
		uint64_t end = align_up(TEST_BASE + p->p_vaddr + p->p_memsz, PAGE_SIZE);
		for (uint64_t va = start; va < end; va += PAGE_SIZE, expect_pages++) {
			uint64_t e = vm_leaf_entry(&s.vm, va);
			const char *wrong = test_user_entry_wrong(e, p->p_flags & ELF_PF_W,
								  p->p_flags & ELF_PF_X);
			if (wrong)
				FAIL(t, "segment %d (flags %c%c%c), page 0x%lx: entry 0x%lx is %s",
				     i, p->p_flags & ELF_PF_R ? 'R' : '-',
				     p->p_flags & ELF_PF_W ? 'W' : '-',
				     p->p_flags & ELF_PF_X ? 'X' : '-', va, e, wrong);
		}
		for (uint64_t off = 0; off < p->p_memsz; off += sizeof(page)) {
			size_t n = MIN(sizeof(page), p->p_memsz - off);
			if (!space_peek(&s, TEST_BASE + p->p_vaddr + off, page, n))
				continue; /* reported above */
			for (size_t k = 0; k < n; k++) {
				uint8_t want = off + k < p->p_filesz
						       ? img->data[p->p_offset + off + k]
						       : 0;
				if (page[k] != want) {
					FAIL(t, "segment %d: byte 0x%lx is 0x%x, not 0x%x (%s)", i,
					     off + k, page[k], want,
					     off + k < p->p_filesz ? "the file's" : ".bss: zero");
					break;
				}
			}
		}
	}
	EXPECT_EQ(t, s.pages, expect_pages);
	EXPECT_EQ(t, vm_translate(&s.vm, TEST_BASE - 1), VM_NOT_MAPPED);
	EXPECT_EQ(t, vm_translate(&s.vm, TEST_BASE + info.hi), VM_NOT_MAPPED);
	uspace_destroy(&s);
	EXPECT_EQ(t, kframes_free(), frames);
}

/* The stack: USER_STACK_PAGES writable, no-execute pages, argv on top as elf.h draws it. */
KTEST(loader, the_stack_holds_argv, 4)
{
	static const char *const argv[] = {"prog", "two words", ""};
	struct user_start st = {0};
	struct uspace s;
	uint64_t uargv[4];
	char str[16];

	ASSERT_EQ(t, uspace_init(&s), 0);
	s.layout.stack_top = STACK_TOP;
	s.layout.stack_bottom = STACK_TOP - USER_STACK_SIZE;
	ASSERT_EQ(t, loader_setup_stack(&s, 3, argv, &st), 0);
	EXPECT_EQ(t, s.pages, USER_STACK_PAGES);
	for (uint64_t va = s.layout.stack_bottom; va < STACK_TOP; va += PAGE_SIZE) {
		uint64_t e = vm_leaf_entry(&s.vm, va);
		if (!(e & PTE_PRESENT) || !(e & PTE_USER) || !(e & PTE_WRITABLE) ||
		    !(e & PTE_NO_EXECUTE))
			FAIL(t,
			     "stack page 0x%lx: entry 0x%lx, not present, user, writable, no-execute",
			     va, e);
	}
	EXPECT_EQ(t, vm_translate(&s.vm, s.layout.stack_bottom - 1), VM_NOT_MAPPED);
	EXPECT_EQ(t, st.argc, 3);
	EXPECT_EQ(t, st.rsp % 16, 0);
	EXPECT_EQ(t, st.uargv % 8, 0);
	EXPECT_TRUE(t,
		    st.rsp <= st.uargv && st.uargv < STACK_TOP && st.rsp > STACK_TOP - PAGE_SIZE);
	ASSERT_TRUE(t, space_peek(&s, st.uargv, uargv, sizeof(uargv)));
	EXPECT_EQ(t, uargv[3], 0);
	for (int i = 0; i < 3; i++) {
		if (uargv[i] <= st.uargv || uargv[i] >= STACK_TOP ||
		    !space_peek(&s, uargv[i], str, strlen(argv[i]) + 1)) {
			FAIL(t, "argv[%d] = 0x%lx: not a string on the stack above the array", i,
			     uargv[i]);
			continue;
		}
		EXPECT_STREQ(t, str, argv[i]);
	}
	uspace_destroy(&s);
}

#define FIT_CHARS (USER_ARGS_MAX - 2 * 8 - 1) /* characters of an argument that just fits */

/* Too many arguments, or too long: -E2BIG, and nothing mapped. */
KTEST(loader, too_many_arguments_are_refused, 2)
{
	static char long_arg[USER_ARGS_MAX];
	const char *many[USER_ARGC_MAX + 1], *two_long[] = {long_arg, long_arg};
	struct user_start st;
	struct uspace s;

	memset(long_arg, 'a', sizeof(long_arg) - 1);
	for (int i = 0; i <= USER_ARGC_MAX; i++)
		many[i] = "x";
	ASSERT_EQ(t, uspace_init(&s), 0);
	s.layout.stack_top = STACK_TOP;
	s.layout.stack_bottom = STACK_TOP - USER_STACK_SIZE;
	EXPECT_EQ(t, loader_setup_stack(&s, USER_ARGC_MAX + 1, many, &st), -E2BIG);
	EXPECT_EQ(t, loader_setup_stack(&s, 2, two_long, &st), -E2BIG);
	EXPECT_EQ(t, s.pages, 0);
	EXPECT_EQ(t, loader_setup_stack(&s, USER_ARGC_MAX, many, &st), 0);
	uspace_destroy(&s);

	/*
	 * One argument of FIT_CHARS characters: its NUL, padding to 8 and the two pointers
	 * (argv[0], NULL) make exactly USER_ARGS_MAX bytes, which is allowed; one more character
	 * is not.
	 */
	const char *one[] = {long_arg};
	memset(long_arg, 'a', sizeof(long_arg) - 1);
	long_arg[FIT_CHARS + 1] = '\0';
	ASSERT_EQ(t, uspace_init(&s), 0);
	s.layout.stack_top = STACK_TOP;
	s.layout.stack_bottom = STACK_TOP - USER_STACK_SIZE;
	int r = loader_setup_stack(&s, 1, one, &st);
	if (r != -E2BIG)
		FAIL(t,
		     "loader_setup_stack of one argument of %d characters gave %d, not -E2BIG: "
		     "with its NUL, padding and two pointers it takes %d bytes, more than "
		     "USER_ARGS_MAX (%d)",
		     FIT_CHARS + 1, r, FIT_CHARS + 2 + 7 + 16, USER_ARGS_MAX);
	long_arg[FIT_CHARS] = '\0';
	if (r == -E2BIG && (r = loader_setup_stack(&s, 1, one, &st)) != 0)
		FAIL(t,
		     "loader_setup_stack of one argument of %d characters gave %d, not 0: with its "
		     "NUL and the two pointers it takes exactly USER_ARGS_MAX (%d) bytes, which "
		     "is allowed (only more is -E2BIG)",
		     FIT_CHARS, r, USER_ARGS_MAX);
	uspace_destroy(&s);
}
