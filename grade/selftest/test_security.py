"""Hostile submissions (hostile.py) against the instructor's graders, end to end:

* graded by `grade-batch` with the sandbox, and by `make grade-batch` with bubblewrap made to
  fail (the fallback): no byte of a file outside the course (a canary file, the hidden tests'
  source, the course's solution) appears in any output, log or result; no forged point is
  earned; every hostile file is refused or flagged for review, with its reason, in the intake;
* the same through `make grade-submission` and the Gradescope autograder run locally;
* the attacks are real: on a kernel of the fixed layout, built without these checks, the
  signing attacks earn every point of the idt suite;
* graded kernels have a layout of their own per seed, the fixed one without a seed, and
  are symbolized on a random layout (test_checkpoints.py grades the last checkpoint on one).
"""
import csv
import json
import os
import secrets
import subprocess
import sys
import zipfile

import pytest

import hostile
import submissions
from conftest import PYTHON, grade, require_solutions
from harness import build, qemu, symbols
from harness.paths import ROOT, SOLUTIONS

sys.path.insert(0, str(ROOT / "tools"))
from instructor import autograder  # noqa: E402

FIRST = submissions.FIRST
BOOT_TIMEOUT = 3
# A line of lab 01's solution that its starter lacks: a copy of the solution would show it.
SOLUTION_LINE = b"g->offset_mid = (offset >> 16) & 0xffff;"


@pytest.fixture(scope="module")
def bait(tmp_path_factory, labs):
    """What a hostile submission is after: a file outside the course and a hidden test, each
    holding a canary; and the addresses one's own build of lab 01 shows in its kernel.sym."""
    require_solutions(*labs)
    base = tmp_path_factory.mktemp("bait")
    token = "canary" + secrets.token_hex(8)
    outside = base / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text(f"outside {token} one\nsecond line {token}\n")
    hidden = base / "hidden"
    (hidden / "ktests" / FIRST).mkdir(parents=True)
    hidden_source = hidden / "ktests" / FIRST / "secret_ktest.c"
    hidden_source.write_text(f'/* hidden {token} */\n#include "ktest.h"\n\n'
                             "KTEST(secret, one_is_one, 1)\n{\n\tEXPECT_EQ(t, 1, 1);\n}\n")
    own = build.kernel(f"check-{labs[0]}-solutions", 1, build.checkpoint_layers(labs, labs[0]))
    return {"token": token, "outside": outside, "hidden": hidden, "hidden_source": hidden_source,
            "syms": symbols.symbol_table(str(own / "kernel.elf"))}


def make_hostile(folder, bait, which=("reader-1", "reader-2", "signer-1", "signer-2", "fixed-1", "fixed-2")):
    """The hostile submissions in folder; {name: {file: (verdict, what)}}."""
    makers = {
        "reader-1": lambda d: hostile.reader_1(d, bait["outside"], bait["hidden_source"]),
        "reader-2": lambda d: hostile.reader_2(d, bait["outside"], SOLUTIONS / FIRST / "idt.c"),
        "signer-1": hostile.signer_1,
        "signer-2": hostile.signer_2,
        "fixed-1": lambda d: hostile.fixed_1(d, bait["syms"]),
        "fixed-2": lambda d: hostile.fixed_2(d, bait["syms"]),
    }
    return {name: makers[name](folder / name) for name in which}


def no_leak(bait, *texts, folder=None):
    """Neither canary in texts, nor in any file under folder."""
    token = bait["token"].encode()
    for t in texts:
        assert token not in t.encode().lower(), f"the canary leaked into the output:\n{t[-3000:]}"
    if folder:
        for f in folder.rglob("*"):
            if f.is_file():
                assert token not in f.read_bytes().lower(), f"the canary leaked into {f}"


def check_intake(intake, expected, where):
    """Each hostile file refused, or flagged for review, naming what it did."""
    refused = {path: why for path, why in intake["refused"]}
    review = [f"{r[0]}: {r[2]}" for r in intake["review"]]
    for name, (verdict, what) in expected.items():
        path = f"labs/{FIRST}/{name}"
        if verdict == "refused":
            assert path in refused and what in refused[path], \
                f"{where}: {path} should be refused naming {what}: {refused.get(path)}"
            assert path not in intake["files"]
        else:
            assert any(r.startswith(path + ":") and what in r for r in review), \
                f"{where}: {path} should be flagged naming {what}: {review}"


def idt_points(results):
    return sum(t["points"] for t in results if t["test"].startswith("idt."))


def test_hostile_submissions_earn_nothing_and_leak_nothing(tmp_path, bait):
    folder, out = tmp_path / "submissions", tmp_path / "grades"
    folder.mkdir()
    expected = make_hostile(folder, bait)
    # And one student who did the work and uploaded a zip as Python's zipfile writes it
    # (permission bits, no file type): graded in full.
    with zipfile.ZipFile(folder / "zipped.zip", "w") as zf:
        for f in sorted(submissions.correct(tmp_path / "zipped").rglob("*")):
            if f.is_file():
                zf.writestr(f"teachos/{f.relative_to(tmp_path / 'zipped').as_posix()}", f.read_bytes())
    p = subprocess.run([PYTHON, "tools/grade-batch", "--lab", FIRST[:2], "--jobs", "2",
                        "--boot-timeout", str(BOOT_TIMEOUT), "--hidden", str(bait["hidden"]),
                        "--out", str(out), str(folder)],
                       cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    no_leak(bait, p.stdout, p.stderr, folder=out)
    assert SOLUTION_LINE not in b"".join(f.read_bytes() for f in (out / "reader-2").rglob("*") if f.is_file())

    rows = {r["name"]: r for r in csv.DictReader((out / "scores.csv").open())}
    rows.pop("(most points)")
    zipped = json.loads((out / "zipped" / "summary.json").read_text())
    assert zipped["refused"] == [] and zipped["score"] == zipped["max_score"] > 0, zipped
    for name, files in expected.items():
        intake = json.loads((out / name / "intake.json").read_text())
        check_intake(intake, files, name)
        assert intake["sandbox"].startswith("in a sandbox (bubblewrap")
        summary = json.loads((out / name / "summary.json").read_text())
        results = json.loads((out / name / "results-full.json").read_text())["tests"]
        assert idt_points(results) == 0, f"{name} earned points in the idt suite"
        assert summary["score"] < zipped["score"]
        assert rows[name]["refused"] or rows[name]["review"]
        assert f"KERNEL_LAYOUT_SEED={summary['layout_seed']}" in (out / name / "intake.txt").read_text()
    # The student sees why a file was refused, not the notes for review.
    gradescope = json.loads((out / "signer-1" / "results.json").read_text())["output"]
    assert "uses attest_tag (the kernel's result signing)" in gradescope
    assert "for review" not in gradescope
    assert "files refused: reader-1 (2), reader-2 (3), signer-1 (3), signer-2 (3)" in p.stdout
    # Every graded kernel had a layout of its own.
    seeds = [json.loads((out / n / "summary.json").read_text())["layout_seed"] for n in rows]
    assert len(set(seeds)) == len(seeds)


def fake_bwrap(tmp_path):
    """A PATH on which bubblewrap fails as it does where namespaces are closed."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\n"
                                "exit 1\n")
    (fake / "bwrap").chmod(0o755)
    return f"{fake}:{os.environ['PATH']}"


def test_without_bubblewrap_the_fallback_holds(tmp_path, bait):
    folder, out = tmp_path / "submissions", tmp_path / "grades"
    folder.mkdir()
    expected = make_hostile(folder, bait, ("reader-1", "reader-2"))
    p = subprocess.run(["make", "--no-print-directory", "grade-batch", f"SUBMISSIONS={folder}",
                        f"LAB={FIRST[:2]}", "JOBS=2", f"BOOT_TIMEOUT={BOOT_TIMEOUT}",
                        f"HIDDEN={bait['hidden']}", f"GRADING_DIR={out}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL,
                       env={**os.environ, "PATH": fake_bwrap(tmp_path)})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    no_leak(bait, p.stdout, p.stderr, folder=out)
    assert SOLUTION_LINE not in b"".join(f.read_bytes() for f in (out / "reader-2").rglob("*") if f.is_file())
    assert "compiled WITHOUT the sandbox (see each intake.txt): reader-1, reader-2" in p.stdout
    for name, files in expected.items():
        intake = json.loads((out / name / "intake.json").read_text())
        check_intake(intake, files, name)
        assert intake["sandbox"].startswith("WITHOUT a sandbox") and "new namespace" in intake["sandbox"]
        assert "WITHOUT a sandbox" in (out / name / "build.log").read_text()
        assert "compiled: WITHOUT a sandbox" in json.loads((out / name / "results.json").read_text())["output"]


def test_the_attacks_work_on_a_fixed_layout_without_the_checks(tmp_path, bait):
    """What the checks stop is real: built as a student's own `make grade` builds (no sandbox,
    no object check, the fixed layout), the forging idt.c of signer-1 and of fixed-1 earn
    every point of the idt suite, with results the harness takes for the runner's."""
    for name in ("signer-1", "fixed-1"):
        make_hostile(tmp_path, bait, (name,))
        out = build.kernel(f"hostile-{name}", 1, [tmp_path / name / "labs" / FIRST])
        results = grade(out, 1)["tests"]
        idt = [t for t in results if t["test"].startswith("idt.")]
        assert idt and all(t["status"] == "passed" and not t.get("forged") for t in idt), \
            [(t["test"], t["message"][:200]) for t in idt]


def test_make_grade_submission_and_the_autograder_hold_too(tmp_path, bait):
    # make grade-submission, the hidden tests given
    make_hostile(tmp_path, bait, ("reader-1",))
    out = tmp_path / "reader-1-graded"
    p = subprocess.run(["make", "--no-print-directory", "grade-submission", f"SUBMISSION={tmp_path / 'reader-1'}",
                        f"LAB={FIRST[:2]}", f"HIDDEN={bait['hidden']}", f"BOOT_TIMEOUT={BOOT_TIMEOUT}",
                        f"GRADING_DIR={out}"], cwd=ROOT, capture_output=True, text=True, timeout=900,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    no_leak(bait, p.stdout, p.stderr, folder=out)
    check_intake(json.loads((out / "intake.json").read_text()),
                 {"idt.c": ("refused", str(bait["outside"])), "boot.S": ("refused", str(bait["hidden_source"]))},
                 "grade-submission")

    # The autograder, as Gradescope runs it: the hidden tests at their place in its image.
    zip_path = tmp_path / "autograder.zip"
    p = subprocess.run(["make", "--no-print-directory", "autograder", f"LAB={FIRST[:2]}",
                        f"HIDDEN={bait['hidden']}", f"AUTOGRADER={zip_path}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    for name in ("reader-1",):  # (the one after the hidden tests, where the image keeps them)
        root = tmp_path / f"autograder-{name}"
        source = autograder.unpack(zip_path, root / "source")
        in_image = source / "hidden" / "ktests" / FIRST / "secret_ktest.c"
        assert bait["token"] in in_image.read_text()
        expected = make_hostile(root / "x", {**bait, "hidden_source": in_image}, (name,))[name]
        (root / "x" / name).rename(root / "submission")
        p = subprocess.run([str(source / "run_autograder")], cwd=root, capture_output=True, text=True,
                           env={**os.environ, "AUTOGRADER_ROOT": str(root)}, timeout=900)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        no_leak(bait, p.stdout, p.stderr, folder=root / "results")
        no_leak(bait, folder=root / "grading")
        data = json.loads((root / "results" / "results.json").read_text())
        assert sum(t["score"] for t in data["tests"] if ": idt." in t["name"]) == 0
        check_intake(json.loads((root / "grading" / "intake.json").read_text()), expected, f"autograder {name}")
        for path, (verdict, what) in expected.items():
            if verdict == "refused":
                assert f"labs/{FIRST}/{path}" in data["output"] and what in data["output"]


# --- the layout -----------------------------------------------------------------------------------

def test_each_seed_gives_a_layout_of_its_own(labs):
    """The same objects linked without a seed and with two: the fixed layout, then two of
    their own. (That everything passes on a random layout, test_checkpoints.py checks: it
    grades the last checkpoint on the solutions linked at a fresh one. Linking through make
    with KERNEL_LAYOUT_SEED, as the instructors' graders do, the grading tests of
    test_instructor.py and the backtrace test below go through.)"""
    require_solutions(*labs)
    layers = build.checkpoint_layers(labs, labs[-1])
    n = int(labs[-1][:2])
    own = build.kernel(f"check-{labs[-1]}-solutions", n, layers)  # as the project's tests build it
    fixed = symbols.symbol_table(str(own / "kernel.elf"))

    def layout(seed, base=own):
        out = build.variant(base, "layout", {}, layout_seed=seed)  # its objects, linked again
        return symbols.symbol_table(str(out / "kernel.elf"))

    linked = (own / "kernel.elf").stat().st_mtime_ns
    # (base named as a path relative to here: the link must still write the variant's files)
    assert layout(None, os.path.relpath(own)) == fixed, \
        "without a seed the layout must be the same every time"
    assert (own / "kernel.elf").stat().st_mtime_ns == linked, "linking a variant wrote over its base's kernel"
    first, second = secrets.randbits(62), secrets.randbits(62)
    a, b = layout(first), layout(second)
    lab_fn, runner, signer, test_fn = "idt_init", "ktest_main", "attest_tag", "ktest_fn_idt_loaded_with_256_gates"
    for seed, t in ((first, a), (second, b)):
        assert t[signer] != fixed[signer], f"seed {seed}: the signing function is where kernel.sym says"
        # Distances from what lab code can find (its own code, the runner, a test calling it)
        # to the signing function, and to the key, differ from those of one's own build.
        for anchor in (lab_fn, runner, test_fn):
            assert t[signer] - t[anchor] != fixed[signer] - fixed[anchor], (seed, anchor)
        assert t["key"] - t["boot_memmap"] != fixed["key"] - fixed["boot_memmap"], seed
        assert t["__image_phys_end"] < 64 << 20, seed  # inside the boot map and small machines
    assert a[signer] != b[signer]


def test_backtraces_are_symbolized_on_a_random_layout(labs):
    require_solutions(labs[0])
    seed = secrets.randbits(62)
    out = build.kernel("selftest-layout", 1, [SOLUTIONS / labs[0]], [ROOT / "grade/selftest/ktests"],
                       layout_seed=seed)
    table = symbols.symbol_table(str(out / "kernel.elf"))
    assert table["__layout_on"] == 1
    run = qemu.boot(out, "kernel-panic", append="scenario=kernel_panic", timeout=5)
    assert run.status == qemu.EXIT_PANIC
    msg = run.describe()
    assert "ktest_scenario_fn_kernel_panic (grade/selftest/ktests/selftest_ktest.c:" in msg, (seed, msg)
    assert "kernel_main (kernel/main.c:" in msg, (seed, msg)
