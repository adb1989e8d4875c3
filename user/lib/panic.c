/*
 * What the kernel's shared code calls when something is wrong, for programs: panic() (lab
 * 04's heap on a double free, say) and todo_reached() (a TODO of a lab not written yet) print
 * to fd 2 and end the program.
 */
#include "kprintf.h"
#include "panic.h"
#include "todo.h"
#include "user.h"

#define PANIC_MSG_MAX 256

void panic(const char *fmt, ...)
{
	char msg[PANIC_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "panic in program: %s\n", msg);
	exit(USER_EXIT_PANIC);
}

void todo_reached(const char *func, const char *file, int line, const char *what)
{
	dprintf(2, "not implemented: %s() at %s:%d: %s\n", func, file, line, what);
	exit(USER_EXIT_TODO);
}
