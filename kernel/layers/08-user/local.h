/* Shared by the files of layer 08 only (kernel/layers/08-user). */
#pragma once

#include <stdbool.h>
#include "program.h"

/* The images layer.mk put into the kernel (user_images.S, generated), in name order. */
extern const struct user_image user_images[];
extern const size_t user_images_count;

/* The program whose thread runs (the switch hook keeps it), or NULL. */
extern struct program *program_running;

/* Set at boot (init.c): programs can run (segments, system calls and handlers are up). */
extern bool programs_up;

/* The thread function of every program (program.c), and the program a thread runs, if any. */
int program_thread_main(void *arg);
struct program *thread_program(struct thread *t);

/* The current program ends because the kernel cannot go on with it (PROGRAM_BROKEN), after the
 * exception *f if not NULL; or because program_kill asked it to (PROGRAM_KILLED). */
__noreturn void program_end_broken(const struct user_fault *f, const char *why);
__noreturn void program_end_killed(void);

/* Register the system calls of layer 08 (syscalls.c). */
void syscalls_register_layer(void);

/* Route the exceptions a program can cause, and the timer, through this layer (usertrap.c). */
void usertrap_init(void);

/* The kernel's part of a switch to next: its address space and kernel stack (program.c). */
void program_switch_hook_init(void);

/* Seed the ASLR generator from the command line or the entropy source (random.c). */
void aslr_boot_seed(void);

/* This layer's part of the tour (tour.c). */
void user_tour(void);
