/* The helpers of proc_fixture.h. */
#include <string.h>
#include "heap.h"
#include "irq.h"
#include "kprintf.h"
#include "paging.h"
#include "proc_fixture.h"
#include "program_hooks.h"
#include "thread.h"
#include "timer.h"

#define KILL_GRACE_MS 1000 /* after procs_kill_all: the next tick in ring 3, or system call */

bool procs_require(struct ktest *t)
{
	const char *why = processes_unavailable();

	if (!why)
		why = timer_unavailable();
	if (why) {
		char msg[KTRY_MSG_MAX];

		ksnprintf(msg, sizeof(msg), "processes cannot run at this boot: %s", why);
		ktest_fail_msg(t, msg);
	}
	return why == NULL;
}

static bool any_running(void)
{
	for (int i = 0; i < PROC_MAX; i++)
		if (proc_table[i].state == PROC_RUNNING || proc_table[i].state == PROC_NEW)
			return true;
	return false;
}

bool counts_require(struct ktest *t)
{
	const char *why = frame_counts_unavailable();

	if (why) {
		char msg[KTRY_MSG_MAX];

		ksnprintf(msg, sizeof(msg), "the frames are not counted at this boot: %s", why);
		ktest_fail_msg(t, msg);
	}
	return why == NULL;
}

/* Kill whatever runs, then reap every process left, children before parents (a test that
 * failed). */
static void kill_everything(void)
{
	uint64_t deadline = timer_ticks() + timer_ms_to_ticks(KILL_GRACE_MS);

	while (any_running() && timer_ticks() < deadline) {
		procs_kill_all();
		for (int i = 0; i < PROC_MAX; i++) { /* a parent stuck in wait looks again */
			unsigned long flags = irq_save();
			if (proc_table[i].state == PROC_RUNNING)
				thread_wake_one(&proc_table[i].waiters);
			irq_restore(flags);
		}
		thread_sleep(TIMER_MS_PER_TICK);
	}
	for (int round = 0; round < PROC_MAX; round++)
		for (int i = 0; i < PROC_MAX; i++) {
			struct process *pr = &proc_table[i];

			if (pr->state == PROC_ZOMBIE && list_empty(&pr->children))
				proc_reap(pr);
		}
}

/*
 * The caller frees o once the test is over: a process still in the table (one that a kill did
 * not end within the grace) writes nowhere from now on, not into whatever the heap puts there
 * next.
 */
static void forget_output(struct program_output *out)
{
	static struct program_output nowhere; /* size 0: every byte counted as lost */
	unsigned long flags = irq_save();

	for (int i = 0; i < PROC_MAX; i++) {
		struct program *p = proc_table[i].prog;

		if (proc_table[i].state != PROC_UNUSED && p && p->output == out)
			p->output = &nowhere;
	}
	irq_restore(flags);
}

/* ---- what the table held when a tree did not end ------------------------------------------ */

#define TABLE_SHOWN    6   /* processes listed, one line each */
#define TABLE_LINE_MAX 120 /* a line of the list */
#define LOST_WAKEUP_MS 500 /* stuck in wait this long with only zombie children: it stays so */

static char hang_why[KTRY_MSG_MAX / 2]; /* ": pid 2 ... is BLOCKED in wait, ..." or "" */
static char hang_lines[TABLE_SHOWN + 1][TABLE_LINE_MAX];
static int hang_nlines;

static const char *const proc_state_names[] = {"UNUSED", "NEW", "RUNNING", "ZOMBIE"};

/* What a process that has not ended does: blocked in wait (on its waiters), or its thread's
 * state. */
static const char *proc_doing(const struct process *pr)
{
	const struct thread *th = pr->prog ? pr->prog->thread : NULL;

	if (pr->state != PROC_RUNNING)
		return "";
	if (!wait_queue_empty(&pr->waiters))
		return " (BLOCKED in wait)";
	if (!th)
		return " (no thread yet)";
	switch (th->state) {
	case THREAD_RUNNABLE:
	case THREAD_RUNNING:
		return " (running)";
	case THREAD_SLEEPING:
		return " (sleeping)";
	case THREAD_BLOCKED:
		return " (blocked, not in wait)";
	default:
		return " (its thread has exited)";
	}
}

/*
 * If pr is blocked in wait although every child it has is a zombie, its first zombie child,
 * and their number in *zombies; else NULL. wait would return at once: nobody woke it, and
 * nobody ever will (a child ends, and wakes its parent, with interrupts off: correct code is
 * never seen this way).
 */
static const struct process *lost_wakeup(const struct process *pr, int *zombies)
{
	const struct process *c, *first = NULL;
	int children = 0;

	*zombies = 0;
	if (pr->state != PROC_RUNNING || wait_queue_empty(&pr->waiters))
		return NULL;
	/* A list the lab's code left broken must not fault here: walk at most PROC_MAX links,
	 * each to a slot of the table. */
	for (const struct list_node *n = pr->children.next; n != &pr->children; n = n->next) {
		c = list_entry(n, struct process, sibling);
		if (children++ == PROC_MAX || c < proc_table || c >= proc_table + PROC_MAX)
			return NULL;
		if (c->state != PROC_ZOMBIE)
			return NULL;
		first = first ? first : c;
		++*zombies;
	}
	return first;
}

/* True if some process is stuck in wait that way (interrupts off while it looks). */
static bool any_lost_wakeup(void)
{
	unsigned long flags = irq_save();
	bool found = false;
	int zombies;

	for (int i = 0; i < PROC_MAX && !found; i++)
		found = proc_table[i].state != PROC_UNUSED && lost_wakeup(&proc_table[i], &zombies);
	irq_restore(flags);
	return found;
}

/* Say in hang_why that pr is stuck in wait, if it is. */
static void note_lost_wakeup(const struct process *pr)
{
	int zombies;
	const struct process *first = lost_wakeup(pr, &zombies);
	char kids[64];

	if (hang_why[0] || !first)
		return;
	if (zombies == 1)
		ksnprintf(kids, sizeof(kids), "its child pid %d is a ZOMBIE", first->pid);
	else
		ksnprintf(kids, sizeof(kids), "its %d children (pid %d, ...) are all ZOMBIEs",
			  zombies, first->pid);
	ksnprintf(hang_why, sizeof(hang_why),
		  ": pid %d '%s' is BLOCKED in wait, %s: proc_exit must wake the parent (and init, "
		  "when it hands init a zombie), and wait must look for a zombie before it blocks",
		  pr->pid, pr->prog ? pr->prog->name : "?", kids);
}

/* Keep the table as it is at a deadline, before the kill changes it: what proc_run reports. */
static void note_table(void)
{
	unsigned long flags = irq_save();
	int used = 0;

	hang_why[0] = '\0';
	hang_nlines = 0;
	for (int i = 0; i < PROC_MAX; i++) {
		const struct process *pr = &proc_table[i];
		char parent[16] = "none";

		if (pr->state == PROC_UNUSED)
			continue;
		note_lost_wakeup(pr);
		if (used++ >= TABLE_SHOWN)
			continue;
		if (pr->parent)
			ksnprintf(parent, sizeof(parent), "pid %d", pr->parent->pid);
		ksnprintf(hang_lines[hang_nlines++], TABLE_LINE_MAX,
			  "  pid %d '%s' %s%s, parent %s", pr->pid, pr->prog ? pr->prog->name : "?",
			  pr->state <= PROC_ZOMBIE ? proc_state_names[pr->state] : "(bad state)",
			  proc_doing(pr), parent);
	}
	if (used > TABLE_SHOWN)
		ksnprintf(hang_lines[hang_nlines++], TABLE_LINE_MAX, "  and %d more",
			  used - TABLE_SHOWN);
	irq_restore(flags);
}

int proc_last_pid;
/* Why the kernel ended the process proc_run started last (a TODO it reached, say), or "". */
static char last_note[PROGRAM_NOTE_MAX];

/*
 * Wait at most ms for pr to end (before proc_join reaps it), and keep the kernel's note on it.
 * A process stuck in wait with only zombie children (lost_wakeup) for LOST_WAKEUP_MS ends the
 * wait early: the tree would never end, and the deadlines of the tests after this one would
 * run out waiting for it. Returns the ms waited.
 */
static uint64_t await_end(struct process *pr, uint64_t ms)
{
	uint64_t start = timer_ticks(), deadline = start + timer_ms_to_ticks(ms), stuck_since = 0;

	while (pr->state != PROC_ZOMBIE && timer_ticks() < deadline) {
		thread_sleep(TIMER_MS_PER_TICK);
		if (!any_lost_wakeup())
			stuck_since = 0;
		else if (!stuck_since)
			stuck_since = timer_ticks();
		else if (timer_ticks() - stuck_since >= timer_ms_to_ticks(LOST_WAKEUP_MS))
			break;
	}
	if (pr->state == PROC_ZOMBIE && pr->prog && pr->prog->end == PROGRAM_BROKEN)
		ksnprintf(last_note, sizeof(last_note), "%s", pr->prog->note);
	return (timer_ticks() - start) * TIMER_MS_PER_TICK;
}

bool proc_run(struct ktest *t, const char *name, int argc, const char *const argv[], bool as_init,
	      struct test_output *o, uint64_t ms, int *status)
{
	int err = 0;

	memset(o, 0, sizeof(*o));
	o->out = (struct program_output){o->buf, TEST_OUT_MAX, 0, 0};
	struct process *pr = proc_spawn(name, argc, argv, &o->out, as_init, &err);
	if (!pr) {
		FAIL(t, "proc_spawn(\"%s\") failed: error %d", name, err);
		return false;
	}
	proc_last_pid = pr->pid;
	last_note[0] = '\0';
	uint64_t waited = await_end(pr, ms);
	bool ended = proc_join(pr, 0, status); /* it has ended, or never will in time */
	o->buf[o->out.len] = '\0';
	if (!ended) {
		note_table();
		kill_everything();
		FAIL(t, "%s %s %s %lu ms (killed)%s; it wrote: %s", name, argc > 1 ? argv[1] : "",
		     hang_why[0] ? "could never end: stopped after" : "did not end within",
		     hang_why[0] ? waited : ms, hang_why, o->out.len ? o->buf : "(nothing)");
		ktest_fail_msg(t, "the process table when it was stopped:");
		for (int i = 0; i < hang_nlines; i++)
			ktest_fail_msg(t, hang_lines[i]);
	} else if (any_running()) {
		kill_everything(); /* descendants it left (a bug): they must not run into later tests */
	}
	forget_output(&o->out);
	tty_discard();
	return ended;
}

bool proc_expect_ok(struct ktest *t, const char *name, int argc, const char *const argv[],
		    bool as_init)
{
	return proc_expect_ok_within(t, name, argc, argv, as_init, TEST_PROC_DEADLINE_MS);
}

bool proc_expect_ok_within(struct ktest *t, const char *name, int argc, const char *const argv[],
			   bool as_init, uint64_t ms)
{
	struct test_output *o = kmalloc(sizeof(*o));
	char ok[64], how[64];
	int status = -1;

	if (!o) {
		FAIL(t, "no memory for the test's output buffer");
		return false;
	}
	bool good = proc_run(t, name, argc, argv, as_init, o, ms, &status);
	ksnprintf(ok, sizeof(ok), "%s %s: ok", name, argc > 1 ? argv[1] : "");
	if (good && (!WAIT_EXITED(status) || WAIT_EXIT_CODE(status) != 0 || !strstr(o->buf, ok))) {
		if (WAIT_EXITED(status))
			ksnprintf(how, sizeof(how), "exited with status %d",
				  WAIT_EXIT_CODE(status));
		else if (WAIT_FAULTED(status))
			ksnprintf(how, sizeof(how), "was ended by exception %d",
				  WAIT_FAULT_VECTOR(status));
		else
			ksnprintf(how, sizeof(how), "was ended by the kernel");
		if (!WAIT_EXITED(status) && !WAIT_FAULTED(status) && last_note[0])
			FAIL(t, "%s %s was ended by the kernel: %s; it wrote: %s", name,
			     argc > 1 ? argv[1] : "", last_note, o->out.len ? o->buf : "(nothing)");
		else
			FAIL(t, "%s %s %s; it wrote: %s", name, argc > 1 ? argv[1] : "", how,
			     o->out.len ? o->buf : "(nothing)");
		good = false;
	}
	kfree(o);
	return good;
}

uint64_t proc_frames_now(void)
{
	return kframes_free() + kheap_size() / PAGE_SIZE;
}

void proc_leaks_start(struct ktest *t, struct proc_leaks *l)
{
	static bool warmed;

	if (!warmed) { /* the first processes of a boot may grow what the kernel keeps */
		static const char *const argv[] = {"forktest", "share"};
		proc_expect_ok(t, "forktest", 2, argv, false);
		warmed = true;
	}
	l->frames = proc_frames_now();
	l->procs = proc_count();
	l->programs = program_count();
}

void proc_leaks_check(struct ktest *t, const struct proc_leaks *l, const char *what)
{
	uint64_t frames = proc_frames_now();

	if (frames != l->frames)
		FAIL(t,
		     "%s: %ld frames %s (%lu free before, %lu after): every frame a process had "
		     "must come back when the last process sharing it ends",
		     what,
		     frames > l->frames ? (long)(frames - l->frames) : (long)(l->frames - frames),
		     frames > l->frames ? "more than before" : "lost", l->frames, frames);
	if (proc_count() != l->procs)
		FAIL(t,
		     "%s: %zu slots of the process table in use, %zu before: a zombie not reaped?",
		     what, proc_count(), l->procs);
	if (program_count() != l->programs)
		FAIL(t, "%s: %zu program records, %zu before", what, program_count(), l->programs);
}

/* ---- spaces ---------------------------------------------------------------------------------- */

struct fill_walk {
	struct uspace *s;
	uint8_t fill;
};

static bool fill_page(uint64_t va, uint64_t *pte, void *arg)
{
	struct fill_walk *w = arg;

	if (*pte & PTE_WRITABLE)
		memset(phys_to_virt(*pte & PTE_ADDR_MASK), w->fill, PAGE_SIZE);
	return true;
}

bool space_load(struct ktest *t, struct uspace *s, const char *name, uint8_t fill)
{
	static const char *const argv[] = {"x"};
	const struct user_image *img = user_image_find(name);
	struct syscall_frame start;

	if (!img) {
		FAIL(t, "no program '%s' in the kernel image", name);
		return false;
	}
	int r = program_load_space(s, name, img->data, img->size, 1, argv, &start);
	if (r < 0) {
		FAIL(t, "could not load '%s' into a space: error %d", name, r);
		return false;
	}
	struct fill_walk w = {s, fill};
	uspace_walk(s, 0, USER_TOP, fill_page, &w);
	return true;
}

struct find_walk {
	uint64_t found;
};

static bool find_writable(uint64_t va, uint64_t *pte, void *arg)
{
	struct find_walk *w = arg;

	if (*pte & PTE_WRITABLE) {
		w->found = va;
		return false;
	}
	return true;
}

uint64_t space_writable_page(const struct uspace *s, uint64_t va)
{
	struct find_walk w = {0};

	uspace_walk(s, va, USER_TOP, find_writable, &w);
	return w.found;
}

uint64_t space_pte(const struct uspace *s, uint64_t va)
{
	return vm_leaf_entry(&s->vm, va);
}

unsigned long space_enter(const struct uspace *s)
{
	unsigned long flags = irq_save();

	uspace_activate(s);
	return flags;
}

void space_leave(unsigned long flags)
{
	uspace_activate(NULL);
	irq_restore(flags);
}
