/*
 * Programs (checkpoint 08): a program of user/, loaded into an address space of its own and
 * run in ring 3 by a kernel thread of its own. The kernel gives this part
 * (kernel/layers/08-user/program.c); lab 08's code calls it from the system calls (step 6)
 * and the fault handler (step 7).
 *
 * A program's life:
 *
 *   program_start("hello", argc, argv)          (or program_create, _load, _launch)
 *     find the image by name in the kernel (user_image_find)
 *     uspace_init, elf_check, aslr_choose, elf_load, loader_setup_stack   (lab 08)
 *     a thread "hello", which enters ring 3 through syscall_return with the first frame
 *   ... the program runs, makes system calls, is preempted like any thread ...
 *   it ends, always on its own thread:
 *     sys_exit(status)                         end PROGRAM_EXITED, status
 *     a CPU exception in ring 3 (user_fault)   end PROGRAM_FAULTED, the fault and its report
 *     program_kill by another thread           end PROGRAM_KILLED, at its next entry
 *     a TODO of lab 08 in one of its calls     end PROGRAM_BROKEN, the note says which
 *   the end gives every page of the space back (uspace_destroy) and ends the thread;
 *   program_wait, in the thread that started it, joins that thread and frees the record.
 *
 * Which program a thread runs is known from the thread itself (its function is the kernel's
 * program thread), and at every switch the kernel loads the next thread's address space (or
 * the kernel's) and points the TSS's rsp0 and syscall_stack_top at its kernel stack.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "elf.h"
#include "list.h"
#include "syscall.h"
#include "uspace.h"

#define PROGRAM_NAME_MAX 32  /* with the NUL; as a thread's name, it is cut further */
#define PROGRAM_NOTE_MAX 320 /* why the kernel ended a program */

/* A program image in the kernel (user/, put there by kernel/layers/08-user/layer.mk). */
struct user_image {
	const char *name;
	const uint8_t *data;
	size_t size;
};

enum program_state {
	PROGRAM_NEW,	 /* created; loaded or not; no thread yet */
	PROGRAM_RUNNING, /* its thread runs it (in ring 3, or in the kernel for it) */
	PROGRAM_ENDED,	 /* it has ended; program_wait frees it */
};

/* How a program ended. */
enum program_end {
	PROGRAM_EXITED,	 /* it called exit */
	PROGRAM_FAULTED, /* a CPU exception in ring 3 (p->fault) */
	PROGRAM_KILLED,	 /* program_kill */
	PROGRAM_BROKEN,	 /* the kernel could not go on with it (p->note says why) */
};

/* What the CPU said about the exception that ended a program. */
struct user_fault {
	uint64_t vector, error, rip;
	uint64_t cr2; /* page faults: the address; else 0 */
};

/* Where a program's writes to fds 1 and 2 go, instead of the console (tests read them). */
struct program_output {
	char *buf;
	size_t size; /* of buf */
	size_t len;  /* written so far (the rest is dropped, counted in lost) */
	size_t lost;
};

struct program {
	int pid;
	char name[PROGRAM_NAME_MAX];
	struct uspace space;
	struct thread *thread;		  /* NULL until program_launch */
	struct syscall_frame start_frame; /* its registers when it first enters ring 3 */
	uint64_t kstack_top;		  /* its kernel stack (TSS rsp0) while it runs */
	enum program_state state;
	enum program_end end;	     /* when ENDED */
	int status;		     /* PROGRAM_EXITED: what it gave exit; otherwise -1 */
	struct user_fault fault;     /* PROGRAM_FAULTED */
	char note[PROGRAM_NOTE_MAX]; /* PROGRAM_FAULTED: the report; PROGRAM_BROKEN: why */
	volatile bool kill;	     /* program_kill: end at the next entry into the kernel */
	bool released;		     /* its pages are given back (the space is gone) */
	bool space_borrowed; /* the space is its creator's: the end leaves it (tests, a layer above) */
	struct program_output *output; /* NULL: the console */
	struct list_node link;	       /* on the kernel's list of programs */
	void *owner;		       /* for a layer above (a process): the kernel ignores it */
};

/* ---- programs in the kernel image --------------------------------------------------------- */

/* The image of that name, or NULL. */
const struct user_image *user_image_find(const char *name);

/* The images, in name order: i < user_image_count(). */
size_t user_image_count(void);
const struct user_image *user_image_at(size_t i);

/* ---- starting and waiting ------------------------------------------------------------------ */

/* NULL if programs can run at this checkpoint, else why not ("08-user: segments_init ..."). */
const char *programs_unavailable(void);

/*
 * Load the image called name with these arguments and start it on a thread of its own, its
 * writes going to out (NULL: the console). Returns the program, or NULL with *err set:
 * -ENOENT (no such image), -ENOEXEC (elf_check refused it: the reason is printed), -E2BIG,
 * -ENOMEM, or -ENOSYS (programs cannot run: programs_unavailable() says why). Nothing is
 * kept on failure.
 */
struct program *program_start(const char *name, int argc, const char *const argv[],
			      struct program_output *out, int *err);

/* The steps of program_start, for a layer that makes programs otherwise (fork, exec). */
struct program *program_create(const char *name); /* NEW, a pid, no space; NULL: no memory */
int program_load(struct program *p, const void *image, size_t size, int argc,
		 const char *const argv[]); /* a space, the image, the stack, start_frame */
int program_launch(struct program *p);	    /* its thread: 0, or -ENOMEM */
void program_free(struct program *p);	    /* a program never launched, or ended and joined */

/*
 * Wait until p has ended (blocking) and give back its space, but keep the record, for a
 * caller that reads how it ended (p->end, p->fault, p->note): program_free it afterwards.
 */
void program_join(struct program *p);

/*
 * Wait until p has ended (blocking), then free it (thread, space if still there, record) and
 * return its status: what it gave exit, or -1 if it did not exit by itself (p->end says how;
 * read it before: p is gone after). From the thread that started it.
 */
int program_wait(struct program *p);

/* Ask p to end (PROGRAM_KILLED) at its next entry into the kernel: a system call, or the
 * next timer tick while it runs in ring 3. */
void program_kill(struct program *p);

/* The program whose thread runs now, or NULL in a kernel thread. */
struct program *program_current(void);

/* Programs created and not yet freed. */
size_t program_count(void);

/* ---- ending, on the program's own thread -------------------------------------------------- */

/* The current program ends with this exit status (sys_exit). */
__noreturn void program_exit(int status);

/*
 * The current program ends because of the CPU exception *f in ring 3; report is its
 * description (user_fault_describe), printed as "user: <report>" and kept in p->note.
 */
__noreturn void program_end_fault(const struct user_fault *f, const char *report);

/* p's writes to fd 1 or 2: n bytes at buf, to its output or the console. */
void program_write(struct program *p, const char *buf, size_t n);

/* ---- lab 08, step 7 (labs/08-user/ufault.c) ----------------------------------------------- */

/*
 * The handler of every CPU exception a program can cause (#DE, #DB, #BP, #UD, #GP, #PF, ...;
 * interrupts disabled). One from ring 3 ends the current program: record vector, error code,
 * rip and, for a page fault, CR2, describe it, program_end_fault. One from the kernel is not
 * the program's: pass it on (user_fault_pass_on) and return.
 */
struct trap_frame;
void user_fault(struct trap_frame *tf);

/*
 * The report of a fault, into buf[size] (as ksnprintf; returns what it returns):
 *   program 'crash' (pid 3): #GP general protection at rip 0x0000000000401234, error 0x0
 *   program 'crash' (pid 3): #PF page fault at rip 0x0000000000401234: address
 *       0x0000000000000000, read, page not present, user mode
 * (the second on one line: the page fault's words are lab 02's page_fault_describe).
 */
int user_fault_describe(char *buf, size_t size, const struct program *p,
			const struct user_fault *f);

/* Given: what the kernel does with an exception that is not a program's (the handler that was
 * there before layer 08, or the kernel's default report and panic). A fault from ring 3
 * passed on here is a program's all the same: it ends the program, with a note saying that
 * user_fault passed it on. */
void user_fault_pass_on(struct trap_frame *tf);
