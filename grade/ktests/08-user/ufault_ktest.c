/*
 * Lab 08, step 7: faults in ring 3. The program fault does one forbidden thing per run; each
 * must end that program with the CPU's own account of it, never the kernel, and give every
 * frame back.
 */
#include <string.h>
#include "kprintf.h"
#include "segments.h"
#include "trap.h"
#include "user_fixture.h"

#define KERNEL_READ_VA	0xffff800000200000UL /* as user/fault.c */
#define KERNEL_WRITE_VA 0xffff800000100000UL
#define FAULT_SURVIVED	99

enum where {
	ANYWHERE,
	IN_IMAGE,
	IN_STACK,
	IN_HEAP,
	AT_ZERO,
	AT_KERNEL_READ,
	AT_KERNEL_WRITE,
	UNDER_STACK
};

struct expected {
	const char *kind;
	uint64_t vector;
	uint64_t error; /* for #PF: the bits of PF_PRESENT | PF_WRITE | PF_USER | PF_INSTR */
	enum where cr2; /* #PF only */
};

#define PF_BITS	       (PF_PRESENT | PF_WRITE | PF_USER | PF_INSTR)
#define ERROR_IDT_GATE 0x2    /* bit 1 of a #GP error code: the index is an IDT gate's */
#define ERROR_ANY      (~0UL) /* not checked */

static bool in(uint64_t a, uint64_t lo, uint64_t hi)
{
	return a >= lo && a < hi;
}

static bool cr2_fits(const struct user_layout *l, uint64_t cr2, enum where w)
{
	switch (w) {
	case IN_IMAGE:
		return in(cr2, l->image_start, l->image_end);
	case IN_STACK:
		return in(cr2, l->stack_bottom, l->stack_top);
	case IN_HEAP:
		return in(cr2, l->heap_start, l->brk);
	case AT_ZERO:
		return cr2 == 0;
	case AT_KERNEL_READ:
		return cr2 == KERNEL_READ_VA;
	case AT_KERNEL_WRITE:
		return cr2 == KERNEL_WRITE_VA;
	case UNDER_STACK:
		return in(cr2, l->stack_bottom - PAGE_SIZE, l->stack_bottom);
	default:
		return true;
	}
}

/* Run fault <kind> for each, checking how it ended. */
static void expect_faults(struct ktest *t, const struct expected *e, size_t n)
{
	struct test_output o;
	struct test_leaks l;
	char how[TEST_HOW_MAX];

	if (!programs_require(t))
		return;
	test_leaks_start(t, &l);
	for (size_t i = 0; i < n; i++) {
		const char *argv[] = {"fault", e[i].kind};
		struct program *p = test_run(t, "fault", 2, argv, &o, TEST_PROGRAM_DEADLINE_MS);

		if (!p)
			continue;
		const struct user_fault *f = &p->fault;
		if (p->end != PROGRAM_FAULTED) {
			FAIL(t, "fault %s %s: expected it to end by %s%s", e[i].kind,
			     test_how_it_ended(p, how, sizeof(how)), trap_name(e[i].vector),
			     e[i].cr2 == IN_HEAP
				     ? ": the heap sbrk maps is writable and no-execute "
				       "(PTE_NO_EXECUTE)"
				     : "");
		} else if (f->vector != e[i].vector &&
			   !(e[i].vector == VEC_BP &&
			     f->vector == VEC_GP)) { /* int3 with a DPL 0 gate */
			FAIL(t, "fault %s ended by %s, expected %s", e[i].kind,
			     trap_name(f->vector), trap_name(e[i].vector));
		} else if (e[i].vector == VEC_PF && (f->error & PF_BITS) != e[i].error) {
			FAIL(t, "fault %s: page fault error 0x%lx, expected 0x%lx", e[i].kind,
			     f->error, e[i].error);
		} else if (e[i].vector == VEC_PF && !cr2_fits(&p->space.layout, f->cr2, e[i].cr2)) {
			FAIL(t, "fault %s: page fault at 0x%lx, not where the program touched",
			     e[i].kind, f->cr2);
		} else if (e[i].error == ERROR_IDT_GATE && (f->error & 3) != ERROR_IDT_GATE) {
			FAIL(t, "fault %s: error code 0x%lx does not name an IDT gate", e[i].kind,
			     f->error);
		} else if (e[i].vector != VEC_PF && e[i].error != ERROR_IDT_GATE &&
			   e[i].error != ERROR_ANY && f->error != e[i].error) {
			FAIL(t, "fault %s: error code 0x%lx, expected 0x%lx", e[i].kind, f->error,
			     e[i].error);
		} else if (e[i].vector != VEC_PF && f->cr2 != 0) {
			FAIL(t, "fault %s: cr2 0x%lx recorded for a %s (only a page fault has one)",
			     e[i].kind, f->cr2, trap_name(f->vector));
		}
		if (strstr(o.buf, "survived"))
			FAIL(t, "fault %s ran on after its fault", e[i].kind);
		program_free(p);
	}
	test_leaks_check(t, &l, "the faulting programs");
}

/* Page faults: null, its own read-only code and data, no-execute pages, the kernel's half. */
KTEST(ufault, page_faults_end_the_program, 5)
{
	static const struct expected e[] = {
		{"null-read", VEC_PF, PF_USER, AT_ZERO},
		{"null-write", VEC_PF, PF_USER | PF_WRITE, AT_ZERO},
		{"code-write", VEC_PF, PF_USER | PF_WRITE | PF_PRESENT, IN_IMAGE},
		{"rodata-write", VEC_PF, PF_USER | PF_WRITE | PF_PRESENT, IN_IMAGE},
		{"exec-stack", VEC_PF, PF_USER | PF_INSTR | PF_PRESENT, IN_STACK},
		{"exec-data", VEC_PF, PF_USER | PF_INSTR | PF_PRESENT, IN_IMAGE},
		{"exec-rodata", VEC_PF, PF_USER | PF_INSTR | PF_PRESENT, IN_IMAGE},
		{"exec-heap", VEC_PF, PF_USER | PF_INSTR | PF_PRESENT, IN_HEAP},
		{"kernel-read", VEC_PF, PF_USER | PF_PRESENT, AT_KERNEL_READ},
		{"kernel-write", VEC_PF, PF_USER | PF_WRITE | PF_PRESENT, AT_KERNEL_WRITE},
		{"kernel-jump", VEC_PF, PF_USER | PF_INSTR | PF_PRESENT, AT_KERNEL_READ},
	};

	expect_faults(t, e, ARRAY_SIZE(e));
}

/* Privileged instructions, I/O ports and software interrupts: #GP; and #DE, #UD. */
KTEST(ufault, privileged_instructions_end_the_program, 5)
{
	static const struct expected e[] = {
		{"cli", VEC_GP, 0, ANYWHERE},
		{"hlt", VEC_GP, 0, ANYWHERE},
		{"in", VEC_GP, 0, ANYWHERE},
		{"out", VEC_GP, 0, ANYWHERE},
		{"cr3", VEC_GP, 0, ANYWHERE},
		{"wrmsr", VEC_GP, 0, ANYWHERE},
		/* an IDT gate of DPL 0 refuses int n from ring 3 (#GP, error: the gate, IDT bit
		 * set); lab 01 lets int3 through (DPL 3): #BP, error 0 */
		{"int3", VEC_BP, ERROR_ANY, ANYWHERE},
		{"int80", VEC_GP, ERROR_IDT_GATE, ANYWHERE},
		{"noncanonical", VEC_GP, 0, ANYWHERE},
		{"divide", VEC_DE, 0, ANYWHERE},
		{"ud2", VEC_UD, 0, ANYWHERE},
	};

	expect_faults(t, e, ARRAY_SIZE(e));
}

/* Recursing without end runs into the unmapped page under the stack. */
KTEST(ufault, a_stack_overflow_hits_the_guard, 3)
{
	static const struct expected e[] = {
		{"stack-overflow", VEC_PF, PF_USER | PF_WRITE, UNDER_STACK},
	};

	expect_faults(t, e, ARRAY_SIZE(e));
}

/* The report says whose, what and where, as kernel/program.h spells it. */
KTEST(ufault, the_report_says_what_happened, 3)
{
	static const char *const pf[] = {"fault", "null-write"}, *const gp[] = {"fault", "cli"};
	struct test_output o;
	char want[PROGRAM_NOTE_MAX];

	if (!programs_require(t))
		return;
	struct program *p = test_run(t, "fault", 2, pf, &o, TEST_PROGRAM_DEADLINE_MS);
	if (p && p->end == PROGRAM_FAULTED) {
		ksnprintf(want, sizeof(want),
			  "program 'fault' (pid %d): #PF page fault at rip 0x%016lx: address "
			  "0x0000000000000000, write, page not present, user mode",
			  p->pid, p->fault.rip);
		if (strcmp(p->note, want))
			FAIL(t, "the report is \"%s\", expected \"%s\"", p->note, want);
		EXPECT_TRUE(t, in(p->fault.rip, p->space.layout.image_start,
				  p->space.layout.image_end));
	} else if (p) {
		FAIL(t, "fault null-write %s", test_how_it_ended(p, want, sizeof(want)));
	}
	if (p)
		program_free(p);
	p = test_run(t, "fault", 2, gp, &o, TEST_PROGRAM_DEADLINE_MS);
	if (p && p->end == PROGRAM_FAULTED) {
		ksnprintf(
			want, sizeof(want),
			"program 'fault' (pid %d): #GP general protection at rip 0x%016lx, error 0x0",
			p->pid, p->fault.rip);
		if (strcmp(p->note, want))
			FAIL(t, "the report is \"%s\", expected \"%s\"", p->note, want);
	} else if (p) {
		FAIL(t, "fault cli %s", test_how_it_ended(p, want, sizeof(want)));
	}
	if (p)
		program_free(p);
}

/* An exception of the kernel's own (CS of ring 0) is not a program's: it goes on to the
 * kernel's report and panic, as before layer 08. */
KTEST(ufault, a_kernel_fault_is_passed_on, 2)
{
	struct trap_frame tf = {
		.vector = VEC_UD, .rip = (uint64_t)user_fault, .cs = SEG_KERNEL_CODE};

	struct ktry k;

	if (!programs_require(t))
		return;
	/* EXPECT_PANIC, but a fault too is caught: taking the kernel's fault for a program's,
	 * user_fault would end the program of a thread that has none */
	ktry_push(&k, KTRY_PANIC | KTRY_FAULT);
	if (kjmp_set(k.jb) == 0) {
		user_fault(&tf);
		ktry_pop(&k);
		FAIL(t,
		     "user_fault returned from a #UD of the kernel (CS 0x%lx): it must pass a "
		     "fault from ring 0 on (user_fault_pass_on), which panics",
		     tf.cs);
	} else if (k.res.kind == KTRY_FAULT) {
		FAIL(t,
		     "user_fault took a #UD of the kernel (CS 0x%lx, RPL 0) for a program's and "
		     "faulted ending it (%s): only a fault whose CS has RPL 3 is a program's",
		     tf.cs, k.res.msg);
	} else if (!strstr(k.res.msg, "unhandled exception #UD")) {
		FAIL(t, "expected a panic with \"unhandled exception #UD\", got: %s", k.res.msg);
	}
}
