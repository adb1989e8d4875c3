"""Helpers for black-box tests: judge a Run by its console output, failing in words."""
import re

import pytest

from . import symbols


def fail(msg, run=None):
    """Fail the test with msg, adding what the kernel skipped while booting, if anything."""
    notes = run.boot_notes() if run is not None else ""
    pytest.fail(msg + ("\n" + notes if notes else ""), pytrace=False)


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
