/*
 * sh: a small shell (checkpoint 09). It prints a prompt, reads a line from the console,
 * splits it into words, and runs the program the first word names with all of them as its
 * arguments, the way every Unix shell does: fork, exec in the child, wait in the parent. A
 * command that did not exit with 0 gets a line saying how it ended.
 *
 *     $ hello a b
 *     hello from ring 3: I am 'hello', pid 5, with 2 arguments: 'a', 'b'
 *     sh: hello: exit status 2
 *
 * Built in: `exit [status]` and `help`. `ls` (a program) lists the programs there are. At the
 * end of the input (Ctrl-D, or the end of what the kernel typed) it exits with the status of
 * the last command.
 */
#include "user.h"

#define LINE_MAX  256
#define WORDS_MAX 32
#define EXIT_EXEC 127 /* the child's status when its exec failed */

static int last; /* what the last command exited with */

/* A line from the console into buf[size], without its newline: its length, or -1 at the end
 * of the input. */
static long read_line(char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		long r = read(0, buf + n, 1);

		if (r <= 0) {
			if (n)
				break;
			return -1;
		}
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return (long)n;
}

/* Split line into words at spaces and tabs: how many (at most WORDS_MAX - 1). */
static int split(char *line, char *words[])
{
	int n = 0;

	for (char *p = line; *p && n < WORDS_MAX - 1;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	words[n] = NULL;
	return n;
}

static void run(char *words[])
{
	char how[64];
	int status, pid = fork();

	if (pid < 0) {
		printf("sh: cannot run %s: fork: %s\n", words[0], errstr(pid));
		last = 1;
		return;
	}
	if (pid == 0) {
		int r = exec(words[0], words);
		dprintf(2, "sh: %s: %s\n", words[0], errstr(r));
		exit(EXIT_EXEC);
	}
	int r = waitpid(pid, &status);
	if (r != pid) {
		printf("sh: waitpid(%d): %s\n", pid, errstr(r));
		last = 1;
		return;
	}
	last = WAIT_EXITED(status) ? WAIT_EXIT_CODE(status) : 128 + (status & 0x7f);
	if (!WAIT_EXITED(status) || (WAIT_EXIT_CODE(status) && WAIT_EXIT_CODE(status) != EXIT_EXEC))
		printf("sh: %s: %s\n", words[0], wait_describe(status, how, sizeof(how)));
}

static void help(void)
{
	printf("sh: type a program's name and its arguments; `ls` lists the programs.\n"
	       "    built in: exit [status], help. Ctrl-D ends the input.\n");
}

int main(int argc, char **argv)
{
	char line[LINE_MAX], *words[WORDS_MAX];

	for (;;) {
		printf("$ ");
		if (read_line(line, sizeof(line)) < 0) {
			printf("exit\n");
			return last;
		}
		int n = split(line, words);
		if (n == 0)
			continue;
		if (!strcmp(words[0], "exit"))
			return n > 1 ? (int)atol_or(words[1], 1) : last;
		if (!strcmp(words[0], "help"))
			help();
		else
			run(words);
	}
}
