/*
 * What layer 08 offers the layers above it beyond kernel/program.h, for a layer that makes
 * programs its own way (processes: fork, exec, exit and wait, kernel/layers/09-process):
 *
 *   - an address space built from an image without a program around it, so that exec can
 *     build the new one before it gives up the old one;
 *   - a hook called when a program ends, on its own thread, so that the layer above learns
 *     of every end (exit, fault, kill) in one place;
 *   - a hook called before the kernel writes into a program's pages (copyout), so that pages
 *     shared until written (copy-on-write) can be made the program's own first.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "program.h"

/*
 * Build the space s for the program image[0 .. size) with these arguments, as program_load
 * does for a program (uspace_init, elf_check, aslr_choose, elf_load, loader_setup_stack),
 * and fill *start with the registers of its first entry into ring 3 (rip, rsp, rdi = argc,
 * rsi = argv, rflags; the rest 0). name is for the messages only. Returns 0, or -ENOEXEC (the
 * reason is printed), -ENOMEM, -E2BIG or -EINVAL; then s holds nothing (its pages and tables
 * are given back).
 */
int program_load_space(struct uspace *s, const char *name, const void *image, size_t size, int argc,
		       const char *const argv[], struct syscall_frame *start);

/*
 * Called when a program ends, on the program's own thread, with interrupts on: its pages are
 * given back (p->released), p->state is PROGRAM_ENDED and p->end, p->status, p->fault and
 * p->note say how; its thread exits right after. The hook must not block for long, and must
 * not free p (whoever waits for the program does).
 */
typedef void (*program_end_hook_t)(struct program *p);

/* Call hook at every program's end from now on; returns the hook it replaces (NULL: none),
 * which the new one should call too. */
program_end_hook_t program_set_end_hook(program_end_hook_t hook);

/*
 * Called before the kernel copies len bytes out to uaddr of s (layer 08's own system calls
 * that write into a program, and those of the layers above), before it checks the range:
 * the hook may make pages of the range writable that are meant to be (a copy-on-write page),
 * never others.
 */
typedef void (*uspace_write_hook_t)(struct uspace *s, uint64_t uaddr, size_t len);

/* Call hook before every such copy from now on; returns the hook it replaces (NULL: none). */
uspace_write_hook_t uspace_set_write_hook(uspace_write_hook_t hook);

/* What a system call does before it copies out to a program: the hook, if there is one. */
void uspace_prepare_write(struct uspace *s, uint64_t uaddr, size_t len);
