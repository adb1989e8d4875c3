"""Which tests exist and what they are worth, read from the test sources themselves.

Kernel tests are the KTEST(suite, name, points) lines in grade/ktests/NN-lab/*.c (and in
an instructor's hidden test directory, laid out the same way). A suite belongs to the lab
whose directory holds it; 00-kernel holds the shared kernel's own tests.
"""
import re
from dataclasses import dataclass
from pathlib import Path

from .paths import KTESTS, rel

_KTEST = re.compile(r"^KTEST\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(\d+)\s*\)")
_LABDIR = re.compile(r"^(\d\d)-[\w-]+$")


@dataclass(frozen=True)
class KCase:
    lab: str        # "03-bump"
    suite: str
    name: str
    points: int
    file: str
    line: int
    host: bool      # also runs as a host program (files not named *_ktest.c)
    hidden: bool = False

    @property
    def id(self):
        return f"{self.suite}.{self.name}"


class ManifestError(Exception):
    pass


def scan(root=KTESTS, hidden=False):
    cases = []
    if not Path(root).is_dir():
        return cases
    for labdir in sorted(p for p in Path(root).iterdir() if p.is_dir() and _LABDIR.match(p.name)):
        for src in sorted(labdir.glob("*.c")):
            where, host = rel(src), not src.name.endswith("_ktest.c")  # rel() resolves: once a file
            for n, line in enumerate(src.read_text(errors="replace").splitlines(), 1):
                m = _KTEST.match(line)
                if m:
                    cases.append(KCase(labdir.name, m.group(1), m.group(2), int(m.group(3)),
                                       where, n, host, hidden))
    return cases


def load(hidden_dir=None):
    """Every test case, checked: a suite lives in one lab, a name appears once per suite."""
    cases = scan() + (scan(hidden_dir, hidden=True) if hidden_dir else [])
    suite_lab, seen = {}, set()
    for c in cases:
        if suite_lab.setdefault(c.suite, c.lab) != c.lab:
            raise ManifestError(f"{c.file}:{c.line}: suite {c.suite} is also in "
                                f"{suite_lab[c.suite]}; a suite must live in one lab directory")
        if c.id in seen:
            raise ManifestError(f"{c.file}:{c.line}: test {c.id} is defined twice")
        seen.add(c.id)
    return cases
