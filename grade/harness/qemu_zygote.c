/*
 * A QEMU that starts once and is forked for each boot (grade/harness/zygote.py builds this file
 * into a library and starts QEMU with it in LD_PRELOAD).
 *
 * A short boot of a test kernel costs QEMU about 70 ms of CPU, and a third of that is spent
 * before QEMU's main() runs: the dynamic linker loads 51 libraries and applies 120,000
 * relocations to QEMU's own image, and the constructors run. None of it depends on the command
 * line. So this library takes over at the point where the C library would call main() (by
 * wrapping __libc_start_main, which ld.so resolves to the preloaded library first), and waits
 * on a socket instead. For each request it forks, and the child calls QEMU's real main() with
 * the request's arguments, exactly as if QEMU had been started with them:
 *
 *     harness                        zygote (QEMU before main)          child (QEMU's main)
 *     request: cwd, args, 3 fds ---> fork() ------------------------->  setsid, fds 0-2, chdir
 *                               <--- its pid                            main(argc, argv)
 *     reads the child's output                                          ...
 *                               <--- its wait status                    exit
 *
 * What QEMU's constructors set up survives the fork: they only register types and options,
 * and the one thread they start (RCU's) is started again in the child by QEMU's own
 * pthread_atfork handler, as for -daemonize.
 *
 * The socket is one end of a socketpair the harness made (its number in TEACHOS_ZYGOTE_FD):
 * only the harness can ask. Requests are served one at a time. The zygote dies with the
 * harness (PR_SET_PDEATHSIG; the harness's pid is in TEACHOS_ZYGOTE_PARENT, to notice a death
 * before that was set), and a child with its zygote.
 *
 * A request is one SOCK_SEQPACKET message of strings, each ended by a NUL byte: the directory
 * to run in, the number of arguments (in decimal), the arguments, then the environment
 * ("NAME=value"), with stdin, stdout and stderr attached (SCM_RIGHTS). The replies are
 * two messages: the child's pid (an int, or -errno if the fork failed), then its wait status
 * (an int) when it has ended.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZYGOTE_FD_VAR	  "TEACHOS_ZYGOTE_FD"
#define ZYGOTE_PARENT_VAR "TEACHOS_ZYGOTE_PARENT" /* the harness's pid */
#define REQUEST_MAX	  65536 /* bytes of a request: the directory and the arguments */
#define ARGS_MAX	  512
#define ENV_MAX		  1024

typedef int (*main_fn)(int, char **, char **);
typedef int (*start_main_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void),
			     void *);

static main_fn qemu_main;
static int zygote_fd = -1;
static pid_t harness_pid, zygote_pid;
static char *title; /* where the zygote's arguments lie, and their length: show_arguments */
static size_t title_len;
static bool in_child; /* this process is a child of the zygote, running QEMU's main() */

/*
 * QEMU's RCU thread calls malloc_trim() each time it has caught up (twice in a short boot),
 * which hands the heap's free pages back to the kernel; the next allocations then fault them
 * in again, one 4 KiB page at a time. On a virtual machine, where a page fault is slow, that
 * was a good part of a boot's system time (a boot of checkpoint 07's kframes tests: 85 ms of
 * it, 68 ms without the trims, 44 ms with qemu.QEMU_TUNABLES as well). A child lives for
 * seconds, and its memory goes back when it exits, so in a child this does nothing; anywhere
 * else it is the C library's.
 */
int malloc_trim(size_t pad)
{
	static int (*real)(size_t);

	if (in_child)
		return 0;
	if (!real)
		real = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
	return real ? real(pad) : 0;
}

/* Receive one request into buf; the fds it carried into fds[3]. Returns its length, 0 when the
 * harness has closed its end, -1 on a malformed request. */
static ssize_t receive_request(char *buf, size_t size, int fds[3])
{
	union {
		char bytes[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.bytes,
		.msg_controllen = sizeof(control.bytes),
	};
	ssize_t n;

	do
		n = recvmsg(zygote_fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(3 * sizeof(int)) ||
	    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (c && c->cmsg_type == SCM_RIGHTS) /* close what did come */
			for (int *fd = (int *)CMSG_DATA(c);
			     (char *)(fd + 1) <= (char *)c + c->cmsg_len; fd++)
				close(*fd);
		return -1;
	}
	memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
	buf[n] = '\0';
	return n;
}

static void reply(int value)
{
	while (send(zygote_fd, &value, sizeof(value), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* What ps shows of a child: its own arguments, written over the zygote's (the command line
 * /proc shows is the memory the zygote's arguments were given in, with room to spare), as
 * much of them as fits. */
static void show_arguments(char *const *args)
{
	size_t at = 0, room = title_len - 1; /* the last byte stays a NUL */

	if (!title)
		return;
	memset(title, '\0', title_len);
	for (; *args && at < room; args++) {
		if (at > 0)
			title[at++] = ' ';
		size_t n = strlen(*args);
		if (n > room - at)
			n = room - at;
		memcpy(title + at, *args, n);
		at += n;
	}
}

/* In the child: become what `qemu args...` started in cwd would have been, and run it. */
static int run_qemu(char *qemu, char *request, ssize_t len, const int fds[3])
{
	static char *argv[ARGS_MAX + 2], *envp[ENV_MAX + 1];
	char *p = request, *end = request + len, *cwd = p;
	int argc = 0, envc = 0;

	p += strlen(p) + 1;
	int nargs = atoi(p);
	p += strlen(p) + 1;
	argv[argc++] = qemu;
	for (; p < end && argc <= nargs && argc <= ARGS_MAX; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	for (; p < end && envc < ENV_MAX; p += strlen(p) + 1)
		envp[envc++] = p;
	envp[envc] = NULL;
	environ = envp;
	show_arguments(argv + 1);

	in_child = true;
	close(zygote_fd);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != zygote_pid) /* the zygote died before the line above */
		_exit(127);
	setsid(); /* a process group of its own, as the harness starts QEMU: killpg reaches it */
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			_exit(127);
	for (int i = 0; i < 3; i++)
		if (fds[i] > 2)
			close(fds[i]);
	if (chdir(cwd) < 0)
		_exit(127);
	exit(qemu_main(argc, argv, environ));
}

/* Takes main()'s place in the zygote: serve requests until the harness closes its end. */
static int zygote_main(int argc, char **argv, char **envp)
{
	static char request[REQUEST_MAX];
	int fds[3];

	(void)argc;
	(void)envp; /* environ, less the variables __libc_start_main took out */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != harness_pid) /* the harness died before the line above */
		return 1;
	zygote_pid = getpid();
	for (;;) {
		ssize_t len = receive_request(request, sizeof(request), fds);
		if (len == 0)
			return 0;
		if (len < 0) {
			reply(-EINVAL);
			continue;
		}
		pid_t pid = fork();
		if (pid == 0)
			run_qemu(argv[0], request, len, fds);
		for (int i = 0; i < 3; i++)
			close(fds[i]);
		reply(pid < 0 ? -errno : pid);
		if (pid < 0)
			continue;
		int status;
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR) {
				status = W_EXITCODE(127, 0);
				break;
			}
		reply(status);
	}
}

/* True if this process runs a QEMU system emulator (a program the library was preloaded
 * into by mistake, a script in QEMU's place say, runs as it would have). */
static bool is_qemu(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	const char *name = strrchr(exe, '/');
	return strncmp(name ? name + 1 : exe, "qemu-system-", strlen("qemu-system-")) == 0;
}

/* The C library's entry to main(): with TEACHOS_ZYGOTE_FD and TEACHOS_ZYGOTE_PARENT set,
 * QEMU becomes a zygote. What QEMU starts (nothing, with the harness's options) must not be
 * one: these variables and LD_PRELOAD go. */
int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end)
{
	start_main_fn real = (start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");
	const char *fd = getenv(ZYGOTE_FD_VAR), *parent = getenv(ZYGOTE_PARENT_VAR);

	if (fd && parent && is_qemu()) {
		zygote_fd = atoi(fd);
		harness_pid = atoi(parent);
		qemu_main = main;
		main = zygote_main;
		unsetenv(ZYGOTE_FD_VAR);
		unsetenv(ZYGOTE_PARENT_VAR);
		unsetenv("LD_PRELOAD");
		if (argc > 1) { /* the arguments lie one after the other */
			title = argv[1];
			title_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - title);
		}
	}
	return real(main, argc, argv, init, fini, rtld_fini, stack_end);
}
