/*
 * Catch points for TODOs, panics, test aborts and CPU faults (see ktry.h). The same code runs
 * in the kernel and in host test programs; only the interrupt bookkeeping differs.
 */
#include <string.h>
#include "kprintf.h"
#include "ktry.h"
#include "panic.h"
#include "todo.h"

#ifndef KTEST_HOST
#include "memlayout.h"
#include "trap.h"
#include "x86.h"
#endif

static struct ktry *ktry_top;

static int current_trap_depth(void)
{
#ifdef KTEST_HOST
	return 0;
#else
	return trap_depth;
#endif
}

void ktry_push(struct ktry *k, unsigned mask)
{
	k->mask = mask;
	k->prev = ktry_top;
	k->trap_depth = current_trap_depth();
#ifndef KTEST_HOST
	k->rflags = read_rflags();
#endif
	memset(&k->res, 0, sizeof(k->res));
	ktry_top = k;
}

void ktry_pop(struct ktry *k)
{
	ktry_top = k->prev;
}

/*
 * The catch point that takes `kind`, or NULL. A catch point only takes what is raised at its
 * own trap depth (a fault arrives one level deeper, inside its trap handler): jumping out of
 * an interrupt handler that interrupted other code would leave that code half done.
 */
static struct ktry *find_catcher_at(enum ktry_kind kind, int depth)
{
	for (struct ktry *k = ktry_top; k; k = k->prev)
		if ((k->mask & kind) && k->trap_depth == depth)
			return k;
	return NULL;
}

static struct ktry *find_catcher(enum ktry_kind kind)
{
	return find_catcher_at(kind, current_trap_depth() - (kind == KTRY_FAULT ? 1 : 0));
}

bool ktry_would_catch(enum ktry_kind kind)
{
	return find_catcher(kind) != NULL;
}

struct ktry *ktry_chain(void)
{
	return ktry_top;
}

void ktry_set_chain(struct ktry *top)
{
	ktry_top = top;
}

static void __noreturn jump_to(struct ktry *k)
{
	ktry_top = k->prev;
#ifndef KTEST_HOST
	trap_depth = k->trap_depth;
	if (k->rflags & RFLAGS_IF)
		sti();
	else
		cli();
#endif
	kjmp_jump(k->jb, 1);
}

static void copy_msg(char *dst, const char *msg)
{
	size_t n = strlen(msg);

	if (n >= KTRY_MSG_MAX)
		n = KTRY_MSG_MAX - 1;
	memcpy(dst, msg, n);
	dst[n] = '\0';
}

#ifndef KTEST_HOST
/*
 * The return address at the top of the stack of a fault at rip, if the faulting function has
 * not built its frame yet (gcc builds it only on the paths that need it: a function's early
 * test of its argument often runs before), else 0. It is one when the instruction before it
 * is a direct call (e8 rel32) to an address at most 4 KiB below rip: to this function.
 */
static uint64_t frameless_caller(uint64_t rsp, uint64_t rip, const struct ktry *k)
{
	if (!rsp || (rsp & 7) || rsp + 8 > (uint64_t)k)
		return 0;
	uint64_t ret = *(const uint64_t *)rsp;

	if (ret < (uint64_t)__text_start + 5 || ret > (uint64_t)__text_end)
		return 0;
	const uint8_t *call = (const uint8_t *)ret - 5;
	int32_t rel;

	memcpy(&rel, call + 1, sizeof(rel));
	uint64_t target = ret + (uint64_t)(int64_t)rel;
	return call[0] == 0xe8 && target <= rip && rip - target < 4096 ? ret : 0;
}
#endif

/*
 * Keep in k's result the return addresses of the frames from rbp on (after first, the caller
 * of a function without a frame yet, if not 0). Only the stack between rsp (where the code
 * stopped) and k itself (the catch point, in an older frame of the same stack) is read: all
 * of it in use, so mapped, whatever junk a broken frame holds.
 */
static void keep_trace(struct ktry *k, uint64_t rsp, uint64_t rbp, uint64_t first)
{
	const uint64_t *f = (const uint64_t *)rbp;
	int n = 0;

	if (first)
		k->res.trace[n++] = first;

	while (n < KTRY_TRACE_MAX && f && (uint64_t)f >= rsp && !((uint64_t)f & 7) &&
	       (uint64_t)(f + 2) <= (uint64_t)k && f[1]) {
		k->res.trace[n++] = f[1];
		if (f[0] <= (uint64_t)f) /* stacks grow down: callers' frames are above */
			break;
		f = (const uint64_t *)f[0];
	}
	k->res.trace_len = n;
}

void ktry_raise_traced(enum ktry_kind kind, const char *msg, uint64_t rsp, uint64_t rbp)
{
	struct ktry *k = find_catcher(kind);

	if (!k)
		return;
	k->res.kind = kind;
	copy_msg(k->res.msg, msg);
	keep_trace(k, rsp, rbp, 0);
	jump_to(k);
}

void ktry_raise_again(const struct ktry_result *r)
{
	struct ktry *k = find_catcher_at(r->kind, current_trap_depth()); /* not from a trap */

	if (!k)
		return;
	k->res = *r;
	jump_to(k);
}

void ktry_raise(enum ktry_kind kind, const char *msg)
{
	ktry_raise_traced(kind, msg, 0, 0);
}

void ktry_raise_fault(const char *msg, uint64_t vector, uint64_t error, uint64_t rip, uint64_t cr2,
		      uint64_t rsp, uint64_t rbp)
{
	struct ktry *k = find_catcher(KTRY_FAULT);

	if (!k)
		return;
	k->res.kind = KTRY_FAULT;
	copy_msg(k->res.msg, msg);
#ifdef KTEST_HOST
	keep_trace(k, rsp, rbp, 0);
#else
	keep_trace(k, rsp, rbp, frameless_caller(rsp, rip, k));
#endif
	k->res.vector = vector;
	k->res.error = error;
	k->res.rip = rip;
	k->res.cr2 = cr2;
	jump_to(k);
}

int ktry_call(void (*fn)(void *arg), void *arg, unsigned mask, struct ktry_result *res)
{
	struct ktry k;

	ktry_push(&k, mask);
	if (kjmp_set(k.jb) == 0) {
		fn(arg);
		ktry_pop(&k);
		return 0;
	}
	if (res)
		*res = k.res;
	return k.res.kind;
}

void todo_reached(const char *func, const char *file, int line, const char *what)
{
	char msg[KTRY_MSG_MAX];

	ksnprintf(msg, sizeof(msg), TODO_PREFIX "%s() at %s:%d: %s", func, file, line, what);
	ktry_raise(KTRY_TODO, msg);
	panic("%s", msg);
}
