/*
 * Lab 09, step 6: exit and wait, from programs that fork (forktest, init): statuses to the
 * right parent, zombies that keep only their slot, orphans to init, -ECHILD. Every process
 * forked also needs steps 3 and 4 (a child writes its stack as soon as it runs). At the end,
 * proc_wait called directly on processes made by hand: which child it takes.
 */
#include <string.h>
#include "heap.h"
#include "kprintf.h"
#include "proc_fixture.h"
#include "thread.h"
#include "timer.h"

#define ZOMBIE_DEADLINE_MS 1000

static void run_mode(struct ktest *t, const char *mode, const char *n)
{
	const char *argv[] = {"forktest", mode, n};

	proc_expect_ok(t, "forktest", n ? 3 : 2, argv, false);
}

KTEST(wait, a_hundred_children_each_status_to_its_pid, 3)
{
	struct proc_leaks l;

	if (!procs_require(t))
		return;
	proc_leaks_start(t, &l);
	run_mode(t, "many", "100");
	proc_leaks_check(t, &l, "a hundred children, waited for");
}

KTEST(wait, statuses_go_to_the_right_parent, 3)
{
	if (procs_require(t))
		run_mode(t, "tree", NULL);
}

KTEST(wait, wait_blocks_until_a_child_ends, 2)
{
	if (procs_require(t))
		run_mode(t, "late", NULL);
}

KTEST(wait, wait_without_a_child_is_echild, 2)
{
	if (procs_require(t))
		run_mode(t, "nochild", NULL);
}

KTEST(wait, a_child_ended_by_a_fault_is_reported, 2)
{
	if (procs_require(t))
		run_mode(t, "fault", NULL);
}

static char zombie_problem[KTRY_MSG_MAX];

/* System call 56 of forktest zombie (rdi: the child's pid), after the child was told to exit:
 * once it has, it must be a zombie with its status and without its pages. */
static long look_at_the_zombie(struct syscall_frame *f)
{
	struct process *pr = proc_current(), *c = NULL, *k;
	uint64_t deadline = timer_ticks() + timer_ms_to_ticks(ZOMBIE_DEADLINE_MS);

	list_for_each_entry (k, &pr->children, sibling)
		if (k->pid == (int)f->rdi)
			c = k;
	if (!c) {
		ksnprintf(zombie_problem, sizeof(zombie_problem),
			  "the child (pid %d) is not in its parent's children", (int)f->rdi);
		return 0;
	}
	while (c->state != PROC_ZOMBIE && (!c->prog || c->prog->state != PROGRAM_ENDED) &&
	       timer_ticks() < deadline)
		thread_sleep(TIMER_MS_PER_TICK);
	thread_sleep(TIMER_MS_PER_TICK); /* its thread finishes ending */
	if (c->state != PROC_ZOMBIE)
		ksnprintf(zombie_problem, sizeof(zombie_problem),
			  "the child exited, and its slot is in state %d, not PROC_ZOMBIE (%d), "
			  "until its parent waits",
			  c->state, PROC_ZOMBIE);
	else if (c->status != WAIT_STATUS_EXITED(9))
		ksnprintf(zombie_problem, sizeof(zombie_problem),
			  "the zombie's status is 0x%x, not 0x%x (exit 9)", c->status,
			  WAIT_STATUS_EXITED(9));
	else if (!c->prog || c->prog->space.vm.pml4)
		ksnprintf(zombie_problem, sizeof(zombie_problem),
			  "the zombie still has its address space: the pages go when it exits");
	else if (c->parent != pr)
		ksnprintf(zombie_problem, sizeof(zombie_problem),
			  "the zombie's parent is no longer the process that forked it");
	return 0;
}

/* A child that exited and was not waited for: a zombie, holding its status, pages gone. */
KTEST(wait, a_zombie_keeps_only_its_slot, 2)
{
	struct proc_leaks l;

	if (!procs_require(t))
		return;
	proc_leaks_start(t, &l);
	zombie_problem[0] = '\0';
	syscall_fn_t old = test_syscall_set(TEST_SYS_A, look_at_the_zombie);
	run_mode(t, "zombie", NULL);
	test_syscall_set(TEST_SYS_A, old);
	if (zombie_problem[0])
		FAIL(t, "%s", zombie_problem);
	proc_leaks_check(t, &l, "a zombie, then waited for");
}

/* The number after `key` in text, or -1. */
static long number_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	long n = 0;

	if (!p)
		return -1;
	for (p += strlen(key); *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (*p - '0');
	return n;
}

/* forktest's child leaves its own child behind: init gets it, and reaps it. */
KTEST(wait, orphans_go_to_init, 3)
{
	static const char *const argv[] = {"init", "forktest", "orphan"};
	struct test_output *o = kmalloc(sizeof(*o));
	struct proc_leaks l;
	char want[64];
	int status = -1;

	ASSERT_NOT_NULL(t, o);
	if (!procs_require(t)) {
		kfree(o);
		return;
	}
	proc_leaks_start(t, &l);
	if (proc_run(t, "init", 3, argv, true, o, TEST_PROC_DEADLINE_MS, &status)) {
		long orphan = number_after(o->buf, "forktest orphan: pid ");
		long parent = number_after(o->buf, "its parent is now ");
		ksnprintf(want, sizeof(want), "init: reaped orphan %ld (exit status 0)", orphan);
		if (status != 0 || !strstr(o->buf, "forktest orphan: ok"))
			FAIL(t, "init forktest orphan ended with status 0x%x; it wrote: %s", status,
			     o->buf);
		else if (orphan < 0 || parent < 0)
			FAIL(t, "the orphan did not say who its parent became; the output: %s",
			     o->buf);
		else if (parent != proc_last_pid)
			FAIL(t,
			     "the orphan's parent became %ld, not init (pid %d): give orphans to "
			     "proc_init()",
			     parent, proc_last_pid);
		else if (!strstr(o->buf, want))
			FAIL(t,
			     "init did not reap the orphan (pid %ld): it never said \"%s\"; the "
			     "orphan's parent became %ld; the output: %s",
			     orphan, want, parent, o->buf);
	}
	proc_leaks_check(t, &l, "an orphan and init");
	kfree(o);
}

#define FAKE_PID       0x7ffffff0 /* no program gets it: pids count up from 1 */
#define INIT_WAKE_MS   400	  /* init, woken, reaps a zombie well within this */
#define INIT_CHILD_ARG "20"	  /* sleepy 50 20: init's child runs for a second */

struct exit_call {
	struct process *pr;
	int status;
};

static void call_exit(void *arg)
{
	struct exit_call *c = arg;

	proc_exit(c->pr, c->status);
}

/* Wait up to ms for cond (polled each tick); its value then. */
#define WAIT_FOR(cond, ms)                                               \
	({                                                               \
		uint64_t until_ = timer_ticks() + timer_ms_to_ticks(ms); \
		while (!(cond) && timer_ticks() < until_)                \
			thread_sleep(TIMER_MS_PER_TICK);                 \
		(cond);                                                  \
	})

/*
 * The processes the kernel starts (init, the shell, every test's program) have no parent:
 * proc_exit must tell the parent only when there is one. Here a process made by hand, as the
 * kernel makes those, ends:
 *
 *   p (no parent, RUNNING)     proc_exit(p, exit 4):  p ZOMBIE, status 0x0400, nothing else
 */
KTEST(wait, a_process_without_a_parent_exits, 2)
{
	struct process *p = proc_alloc(NULL);
	struct ktry_result r;

	if (!p) {
		FAIL(t, "no slot for the test's process");
		return;
	}
	p->pid = FAKE_PID + 8;
	p->state = PROC_RUNNING;
	struct exit_call c = {p, WAIT_STATUS_EXITED(4)};
	int kind = ktry_call(call_exit, &c, KTRY_ANY, &r);
	if (kind == KTRY_FAULT)
		FAIL(t,
		     "proc_exit of a process without a parent (pr->parent is NULL, as for every "
		     "process the kernel starts) faulted: %s. Wake the parent's waiters only if "
		     "pr->parent is not NULL",
		     r.msg);
	else if (kind)
		ktest_fail_msg(t, r.msg);
	else if (p->state != PROC_ZOMBIE || p->status != WAIT_STATUS_EXITED(4))
		FAIL(t,
		     "after proc_exit(p, 0x%x) of a process without a parent, its state is %d and "
		     "its status 0x%x: expected PROC_ZOMBIE (%d) and 0x%x",
		     WAIT_STATUS_EXITED(4), p->state, p->status, PROC_ZOMBIE,
		     WAIT_STATUS_EXITED(4));
	proc_free(p);
}

/*
 * A process that ends with a child already a zombie hands init that zombie: init, blocked in
 * wait for a child still running, must be woken to reap it, wherever the zombie is among the
 * children handed over. Here the process and its children are made by hand (no parent to wake:
 * only init's wakeup can come; the zombie is not the last child), and init's child sleeps for
 * a second:
 *
 *   init (in wait) -> sleepy (running)   p (no parent) -> z (ZOMBIE, exit 7) -> live (RUNNING)
 *   proc_exit(p):   init -> sleepy, z, live    init woken: "init: reaped orphan <z>"
 */
KTEST(wait, init_is_woken_for_a_zombie_it_is_given, 3)
{
	static const char *const argv[] = {"init", "sleepy", "50", INIT_CHILD_ARG};
	struct test_output *o = kmalloc(sizeof(*o));
	struct process *init, *p = NULL, *z = NULL, *live = NULL;
	struct ktry_result r;
	char want[64] = "";
	int err = 0, status;

	ASSERT_NOT_NULL(t, o);
	if (!procs_require(t)) {
		kfree(o);
		return;
	}
	memset(o, 0, sizeof(*o));
	o->out = (struct program_output){o->buf, TEST_OUT_MAX, 0, 0};
	init = proc_spawn("init", 4, argv, &o->out, true, &err);
	if (!init) {
		FAIL(t, "proc_spawn(\"init\") failed: error %d", err);
		kfree(o);
		return;
	}
	if (!WAIT_FOR(!wait_queue_empty(&init->waiters), TEST_PROC_DEADLINE_MS)) {
		FAIL(t, "init never blocked in wait for its child (sleepy)");
		goto out;
	}
	p = proc_alloc(NULL);
	z = p ? proc_alloc(p) : NULL;
	live = z ? proc_alloc(p) : NULL;
	if (!live) {
		FAIL(t, "no slot for the three processes of the test");
		goto out;
	}
	p->pid = FAKE_PID - 1;
	p->state = PROC_RUNNING;
	z->pid = FAKE_PID;
	z->status = WAIT_STATUS_EXITED(7);
	z->state = PROC_ZOMBIE;
	live->pid = FAKE_PID + 7;
	live->state = PROC_RUNNING;
	struct exit_call c = {p, WAIT_STATUS_EXITED(0)};
	int kind = ktry_call(call_exit, &c, KTRY_ANY, &r);
	if (kind == KTRY_FAULT) {
		FAIL(t,
		     "proc_exit of p, a process without a parent, faulted: %s. Wake the parent's "
		     "waiters only if pr->parent is not NULL",
		     r.msg);
		goto out;
	} else if (kind) {
		ktest_fail_msg(t, r.msg);
		goto out;
	}
	if (z->parent != init) {
		FAIL(t, "proc_exit did not hand its zombie child to init: give orphans to "
			"proc_init()");
		goto out;
	}
	ksnprintf(want, sizeof(want), "init: reaped orphan %d (exit status 7)", FAKE_PID);
	if (!WAIT_FOR(z->state == PROC_UNUSED, INIT_WAKE_MS)) {
		FAIL(t,
		     "proc_exit gave init a child that had already ended (a zombie), and init, "
		     "blocked in wait, did not reap it within %d ms: wake init's waiters when it "
		     "gets a zombie",
		     INIT_WAKE_MS);
		unsigned long flags = irq_save();
		thread_wake_one(&init->waiters); /* so that it reaps z now */
		irq_restore(flags);
		WAIT_FOR(z->state == PROC_UNUSED, INIT_WAKE_MS);
	}
	if (z->state == PROC_UNUSED)
		z = NULL; /* init reaped it */
out:
	if (live) { /* it ends, so that init (or p) can let it go */
		unsigned long flags = irq_save();
		live->status = WAIT_STATUS_EXITED(0);
		live->state = PROC_ZOMBIE;
		if (live->parent == init)
			thread_wake_one(&init->waiters);
		irq_restore(flags);
	}
	if (!proc_join(init, TEST_PROC_DEADLINE_MS, &status)) { /* reaps p too, a stray zombie */
		procs_kill_all();
		proc_join(init, TEST_PROC_DEADLINE_MS, &status);
	}
	o->buf[o->out.len] = '\0';
	if (want[0] && !z && !strstr(o->buf, want))
		FAIL(t, "init did not say \"%s\"; it wrote: %s", want, o->buf);
	if (z && z->state != PROC_UNUSED) /* left by a proc_exit that stopped half-way */
		proc_free(z);
	if (live && live->state != PROC_UNUSED)
		proc_free(live);
	if (p && p->state != PROC_UNUSED)
		proc_free(p);
	kfree(o);
}

/* ---- proc_wait called directly, on processes made by hand ------------------------------- */

struct wait_call {
	struct process *pr;
	int pid, status, got;
};

static void call_wait(void *arg)
{
	struct wait_call *c = arg;

	c->got = proc_wait(c->pr, c->pid, &c->status);
}

/*
 * A test thread that blocks in proc_wait for a process made by hand has no program to end and
 * wake it: the waker does. It waits until the test's thread is blocked in pr's wait (or the
 * test says it is done), then makes a zombie child of pr out of `it` (the rescue: by hand) and
 * wakes pr's waiters, so that the wait returns and the test can say what went wrong. A wait
 * that does not block never meets it, whatever the order the two threads run in.
 */
struct waker {
	struct process *pr, *it;
	void (*rescue)(struct waker *w); /* interrupts off */
	volatile bool done, woke;
	int pid; /* for adopt_it_as: the pid `it` takes */
};

static int waker_main(void *arg)
{
	struct waker *w = arg;

	while (!w->done && wait_queue_empty(&w->pr->waiters))
		thread_yield();
	if (w->done)
		return 0;
	unsigned long flags = irq_save();
	w->rescue(w);
	w->woke = true;
	thread_wake_one(&w->pr->waiters);
	irq_restore(flags);
	return 0;
}

/* proc_wait(c->pr, c->pid) with a waker; false (the test failed) if it stopped early (a TODO,
 * a panic). *blocked: whether it blocked. */
static bool wait_with_waker(struct ktest *t, struct wait_call *c, struct waker *w, bool *blocked)
{
	struct thread *th = thread_create("waker", waker_main, w);
	struct ktry_result r;

	if (!th) {
		FAIL(t, "no memory for the test's waker thread");
		return false;
	}
	int stopped = ktry_call(call_wait, c, KTRY_ANY, &r);
	w->done = true;
	thread_join(th);
	*blocked = w->woke;
	if (stopped)
		ktest_fail_msg(t, r.msg);
	return !stopped;
}

/* The running child ends (exit 5). */
static void end_it(struct waker *w)
{
	w->it->status = WAIT_STATUS_EXITED(5);
	w->it->state = PROC_ZOMBIE;
}

/*
 * wait(-1) with a child that has ended and one still running: the zombie, at once, even when
 * the running one comes after it in the list (a wait that takes the last child it looks at
 * blocks until that one ends, and reaps it instead):
 *
 *   p -> z (ZOMBIE, exit 7) -> r (RUNNING)     wait(-1): z's pid, status 7, without blocking
 */
KTEST(wait, wait_takes_a_zombie_before_a_running_child, 2)
{
	struct process *p = proc_alloc(NULL), *z = p ? proc_alloc(p) : NULL;
	struct process *r = z ? proc_alloc(p) : NULL;
	bool blocked = false;

	if (!r) {
		FAIL(t, "no slot for the three processes of the test");
		goto out;
	}
	p->pid = FAKE_PID + 1;
	p->state = PROC_RUNNING;
	z->pid = FAKE_PID + 2;
	z->status = WAIT_STATUS_EXITED(7);
	z->state = PROC_ZOMBIE;
	r->pid = FAKE_PID + 3;
	r->state = PROC_RUNNING;
	struct wait_call c = {p, -1, -1, 0};
	struct waker w = {p, r, end_it, false, false, 0};
	if (!wait_with_waker(t, &c, &w, &blocked))
		goto out;
	if (c.got == z->pid && z->state == PROC_UNUSED)
		z = NULL; /* reaped, as it should be */
	if (c.got == FAKE_PID + 2 && c.status != WAIT_STATUS_EXITED(7))
		FAIL(t, "wait(-1) returned the zombie's pid with status 0x%x, not 0x%x (exit 7)",
		     c.status, WAIT_STATUS_EXITED(7));
	else if (c.got != FAKE_PID + 2)
		FAIL(t,
		     "p's children are a zombie (pid %d) and then a running child (pid %d); "
		     "wait(-1) returned %d%s: with a child that has ended, wait reaps it at once "
		     "(look at every child, and prefer a zombie)",
		     FAKE_PID + 2, FAKE_PID + 3, c.got,
		     blocked ? " after blocking until the running child ended" : "");
	else if (blocked)
		FAIL(t, "wait(-1) blocked although a child (pid %d) had ended", FAKE_PID + 2);
out:
	if (r && r->state != PROC_UNUSED)
		proc_free(r);
	if (z && z->state != PROC_UNUSED)
		proc_free(z);
	if (p)
		proc_free(p);
}

/* The grandchild becomes p's own child, so that a wait blocked for it can return. */
static void adopt_it(struct waker *w)
{
	list_del(&w->it->sibling);
	list_add_tail(&w->it->sibling, &w->pr->children);
	w->it->parent = w->pr;
}

/* The same, and the grandchild takes the pid the wait asks for (one no process had). */
static void adopt_it_as(struct waker *w)
{
	adopt_it(w);
	w->it->pid = w->pid;
}

/*
 * waitpid is for a process's own children: a grandchild that has ended is its parent's to
 * reap, and waitpid of its pid from the grandparent is -ECHILD, at once, leaving it as it was.
 * So is a waitpid of 0 or -2, pids no process has: only -1 means any child.
 *
 *   p -> c (RUNNING) -> g (ZOMBIE, exit 3)     waitpid(p, 0), waitpid(p, -2): -ECHILD
 *                                              waitpid(p, g's pid): -ECHILD; g still c's
 */
KTEST(wait, waitpid_of_a_grandchild_is_echild, 2)
{
	struct process *p = proc_alloc(NULL), *c = p ? proc_alloc(p) : NULL;
	struct process *g = c ? proc_alloc(c) : NULL;
	bool blocked = false;

	if (!g) {
		FAIL(t, "no slot for the three processes of the test");
		goto out;
	}
	p->pid = FAKE_PID + 4;
	p->state = PROC_RUNNING;
	c->pid = FAKE_PID + 5;
	c->state = PROC_RUNNING;
	g->pid = FAKE_PID + 6;
	g->status = WAIT_STATUS_EXITED(3);
	g->state = PROC_ZOMBIE;
	/* (A wait that blocks, for c or for the pid, is handed g with that pid by the waker.) */
	static const int not_a_pid[] = {0, -2};
	for (size_t i = 0; i < sizeof(not_a_pid) / sizeof(not_a_pid[0]); i++) {
		struct wait_call any = {p, not_a_pid[i], -1, 0};
		struct waker w = {p, g, adopt_it_as, false, false, not_a_pid[i]};
		if (!wait_with_waker(t, &any, &w, &blocked))
			goto out;
		if (blocked || any.got != -ECHILD) {
			if (blocked)
				FAIL(t,
				     "waitpid(%d) from p, whose one child is running, blocked (it "
				     "returned %d once the test gave p a zombie child of that pid): "
				     "only -1 means any child (kernel/process.h); no process has pid "
				     "%d, so return -ECHILD at once",
				     not_a_pid[i], any.got, not_a_pid[i]);
			else
				FAIL(t,
				     "waitpid(%d) from p returned %d, not -ECHILD: only -1 means any "
				     "child (kernel/process.h), and no process has pid %d",
				     not_a_pid[i], any.got, not_a_pid[i]);
			if (g->state == PROC_UNUSED)
				g = NULL;
			goto out;
		}
	}
	struct wait_call call = {p, g->pid, -1, 0};
	struct waker w = {p, g, adopt_it, false, false, 0};
	if (!wait_with_waker(t, &call, &w, &blocked))
		goto out;
	if (blocked)
		FAIL(t,
		     "waitpid(%d) from p, whose child's child it is, blocked (it returned %d once "
		     "the test made it p's child): when none of the caller's children has the pid, "
		     "return -ECHILD at once",
		     FAKE_PID + 6, call.got);
	else if (call.got != -ECHILD)
		FAIL(t,
		     "waitpid(%d) from p, whose child's child it is, returned %d, not -ECHILD: "
		     "waitpid looks only at the caller's own children (pr->children), not at "
		     "every process with that pid",
		     FAKE_PID + 6, call.got);
	if (g->state == PROC_UNUSED) {
		if (!blocked)
			FAIL(t,
			     "the grandparent's waitpid reaped the grandchild: its parent can no "
			     "longer wait for it");
		g = NULL;
	} else if (!blocked && (g->state != PROC_ZOMBIE || g->parent != c)) {
		FAIL(t, "after the grandparent's waitpid the grandchild is no longer its parent's "
			"zombie");
	}
out:
	if (g && g->state != PROC_UNUSED)
		proc_free(g);
	if (c)
		proc_free(c);
	if (p)
		proc_free(p);
}
