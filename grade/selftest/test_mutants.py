"""Deliberately broken variants of the solutions ("mutants"), each of which the lab's tests
must catch. They are listed per lab in grade/selftest/mutants/NN-name.toml:

    [[mutant]]
    name = "what is broken"
    file = "idt.c"                  # in solutions/NN-name/
    find = "exact text"             # must occur exactly once
    replace = "broken text"
    caught_by = ["idt.every_gate_points_at_its_stub"]   # tests that must fail
    says = {"idt.every_gate_points_at_its_stub" = "offset"}   # optional: words a failure
                                                # message must hold, so that it names the bug

Each mutant is the checkpoint of its lab on the solutions with that one change. The
checkpoint on the solutions is built once, in the directory test_checkpoints.py and the
handouts' runs build it in too (build/check-NN-name-solutions/); a mutant is that kernel with
the one file compiled again from the mutated text, which has a place of its own
(build/mutants/src/...), so that the compiler cache knows it from the last run whichever test
worker builds it, and linked again (build.variant). Only the suites and black-box tests named
in caught_by are run, with the grader's own verdicts (conftest.judge): a kernel test is judged
in its grader's batch, then alone, as `make grade` would, so a bug that the suites booted
before it would hide in a batch is still caught. Since only their failures are wanted, a boot
ends as soon as the caught_by tests it runs have all failed: a bug that also hangs a later
test of the suite costs no timeout.
"""
import hashlib
import os
import re
import tomllib
from pathlib import Path

import pytest

from conftest import blackbox_tests, judge, require_solutions
from harness import build, manifest
from harness.paths import BUILD, SOLUTIONS

BOOT_TIMEOUT = 4.0  # seconds of running time: a hang the bug causes costs this much per boot

MUTANTS = []
for spec in sorted((Path(__file__).parent / "mutants").glob("*.toml")):
    for m in tomllib.loads(spec.read_text()).get("mutant", []):
        MUTANTS.append(pytest.param(spec.stem, m, id=f"{spec.stem}:{m['name']}"))


def test_every_mutant_names_tests_that_exist():
    known = {c.id for c in manifest.load()} | set(blackbox_tests())
    bad = [(p.id, t) for p in MUTANTS for t in p.values[1]["caught_by"] if t not in known]
    assert not bad, f"caught_by names tests that do not exist: {bad}"
    empty = [p.id for p in MUTANTS if not p.values[1]["caught_by"]]
    assert not empty, f"mutants that name no test to catch them: {empty}"
    stray = [(p.id, t) for p in MUTANTS for t in p.values[1].get("says", {})
             if t not in p.values[1]["caught_by"]]
    assert not stray, f"`says` names tests that are not in caught_by: {stray}"


_bases = {}  # lab -> the checkpoint on the solutions, built by this test process


def base_kernel(labs, lab):
    if lab not in _bases:
        _bases[lab] = build.kernel(f"check-{lab}-solutions", int(lab[:2]), build.checkpoint_layers(labs, lab))
    return _bases[lab]


def mutated_source(lab, mutant):
    """The solution's file with the mutant's change, in a place of the mutant's own; and how
    often the change's `find` text occurs in the solution's file."""
    original = SOLUTIONS / lab / mutant["file"]
    text = original.read_text()
    change = hashlib.sha256(f"{mutant['file']}\0{mutant['find']}\0{mutant['replace']}".encode()).hexdigest()
    slug = re.sub(r"[^a-z0-9]+", "-", mutant["name"].lower()).strip("-")[:50] + "-" + change[:8]
    path = BUILD / "mutants" / "src" / lab / slug / mutant["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    changed = text.replace(mutant["find"], mutant["replace"])
    if not path.is_file() or path.read_text() != changed:  # kept as it was: the cache knows it
        path.write_text(changed)
    return path, text.count(mutant["find"])


def mutant_kernel(labs, lab, mutant, place):
    """The checkpoint of lab on the solutions, with the mutant's change, built in build/<place>
    (build.BuildError if it does not compile)."""
    source, _ = mutated_source(lab, mutant)
    return build.variant(base_kernel(labs, lab), place, {SOLUTIONS / lab / mutant["file"]: source})


@pytest.mark.parametrize("lab,mutant", MUTANTS)
def test_mutant_is_caught(lab, mutant, labs):
    require_solutions(*labs[:labs.index(lab) + 1])
    assert (SOLUTIONS / lab / mutant["file"]).is_file(), f"no file {mutant['file']} in solutions/{lab}"
    _, count = mutated_source(lab, mutant)
    assert count == 1, f"the mutant's `find` text occurs {count} times in {mutant['file']} (must be once)"
    n = int(lab[:2])
    place = f"mutants/{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with build.locked(BUILD / place / "slot"):  # one mutant at a time in a place
        try:
            out = mutant_kernel(labs, lab, mutant, place)
        except build.BuildError as e:
            pytest.fail(f"the mutant does not compile (make it a compiling bug):\n{e}", pytrace=False)
        verdicts = judge(out, mutant["caught_by"], timeout=BOOT_TIMEOUT, checkpoint=n, to_fail=True)
    missing = [t for t in mutant["caught_by"] if t not in verdicts]
    assert not missing, f"caught_by names tests that do not exist: {missing}"
    escaped = [t for t in mutant["caught_by"] if verdicts[t] is None]
    assert not escaped, f"the mutant '{mutant['name']}' passes {escaped}, which should catch it"
    for test, words in mutant.get("says", {}).items():
        assert test in verdicts, f"`says` names {test}, which is not in caught_by"
        assert words in verdicts[test], f"{test} fails, but its message does not say {words!r}:\n{verdicts[test]}"
