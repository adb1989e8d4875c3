/*
 * init [command [args...]]: the first process (checkpoint 09). It runs the command (sh when
 * there is none) as its child, and then waits: for that child, and for every orphan the
 * kernel hands it (a process whose parent ended before it did), so that no zombie stays
 * behind. When it has no child left it exits, with the status of the command (128 + the
 * vector if an exception ended it).
 *
 *     init: reaped orphan 9 (exit status 0)
 */
#include "user.h"

int main(int argc, char **argv)
{
	char *dflt[] = {"sh", NULL}, how[64];
	char **cmd = argc > 1 ? argv + 1 : dflt;
	int status, code = 0, pid = fork(), r;

	if (pid < 0) {
		printf("init: fork: %s\n", errstr(pid));
		return 1;
	}
	if (pid == 0) {
		r = exec(cmd[0], cmd);
		printf("init: cannot run %s: %s\n", cmd[0], errstr(r));
		exit(127);
	}
	while ((r = wait(&status)) != -ECHILD) {
		if (r < 0) {
			printf("init: wait: %s\n", errstr(r));
			return 1;
		}
		if (r == pid)
			code = WAIT_EXITED(status) ? WAIT_EXIT_CODE(status) : 128 + (status & 0x7f);
		else
			printf("init: reaped orphan %d (%s)\n", r,
			       wait_describe(status, how, sizeof(how)));
	}
	return code;
}
