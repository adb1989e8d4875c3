/* The helpers of user_fixture.h. */
#include <string.h>
#include "heap.h"
#include "kprintf.h"
#include "paging.h"
#include "panic.h"
#include "thread.h"
#include "timer.h"
#include "trap.h"
#include "user_fixture.h"

#define KILL_GRACE_MS 500 /* after program_kill: a tick in ring 3, or the next system call */

static void fail_because(struct ktest *t, const char *what, const char *why)
{
	char msg[KTRY_MSG_MAX];

	ksnprintf(msg, sizeof(msg), "%s: %s", what, why);
	ktest_fail_msg(t, msg);
}

bool programs_require(struct ktest *t)
{
	const char *why = programs_unavailable();

	if (!why)
		why = timer_unavailable();
	if (why)
		fail_because(t, "programs cannot run at this boot", why);
	return why == NULL;
}

bool segments_require(struct ktest *t)
{
	const char *why = segments_unavailable();

	if (why)
		fail_because(t, "the segments of lab 08 are not up", why);
	return why == NULL;
}

bool syscalls_require(struct ktest *t)
{
	const char *why = syscalls_unavailable();

	if (why)
		fail_because(t, "system calls are not on", why);
	return why == NULL;
}

const char *test_how_it_ended(const struct program *p, char *buf, size_t size)
{
	if (p->state != PROGRAM_ENDED)
		ksnprintf(buf, size, "still running");
	else if (p->end == PROGRAM_EXITED)
		ksnprintf(buf, size, "exited with status %d", p->status);
	else if (p->end == PROGRAM_FAULTED) {
		int n = ksnprintf(buf, size, "ended by a fault: %s", p->note);

		if (p->fault.vector == VEC_PF && n > 0 && (size_t)n < size) {
			n += ksnprintf(buf + n, size - (size_t)n, " (that address is ");
			if ((size_t)n < size)
				n += uspace_where(buf + n, size - (size_t)n, &p->space,
						  p->fault.cr2);
			if ((size_t)n < size)
				ksnprintf(buf + n, size - (size_t)n, ")");
		}
	} else if (p->end == PROGRAM_KILLED)
		ksnprintf(buf, size, "killed");
	else
		ksnprintf(buf, size, "ended by the kernel: %s", p->note);
	return buf;
}

/* Sleep a tick at a time until p has ended or ms have passed; true if it ended. */
static bool wait_ended(struct program *p, uint64_t ms)
{
	uint64_t deadline = timer_ticks() + timer_ms_to_ticks(ms);

	while (p->state != PROGRAM_ENDED && timer_ticks() < deadline)
		thread_sleep(TIMER_MS_PER_TICK);
	return p->state == PROGRAM_ENDED;
}

bool test_join_within(struct ktest *t, struct program *p, uint64_t ms)
{
	if (wait_ended(p, ms)) {
		program_join(p);
		return true;
	}
	program_kill(p);
	bool ended = wait_ended(p, KILL_GRACE_MS);
	FAIL(t, "program '%s' (pid %d) did not end within %lu ms%s", p->name, p->pid, ms,
	     ended ? " (it was killed)" : ", and not even when killed: its thread is lost");
	if (ended)
		program_join(p);
	return false;
}

struct program *test_run(struct ktest *t, const char *name, int argc, const char *const argv[],
			 struct test_output *o, uint64_t ms)
{
	int err = 0;

	if (o) {
		memset(o, 0, sizeof(*o));
		o->out = (struct program_output){o->buf, TEST_OUT_MAX, 0, 0};
	}
	struct program *p = program_start(name, argc, argv, o ? &o->out : NULL, &err);
	if (!p) {
		FAIL(t, "program_start(\"%s\") failed: error %d", name, err);
		return NULL;
	}
	bool ok = test_join_within(t, p, ms);
	if (o)
		o->buf[o->out.len] = '\0';
	if (!ok) {
		if (p->state == PROGRAM_ENDED)
			program_free(p);
		return NULL;
	}
	return p;
}

/* Free frames, counting the kernel heap's pages as free: the heap grows on demand and never
 * shrinks, which is no leak. */
static uint64_t frames_now(void)
{
	return kframes_free() + kheap_size() / PAGE_SIZE;
}

void test_leaks_start(struct ktest *t, struct test_leaks *l)
{
	static bool warmed;

	if (!warmed) { /* the first program of a boot may grow what the kernel keeps */
		static const char *const argv[] = {"hello"};
		struct test_output o;
		struct program *p = test_run(t, "hello", 1, argv, &o, TEST_PROGRAM_DEADLINE_MS);
		if (p)
			program_free(p);
		warmed = true;
	}
	l->frames = frames_now();
	l->programs = program_count();
}

void test_leaks_check(struct ktest *t, const struct test_leaks *l, const char *what)
{
	uint64_t frames = frames_now();

	if (frames != l->frames)
		FAIL(t,
		     "%s: %ld frames %s (%lu free before, %lu after): every page and table of a "
		     "program must come back when it ends",
		     what,
		     frames > l->frames ? (long)(frames - l->frames) : (long)(l->frames - frames),
		     frames > l->frames ? "more than before" : "lost", l->frames, frames);
	if (program_count() != l->programs)
		FAIL(t, "%s: %zu program records, %zu before", what, program_count(), l->programs);
}

#define HOG_MAX_ORDER 10 /* the buddy's largest block: 4 MiB */

/* Each hogged block holds, in its first bytes (through the direct map), the record of the
 * block hogged before it: no table to run out of, whatever the machine's size. */
struct hog {
	phys_addr_t prev; /* the block hogged before this one; 0: none */
	size_t n;	  /* this block's frames */
};
static phys_addr_t hogged; /* the last block hogged; 0: none */

void frames_hog(uint64_t leave)
{
	for (size_t n = 1UL << HOG_MAX_ORDER; n >= 1; n /= 2)
		while (kframes_free() >= leave + n) {
			phys_addr_t pa = kframe_alloc_contig(n);
			if (!pa)
				break;
			struct hog *h = phys_to_virt(pa);
			h->prev = hogged;
			h->n = n;
			hogged = pa;
		}
}

void frames_unhog(void)
{
	while (hogged) {
		phys_addr_t pa = hogged;
		const struct hog *h = phys_to_virt(pa);
		size_t n = h->n;

		hogged = h->prev;
		kframe_free_contig(pa, n);
	}
}

/* ---- made by hand --------------------------------------------------------------------------- */

static const struct {
	uint64_t va;
	uint64_t flags;
} hand_pages[HAND_PAGES] = {
	{HAND_CODE_VA, PTE_USER},
	{HAND_DATA_VA, PTE_USER | PTE_WRITABLE | PTE_NO_EXECUTE},
	{HAND_RO_VA, PTE_USER | PTE_NO_EXECUTE},
	{HAND_PAIR_VA, PTE_USER | PTE_WRITABLE | PTE_NO_EXECUTE},
	{HAND_PAIR_VA + PAGE_SIZE, PTE_USER | PTE_WRITABLE | PTE_NO_EXECUTE},
	{HAND_STACK_VA, PTE_USER | PTE_WRITABLE | PTE_NO_EXECUTE},
};

bool hand_space_build(struct ktest *t, struct uspace *s, const void *code, size_t len)
{
	memset(s, 0, sizeof(*s));
	if (vm_init(&s->vm, kframe_alloc, kframe_free) < 0) {
		FAIL(t, "no frame for a test's page table");
		return false;
	}
	uint64_t *pml4 = phys_to_virt(s->vm.pml4);
	const uint64_t *kernel = phys_to_virt(kernel_vm.pml4);
	for (int i = USER_PML4_KERNEL; i < PT_ENTRIES; i++)
		pml4[i] = kernel[i];
	for (int i = 0; i < HAND_PAGES; i++) {
		phys_addr_t pa = kframe_alloc();
		if (pa)
			memset(phys_to_virt(pa), 0, PAGE_SIZE);
		if (!pa || vm_map(&s->vm, hand_pages[i].va, pa, hand_pages[i].flags) < 0) {
			if (pa)
				kframe_free(pa);
			hand_space_free(s);
			FAIL(t, "no memory for a test's address space");
			return false;
		}
		s->pages++;
	}
	KASSERT(len <= PAGE_SIZE);
	memcpy(phys_to_virt(vm_translate(&s->vm, HAND_CODE_VA)), code, len);
	s->layout.image_start = HAND_CODE_VA;
	s->layout.image_end = HAND_CODE_VA + PAGE_SIZE;
	s->layout.entry = HAND_CODE_VA;
	s->layout.stack_bottom = HAND_STACK_VA;
	s->layout.stack_top = HAND_STACK_VA + PAGE_SIZE;
	return true;
}

void hand_space_free(struct uspace *s)
{
	if (!s->vm.pml4)
		return;
	for (int i = 0; i < HAND_PAGES; i++) {
		phys_addr_t pa = vm_translate(&s->vm, hand_pages[i].va);
		if (pa != VM_NOT_MAPPED) {
			vm_unmap(&s->vm, hand_pages[i].va);
			kframe_free(pa);
		}
	}
	uint64_t *pml4 = phys_to_virt(s->vm.pml4);
	for (int i = USER_PML4_KERNEL; i < PT_ENTRIES; i++)
		pml4[i] = 0;
	vm_destroy(&s->vm);
	s->vm.pml4 = 0;
}

struct program *hand_program_run(struct ktest *t, const void *code, size_t len, uint64_t rdi)
{
	struct program *p = program_create("hand-made");

	if (!p) {
		FAIL(t, "no memory for a program record");
		return NULL;
	}
	if (!hand_space_build(t, &p->space, code, len)) {
		program_free(p);
		return NULL;
	}
	p->released = false;
	p->space_borrowed = true;
	p->start_frame = (struct syscall_frame){
		.rip = HAND_CODE_VA,
		.rsp = HAND_STACK_VA + PAGE_SIZE,
		.rdi = rdi,
		.rflags = RFLAGS_IF | RFLAGS_ALWAYS,
	};
	int r = program_launch(p);
	if (r < 0) {
		FAIL(t, "program_launch: %d", r);
		hand_program_free(p);
		return NULL;
	}
	if (!test_join_within(t, p, TEST_PROGRAM_DEADLINE_MS)) {
		if (p->state == PROGRAM_ENDED)
			hand_program_free(p);
		return NULL;
	}
	return p;
}

void hand_program_free(struct program *p)
{
	hand_space_free(&p->space);
	program_free(p);
}

static bool space_copy(const struct uspace *s, uint64_t va, void *kbuf, size_t len, bool to_space)
{
	char *k = kbuf;

	while (len) {
		size_t n = MIN(len, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
		phys_addr_t pa = vm_translate(&s->vm, va);

		if (pa == VM_NOT_MAPPED)
			return false;
		if (to_space)
			memcpy(phys_to_virt(pa), k, n);
		else
			memcpy(k, phys_to_virt(pa), n);
		va += n;
		k += n;
		len -= n;
	}
	return true;
}

bool space_peek(const struct uspace *s, uint64_t va, void *dst, size_t len)
{
	return space_copy(s, va, dst, len, false);
}

bool space_poke(const struct uspace *s, uint64_t va, const void *src, size_t len)
{
	return space_copy(s, va, (void *)src, len, true);
}

const char *test_user_entry_wrong(uint64_t e, bool writable, bool executable)
{
	if (!(e & PTE_PRESENT))
		return "not present";
	if (!(e & PTE_USER))
		return "not the program's (no PTE_USER)";
	if ((e & PTE_WRITABLE) && !writable)
		return "writable, not read-only";
	if (!(e & PTE_WRITABLE) && writable)
		return "read-only, not writable";
	if (!(e & PTE_NO_EXECUTE) && !executable)
		return "executable, not no-execute (PTE_NO_EXECUTE)";
	if ((e & PTE_NO_EXECUTE) && executable)
		return "no-execute, not executable";
	return NULL;
}

syscall_fn_t test_syscall_set(unsigned nr, syscall_fn_t fn)
{
	syscall_fn_t old = syscall_table[nr];

	syscall_table[nr] = fn;
	return old;
}
