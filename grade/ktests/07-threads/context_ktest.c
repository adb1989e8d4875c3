/*
 * Lab 07, step 3: context_switch alone, between the test and a context built here on a
 * stack of the test's own (no thread, no scheduler). Interrupts stay off throughout, as the
 * contract asks.
 */
#include <string.h>
#include "context.h"
#include "irq.h"
#include "memlayout.h"
#include "thread_fixture.h"

#define OTHER_STACK_WORDS 1024
#define PATTERN_MAIN	  0x1111000000000000UL
#define PATTERN_OTHER	  0x6666000000000000UL
#define SAVED_REGS	  5  /* rbx, r12, r13, r14, r15 */
#define SAVE_SLACK	  64 /* bytes the call itself may put between the test's rsp and *save */

static uint64_t other_stack[OTHER_STACK_WORDS] __aligned(16);
static struct context *main_ctx, *other_ctx;
static volatile int other_steps;
static volatile uint64_t other_rsp;

/* A fresh context on other_stack that starts at fn, laid out as context.h draws it. */
static struct context *fresh_context(void (*fn)(void))
{
	uint64_t *top = other_stack + OTHER_STACK_WORDS;
	struct context *c;

	top[-1] = 0; /* fn's return address: none */
	c = (struct context *)(top - 1) - 1;
	memset(c, 0, sizeof(*c));
	c->rip = (uint64_t)fn;
	return c;
}

static void other_side(void)
{
	uint64_t rsp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	other_rsp = rsp;
	other_steps = 1;
	context_switch(&other_ctx, main_ctx);
	other_steps = 2; /* resumed right after its own switch */
	context_switch(&other_ctx, main_ctx);
	for (;;) /* never switched to again */
		hlt();
}

/* Into a fresh context and back, twice: each side resumes right after its own switch. */
KTEST(context, switch_there_and_back, 3)
{
	unsigned long flags = irq_save();
	uint64_t here;

	__asm__ volatile("mov %%rsp, %0" : "=r"(here));
	other_steps = 0;
	main_ctx = NULL;
	other_ctx = fresh_context(other_side);
	context_switch(&main_ctx, other_ctx);
	int first = other_steps;
	uint64_t rsp = other_rsp;
	struct context *saved = main_ctx;
	context_switch(&main_ctx, other_ctx);
	int second = other_steps;
	/* *saved lies below the stack pointer now: read it before an interrupt may land there */
	uint64_t saved_rip = saved ? saved->rip : 0;
	irq_restore(flags);

	EXPECT_EQ(t, first, 1);
	EXPECT_EQ(t, second, 2);
	EXPECT_TRUE(t, rsp > (uint64_t)other_stack &&
			       rsp < (uint64_t)(other_stack + OTHER_STACK_WORDS));
	/* *save got the test's own context: just below its frame, returning into this test */
	ASSERT_NOT_NULL(t, saved);
	EXPECT_LT(t, (uint64_t)saved, here);
	EXPECT_GE(t, (uint64_t)saved, here - sizeof(struct context) - SAVE_SLACK);
	EXPECT_TRUE(t, saved_rip >= (uint64_t)__text_start && saved_rip < (uint64_t)__text_end);
}

/*
 * Load rbx and r12-r15 with pattern, pattern + 1, ... pattern + 4, call
 * context_switch(save, load) with them in place, and store the five registers as they are
 * when the call returns. Written in one asm statement, so the compiler cannot move anything
 * in between; the operands are in memory, addressed through rbp or rsp, which the switch
 * restores.
 */
static void switch_holding(uint64_t pattern, struct context **save, struct context *load,
			   uint64_t out[SAVED_REGS])
{
	__asm__ volatile(
		"mov %[save], %%rdi\n\t"
		"mov %[load], %%rsi\n\t"
		"mov %[pattern], %%rbx\n\t"
		"lea 1(%%rbx), %%r12\n\t"
		"lea 2(%%rbx), %%r13\n\t"
		"lea 3(%%rbx), %%r14\n\t"
		"lea 4(%%rbx), %%r15\n\t"
		"call context_switch\n\t"
		"mov %[out], %%rax\n\t"
		"mov %%rbx, 0(%%rax)\n\t"
		"mov %%r12, 8(%%rax)\n\t"
		"mov %%r13, 16(%%rax)\n\t"
		"mov %%r14, 24(%%rax)\n\t"
		"mov %%r15, 32(%%rax)\n\t"
		:
		: [pattern] "m"(pattern), [save] "m"(save), [load] "m"(load), [out] "m"(out)
		: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
		  "r14", "r15", "memory", "cc");
}

static uint64_t other_regs[SAVED_REGS];

/* The other side fills the same registers with its own pattern before it switches back. */
static void clobbering_side(void)
{
	for (;;)
		switch_holding(PATTERN_OTHER, &other_ctx, main_ctx, other_regs);
}

static const char *const reg_names[SAVED_REGS] = {"rbx", "r12", "r13", "r14", "r15"};

/* rbx and r12-r15 hold the test's values again after a round trip through the other side. */
KTEST(context, callee_saved_registers_survive, 3)
{
	uint64_t mine[SAVED_REGS];
	unsigned long flags = irq_save();

	other_ctx = fresh_context(clobbering_side);
	switch_holding(PATTERN_MAIN, &main_ctx, other_ctx, mine);
	switch_holding(PATTERN_MAIN + 0x100, &main_ctx, other_ctx,
		       mine); /* the other way round too */
	uint64_t theirs[SAVED_REGS];
	memcpy(theirs, other_regs, sizeof(theirs));
	irq_restore(flags);

	for (int i = 0; i < SAVED_REGS; i++) {
		uint64_t want = PATTERN_MAIN + 0x100 + (uint64_t)i;
		/* Another saved register's value: the pops do not mirror the pushes. */
		uint64_t k = mine[i] - (PATTERN_MAIN + 0x100);

		if (mine[i] != want && k < SAVED_REGS)
			FAIL(t,
			     "%s is 0x%lx after the switch back, the value %s had: context_switch "
			     "restores the registers in another order than it saved them (the pops "
			     "must be the pushes in reverse, as struct context lays them out)",
			     reg_names[i], mine[i], reg_names[k]);
		else if (mine[i] != want)
			FAIL(t,
			     "%s is 0x%lx after the switch back, not 0x%lx: context_switch must "
			     "save and restore it",
			     reg_names[i], mine[i], want);
		if (theirs[i] != PATTERN_OTHER + (uint64_t)i)
			FAIL(t, "%s is 0x%lx in the other context after its switch back, not 0x%lx",
			     reg_names[i], theirs[i], PATTERN_OTHER + (uint64_t)i);
	}
}
