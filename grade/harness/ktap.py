"""Reading KTAP version 1 (https://docs.kernel.org/dev-tools/ktap.html) out of console output.

The kernel prints one top-level KTAP document whose subtests are the suites:

    KTAP version 1
    1..1
        KTAP version 1
        # Subtest: bump
        1..2
        # bump_test.c:40: expected ...       (diagnostics of the next result)
        not ok 1 alignment # bump_test.c:40: expected ...
        ok 2 exhaustion
    not ok 1 bump

Lines that are not KTAP at the expected indentation are ordinary console output and are kept
as context for the result that follows them.

Given the boot's key, parse() believes a result only if the next line carries its valid tag
("    # mac ...", see attest.py); any other result line is kept as console output and listed
in Suite.forged, so a kernel printing KTAP lines of its own earns nothing by it.
"""
import re
from dataclasses import dataclass, field

from . import attest

_VERSION = re.compile(r"^(\s*)KTAP version 1\s*$")
_PLAN = re.compile(r"^(\s*)1\.\.(\d+)\s*$")
_SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)\s*$")
SUBTEST_MARK = b"# Subtest: "  # in the raw output: a suite starts
_RESULT = re.compile(r"^(\s*)(ok|not ok) (\d+) ([^#\s]+)\s*(?:#\s*(.*))?$")
_DIAG = re.compile(r"^(\s*)# ?(.*)$")
_SEED = re.compile(r"^# ktest seed: (\d+)")


@dataclass
class Case:
    suite: str
    name: str
    ok: bool
    number: int
    message: str = ""                       # after the '#' on the result line
    diagnostics: list = field(default_factory=list)  # '#' lines and console output before it

    def details(self):
        """The diagnostics worth showing under the message: not blank, and not the first
        failure again (the runner prints it as a '#' line, then on the result line)."""
        return [d for d in self.diagnostics if d.strip() and d.strip() != self.message]


@dataclass
class Suite:
    name: str
    plan: int = None
    ok: bool = None
    cases: dict = field(default_factory=dict)
    duplicates: list = field(default_factory=list)
    forged: list = field(default_factory=list)   # names of results without a valid tag


@dataclass
class Report:
    seen_header: bool = False
    seed: int = None
    suites: dict = field(default_factory=dict)
    forged: list = field(default_factory=list)  # result lines whose tag is missing or wrong

    def case(self, suite, name):
        s = self.suites.get(suite)
        return s.cases.get(name) if s else None


def parse(text, key=None):
    """The KTAP results in text; with key, only those the test runner signed (see above)."""
    report = Report()
    suite, pending = None, []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if attest.MAC_LINE.match(line):
            continue  # checked with the result line before it
        if not report.seen_header and _VERSION.match(line) and not _VERSION.match(line).group(1):
            report.seen_header = True
            continue
        m = _SEED.match(line)
        if m:
            report.seed = int(m.group(1))
            continue
        m = _SUBTEST.match(line)
        if m and m.group(1):
            suite = report.suites.setdefault(m.group(2), Suite(m.group(2)))
            pending = []
            continue
        m = _PLAN.match(line)
        if m and suite and m.group(1):
            suite.plan = int(m.group(2))
            continue
        m = _RESULT.match(line)
        if m:
            indent, status, number, name, rest = m.groups()
            ok = status == "ok"
            rest = (rest or "").strip()
            if indent and suite:
                if key is not None and not _signed(lines[i + 1] if i + 1 < len(lines) else "",
                                                   key, suite.name, int(number), name, ok):
                    report.forged.append(line.strip())
                    suite.forged.append(name)
                    pending.append(line)
                    continue
                case = Case(suite.name, name, ok, int(number), rest, pending)
                if name in suite.cases:
                    suite.duplicates.append(name)
                suite.cases[name] = case
                pending = []
            elif not indent:
                s = report.suites.setdefault(name, Suite(name))
                s.ok = ok
                suite, pending = None, []
            continue
        if _VERSION.match(line):
            continue
        if suite is not None:
            m = _DIAG.match(line)
            pending.append(m.group(2) if m and m.group(1) else line)
    return report


def _signed(next_line, key, suite, number, name, ok):
    m = attest.MAC_LINE.match(next_line)
    return bool(m) and attest.valid(key, attest.result_message(suite, number, name, ok), m.group(1))
