/*
 * The console's input, a line at a time, for the programs' read(0, ...) (the shell's).
 *
 * Where the bytes come from. First what the kernel typed itself (tty_type: the tour's
 * session, or a test's); then, only when the console is a terminal someone types on, the
 * serial port (COM1). `make qemu` says so with console.interactive on the command line when
 * its input is a terminal; without it, the input ends when what the kernel typed runs out
 * (read returns 0), as a shell's input does at the end of a script.
 *
 * The keyboard. While the tour's shell runs on a terminal (tty_start to tty_stop), a kernel
 * thread polls the port every tick and puts what arrives after what was typed. Ctrl-C is
 * its own: it ends the programs the shell runs (every process but init and the shells), as
 * a terminal's interrupt key does, or, with none running, drops the line being typed.
 *
 * The line discipline, as a terminal's in "cooked" mode, in the reader's own system call:
 * each byte is echoed as it is taken (QEMU puts the terminal in raw mode: nothing else
 * echoes), Backspace or Delete takes the last character back, Enter ends the line, Ctrl-C
 * drops it, Ctrl-D on an empty line is the end of the input. Escape sequences (the arrow
 * keys) are ignored. A reader with nothing to read sleeps a tick and looks again. The port is
 * polled, not driven by its interrupt, which is plenty for a person typing (QEMU holds what
 * the port's FIFO has no room for).
 */
#include <string.h>
#include "cmdline.h"
#include "irq.h"
#include "layer_access.h"
#include "local.h"
#include "thread.h"
#include "timer.h"
#include "x86.h"

#define TTY_LINE_MAX   256  /* a longer line is cut */
#define TTY_TYPED_MAX  2048 /* what the kernel may type ahead */

#define COM1	       0x3f8 /* the 16550 UART of the console (kernel/serial.c) */
#define UART_LSR       5     /* line status */
#define LSR_DATA_READY 0x01

#define CTRL_C	       0x03
#define CTRL_D	       0x04
#define BACKSPACE      0x08
#define ESCAPE	       0x1b
#define DELETE	       0x7f

#define TTY_NONE       (-1) /* nothing to read right now */
#define TTY_END	       (-2) /* and nothing ever will be */

static char typed[TTY_TYPED_MAX];
static size_t typed_head, typed_len;
static struct thread *poller;
static volatile bool polling;
static char line[TTY_LINE_MAX]; /* the line being returned, line[pos .. len) still to go */
static size_t line_pos, line_len;
static bool after_cr, in_escape;

bool tty_interactive(void)
{
	return cmdline_has("console.interactive");
}

static void type_byte(char c)
{
	if (typed_len < TTY_TYPED_MAX)
		typed[(typed_head + typed_len++) % TTY_TYPED_MAX] = c;
}

void tty_type(const char *text)
{
	unsigned long flags = irq_save();

	for (; *text; text++)
		type_byte(*text);
	irq_restore(flags);
}

/* Ctrl-C: end every process but init and the shells; true if there was one to end. */
static bool interrupt_programs(void)
{
	bool any = false;

	for (int i = 0; i < PROC_MAX; i++) {
		struct process *pr = &proc_table[i];

		if (pr->state == PROC_RUNNING && pr->prog && strcmp(pr->prog->name, "init") &&
		    strcmp(pr->prog->name, "sh")) {
			program_kill(pr->prog);
			any = true;
		}
	}
	return any;
}

static int poll_keyboard(void *arg)
{
	while (polling) {
		while (inb(COM1 + UART_LSR) & LSR_DATA_READY) {
			char c = (char)inb(COM1);
			unsigned long flags = irq_save();

			if (c != CTRL_C || !interrupt_programs())
				type_byte(c);
			irq_restore(flags);
		}
		thread_sleep(TIMER_MS_PER_TICK);
	}
	return 0;
}

void tty_start(void)
{
	if (tty_interactive() && !poller) {
		polling = true;
		poller = thread_create("tty", poll_keyboard, NULL);
	}
}

void tty_stop(void)
{
	if (poller) {
		polling = false;
		thread_join(poller);
		poller = NULL;
	}
}

/* Forget what was typed and not read yet (a test ends). */
void tty_discard(void)
{
	unsigned long flags = irq_save();

	typed_len = 0;
	line_pos = line_len = 0;
	after_cr = in_escape = false;
	irq_restore(flags);
}

static int next_byte(void)
{
	unsigned long flags = irq_save();

	if (typed_len) {
		int c = (unsigned char)typed[typed_head];

		typed_head = (typed_head + 1) % TTY_TYPED_MAX;
		typed_len--;
		irq_restore(flags);
		return c;
	}
	irq_restore(flags);
	return poller ? TTY_NONE : TTY_END;
}

static void echo(struct program *p, const char *s)
{
	program_write(p, s, strlen(s));
}

/* Edit the next line into line[] (true), or find the end of the input (false). */
static bool edit_line(struct program *p)
{
	line_pos = line_len = 0;
	for (;;) {
		int c = next_byte();

		if (c == TTY_NONE) {
			if (p->kill)
				return false; /* it is to end: the input is over for it */
			thread_sleep(TIMER_MS_PER_TICK);
			continue;
		}
		if (c == TTY_END || (c == CTRL_D && line_len == 0))
			return false;
		bool was_cr = after_cr;
		after_cr = c == '\r';
		if (in_escape) { /* ESC [ ... letter: a key the line does not use */
			in_escape = !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '~');
			continue;
		}
		if (c == '\n' && was_cr)
			continue; /* "\r\n": one line end */
		if (c == '\r' || c == '\n' || c == CTRL_D) {
			if (c != CTRL_D)
				line[line_len++] = '\n';
			echo(p, "\n");
			return true;
		}
		if (c == CTRL_C) {
			echo(p, "^C\n");
			line_len = 0;
			line[line_len++] = '\n';
			return true;
		}
		if (c == BACKSPACE || c == DELETE) {
			if (line_len) {
				line_len--;
				echo(p, "\b \b");
			}
			continue;
		}
		if (c == ESCAPE) {
			in_escape = true;
			continue;
		}
		if (c < ' ' || c > '~' || line_len >= TTY_LINE_MAX - 1)
			continue;
		line[line_len++] = (char)c;
		char s[2] = {(char)c, '\0'};
		echo(p, s);
	}
}

long tty_read(struct program *p, char *buf, size_t len)
{
	if (line_pos == line_len && !edit_line(p))
		return 0;
	size_t n = MIN(len, line_len - line_pos);
	memcpy(buf, line + line_pos, n);
	line_pos += n;
	return (long)n;
}
