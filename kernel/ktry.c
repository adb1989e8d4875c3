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
static struct ktry *find_catcher(enum ktry_kind kind)
{
	int depth = current_trap_depth() - (kind == KTRY_FAULT ? 1 : 0);

	for (struct ktry *k = ktry_top; k; k = k->prev)
		if ((k->mask & kind) && k->trap_depth == depth)
			return k;
	return NULL;
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

void ktry_raise(enum ktry_kind kind, const char *msg)
{
	struct ktry *k = find_catcher(kind);

	if (!k)
		return;
	k->res.kind = kind;
	copy_msg(k->res.msg, msg);
	jump_to(k);
}

void ktry_raise_fault(const char *msg, uint64_t vector, uint64_t error, uint64_t rip, uint64_t cr2)
{
	struct ktry *k = find_catcher(KTRY_FAULT);

	if (!k)
		return;
	k->res.kind = KTRY_FAULT;
	copy_msg(k->res.msg, msg);
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

	ksnprintf(msg, sizeof(msg), "not implemented: %s() at %s:%d: %s", func, file, line, what);
	ktry_raise(KTRY_TODO, msg);
	panic("%s", msg);
}
