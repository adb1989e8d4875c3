"""Deliberately broken variants of the solutions ("mutants"), each of which the lab's tests
must catch. They are listed per lab in grade/selftest/mutants/NN-name.toml:

    [[mutant]]
    name = "what is broken"
    file = "idt.c"                  # in solutions/NN-name/
    find = "exact text"             # must occur exactly once
    replace = "broken text"
    caught_by = ["idt.every_gate_points_at_its_stub"]   # tests that must fail
"""
import hashlib
import shutil
import tomllib
from pathlib import Path

import pytest

from conftest import grade, require_solutions
from harness import build
from harness.paths import SOLUTIONS

MUTANTS = []
for spec in sorted((Path(__file__).parent / "mutants").glob("*.toml")):
    for m in tomllib.loads(spec.read_text()).get("mutant", []):
        MUTANTS.append(pytest.param(spec.stem, m, id=f"{spec.stem}:{m['name']}"))


@pytest.mark.parametrize("lab,mutant", MUTANTS)
def test_mutant_is_caught(lab, mutant, labs, tmp_path):
    require_solutions(*labs[:labs.index(lab) + 1])
    src = tmp_path / lab
    shutil.copytree(SOLUTIONS / lab, src)
    target = src / mutant["file"]
    text = target.read_text()
    count = text.count(mutant["find"])
    assert count == 1, f"the mutant's `find` text occurs {count} times in {mutant['file']} (must be once)"
    target.write_text(text.replace(mutant["find"], mutant["replace"]))

    n = int(lab[:2])
    name = f"mutant-{lab}-{hashlib.sha1(mutant['name'].encode()).hexdigest()[:10]}"
    try:
        out = build.kernel(name, n, build.checkpoint_layers(labs, lab, source_for={lab: src}))
    except build.BuildError as e:
        pytest.fail(f"the mutant does not compile (make it a compiling bug):\n{e}", pytrace=False)
    r = grade(out, n, tmp_path / "results.json", extra=["--only-lab", str(n), "--boot-timeout", "4"])
    status = {t["test"]: t["status"] for t in r["tests"]}
    missing = [t for t in mutant["caught_by"] if t not in status]
    assert not missing, f"caught_by names tests that do not exist: {missing}"
    escaped = [t for t in mutant["caught_by"] if status[t] == "passed"]
    assert not escaped, f"the mutant '{mutant['name']}' passes {escaped}, which should catch it"
