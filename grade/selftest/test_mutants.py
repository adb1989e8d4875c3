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

Each mutant is the checkpoint of its lab on the solutions with that one change. Every test
worker builds its mutants in one place of its own (build/mutants/<worker>/), where the
mutated lab's files are rewritten only where they change: make then compiles the changed
file alone, and when the lab differs from the last mutant's, the compiler cache (build.py)
gives back every object compiled before. Only the suites and black-box tests named in
caught_by are run, with the grader's own verdicts (conftest.judge): a kernel test is judged
in its grader's batch, then alone, as `make grade` would, so a bug that the suites booted
before it would hide in a batch is still caught.
"""
import os
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


def sync_lab(lab, dest, file, find, replace):
    """Make dest the solution of lab with find replaced in file, writing only the files whose
    content changes (make rebuilds what is newer than its object). Returns how often find
    occurs in the solution's file."""
    dest.mkdir(parents=True, exist_ok=True)
    sources = {p.name: p for p in (SOLUTIONS / lab).iterdir() if p.is_file()}
    for stale in dest.iterdir():
        if stale.name not in sources:
            stale.unlink()
    count = 0
    for name, path in sources.items():
        text = path.read_text()
        if name == file:
            count = text.count(find)
            text = text.replace(find, replace)
        out = dest / name
        if not out.is_file() or out.read_text() != text:
            out.write_text(text)
    return count


@pytest.mark.parametrize("lab,mutant", MUTANTS)
def test_mutant_is_caught(lab, mutant, labs):
    require_solutions(*labs[:labs.index(lab) + 1])
    assert (SOLUTIONS / lab / mutant["file"]).is_file(), f"no file {mutant['file']} in solutions/{lab}"
    place = BUILD / "mutants" / os.environ.get("PYTEST_XDIST_WORKER", "main")
    with build.locked(place / "slot"):  # one mutant at a time in a place
        src = place / "src" / lab
        count = sync_lab(lab, src, mutant["file"], mutant["find"], mutant["replace"])
        assert count == 1, (f"the mutant's `find` text occurs {count} times in {mutant['file']} "
                            f"(must be once)")
        n = int(lab[:2])
        try:
            out = build.kernel(str(place.relative_to(BUILD) / "kernel"), n,
                               build.checkpoint_layers(labs, lab, source_for={lab: src}))
        except build.BuildError as e:
            pytest.fail(f"the mutant does not compile (make it a compiling bug):\n{e}", pytrace=False)
        verdicts = judge(out, mutant["caught_by"], timeout=BOOT_TIMEOUT, checkpoint=n)
    missing = [t for t in mutant["caught_by"] if t not in verdicts]
    assert not missing, f"caught_by names tests that do not exist: {missing}"
    escaped = [t for t in mutant["caught_by"] if verdicts[t] is None]
    assert not escaped, f"the mutant '{mutant['name']}' passes {escaped}, which should catch it"
    for test, words in mutant.get("says", {}).items():
        assert test in verdicts, f"`says` names {test}, which is not in caught_by"
        assert words in verdicts[test], f"{test} fails, but its message does not say {words!r}:\n{verdicts[test]}"
