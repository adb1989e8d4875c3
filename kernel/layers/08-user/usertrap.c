/*
 * The exceptions a program can cause, and the timer, routed through layer 08.
 *
 * Every exception vector a program can raise (all but NMI, the double fault and the machine
 * check) goes to user_trap, which calls lab 08's user_fault (step 7). A fault of kernel code
 * is passed on to whatever handled it before this layer (user_fault_pass_on), so the kernel
 * reports and panics as at checkpoint 07. The kernel also keeps a program from hanging the
 * machine when step 7 is not written (a TODO) or returns for a fault in ring 3: it ends the
 * program itself, with a note; returning would run the faulting instruction again, forever.
 * And a fault in ring 3 that user_fault passes on as the kernel's (a wrong test of CS) ends
 * the program with a note that says so, where the kernel's handler would panic.
 *
 * The timer: after the handler of lab 07 (which may have switched threads and come back), a
 * program that was told to stop (program_kill) while it ran in ring 3 ends here. A program
 * that loops forever in ring 3 makes no system call, so this is where it can be stopped.
 */
#include <string.h>
#include "irq.h"
#include "kprintf.h"
#include "ktry.h"
#include "local.h"
#include "pic.h"
#include "segments.h"
#include "todo.h" /* TODO_PREFIX */
#include "trap.h"
#include "x86.h"

static trap_handler_t earlier[VEC_IRQ_BASE];
static trap_handler_t earlier_timer;

/* What a program can raise; NMI, #DF and #MC are never the program's to own. */
static const int user_vectors[] = {VEC_DE, VEC_DB, VEC_BP, VEC_OF, VEC_BR, VEC_UD,
				   VEC_NM, VEC_TS, VEC_NP, VEC_SS, VEC_GP, VEC_PF,
				   VEC_MF, VEC_AC, VEC_XM, 20,	   21};

/* CR2 as user_trap read it on entry, for a report of the fault it handles. */
static uint64_t entry_cr2;

void user_fault_pass_on(struct trap_frame *tf)
{
	if ((tf->cs & 3) == SEG_RPL_USER && program_current()) {
		/*
		 * A program's fault, passed on as the kernel's: the kernel would panic over a fault
		 * that is not its own, in the first test that makes a program fault, whichever it is.
		 * End the program instead, saying what user_fault got wrong.
		 */
		struct user_fault f = {tf->vector, tf->error, tf->rip,
				       tf->vector == VEC_PF ? entry_cr2 : 0};
		char why[PROGRAM_NOTE_MAX], cr2[32] = "";

		if (tf->vector == VEC_PF)
			ksnprintf(cr2, sizeof(cr2), ", CR2 0x%lx", f.cr2);
		ksnprintf(why, sizeof(why),
			  "%s at rip 0x%lx (error 0x%lx%s) from ring 3 (CS 0x%lx: RPL 3, the "
			  "program's), yet user_fault passed it on as the kernel's: a fault is the "
			  "kernel's only when tf->cs & 3 is 0. The kernel ended the program",
			  trap_name(tf->vector), tf->rip, tf->error, cr2, tf->cs);
		program_end_broken(&f, why);
	}
	if (earlier[tf->vector])
		earlier[tf->vector](tf);
	else
		trap_exception_default(tf);
}

static void call_user_fault(void *tf)
{
	user_fault(tf);
}

/*
 * What a page fault in ring 3 was, for the kernel's note when it ends the program itself:
 * "a read of 0x4c5a010 (page not present), in the heap, below the break 0x4c5a800".
 */
static void describe_page_fault(char *buf, size_t size, uint64_t error, uint64_t addr)
{
	const char *access = error & PF_INSTR	? "an instruction fetch from"
			     : error & PF_WRITE ? "a write to"
						: "a read of";
	char where[112];
	struct program *p = program_current();

	if (p)
		uspace_where(where, sizeof(where), &p->space, addr);
	else
		ksnprintf(where, sizeof(where), "no program runs");
	ksnprintf(buf, size, "%s 0x%lx (%s), %s", access, addr,
		  error & PF_PRESENT ? "protection violation" : "page not present", where);
}

/* Why user_fault did not end the program: "user_fault() is a TODO" (the function whose TODO
 * it reached), or it returned. */
static const char *why_not_ended(char *buf, size_t size, int kind, const char *todo)
{
	size_t n;

	if (!kind)
		return "user_fault returned instead";
	if (!strncmp(todo, TODO_PREFIX, strlen(TODO_PREFIX)))
		todo += strlen(TODO_PREFIX);
	for (n = 0; todo[n] && todo[n] != '(' && todo[n] != ' '; n++)
		;
	ksnprintf(buf, size, "%.*s() is a TODO", (int)n, todo);
	return buf;
}

static void user_trap(struct trap_frame *tf)
{
	bool from_user = (tf->cs & 3) == SEG_RPL_USER;
	uint64_t cr2 = tf->vector == VEC_PF ? read_cr2() : 0;
	struct ktry_result r;

	if (from_user)
		entry_cr2 = cr2;
	int kind = ktry_call(call_user_fault, tf, KTRY_TODO, &r);

	if (!from_user) {
		if (kind)
			user_fault_pass_on(tf); /* as before layer 08 */
		return;
	}
	/*
	 * A fault in ring 3 that user_fault did not end the program for. The kernel ends it
	 * itself, with all it knows of the fault, and says that the fault is the program's: step 7
	 * ends such a program cleanly, but writing it does not make the fault go away (a heap page
	 * that sbrk left unmapped, say, which a test would otherwise seem to blame on step 7).
	 */
	struct user_fault f = {tf->vector, tf->error, tf->rip, cr2};
	char fault[200], because[64], why[PROGRAM_NOTE_MAX];
	const char *did = "the program's instruction there raised it";

	if (tf->vector == VEC_PF) {
		describe_page_fault(fault, sizeof(fault), tf->error, cr2);
		did = tf->error & PF_PRESENT ? "the program used a page as its entry does not allow"
					     : "the program touched a page that is not mapped";
	} else {
		ksnprintf(fault, sizeof(fault), "error 0x%lx", tf->error);
	}
	ksnprintf(why, sizeof(why),
		  "%s at rip 0x%lx%s%s. So %s; step 7 would end it cleanly, not prevent that (the "
		  "kernel ended it: %s)",
		  trap_name(tf->vector), tf->rip, tf->vector == VEC_PF ? ": " : ", ", fault, did,
		  why_not_ended(because, sizeof(because), kind, r.msg));
	program_end_broken(&f, why);
}

static void user_timer(struct trap_frame *tf)
{
	earlier_timer(tf);
	if ((tf->cs & 3) == SEG_RPL_USER && program_running && program_running->kill)
		program_end_killed();
}

void usertrap_init(void)
{
	unsigned long flags = irq_save(); /* a tick must not find user_timer before earlier_timer */
	int timer = PIC_VECTOR_BASE + IRQ_TIMER;

	for (size_t i = 0; i < ARRAY_SIZE(user_vectors); i++)
		earlier[user_vectors[i]] = trap_register(user_vectors[i], user_trap);
	earlier_timer = trap_register(timer, user_timer);
	if (!earlier_timer) /* no timer at this boot (lab 07's notes say why): leave it alone */
		trap_register(timer, NULL);
	irq_restore(flags);
}
