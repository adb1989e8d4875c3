/*
 * Lab 08, step 2: the way into the kernel and back. The MSRs read back; syscall_dispatch
 * called directly; and programs made by hand (machine code below, in a space built with lab
 * 02's functions alone: user_fixture.h) whose system calls go to handlers of the test's own,
 * which record what arrived.
 */
#include <string.h>
#include "irq.h"
#include "kstack.h"
#include "paging.h"
#include "segments.h"
#include "user_fixture.h"
#include "x86.h"

#define STR_(x)	     #x
#define STR(x)	     STR_(x)

#define RESULT_A     0x5a5aUL
#define EXIT_B	     7
#define NONCANONICAL 0x0000800000000000UL
#define ARG(i)	     (0x1111111111111111UL * (i)) /* rdi = ARG(1) ... r9 = ARG(6) */
#define KEPT(i)	     (0x0f0f0f0f0f0f0f00UL + (i)) /* rbx, rbp, r12 ... r15 */

/*
 * Program "args": syscall(TEST_SYS_A, ARG(1) .. ARG(6)) with rbx, rbp, r12-r15 = KEPT(0..5);
 * then syscall(TEST_SYS_B, its result, the rest untouched). TEST_SYS_B's handler ends it.
 * Program "wild": syscall(TEST_SYS_C), whose handler sets the return address to one that is
 * not canonical.
 */
__asm__(".section .rodata\n"
	"hand_args_code:\n"
	"	mov $" STR(TEST_SYS_A) ", %eax\n"
				       "	movabs $0x1111111111111111, %rdi\n"
				       "	movabs $0x2222222222222222, %rsi\n"
				       "	movabs $0x3333333333333333, %rdx\n"
				       "	movabs $0x4444444444444444, %r10\n"
				       "	movabs $0x5555555555555555, %r8\n"
				       "	movabs $0x6666666666666666, %r9\n"
				       "	movabs $0x0f0f0f0f0f0f0f00, %rbx\n"
				       "	movabs $0x0f0f0f0f0f0f0f01, %rbp\n"
				       "	movabs $0x0f0f0f0f0f0f0f02, %r12\n"
				       "	movabs $0x0f0f0f0f0f0f0f03, %r13\n"
				       "	movabs $0x0f0f0f0f0f0f0f04, %r14\n"
				       "	movabs $0x0f0f0f0f0f0f0f05, %r15\n"
				       "	syscall\n"
				       "hand_args_after:\n"
				       "	mov %rax, %rdi\n"
				       "	mov $" STR(
					       TEST_SYS_B) ", %eax\n"
							   "	syscall\n"
							   "	ud2\n"
							   "hand_args_end:\n"
							   "hand_wild_code:\n"
							   "	mov $" STR(
								   TEST_SYS_C) ", %eax\n"
									       "	syscall\n"
									       "	ud2\n"
									       "hand_wild_end:\n"
									       ".previous\n");
extern const char hand_args_code[], hand_args_after[], hand_args_end[];
extern const char hand_wild_code[], hand_wild_end[];

/* What the handlers saw. */
static struct syscall_frame seen_a, seen_b;
static int calls_a, calls_b;
static bool irq_on_in_a;
static uint64_t cr3_in_a, sp_in_a;

static long handler_a(struct syscall_frame *f)
{
	seen_a = *f;
	calls_a++;
	irq_on_in_a = irq_enabled();
	cr3_in_a = read_cr3() & PTE_ADDR_MASK;
	sp_in_a = read_rbp();
	return RESULT_A;
}

static long handler_b(struct syscall_frame *f)
{
	seen_b = *f;
	calls_b++;
	program_exit(EXIT_B);
}

static long handler_wild(struct syscall_frame *f)
{
	f->rip = NONCANONICAL;
	return 0;
}

/* SYSCALL on: EFER.SCE, the segments of STAR, the entry in LSTAR, the flags SFMASK clears. */
KTEST(syscall, msrs_read_back, 3)
{
	if (!syscalls_require(t))
		return;
	uint64_t star = rdmsr(MSR_STAR);

	EXPECT_TRUE(t, rdmsr(MSR_EFER) & EFER_SCE);
	EXPECT_EQ(t, (star >> STAR_KERNEL_SHIFT) & 0xffff, SEG_KERNEL_CODE);
	/* SYSRET: SS = that + 8, CS = that + 16, both with RPL 3 */
	EXPECT_EQ(t, ((star >> STAR_USER_SHIFT) & 0xffff) + 8, SEG_USER_DATA | SEG_RPL_USER);
	EXPECT_EQ(t, ((star >> STAR_USER_SHIFT) & 0xffff) + 16, SEG_USER_CODE | SEG_RPL_USER);
	EXPECT_EQ(t, rdmsr(MSR_LSTAR), (uint64_t)syscall_entry);
	uint64_t mask = rdmsr(MSR_SFMASK);
	if (!(mask & RFLAGS_IF))
		FAIL(t,
		     "SFMASK (0x%lx) leaves IF on: an interrupt right after SYSCALL would run on "
		     "the program's stack",
		     mask);
	if (!(mask & RFLAGS_DF))
		FAIL(t,
		     "SFMASK (0x%lx) leaves DF as the program set it: the kernel's memcpy and "
		     "memset would run backwards",
		     mask);
	if (!(mask & RFLAGS_TF) || !(mask & RFLAGS_AC))
		FAIL(t, "SFMASK (0x%lx) should clear TF and AC too", mask);
}

#define STRAY_HANDLER 0x5757UL /* what a handler the call should not have reached returns */

static long answer_42(struct syscall_frame *f)
{
	return f->rdi == 0xabc ? 42 : (long)STRAY_HANDLER;
}

static long stray_handler(struct syscall_frame *f)
{
	(void)f;
	return (long)STRAY_HANDLER;
}

static void dispatch(void *f)
{
	syscall_dispatch(f);
}

/*
 * The table decides: a registered number gets its handler's result, any other -ENOSYS. While
 * it runs, every other entry of the table holds stray_handler, so that a number the dispatcher
 * cuts short reaches a handler that says so, not a real one with a frame of zeros; interrupts
 * are off (no program runs on the borrowed table), and the table is put back even when the
 * dispatcher stops (a TODO, a panic, a fault), before that ends the test.
 */
KTEST(syscall, dispatch_uses_the_table, 3)
{
	static const uint64_t nosys[] = {
		TEST_SYS_C,	 SYSCALL_MAX,
		SYSCALL_MAX + 1, (1UL << 32) | TEST_SYS_A, /* a 32-bit index would hit A */
		1UL << 63,	 ~0UL};
	static syscall_fn_t saved[SYSCALL_MAX];
	static uint64_t got[ARRAY_SIZE(nosys) + 1];
	struct ktry_result res;
	int stopped = 0;
	unsigned long flags = irq_save();

	for (unsigned nr = 0; nr < SYSCALL_MAX; nr++)
		saved[nr] = test_syscall_set(nr, stray_handler);
	test_syscall_set(TEST_SYS_A, answer_42);
	test_syscall_set(TEST_SYS_C, NULL);
	for (size_t i = 0; i <= ARRAY_SIZE(nosys) && !stopped; i++) {
		struct syscall_frame f = {.rax = TEST_SYS_A, .rdi = 0xabc}; /* first: A */

		if (i > 0)
			f = (struct syscall_frame){.rax = nosys[i - 1]};
		stopped = ktry_call(dispatch, &f, KTRY_ANY, &res);
		got[i] = f.rax;
	}
	for (unsigned nr = 0; nr < SYSCALL_MAX; nr++)
		test_syscall_set(nr, saved[nr]);
	irq_restore(flags);
	if (stopped == KTRY_FAULT) {
		FAIL(t, "syscall_dispatch faulted: %s", res.msg);
		return;
	}
	if (stopped)
		ktry_raise_again(&res); /* as if it had not been caught */
	if (got[0] != 42)
		FAIL(t, "system call %d gave 0x%lx, not its handler's 42", TEST_SYS_A, got[0]);
	for (size_t i = 0; i < ARRAY_SIZE(nosys); i++) {
		if (got[i + 1] == STRAY_HANDLER && nosys[i] >= SYSCALL_MAX)
			FAIL(t,
			     "system call 0x%lx ran the handler of %u: the dispatcher must compare "
			     "all 64 bits of rax with SYSCALL_MAX (any larger number is -ENOSYS)",
			     nosys[i], (unsigned)nosys[i]);
		else if (got[i + 1] != (uint64_t)-ENOSYS)
			FAIL(t, "system call 0x%lx gave 0x%lx, not -ENOSYS", nosys[i], got[i + 1]);
	}
}

/*
 * A program's system call arrives with its number and six arguments, its rip (after the
 * syscall instruction), its stack pointer and its flags, with interrupts on, in its own
 * address space; the result comes back in rax, and every other register as it was.
 */
KTEST(syscall, a_program_reaches_its_handler, 5)
{
	if (!programs_require(t))
		return;
	syscall_fn_t old_a = test_syscall_set(TEST_SYS_A, handler_a);
	syscall_fn_t old_b = test_syscall_set(TEST_SYS_B, handler_b);
	calls_a = calls_b = 0;
	struct program *p = hand_program_run(t, hand_args_code, hand_args_end - hand_args_code, 0);
	test_syscall_set(TEST_SYS_A, old_a);
	test_syscall_set(TEST_SYS_B, old_b);
	if (!p)
		return;
	char how[TEST_HOW_MAX];
	uint64_t pml4 = p->space.vm.pml4, top = p->kstack_top;

	if (p->end != PROGRAM_EXITED || p->status != EXIT_B)
		FAIL(t, "the program %s, not exited with status %d from the second system call",
		     test_how_it_ended(p, how, sizeof(how)), EXIT_B);
	hand_program_free(p);
	ASSERT_EQ(t, calls_a, 1);
	EXPECT_EQ(t, seen_a.rax, TEST_SYS_A);
	const uint64_t args[6] = {seen_a.rdi, seen_a.rsi, seen_a.rdx,
				  seen_a.r10, seen_a.r8,  seen_a.r9};
	for (int i = 0; i < 6; i++)
		if (args[i] != ARG(i + 1))
			FAIL(t,
			     "argument %d arrived as 0x%lx, not 0x%lx (rdi, rsi, rdx, r10, r8, r9)",
			     i + 1, args[i], ARG(i + 1));
	EXPECT_EQ(t, seen_a.rip, HAND_CODE_VA + (uint64_t)(hand_args_after - hand_args_code));
	EXPECT_EQ(t, seen_a.rsp, HAND_STACK_VA + PAGE_SIZE);
	EXPECT_TRUE(t, seen_a.rflags & RFLAGS_IF);
	if (!irq_on_in_a)
		FAIL(t, "interrupts were off in the system call's handler: turn them on once the "
			"frame is saved");
	EXPECT_EQ(t, cr3_in_a, pml4);
	if (sp_in_a >= top || sp_in_a < top - THREAD_STACK_SIZE)
		FAIL(t, "the handler ran on 0x%lx, not on the program's kernel stack under 0x%lx",
		     sp_in_a, top);

	ASSERT_EQ(t, calls_b, 1);
	EXPECT_EQ(t, seen_b.rdi, RESULT_A); /* the result came back in rax */
	const uint64_t kept[10] = {seen_b.rsi, seen_b.rdx, seen_b.r10, seen_b.r8,  seen_b.r9,
				   seen_b.rbx, seen_b.rbp, seen_b.r12, seen_b.r13, seen_b.r14};
	const uint64_t want[10] = {ARG(2),  ARG(3),  ARG(4),  ARG(5),  ARG(6),
				   KEPT(0), KEPT(1), KEPT(2), KEPT(3), KEPT(4)};
	static const char *const names[10] = {"rsi", "rdx", "r10", "r8",  "r9",
					      "rbx", "rbp", "r12", "r13", "r14"};
	for (int i = 0; i < 10; i++)
		if (kept[i] != want[i])
			FAIL(t, "%s was 0x%lx after the first system call, not 0x%lx as before it",
			     names[i], kept[i], want[i]);
	EXPECT_EQ(t, seen_b.r15, KEPT(5));
	EXPECT_EQ(t, seen_b.rsp, HAND_STACK_VA + PAGE_SIZE);
}

/*
 * A frame whose return address is not canonical must not go to SYSRET (which would fault in
 * ring 0, on the program's stack): the program ends with a general-protection fault at that
 * address (syscall_bad_return), and the kernel goes on.
 */
KTEST(syscall, no_sysret_to_a_non_canonical_address, 4)
{
	if (!programs_require(t))
		return;
	syscall_fn_t old = test_syscall_set(TEST_SYS_C, handler_wild);
	struct program *p = hand_program_run(t, hand_wild_code, hand_wild_end - hand_wild_code, 0);
	test_syscall_set(TEST_SYS_C, old);
	if (!p)
		return;
	char how[TEST_HOW_MAX];

	if (p->end != PROGRAM_FAULTED || p->fault.vector != VEC_GP ||
	    p->fault.rip != NONCANONICAL || !strstr(p->note, "not canonical"))
		FAIL(t,
		     "a return to 0x%lx should end the program through syscall_bad_return (#GP at "
		     "that rip, \"not canonical\"); it %s",
		     NONCANONICAL, test_how_it_ended(p, how, sizeof(how)));
	hand_program_free(p);
}
