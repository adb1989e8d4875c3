/* The system calls of processes (kernel/process_abi.h) as C functions, and their words. */
#include "user.h"

int fork(void)
{
	return (int)syscall3(SYS_fork, 0, 0, 0);
}

int exec(const char *name, char *const argv[])
{
	return (int)syscall3(SYS_exec, (long)name, (long)argv, 0);
}

int wait(int *status)
{
	return waitpid(-1, status);
}

int waitpid(int pid, int *status)
{
	return (int)syscall3(SYS_wait, pid, (long)status, 0);
}

long read(int fd, void *buf, size_t len)
{
	return syscall3(SYS_read, fd, (long)buf, (long)len);
}

int getppid(void)
{
	return (int)syscall3(SYS_getppid, 0, 0, 0);
}

long image(unsigned long i, char *name, size_t size)
{
	return syscall3(SYS_image, (long)i, (long)name, (long)size);
}

long frames_free(void)
{
	return syscall3(SYS_frames, 0, 0, 0);
}

const char *errstr(long err)
{
	switch (-err) {
	case ENOENT:
		return "no such program";
	case E2BIG:
		return "arguments too long";
	case ENOEXEC:
		return "not a program this kernel runs";
	case EBADF:
		return "bad file descriptor";
	case ECHILD:
		return "no child to wait for";
	case EAGAIN:
		return "the process table is full";
	case ENOMEM:
		return "out of memory";
	case EFAULT:
		return "bad address";
	case EINVAL:
		return "invalid argument";
	case ENAMETOOLONG:
		return "name too long";
	case ENOSYS:
		return "no such system call here";
	default:
		return "error";
	}
}

/* The exceptions a program is likely to die of, as the kernel names them (trap_name). */
static const char *vector_name(int v)
{
	static const char *const names[] = {
		[0] = "#DE divide error",	 [1] = "#DB debug",
		[3] = "#BP breakpoint",		 [6] = "#UD invalid opcode",
		[13] = "#GP general protection", [14] = "#PF page fault",
	};

	return v >= 0 && v < (int)(sizeof(names) / sizeof(names[0])) && names[v] ? names[v] : NULL;
}

const char *wait_describe(int status, char *buf, size_t size)
{
	if (WAIT_EXITED(status))
		snprintf(buf, size, "exit status %d", WAIT_EXIT_CODE(status));
	else if (WAIT_FAULTED(status) && vector_name(WAIT_FAULT_VECTOR(status)))
		snprintf(buf, size, "ended by %s", vector_name(WAIT_FAULT_VECTOR(status)));
	else if (WAIT_FAULTED(status))
		snprintf(buf, size, "ended by exception %d", WAIT_FAULT_VECTOR(status));
	else
		snprintf(buf, size, "ended by the kernel");
	return buf;
}
