"""Lab 07 black-box tests: what the kernel says when a thread overflows its stack.

The scenario (grade/ktests/07-threads/scenarios_ktest.c) starts a thread, named afresh for
each run, that recurses until it runs off the bottom of its stack. The guard page below the
stack must turn that into a double fault, and the kernel must panic naming the thread. The
panic is judged from the kernel's signed record of it (kernel/panic.c signs every panic), not
from the console line alone.
"""
import random
import re

import pytest

from harness import check

LAB = "07-threads"

# kernel/memlayout.h and kernel/kstack.h
KSTACKS_BASE = 0xffffe00000000000
THREAD_SLOT_SIZE = 32 << 10
THREAD_STACK_SIZE = 16 << 10
THREAD_SLOTS = 2048

OVERFLOW_RECORD = r"panic kernel stack overflow: thread '([^']*)' ran into its guard page at 0x([0-9a-f]+)"
NAME_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def in_a_guard(address):
    """True if address is in the unmapped bottom half of a stack slot (the guard page and
    the pages below it)."""
    offset = address - KSTACKS_BASE
    return 0 <= offset < THREAD_SLOTS * THREAD_SLOT_SIZE and \
        offset % THREAD_SLOT_SIZE < THREAD_SLOT_SIZE - THREAD_STACK_SIZE


@pytest.mark.points(4)
def test_a_thread_that_overflows_its_stack_is_named(kernel):
    rng = random.Random(f"{kernel.seed}:thread_stack_overflow")
    name = "diver-" + "".join(rng.choice(NAME_LETTERS) for _ in range(8))
    run = kernel.boot("scenario-thread_stack_overflow",
                      append=f"scenario=thread_stack_overflow overflow_thread={name}")
    record = check.attested(run, OVERFLOW_RECORD)
    if record is not None:
        got, address = record[1][1], int(record[1][2], 16)
        if got != name:
            check.fail(f"the stack-overflow panic names thread '{got}', but the thread that "
                       f"overflowed is '{name}'", run)
        if not in_a_guard(address):
            check.fail(f"the stack-overflow panic gives the address {address:#x}, which is not "
                       f"in the unmapped half of a stack slot (kernel/kstack.h)", run)
        return
    if re.search(r"^PANIC: kernel stack overflow", run.text, re.MULTILINE):
        check.unconfirmed(run, "the console shows a stack-overflow panic", "the panic's signed record")
    no_threads = re.search(r"^scenario thread_stack_overflow: the kernel has no threads: (.*)$",
                           run.text, re.MULTILINE)
    if no_threads:
        check.fail(f"the scenario could not start a thread: {no_threads[1]}", run)
    if "the thread came back from depth" in run.text:
        check.fail("the thread recursed without limit and came back: its stack has no guard "
                   "page below it (kstack_alloc must leave the bottom half of the slot "
                   "unmapped)", run)
    why = run.describe() or "the kernel finished without a stack-overflow panic"
    check.fail(f"a thread that overflows its stack should end in a panic saying \"kernel stack "
               f"overflow: thread '{name}' ran into its guard page at ...\": its next push "
               f"faults on the guard page, the CPU cannot push that fault on the same stack "
               f"and raises a double fault, which has a stack of its own.\nInstead: {why}\n"
               f"(log: {run.serial_path})", run)
