"""Lab 08 black-box tests: ASLR across boots.

The scenario aslr_layouts (grade/ktests/08-user/scenarios_ktest.c) starts the program layout
twice and signs where each start put its image, heap and stack. Booted twice with the same
aslr.seed the kernel must choose the same layouts (a run can be repeated), with another seed
others, and within one boot the two starts must differ.
"""
import re

import pytest

from harness import check

LAB = "08-user"
LAYOUT_RECORD = r"aslr layout start=(\d) base=0x([0-9a-f]+) heap=0x([0-9a-f]+) stack=0x([0-9a-f]+) exit=(-?\d+)"


def layouts(kernel, name, seed):
    """The two layouts of one boot, as (base, heap, stack) tuples; fail if they are missing."""
    run = kernel.boot(name, append=f"scenario=aslr_layouts aslr.seed={seed}")
    found = [m for _, m in check.records(run, LAYOUT_RECORD)]
    if len(found) != 2:
        cannot = re.search(r"^scenario aslr_layouts: (programs cannot run: .*)$", run.text, re.MULTILINE)
        why = cannot[1] if cannot else run.describe() or "the kernel finished"
        check.fail(f"the scenario should sign the layouts of two starts of the program layout; "
                   f"it signed {len(found)}: {why}\n(log: {run.serial_path})", run)
    for m in found:
        if int(m[5]) != 0:
            check.fail(f"the program layout, started by the scenario, exited with {m[5]}, not 0: "
                       f"what SYS_layout says and what it sees of itself differ "
                       f"(log: {run.serial_path})", run)
    return [tuple(int(x, 16) for x in m.groups()[1:4]) for m in found], run


def shown(layout):
    """One layout, (base, heap, stack) as the kernel signed it, in words and hex."""
    return "image at {:#x}, heap at {:#x}, stack top {:#x}".format(*layout)


def both(two):
    """The two layouts of one boot, in words."""
    return f"start 1: {shown(two[0])}; start 2: {shown(two[1])}"


@pytest.mark.points(3)
@pytest.mark.suite("aslr")
def test_the_same_seed_gives_the_same_layouts_across_boots(kernel):
    seed = kernel.seed or 1
    a, run_a = layouts(kernel, "aslr-seed-a", seed)
    b, run_b = layouts(kernel, "aslr-seed-a-again", seed)
    c, run_c = layouts(kernel, "aslr-seed-b", seed + 1)
    if a != b:
        check.fail(f"two boots with aslr.seed={seed} placed the program differently. First boot, "
                   f"{both(a)}. Second boot, {both(b)}. With a seed, every random choice must "
                   f"come from aslr_random() (logs: {run_a.serial_path}, {run_b.serial_path})", run_b)
    if a[0] == a[1]:
        check.fail(f"two starts in one boot got the same layout ({shown(a[0])}): each start "
                   f"must draw new random places (log: {run_a.serial_path})", run_a)
    if a == c:
        check.fail(f"aslr.seed={seed} and aslr.seed={seed + 1} gave the same layouts ({both(a)}) "
                   f"(log: {run_c.serial_path})", run_c)
