/*
 * The kernel's one doubly linked list: circular, with a sentinel, the node embedded in its
 * owner (as Linux's list.h). The run queue, the sleep queue and every wait queue of lab 07
 * are lists of struct thread, linked through the node each thread embeds.
 *
 *     struct list_node queue;             the sentinel: an empty list points at itself
 *     list_init(&queue);
 *     list_add_tail(&t->link, &queue);    queue <-> t
 *     list_add_tail(&u->link, &queue);    queue <-> t <-> u
 *     list_first_entry(&queue, struct thread, link) == t
 *     list_del(&t->link);                 queue <-> u; t's node poisoned
 *
 * list_del poisons the node it removes: following a removed node's pointers faults at once
 * (a non-canonical address: #GP) instead of quietly walking a list the node left.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "compiler.h"

struct list_node {
	struct list_node *next, *prev;
};

/* What list_del leaves in a node: non-canonical, so a use faults (Linux's LIST_POISON). */
#define LIST_POISON_NEXT ((struct list_node *)0xdead000000000100UL)
#define LIST_POISON_PREV ((struct list_node *)0xdead000000000122UL)

/* An empty list, or a node that is on no list yet. */
static inline void list_init(struct list_node *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* Link n between prev and next, which are neighbours. */
static inline void __list_insert(struct list_node *n, struct list_node *prev,
				 struct list_node *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

/* Add n at the back of the list (right before head). */
static inline void list_add_tail(struct list_node *n, struct list_node *head)
{
	__list_insert(n, head->prev, head);
}

/* Add n right before pos (pos may be the sentinel: then n goes at the back). */
static inline void list_add_before(struct list_node *n, struct list_node *pos)
{
	__list_insert(n, pos->prev, pos);
}

/* Take n off its list and poison it. */
static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = LIST_POISON_NEXT;
	n->prev = LIST_POISON_PREV;
}

/* The struct that embeds node `member` at ptr. */
#define list_entry(ptr, type, member) container_of(ptr, type, member)

/* The first entry of a list that is not empty. */
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)

/* Every entry, front to back; the body must not remove pos (see the _safe form). */
#define list_for_each_entry(pos, head, member)                                                 \
	for (pos = list_entry((head)->next, __typeof__(*pos), member); &pos->member != (head); \
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))

/* Every entry, front to back; the body may remove pos (n, the entry after it, is read before
 * the body runs). */
#define list_for_each_entry_safe(pos, n, head, member)                  \
	for (pos = list_entry((head)->next, __typeof__(*pos), member),  \
	    n = list_entry(pos->member.next, __typeof__(*pos), member); \
	     &pos->member != (head);                                    \
	     pos = n, n = list_entry(n->member.next, __typeof__(*pos), member))
