"""Helpers for black-box tests: judge a Run by its console output, failing in words."""
import re

import pytest

from . import attest, symbols


class Unconfirmed(pytest.fail.Exception):
    """A failure because the console claims what the kernel's signed records do not: the
    grader notes it (a "forged" flag in its results) for the instructor."""


def fail(msg, run=None, forged=False):
    """Fail the test with msg, adding what the kernel skipped while booting, if anything."""
    notes = run.boot_notes() if run is not None else ""
    raise (Unconfirmed if forged else pytest.fail.Exception)(msg + ("\n" + notes if notes else ""),
                                                              pytrace=False)


def finished(run, what="the kernel"):
    """Fail unless the run ended through the kernel's own exit (tests or tour done)."""
    if not run.finished:
        fail(f"{what} did not finish: {run.describe()}\n(log: {run.serial_path})", run)


def search(run, pattern, what, flags=0):
    """The first match of pattern in the console output, or fail saying what was missing."""
    m = re.search(pattern, run.text, flags | re.MULTILINE)
    if not m:
        why = run.describe()
        fail(f"expected {what} in the console output, found none.\n"
             + (f"The run: {why}\n" if why else f"Last lines:\n{run.last_lines()}\n")
             + f"(log: {run.serial_path})", run)
    return m


def where(run, address):
    return str(symbols.locate_one(run.elf, address))


# Records the kernel's scenarios sign, read by the tests of more than one lab.
MMAP_RECORD = r"mmap base=0x([0-9a-f]+) len=0x([0-9a-f]+) type=(\d+)"
FRAMES_RECORD = r"frames total=(\d+) free=(\d+) bitmap_bytes=(\d+) bitmap_at=0x([0-9a-f]+)"


def records(run, pattern):
    """Every record the kernel signed for this boot ("# attest: ..." with a valid tag, see
    attest.py) matching pattern, as (line index, match), in order. Use them for facts the
    lab's own output could fake: a console line proves nothing by itself."""
    good, _ = attest.records(run.text, run.key)
    return [(index, m) for index, m in ((i, re.fullmatch(pattern, text)) for i, text in good) if m]


def attested(run, pattern):
    """The first of records(run, pattern), or None if there is none."""
    found = records(run, pattern)
    return found[0] if found else None


def unconfirmed(run, claim, record, seen=True):
    """Fail: the kernel's signed `record` is missing, so `claim` cannot be confirmed.

    What the message leads with depends on why. If the run crashed, hung or reset before the
    kernel could sign, that is what happened, and it comes first. Only when results without a
    valid tag were printed (a record line whose tag is wrong, or, in a run that ended normally,
    a console line making the claim while the kernel signed nothing: seen=True) is the failure
    one of output the kernel's own code did not print, flagged for the instructor."""
    _, bad = attest.records(run.text, run.key)
    why = run.describe()
    log = f"(log: {run.serial_path})"
    if bad:
        fail(f"{claim}, but the kernel did not confirm it: {record} is missing, and the console "
             f"has a record line whose tag is wrong: it was not printed by the kernel's own "
             f"code. Output printed by lab code alone earns no points.\n"
             + (f"The run: {why}\n" if why else "") + log, run, forged=True)
    if why:
        fail(f"{why}\nSo {record} never came: it is printed once the work is done.\n{log}", run)
    if seen:
        fail(f"{claim}, but the kernel did not confirm it: {record} is missing although the run "
             f"ended normally, so those lines were not printed by the kernel's own code. Output "
             f"printed by lab code alone earns no points.\n{log}", run, forged=True)
    fail(f"{record} is missing although the run ended normally.\n{log}", run)
