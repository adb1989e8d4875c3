/*
 * Lab 09, step 1: the process table, called directly (no program runs here): slots taken and
 * given back, the family links, the limit.
 */
#include <string.h>
#include "proc_fixture.h"

#define CHILDREN 3

static int children_of(struct process *pr, struct process **out, int max)
{
	struct process *c;
	int n = 0;

	list_for_each_entry (c, &pr->children, sibling) {
		if (n < max)
			out[n] = c;
		n++;
	}
	return n;
}

/* proc_alloc(NULL): a new process with no parent; proc_alloc(p): one more child of p, at the
 * end of its list. */
KTEST(proc, a_new_process_has_a_slot_and_a_parent, 3)
{
	size_t before = proc_count();
	struct process *root = proc_alloc(NULL), *kids[CHILDREN], *seen[CHILDREN + 1];

	ASSERT_NOT_NULL(t, root);
	EXPECT_EQ(t, root->state, PROC_NEW);
	EXPECT_NULL(t, root->parent);
	EXPECT_TRUE(t, list_empty(&root->children));
	EXPECT_TRUE(t, wait_queue_empty(&root->waiters));
	EXPECT_TRUE(t, root >= proc_table && root < proc_table + PROC_MAX);
	EXPECT_EQ(t, proc_count(), before + 1);
	for (int i = 0; i < CHILDREN; i++) {
		kids[i] = proc_alloc(root);
		ASSERT_NOT_NULL(t, kids[i]);
		EXPECT_TRUE(t, kids[i]->parent == root);
		EXPECT_EQ(t, kids[i]->state, PROC_NEW);
	}
	/* should be: root's children kids[0] -> kids[1] -> kids[2] */
	int n = children_of(root, seen, CHILDREN + 1), listed = 0;
	for (int i = 0; i < CHILDREN; i++) {
		bool found = false;
		for (int j = 0; j < n && j < CHILDREN + 1; j++)
			found |= seen[j] == kids[i];
		listed += found;
		if (!found) /* so that proc_free can take it out of the list */
			list_add_tail(&kids[i]->sibling, &root->children);
	}
	if (listed < CHILDREN)
		FAIL(t,
		     "of %d children proc_alloc(parent) made, %d are in the parent's list of "
		     "children: add each to parent->children (list_add_tail of its sibling)",
		     CHILDREN, listed);
	else if (n != CHILDREN)
		FAIL(t, "the parent's list of children holds %d processes, not the %d it made", n,
		     CHILDREN);
	for (int i = 0; i < CHILDREN && i < n && listed == CHILDREN; i++)
		if (seen[i] != kids[i])
			FAIL(t,
			     "child %d of the list is slot %ld, not the %s made (slot %ld): add new "
			     "children at the end",
			     i, (long)(seen[i] - proc_table), i == 0 ? "first" : "next",
			     (long)(kids[i] - proc_table));
	for (int i = 0; i < CHILDREN; i++)
		proc_free(kids[i]);
	EXPECT_TRUE(t, list_empty(&root->children));
	proc_free(root);
	EXPECT_EQ(t, root->state, PROC_UNUSED);
	EXPECT_EQ(t, proc_count(), before);
}

/* The middle child leaves: should be first -> third. */
KTEST(proc, free_takes_a_process_out_of_its_parents_list, 2)
{
	struct process *root = proc_alloc(NULL), *kids[CHILDREN], *seen[CHILDREN];

	ASSERT_NOT_NULL(t, root);
	for (int i = 0; i < CHILDREN; i++) {
		kids[i] = proc_alloc(root);
		ASSERT_NOT_NULL(t, kids[i]);
	}
	proc_free(kids[1]);
	EXPECT_EQ(t, kids[1]->state, PROC_UNUSED);
	int n = children_of(root, seen, CHILDREN);
	EXPECT_EQ(t, n, 2);
	if (n == 2 && (seen[0] != kids[0] || seen[1] != kids[2]))
		FAIL(t, "after freeing the middle child, the list is not first -> third");
	proc_free(kids[0]);
	proc_free(kids[2]);
	EXPECT_TRUE(t, list_empty(&root->children));
	proc_free(root);
}

/* A process with children cannot be freed: they would point at a free slot. */
KTEST(proc, freeing_a_parent_with_children_panics, 1)
{
	struct process *root = proc_alloc(NULL), *kid = root ? proc_alloc(root) : NULL;

	ASSERT_NOT_NULL(t, kid);
	EXPECT_PANIC(t, "proc_free", proc_free(root));
	proc_free(kid);
	proc_free(root);
}

/* Every free slot can be had, and not one more: NULL, and a freed slot is taken again. */
KTEST(proc, the_table_has_a_limit, 3)
{
	static struct process *got[PROC_MAX];
	size_t before = proc_count(), free = PROC_MAX - before;
	size_t n = 0;

	while (n < PROC_MAX && (got[n] = proc_alloc(NULL)) != NULL)
		n++;
	EXPECT_EQ(t, n, free);
	EXPECT_NULL(t, proc_alloc(NULL));
	if (n) {
		struct process *again;

		proc_free(got[n / 2]);
		again = proc_alloc(NULL);
		EXPECT_TRUE(t, again == got[n / 2]);
		if (!again)
			n--, got[n / 2] = got[n];
	}
	for (size_t i = 0; i < n; i++)
		proc_free(got[i]);
	EXPECT_EQ(t, proc_count(), before);
}

/*
 * A zombie keeps its slot until its parent waits: its status is still to be read, and it is
 * still in its parent's list. proc_alloc hands out PROC_UNUSED slots only:
 *
 *   root -> z (ZOMBIE)     proc_alloc(root): another slot, not z's
 */
KTEST(proc, a_zombies_slot_is_not_handed_out, 2)
{
	struct process *root = proc_alloc(NULL), *z = root ? proc_alloc(root) : NULL, *next;

	ASSERT_NOT_NULL(t, z);
	z->state = PROC_ZOMBIE;
	z->status = 0x300;
	next = proc_alloc(root);
	if (next == z) {
		FAIL(t,
		     "proc_alloc handed out slot %ld, a zombie's that its parent has not waited "
		     "for: take only slots in state PROC_UNUSED",
		     (long)(z - proc_table));
		list_init(&root->children); /* z was linked into it twice */
		z->parent = NULL;
		next = NULL;
	} else {
		EXPECT_EQ(t, z->state, PROC_ZOMBIE);
		EXPECT_EQ(t, z->status, 0x300);
		EXPECT_TRUE(t, z->parent == root);
	}
	if (next)
		proc_free(next);
	proc_free(z);
	proc_free(root);
}

/* A slot is handed out clean, whatever the process before it left in it. */
KTEST(proc, a_slot_is_handed_out_clean, 2)
{
	struct process *pr;
	struct process *parent = proc_alloc(NULL);

	ASSERT_NOT_NULL(t, parent);
	for (int i = 0; i < PROC_MAX; i++)
		if (proc_table[i].state == PROC_UNUSED) {
			memset(&proc_table[i], 0x5a, sizeof(proc_table[i]));
			proc_table[i].state = PROC_UNUSED;
		}
	pr = proc_alloc(parent);
	ASSERT_NOT_NULL(t, pr);
	EXPECT_EQ(t, pr->pid, 0);
	EXPECT_NULL(t, pr->prog);
	EXPECT_EQ(t, pr->status, 0);
	EXPECT_FALSE(t, pr->kernel_waits);
	EXPECT_TRUE(t, list_empty(&pr->children));
	EXPECT_TRUE(t, wait_queue_empty(&pr->waiters));
	EXPECT_TRUE(t, pr->parent == parent);
	proc_free(pr);
	proc_free(parent);
	for (int i = 0; i < PROC_MAX; i++)
		if (proc_table[i].state == PROC_UNUSED)
			memset(&proc_table[i], 0, sizeof(proc_table[i]));
}
