"""Every checkpoint, graded as `make grade` grades it:

* built from the solutions, it passes every test (the last checkpoint linked at a random
  layout, as the instructor's graders link submissions);
* with lab N's starter and every other lab's solution, exactly lab N's tests fail, and each
  failure names a file of labs/NN-name/ to work on; the other labs' tests all pass.
"""
import re
import secrets

import pytest

from conftest import grade, require_solutions, require_starters
from harness import build, summary

LABS = build.lab_dirs()


def _show(tests, lines=4):
    """Each test with the start of its message: what happened, not only that it failed."""
    def message(t):
        return "\n      ".join((t["message"] or "").splitlines()[:lines])
    return "\n".join(f"  {t['lab']} {t['test']}: {message(t)}" for t in tests)


@pytest.mark.parametrize("lab", LABS)
def test_solutions_pass_everything(lab, labs):
    require_solutions(*labs[:labs.index(lab) + 1])
    n = int(lab[:2])
    # The last checkpoint is linked at a layout of its own, as the instructor's graders link
    # every submission: everything passes there too (and the layout of a failure is named).
    seed = secrets.randbits(62) if lab == labs[-1] else None
    out = build.kernel(f"check-{lab}-solutions", n, build.checkpoint_layers(labs, lab))
    if seed is not None:  # its objects, linked again at that layout
        out = build.variant(out, f"check-{lab}-solutions-layout", {}, layout_seed=seed)
    r = grade(out, n)
    failed = [t for t in r["tests"] if t["status"] != "passed"]
    on = f" (linked at KERNEL_LAYOUT_SEED={seed})" if seed is not None else ""
    assert not failed, f"checkpoint {lab} on the solutions{on} failed:\n{_show(failed)}"
    assert r["exit_status"] == 0
    graded = {t["lab"] for t in r["tests"]}
    assert graded == {"00-kernel", *labs[:labs.index(lab) + 1]}, f"labs graded: {sorted(graded)}"
    assert r["score"] == r["max_score"] > 0


@pytest.mark.parametrize("lab", LABS)
def test_starter_fails_exactly_its_own_lab(lab, labs):
    require_starters()
    require_solutions(*labs[:labs.index(lab)])
    n = int(lab[:2])
    out = build.kernel(f"check-{lab}-starter", n, build.checkpoint_layers(labs, lab, starter=lab))
    # What the build says it is made of (build_info.c), which the grade's advice reads.
    made_of = {l: "labs" if l == lab else "solutions" for l in labs[:labs.index(lab) + 1]}
    assert summary.layers_of(out) == made_of, (out / "build_info.c").read_text()
    r = grade(out, n)
    # Without lab 01's boot code nothing runs, not even the shared kernel's own tests.
    own = [t for t in r["tests"] if t["lab"] == lab or (n == 1 and t["lab"] == "00-kernel")]
    others = [t for t in r["tests"] if t not in own]
    passed_own = [t for t in own if t["status"] == "passed"]
    assert not passed_own, f"the {lab} starter passes tests it should fail:\n{_show(passed_own)}"
    vague = [t for t in own if f"labs/{lab}/" not in t["message"]]
    assert not vague, f"these failures do not point at a file of labs/{lab}/:\n{_show(vague)}"
    failed_others = [t for t in others if t["status"] != "passed"]
    assert not failed_others, f"the {lab} starter breaks other labs' tests:\n{_show(failed_others)}"
    assert r["exit_status"] != 0
    # What the grade prints lists the lab's own failures first, the earliest step first.
    first = re.search(r"^FAIL (\S+) (\S+) \(0/\d+ points(?:, step (\d+))?\)", r["output"], re.MULTILINE)
    assert first and first[1] in (lab, "00-kernel"), r["output"][-3000:]
    steps = [int(s) for s in re.findall(rf"^FAIL {lab} \S+ \(0/\d+ points, step (\d+)\)",
                                         r["output"], re.MULTILINE)]
    assert steps == sorted(steps), f"failures out of step order: {steps}"
