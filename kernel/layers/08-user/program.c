/*
 * Programs (kernel/program.h): creating one from an image, its thread and its first entry
 * into ring 3, the switch hook that gives each thread its address space and kernel stack, and
 * every way a program ends.
 *
 * A program's thread. Its body, program_thread_main, sets a catch point for TODOs (so that a
 * system call of lab 08 not written yet ends that program, not the kernel), then enters ring 3
 * for good: it builds the first frame right under its own stack frame, points the TSS's rsp0
 * and syscall_stack_top there, and syscall_return()s into the program. From then on the
 * thread's kernel stack below that point belongs to the program's entries into the kernel
 * (system calls, interrupts, faults); what lies above (the catch point, the frames that led
 * here) stays untouched until the thread ends.
 *
 *     kernel stack of the thread                       (KSTACKS, 16 KiB)
 *     top ->  | thread_start, thread_run_body frames |
 *             | program_thread_main: struct ktry     |
 *             | ... ENTER_SLACK bytes ...            |
 *     kstack_top (rsp0, syscall_stack_top) --------- |  a system call's frame goes here
 *             |            ...                       |
 *     bottom  +--------------------------------------+  the guard page below
 */
#include <string.h>
#include "aslr.h"
#include "heap.h"
#include "irq.h"
#include "kprintf.h"
#include "ktry.h"
#include "local.h"
#include "panic.h"
#include "paging.h"
#include "program_hooks.h"
#include "segments.h"
#include "switch_hook.h"
#include "thread.h"

#define ENTER_SLACK 512 /* bytes left between the entering frame and the first program frame */

struct program *program_running;
static struct list_node programs = {&programs, &programs};
static size_t nprograms;
static int next_pid = 1;
static thread_switch_hook_t earlier_hook;
static program_end_hook_t end_hook;

/* ---- images ------------------------------------------------------------------------------ */

const struct user_image *user_image_find(const char *name)
{
	for (size_t i = 0; i < user_images_count; i++)
		if (!strcmp(user_images[i].name, name))
			return &user_images[i];
	return NULL;
}

size_t user_image_count(void)
{
	return user_images_count;
}

const struct user_image *user_image_at(size_t i)
{
	return i < user_images_count ? &user_images[i] : NULL;
}

/* ---- which program runs ------------------------------------------------------------------ */

struct program *thread_program(struct thread *t)
{
	return t && t->fn == program_thread_main ? t->arg : NULL;
}

struct program *program_current(void)
{
	return program_running;
}

size_t program_count(void)
{
	return nprograms;
}

/* The switch to next runs a program, or comes from one: load what next needs. */
static __attribute__((noinline)) void switch_space(struct program *p)
{
	program_running = p;
	if (p && !p->released) {
		if (p->kstack_top) {
			tss_set_rsp0(p->kstack_top);
			syscall_stack_top = p->kstack_top;
		}
		uspace_activate(&p->space);
	} else {
		uspace_activate(NULL);
	}
}

/*
 * Before the switch to next (interrupts off): its program's space and kernel stack. Kernel
 * threads always run on the kernel's tables, so from one to another nothing changes: that
 * common case is kept to a few instructions, since every switch of lab 07's threads pays it.
 */
static void switch_hook(struct thread *prev, struct thread *next)
{
	struct program *p = thread_program(next);

	if (p || program_running)
		switch_space(p);
	if (earlier_hook)
		earlier_hook(prev, next);
}

void program_switch_hook_init(void)
{
	unsigned long flags = irq_save(); /* no switch between the two */

	earlier_hook = threads_set_switch_hook(switch_hook);
	irq_restore(flags);
}

/* ---- creating and loading ---------------------------------------------------------------- */

struct program *program_create(const char *name)
{
	struct program *p = kmalloc(sizeof(*p));

	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	size_t n = strnlen(name, PROGRAM_NAME_MAX - 1);
	memcpy(p->name, name, n);
	p->name[n] = '\0';
	p->status = -1;
	p->released = true; /* nothing to give back yet */
	unsigned long flags = irq_save();
	p->pid = next_pid++;
	list_add_tail(&p->link, &programs);
	nprograms++;
	irq_restore(flags);
	return p;
}

struct choose_call {
	struct user_layout *l;
	const struct elf_info *img;
};

static void call_choose(void *arg)
{
	struct choose_call *c = arg;

	aslr_choose(c->l, c->img);
}

/* aslr_choose, or the fixed layout while it is a TODO (said once per boot). */
static void choose_layout(struct user_layout *l, const struct elf_info *img)
{
	static bool noted;
	struct choose_call c = {l, img};
	struct ktry_result r;

	if (ktry_call(call_choose, &c, KTRY_TODO, &r) == 0)
		return;
	if (!noted)
		kprintf("user: no randomized layout yet (%s): every program gets the same one\n",
			r.msg);
	noted = true;
	aslr_fixed(l, img);
}

/* What is wrong with a layout, so that a bad one is refused rather than mapped; NULL: fine. */
static const char *layout_problem(const struct user_layout *l)
{
	if (l->image_start < USER_BOTTOM || l->image_end > USER_LOAD_MAX ||
	    l->image_start >= l->image_end || (l->image_start | l->image_end) % PAGE_SIZE)
		return "the image is not a page-aligned range in [USER_BOTTOM, USER_LOAD_MAX)";
	if (l->heap_start < l->image_end || l->heap_start > USER_LOAD_MAX + USER_HEAP_GAP_MAX ||
	    l->brk != l->heap_start)
		return "the heap does not start after the image, within USER_HEAP_GAP_MAX";
	if (l->stack_top < USER_STACK_TOP_MIN || l->stack_top > USER_STACK_TOP_MAX ||
	    l->stack_top % PAGE_SIZE || l->stack_bottom != l->stack_top - USER_STACK_SIZE)
		return "the stack is not USER_STACK_SIZE under a page-aligned top in range";
	return NULL;
}

static void call_destroy(void *space)
{
	uspace_destroy(space);
}

/* Give back the space (once); from the program's own thread too. A TODO in uspace_destroy
 * leaves the pages where they are, with a note. */
static void program_release(struct program *p)
{
	unsigned long flags = irq_save();
	struct ktry_result r;

	if (p->released) {
		irq_restore(flags);
		return;
	}
	p->released = true; /* the switch hook no longer loads it */
	if (program_running == p)
		uspace_activate(NULL);
	irq_restore(flags);
	if (p->space_borrowed)
		return;
	if (ktry_call(call_destroy, &p->space, KTRY_TODO, &r))
		kprintf("user: program '%s' (pid %d): its %lu pages stay allocated: %s\n", p->name,
			p->pid, p->space.pages, r.msg);
}

/* Give back a space that is not a program's (a failed load): a TODO in uspace_destroy leaves
 * the pages where they are, with a note. */
static void space_destroy(struct uspace *s, const char *name)
{
	struct ktry_result r;

	if (ktry_call(call_destroy, s, KTRY_TODO, &r))
		kprintf("user: '%s': its %lu pages stay allocated: %s\n", name, s->pages, r.msg);
}

int program_load_space(struct uspace *s, const char *name, const void *image, size_t size, int argc,
		       const char *const argv[], struct syscall_frame *start)
{
	struct elf_info info;
	struct user_start st;
	enum elf_error e = elf_check(image, size, &info);
	const char *bad;

	if (e != ELF_OK) {
		kprintf("user: '%s' is not a program this kernel runs: %s\n", name,
			elf_strerror(e));
		return -ENOEXEC;
	}
	int r = uspace_init(s);
	if (r < 0)
		return r;
	choose_layout(&s->layout, &info);
	if ((bad = layout_problem(&s->layout)) != NULL) {
		kprintf("user: '%s': aslr_choose gave a layout the kernel refuses: %s\n", name,
			bad);
		r = -EINVAL;
	}
	if (r == 0)
		r = elf_load(s, image, size, s->layout.load_base);
	if (r == 0)
		r = loader_setup_stack(s, argc, argv, &st);
	if (r < 0) {
		space_destroy(s, name);
		return r;
	}
	*start = (struct syscall_frame){
		.rip = s->layout.entry,
		.rsp = st.rsp,
		.rdi = st.argc,
		.rsi = st.uargv,
		.rflags = RFLAGS_IF | RFLAGS_ALWAYS,
	};
	return 0;
}

int program_load(struct program *p, const void *image, size_t size, int argc,
		 const char *const argv[])
{
	int r = program_load_space(&p->space, p->name, image, size, argc, argv, &p->start_frame);

	if (r == 0)
		p->released = false;
	return r;
}

/* ---- running ------------------------------------------------------------------------------ */

/* Into ring 3 for the first time, with p->start_frame (see the picture at the top). */
static __noreturn void enter_user(struct program *p)
{
	uint64_t rsp;

	(void)irq_save(); /* SYSRET turns them on, in ring 3 */
	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	uint64_t top = align_down(rsp - ENTER_SLACK, 16);
	p->kstack_top = top;
	tss_set_rsp0(top);
	syscall_stack_top = top;
	uspace_activate(&p->space);
	struct syscall_frame *f = (struct syscall_frame *)top - 1;
	*f = p->start_frame;
	syscall_return(f);
}

static __noreturn void program_end(struct program *p, enum program_end how, int status);

int program_thread_main(void *arg)
{
	struct program *p = arg;
	struct ktry k;

	ktry_push(&k, KTRY_TODO);
	if (kjmp_set(k.jb) == 0)
		enter_user(p);
	/* A TODO of lab 08 reached in one of the program's system calls (or its first entry). */
	ksnprintf(p->note, sizeof(p->note), "%s", k.res.msg);
	kprintf("user: program '%s' (pid %d) ended by the kernel: %s\n", p->name, p->pid, p->note);
	program_end(p, PROGRAM_BROKEN, -1);
}

const char *elf_strerror(enum elf_error e)
{
	static const char *const words[ELF_ERROR_COUNT] = {
		[ELF_OK] = "a program this kernel runs",
		[ELF_TRUNCATED] = "the file is shorter than its headers say",
		[ELF_BAD_MAGIC] = "not an ELF file",
		[ELF_BAD_CLASS] = "not a 64-bit little-endian ELF file",
		[ELF_BAD_MACHINE] = "not for x86_64",
		[ELF_BAD_TYPE] = "not an executable (ET_EXEC or ET_DYN)",
		[ELF_BAD_PHDRS] = "its program header table is malformed",
		[ELF_INTERP] = "it wants a dynamic linker (PT_INTERP)",
		[ELF_BAD_SEGMENT] = "a segment has more bytes in the file than in memory",
		[ELF_WRITE_EXEC] = "a segment is both writable and executable",
		[ELF_OUTSIDE] = "a segment lies outside the program's part of the address space",
		[ELF_TOO_BIG] = "its segments span more than USER_IMAGE_MAX",
		[ELF_OVERLAP] = "two segments share a page",
		[ELF_NO_LOAD] = "it has nothing to load",
		[ELF_BAD_ENTRY] = "its entry point is not in an executable segment",
	};

	return (unsigned)e < ELF_ERROR_COUNT ? words[e] : "an unknown ELF error";
}

int program_launch(struct program *p)
{
	if (!programs_up)
		return -ENOSYS;
	p->state = PROGRAM_RUNNING; /* before its thread can run and end */
	p->thread = thread_create(p->name, program_thread_main, p);
	if (!p->thread) {
		p->state = PROGRAM_NEW;
		return -ENOMEM;
	}
	return 0;
}

struct program *program_start(const char *name, int argc, const char *const argv[],
			      struct program_output *out, int *err)
{
	const struct user_image *img = user_image_find(name);
	struct program *p = NULL;
	int r;

	if (programs_unavailable())
		r = -ENOSYS;
	else if (!img)
		r = -ENOENT;
	else if (!(p = program_create(name)))
		r = -ENOMEM;
	else {
		p->output = out;
		r = program_load(p, img->data, img->size, argc, argv);
		if (r == 0)
			r = program_launch(p);
		if (r == 0)
			return p;
		program_free(p);
	}
	*err = r;
	return NULL;
}

/* ---- the end ------------------------------------------------------------------------------ */

/* On p's own thread: record how, give back its pages, end the thread. */
static __noreturn void program_end(struct program *p, enum program_end how, int status)
{
	KASSERT(p == program_current());
	p->end = how;
	p->status = status;
	program_release(p);
	p->state = PROGRAM_ENDED;
	if (end_hook)
		end_hook(p);
	thread_exit(status);
}

program_end_hook_t program_set_end_hook(program_end_hook_t hook)
{
	program_end_hook_t old = end_hook;

	end_hook = hook;
	return old;
}

void program_exit(int status)
{
	program_end(program_current(), PROGRAM_EXITED, status);
}

void program_end_fault(const struct user_fault *f, const char *report)
{
	struct program *p = program_current();

	if (!p)
		panic("program_end_fault: no program runs on thread '%s'", thread_current()->name);
	p->fault = *f;
	ksnprintf(p->note, sizeof(p->note), "%s", report);
	kprintf("user: %s (the program ends)\n", p->note);
	program_end(p, PROGRAM_FAULTED, -1);
}

void program_end_broken(const struct user_fault *f, const char *why)
{
	struct program *p = program_current();

	if (!p)
		panic("program_end_broken: no program runs on thread '%s': %s",
		      thread_current()->name, why);
	if (f)
		p->fault = *f;
	ksnprintf(p->note, sizeof(p->note), "%s", why);
	kprintf("user: program '%s' (pid %d) ended by the kernel: %s\n", p->name, p->pid, why);
	program_end(p, PROGRAM_BROKEN, -1);
}

void program_end_killed(void)
{
	struct program *p = program_current();

	ksnprintf(p->note, sizeof(p->note), "killed");
	program_end(p, PROGRAM_KILLED, -1);
}

void program_kill(struct program *p)
{
	p->kill = true;
}

void program_write(struct program *p, const char *buf, size_t n)
{
	struct program_output *o = p->output;

	if (!o) {
		unsigned long flags = console_lock();
		console_write(buf, n);
		console_unlock(flags);
		return;
	}
	unsigned long flags = irq_save();
	size_t room = o->size - o->len, take = MIN(room, n);
	memcpy(o->buf + o->len, buf, take);
	o->len += take;
	o->lost += n - take;
	irq_restore(flags);
}

void program_join(struct program *p)
{
	if (p->thread)
		thread_join(p->thread);
	p->thread = NULL;
	if (p->state == PROGRAM_RUNNING) { /* its thread was stopped by a failing test */
		p->end = PROGRAM_BROKEN;
		if (!p->note[0])
			ksnprintf(p->note, sizeof(p->note), "its thread stopped without ending it");
		p->state = PROGRAM_ENDED;
	}
	program_release(p);
}

void program_free(struct program *p)
{
	if (p->thread)
		panic("program_free: program '%s' (pid %d) has a thread: program_wait it", p->name,
		      p->pid);
	program_release(p);
	unsigned long flags = irq_save();
	list_del(&p->link);
	nprograms--;
	irq_restore(flags);
	kfree(p);
}

int program_wait(struct program *p)
{
	program_join(p);
	int status = p->end == PROGRAM_EXITED ? p->status : -1;
	program_free(p);
	return status;
}
