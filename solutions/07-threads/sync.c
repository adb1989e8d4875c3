/*
 * A mutex and a semaphore that block (see kernel/sync.h). Both hand what they guard straight
 * to the thread they wake: mutex_unlock makes the first waiter the owner before it even
 * runs, and semaphore_up gives its unit to the first waiter instead of adding it to count.
 * So a thread that comes along in between cannot take it first, and a woken thread never
 * needs to check again.
 *
 * Worked example: A holds m; B and then C call mutex_lock(&m).
 *
 *     owner  waiters   what happens
 *     A      [B]       B blocks (thread_block): it is off the run queue, costing no CPU
 *     A      [B C]     C blocks behind it
 *     B      [C]       A calls mutex_unlock: B is woken and is the owner already
 *     C      []        B unlocks: C
 *     NULL   []        C unlocks: nobody waits, m is free
 *
 * Testing "is it free?" and blocking must be one step, or the holder could unlock between
 * them and the wakeup would be lost: both happen with interrupts disabled, and thread_block
 * switches away without enabling them.
 */
#include "irq.h"
#include "panic.h"
#include "sync.h"
#include "thread.h"
/// STARTER: #include "todo.h"

void mutex_init(struct mutex *m)
{
	m->owner = NULL;
	wait_queue_init(&m->waiters);
}

/* Step 10: take it if it is free, else wait in line; unlock makes us the owner. */
void mutex_lock(struct mutex *m)
{
	struct thread *self = thread_current();
	unsigned long flags = irq_save();

	if (m->owner == self)
		panic("mutex_lock: thread '%s' holds this mutex already", self->name);
	/// SOLUTION BEGIN
	if (!m->owner)
		m->owner = self;
	else
		thread_block(&m->waiters); /* returns with m->owner == self */
	/// SOLUTION END
	/// STARTER: TODO("step 10: if m has no owner, take it; else thread_block on m->waiters (mutex_unlock will have made you the owner)");
	irq_restore(flags);
}

/* Step 10: hand it to the first waiter, or free it. */
void mutex_unlock(struct mutex *m)
{
	struct thread *self = thread_current();
	unsigned long flags = irq_save();

	if (m->owner != self)
		panic("mutex_unlock: thread '%s' does not hold this mutex (%s%s%s does)",
		      self->name, m->owner ? "'" : "", m->owner ? m->owner->name : "nobody",
		      m->owner ? "'" : "");
	/// SOLUTION BEGIN
	m->owner = thread_wake_one(&m->waiters); /* NULL if nobody waits */
	/// SOLUTION END
	/// STARTER: TODO("step 10: the owner becomes thread_wake_one(&m->waiters): the first waiter, or NULL");
	irq_restore(flags);
}

void semaphore_init(struct semaphore *s, unsigned count)
{
	s->count = count;
	wait_queue_init(&s->waiters);
}

/* Step 11: a unit now, or wait for semaphore_up to give us one. */
void semaphore_down(struct semaphore *s)
{
	unsigned long flags = irq_save();

	/// SOLUTION BEGIN
	if (s->count > 0)
		s->count--;
	else
		thread_block(&s->waiters);
	/// SOLUTION END
	/// STARTER: TODO("step 11: take a unit if count > 0, else thread_block on s->waiters");
	irq_restore(flags);
}

/* Step 11: the unit goes to the first waiter, or into count. */
void semaphore_up(struct semaphore *s)
{
	unsigned long flags = irq_save();

	/// SOLUTION BEGIN
	if (!thread_wake_one(&s->waiters))
		s->count++;
	/// SOLUTION END
	/// STARTER: TODO("step 11: wake the first waiter (thread_wake_one), or add one to count if nobody waits");
	irq_restore(flags);
}
