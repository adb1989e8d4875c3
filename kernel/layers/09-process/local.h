/* Shared by the files of layer 09 only (kernel/layers/09-process; init.c tells the story). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "process.h"

/* Set at boot (init.c): processes can run (the counts are in the frames' path, the system
 * calls and the fault handler are in place). */
extern bool processes_up;

/* The process orphans go to, or NULL (procs.c). */
extern struct process *init_proc;

/* frames.c: the table of counts, made at boot (false: no memory for it, with a note), and
 * the counted frame source put in front of the buddy (after lab 09's step 2 checked out). */
bool frame_refs_init(void);
/* Lab 09's step 2 on the frame pa (allocated, count 0): NULL if it counts and frees as it
 * should (pa is then free), else what went wrong; then pa's count is 0 if the buddy has it
 * back, and not 0 if the caller must give it back. */
const char *frame_refs_check(phys_addr_t pa);
void frame_refs_install(void);

/* The end of every program (procs.c), registered with layer 08 at boot. */
void procs_end_hook_init(void);

/* The system calls of layer 09 (syscalls.c). */
void proc_syscalls_register(void);

/* The page fault handler that sends copy-on-write faults to lab 09 and the hook that does
 * the same before the kernel writes into a program (pagefault.c). */
void cow_handlers_init(void);
/* Make [uaddr, uaddr + len) of s writable where it is copy-on-write (for a copyout). */
void cow_prepare_write(struct uspace *s, uint64_t uaddr, size_t len);

/* The console's input, a line at a time (tty.c): read into buf[len] for p, blocking; the
 * bytes (0 at the end of the input). The input is what tty_type queued, then, between
 * tty_start and tty_stop on a terminal (tty_interactive: console.interactive on the command
 * line), the keyboard. */
long tty_read(struct program *p, char *buf, size_t len);
void tty_type(const char *text);
bool tty_interactive(void);
void tty_start(void);
void tty_stop(void);

/* The process whose program is p, or NULL. */
static inline struct process *proc_of(const struct program *p)
{
	return p ? p->owner : NULL;
}

/* This layer's part of the tour (tour.c). */
void procs_tour(void);
