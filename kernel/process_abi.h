/*
 * What a program and the kernel agree on about processes (checkpoint 09): the system calls
 * lab 09 adds to those of user_abi.h, their error codes, and how wait reports the way a child
 * ended. The programs in user/ include this header too, so it holds nothing but numbers.
 *
 *     pid = fork();                 the parent gets the child's pid, the child 0
 *     exec("hello", argv);          only returns on an error: the caller goes on unchanged
 *     pid = wait(&status);          a child that ended, any one; waitpid(pid, &status) one
 *     if (WAIT_EXITED(status))      it called exit: WAIT_EXIT_CODE(status) is what it gave
 *     if (WAIT_FAULTED(status))     a CPU exception ended it: WAIT_FAULT_VECTOR(status)
 */
#pragma once

#include "user_abi.h"

/* ---- system call numbers (08 has 0-7) ---------------------------------------------------- */

#define SYS_fork    8  /* (): the child's pid to the parent, 0 to the child */
#define SYS_exec    9  /* (const char *name, char *const argv[]): no return when it works */
#define SYS_wait    10 /* (int pid, int *status): pid -1 for any child; the child's pid */
#define SYS_read    11 /* (int fd, void *buf, size_t len): fd 0, a line from the console */
#define SYS_getppid 12 /* (): the parent's pid, 0 if none */
#define SYS_image   13 /* (uint64_t i, char *name, size_t size): image i's name and size */
#define SYS_frames  14 /* (): how many frames of RAM are free (to watch copy-on-write) */

/* ---- errors (Linux's numbers, as in user_abi.h) ----------------------------------------- */

#define ECHILD 10 /* wait: no child (of that pid) to wait for */
#define EAGAIN 11 /* fork: the process table is full */

/* ---- what wait puts in *status ------------------------------------------------------------
 *
 *   bits 15-8   bits 7-0
 *   exit code   0            the child called exit(code): code & 0xff
 *   0           0x40 | v     a CPU exception v (0-31) in ring 3 ended it
 *   0           0x7f         the kernel ended it otherwise (killed, or it could not go on)
 */
#define WAIT_FAULT_FLAG	       0x40
#define WAIT_KILLED_CODE       0x7f
#define WAIT_EXITED(s)	       (((s)&0xff) == 0)
#define WAIT_EXIT_CODE(s)      (((s) >> 8) & 0xff)
#define WAIT_FAULTED(s)	       (((s)&0xe0) == WAIT_FAULT_FLAG)
#define WAIT_FAULT_VECTOR(s)   ((s)&0x1f)
#define WAIT_KILLED(s)	       (((s)&0xff) == WAIT_KILLED_CODE)
#define WAIT_STATUS_EXITED(c)  (((c)&0xff) << 8)
#define WAIT_STATUS_FAULTED(v) (WAIT_FAULT_FLAG | ((v)&0x1f))
#define WAIT_STATUS_KILLED     WAIT_KILLED_CODE
