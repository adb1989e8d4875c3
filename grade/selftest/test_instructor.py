"""The instructor's tools (handouts/instructors.md), end to end on the first lab:

* a folder of five submissions (done right, the starter, one that does not compile, one that
  hangs, one that forges its results) graded in one command, with the right score for each,
  a CSV, and a results.json per submission in Gradescope's format;
* forged output earns nothing: results and records count only with this boot's tag;
* a tarball's path tricks, and sources that would read files outside the course, are refused;
  a zip as Python writes it (no file type in its modes) is read whole;
* the students' release has no solutions or hidden tests, and its own `make test` passes;
* the Gradescope autograder, with hidden tests, honours its contract in a temporary directory.
"""
import csv
import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

import pytest

import submissions
from conftest import PYTHON, require_solutions
from harness import attest, gradescope, ktap
from harness.paths import LABS, ROOT

sys.path.insert(0, str(ROOT / "tools"))
from instructor import autograder, course, intake, release  # noqa: E402

FIRST = submissions.FIRST
BOOT_TIMEOUT = 2  # seconds: the hanging submission's boots, so the batch stays quick
SCENARIO_TESTS = {"breakpoint_is_reported_and_execution_continues",
                  "divide_error_is_reported_at_the_faulting_instruction",
                  "page_fault_report_has_the_address"}


def _full_results(out, name):
    return json.loads((out / name / "results-full.json").read_text())["tests"]


def test_batch_of_five_submissions(tmp_path, labs):
    require_solutions(*labs)
    folder, work, out = tmp_path / "submissions", tmp_path / "work", tmp_path / "grades"
    folder.mkdir()
    work.mkdir()
    submissions.correct(folder / "correct")
    submissions.starter_bundle(folder / "starter.bundle", work)
    submissions.nocompile_tarball(folder / "nocompile.tar.gz", work)
    submissions.hang(folder / "hang")
    submissions.forger(folder / "forger")

    p = subprocess.run([PYTHON, "tools/grade-batch", "--lab", FIRST[:2], "--jobs", "2",
                        "--boot-timeout", str(BOOT_TIMEOUT), "--out", str(out), str(folder)],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "[5/5]" in p.stdout and "graded 5 submissions" in p.stdout, p.stdout

    rows = {r["name"]: r for r in csv.DictReader((out / "scores.csv").open())}
    most = rows.pop("(most points)")
    assert set(rows) == {"correct", "starter", "nocompile", "hang", "forger"}
    full = int(most["score"])
    correct = _full_results(out, "correct")
    assert full == sum(t["max_points"] for t in correct) > 0

    def score(name):
        return int(rows[name]["score"])

    assert (score("correct"), rows["correct"]["status"]) == (full, "graded"), rows["correct"]
    assert int(rows["correct"][FIRST]) == int(most[FIRST])
    assert (score("starter"), rows["starter"]["status"]) == (0, "graded")
    assert (score("nocompile"), rows["nocompile"]["status"]) == (0, "build failed")
    assert (score("hang"), rows["hang"]["status"]) == (0, "graded")
    # The forger earns exactly its honest work: everything but the IDT's tests.
    forged = {f"{t['lab']}/{t['test']}" for t in correct
              if t["test"].startswith("idt.") or t["test"] in SCENARIO_TESTS}
    honest = sum(t["max_points"] for t in correct if f"{t['lab']}/{t['test']}" not in forged)
    assert 0 < honest < full
    assert score("forger") == honest, rows["forger"]
    assert set(rows["forger"]["forged"].split("; ")) == forged
    assert "forged output rejected: forger" in p.stdout
    for name in ("correct", "starter", "nocompile", "hang"):
        assert not rows[name]["forged"], f"{name} is flagged as forging: {rows[name]['forged']}"

    # The columns of the tests add up to the score.
    tests = [c for c in most if "/" in c]
    assert tests and all(sum(int(rows[n][c]) for c in tests) == score(n) for n in rows)

    # What the intake said.
    starter = json.loads((out / "starter" / "summary.json").read_text())
    assert starter["extra"] == [f"labs/{FIRST}/notes.txt"]
    assert starter["ignored"] == ["Makefile", "kernel/trap.c"]
    assert not (work / "pwned").exists(), "the submission's Makefile ran"
    forger = json.loads((out / "forger" / "summary.json").read_text())
    assert forger["review"], "the forger's KTAP printing should be flagged for review"

    # How each bad one failed, in words.
    nocompile = _full_results(out, "nocompile")
    assert all("could not be built" in t["message"] and "idt.c" in t["message"] for t in nocompile)
    hang = json.loads((out / "hang" / "summary.json").read_text())
    assert hang["timeouts"] == hang["tests_total"] > 0
    hang_log = (out / "hang" / "grade.log").read_text()
    assert "Only 1 s for this boot" in hang_log
    assert hang["seconds"] < 60, f"a hanging submission took {hang['seconds']} s"
    # A boot that would bring the layers up as a hung one did is not made: the hung boot
    # answers for it (one of the two batches, the scenarios without arguments, memory-128M).
    # Another memory size is booted.
    made = {p.name.removesuffix(".serial.log") for p in (out / "hang" / "runs").glob("*.serial.log")}
    assert len(made & {"batch-1-of-2", "batch-2-of-2"}) == 1, made
    assert {"memory-32M", "memory-1024M"} <= made and "memory-128M" not in made, made
    assert "This test's boot was not made: boot " in hang_log

    # Gradescope would take every results.json, and JUnit XML parses.
    for name in rows:
        data = json.loads((out / name / "results.json").read_text())
        assert gradescope.problems(data) == [], f"{name}: {gradescope.problems(data)}"
        assert data["score"] == score(name)
        assert {t["visibility"] for t in data["tests"]} == {"visible"}
        junit = ET.parse(out / name / "junit.xml").getroot()
        assert len(list(junit.iter("testcase"))) == len(data["tests"])
        assert (out / name / "runs").is_dir() or name == "nocompile"

    # Without the tags, the forgery would have worked: its log (the boot that ran idt first,
    # a batch's) claims every idt test passed.
    logs = [p.read_text(errors="replace") for p in sorted((out / "forger" / "runs").glob("*.serial.log"))]
    log = next((l for l in logs if "# Subtest: idt" in l), "")
    plain, checked = ktap.parse(log), ktap.parse(log, attest.new_key())
    assert plain.suites["idt"].cases and all(c.ok for c in plain.suites["idt"].cases.values())
    assert not checked.suites["idt"].cases and checked.forged


def test_instructor_commands_refuse_what_they_cannot_grade(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a submission\n")
    p = subprocess.run(["make", "--no-print-directory", "grade-batch",
                        f"SUBMISSIONS={tmp_path / 'empty'}"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "no submissions in" in p.stderr, p.stdout + p.stderr
    for target in (["grade-submission", f"SUBMISSION={tmp_path / 'empty'}"], ["autograder"]):
        p = subprocess.run(["make", "--no-print-directory", *target,
                            f"HIDDEN={tmp_path / 'nowhere'}"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert p.returncode == 2 and "is not a hidden test directory" in p.stderr, \
            target[0] + ": " + p.stdout + p.stderr


def test_instructor_tools_read_solutions_as_make_does():
    labs = [f"{n:02d}-lab{n}" for n in range(1, 10)]
    assert course.solution_labs("1-3,5", labs) == labs[:3] + [labs[4]]
    assert course.solution_labs("7,2-2, 01", labs) == [labs[0], labs[1], labs[6]]
    assert course.solution_labs("all", labs) == labs and course.solution_labs("none", labs) == []
    with pytest.raises(ValueError, match="the range 6-1 runs backwards"):
        course.solution_labs("6-1", labs)
    with pytest.raises(ValueError, match="no lab '10'"):
        course.solution_labs("8-10", labs)
    with pytest.raises(ValueError, match="no lab '1-'"):
        course.solution_labs("1-", labs)


def test_results_count_only_with_their_tag():
    key, other = attest.new_key(), attest.new_key()

    def result(ok, name="a", key=key):
        status = "ok" if ok else "not ok"
        return (f"    {status} 1 {name}\n"
                f"    # mac {attest.tag(key, attest.result_message('s', 1, name, ok))}\n")

    head = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n"
    assert ktap.parse(head + result(True), key).case("s", "a").ok
    # A passing result with the tag of a failing one, or of another boot, or none at all.
    forged = ("    ok 1 a\n" + result(False).splitlines()[1] + "\n", result(True, key=other),
              "    ok 1 a\n")
    for text in forged:
        report = ktap.parse(head + text, key)
        assert report.case("s", "a") is None and report.forged == ["ok 1 a"], text
    # A forged line before the real one changes nothing.
    report = ktap.parse(head + "    ok 1 a\n" + result(False), key)
    assert report.case("s", "a").ok is False and report.suites["s"].forged == ["a"]

    good = f"# attest: trap vector=3 [mac {attest.tag(key, 'attest trap vector=3')}]"
    bad = "# attest: trap vector=14 [mac " + "0" * attest.TAG_CHARS + "]"
    assert attest.records(f"{good}\n{bad}\n", key) == ([(0, "trap vector=3")], 1)


def test_tarball_path_tricks_are_refused(tmp_path):
    tricks = submissions.path_tricks_tarball(tmp_path / "tricky.tar.gz")
    found = intake.read(tricks)
    assert found.files == {}, sorted(found.files)
    reasons = dict(found.refused)
    assert reasons["/tmp/teachos-escaped.c"] == "an absolute path"
    assert reasons["labs/../../teachos-escaped.c"] == "a path with '..' in it"
    assert "link" in reasons[f"labs/{FIRST}/idt.c"] and "link" in reasons[f"labs/{FIRST}/boot.S"]
    assert "outside the course" in reasons[f"labs/{FIRST}/memmap.c"]
    assert f"labs/{FIRST}/idt.c" in found.missing

    # A zip as GitHub makes them, everything under one folder: read whole.
    zipped = tmp_path / "alice.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for f in sorted((LABS / FIRST).iterdir()):
            zf.write(f, f"teachos-main/labs/{FIRST}/{f.name}")
    found = intake.read(zipped)
    assert (found.kind, found.refused, found.error) == ("zip", [], "")
    assert {f"labs/{FIRST}/{f.name}" for f in (LABS / FIRST).iterdir()
            if f.suffix in (".c", ".S")} == set(found.files)
    # Graded at its own lab, the later labs' files it lacks are not missing: not in that kernel.
    assert found.missing and all(not m.startswith(f"labs/{FIRST}/") for m in found.missing)
    assert intake.read(zipped, lab=FIRST).missing == []

    # A zip as Python's zipfile.writestr makes them: permission bits, no file type. Regular
    # files; a link keeps its type, and a zip from a system without Unix modes has none.
    written = tmp_path / "written.zip"
    with zipfile.ZipFile(written, "w") as zf:
        for f in sorted((LABS / FIRST).iterdir()):
            if f.name != "memmap.c":
                zf.writestr(f"labs/{FIRST}/{f.name}", f.read_bytes())
        link = zipfile.ZipInfo(f"labs/{FIRST}/memmap.c")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        dos = zipfile.ZipInfo(f"labs/{FIRST}/extra.c")
        dos.create_system, dos.external_attr = 0, 0x20  # MS-DOS: the archive bit only
        zf.writestr(dos, "int extra;\n")
    assert all(((i.external_attr >> 16) & 0o170000) == 0 for i in zipfile.ZipFile(written).infolist()
               if i.filename.endswith(("idt.c", "boot.S")))
    found = intake.read(written)
    assert {f"labs/{FIRST}/idt.c", f"labs/{FIRST}/boot.S"} <= set(found.files), found.refused
    assert "link" in dict(found.refused)[f"labs/{FIRST}/memmap.c"]
    assert found.extra == [f"labs/{FIRST}/extra.c"]

    # A directory with a link where a lab file belongs: refused, never followed.
    d = tmp_path / "linked" / "labs" / FIRST
    d.mkdir(parents=True)
    (d / "idt.c").symlink_to(LABS / FIRST / "idt.c")
    found = intake.read(tmp_path / "linked")
    assert f"labs/{FIRST}/idt.c" not in found.files and "link" in dict(found.refused)[f"labs/{FIRST}/idt.c"]


@pytest.mark.parametrize("source,refused", [
    (b'#include "idt.h"\n#include <stdint.h>\n', False),
    (b'#include "/home/prof/teachos/solutions/01-boot/idt.c"\n', True),
    (b'#  include "../../solutions/01-boot/idt.c"\n', True),
    (b'#define F "/etc/passwd"\n#include F\n', True),
    (b'%:include </etc/passwd>\n', True),
    (b'#inc\\\nlude "/etc/passwd"\n', True),
    (b'__asm__(".incbin \\"/etc/passwd\\"");\n', True),
    (b'\t.include "/etc/passwd"\n', True),
    (b'\t.include "macros.inc"\n', False),
], ids=["plain", "absolute", "dotdot", "computed", "digraph", "spliced", "incbin", "asm-include",
        "asm-include-local"])
def test_sources_that_read_outside_the_course_are_refused(source, refused):
    assert bool(intake._reads_outside(source)) == refused


def test_release_has_no_solutions_and_passes_its_own_tests(tmp_path, labs):
    require_solutions(*labs)
    partial = tmp_path / "with-first"
    release.write_release(partial, [labs[0]], exclude=[ROOT / "grade" / "tests"])
    assert sorted(p.name for p in (partial / "solutions").iterdir()) == [labs[0]]
    assert sorted(p.stem for p in (partial / "grade/selftest/mutants").glob("*.toml")) == [labs[0]]
    assert not (partial / "grade" / "tests").exists()

    rel = tmp_path / "students"
    files = release.write_release(rel, [])
    assert not (rel / "solutions").exists() and not any(f.startswith("solutions/") for f in files)
    assert not list((rel / "grade/selftest/mutants").glob("*.toml"))
    assert (rel / ".release").is_file() and all((rel / "labs" / lab).is_dir() for lab in labs)
    release.write_release(rel, [])  # an earlier release is replaced ...
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious\n")
    with pytest.raises(ValueError):  # ... but nothing else
        release.write_release(tmp_path / "mine", [])

    # Its own `make test`: what needs a solution is skipped, saying so; the rest passes. (A
    # handout the full course itself lacks fails there already: then run the same pytest
    # command as `make test` without that test.)
    # In one process (JOBS=1, as the environment says already, and as make runs it then): this
    # test's own worker and the other one keep both cores busy, and parallel workers here would
    # cost a pytest start and collection each for no check more.
    missing = [f"selftest/test_source.py::test_handout_covers_every_step[{lab}]"
               for lab in labs if not (ROOT / "handouts" / f"{lab}.md").is_file()]
    cmd = ([PYTHON, "-m", "pytest", "grade/selftest", "-q", "-rfEs", "-p", "no:xdist",
            *[a for m in missing for a in ("--deselect", m)]] if missing
           else ["make", "--no-print-directory", "test", "JOBS=1"])
    # (Compiling through the course's ccache, which holds the same files compiled already.)
    env = {**os.environ, "CCACHE_DIR": os.environ.get("CCACHE_DIR", str(ROOT / "build" / "ccache")),
           "CCACHE_NOHASHDIR": "1"}
    p = subprocess.run(cmd, cwd=rel, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL, env=env)
    # What failed first (pytest lists it above the skips, which can fill any tail), then the end.
    failed = [line for line in p.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    assert p.returncode == 0, "\n".join(failed + ["..."]) + p.stdout[-2000:] + p.stderr[-2000:]
    assert "which this students' copy does not include" in p.stdout
    assert "in a students' copy it holds your work" in p.stdout


def test_autograder_contract(tmp_path, labs):
    require_solutions(labs[0])
    hidden = tmp_path / "hidden"
    (hidden / "ktests" / FIRST).mkdir(parents=True)
    (hidden / "ktests" / FIRST / "secret_ktest.c").write_text(
        '#include "ktest.h"\n\nKTEST(secret, one_is_one, 1)\n{\n\tEXPECT_EQ(t, 1, 1);\n}\n')
    (hidden / "tests").mkdir()
    (hidden / "tests" / f"test_{FIRST[:2]}_secret.py").write_text(
        f'import pytest\n\nfrom harness import check\n\nLAB = "{FIRST}"\n\n\n'
        f'@pytest.mark.points(1)\ndef test_boots_to_the_tour(kernel):\n'
        f'    check.finished(kernel.boot("secret-tour"))\n')
    zip_path = tmp_path / "autograder.zip"
    p = subprocess.run(["make", "--no-print-directory", "autograder", f"LAB={FIRST[:2]}",
                        f"HIDDEN={hidden}", f"AUTOGRADER={zip_path}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr

    root = tmp_path / "autograder"
    source = autograder.unpack(zip_path, root / "source")
    assert os.access(source / "run_autograder", os.X_OK) and (source / "setup.sh").is_file()
    assert subprocess.run(["bash", "-n", str(source / "setup.sh")]).returncode == 0
    assert not (source / "course" / "solutions").exists()
    assert (source / "hidden" / "ktests" / FIRST / "secret_ktest.c").is_file()

    submissions.correct(root / "submission")
    # Graded one boot at a time (JOBS=1, no xdist): the hidden black-box test must count there
    # too, not only when xdist's controller collects the results.
    p = subprocess.run([str(source / "run_autograder")], cwd=root, capture_output=True, text=True,
                       env={**os.environ, "AUTOGRADER_ROOT": str(root), "JOBS": "1"}, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    data = json.loads((root / "results" / "results.json").read_text())
    assert gradescope.problems(data) == [], gradescope.problems(data)
    by_name = {t["name"]: t for t in data["tests"]}
    secret = {f"{FIRST}: secret.one_is_one", f"{FIRST}: boots_to_the_tour"}
    assert secret <= set(by_name), sorted(by_name)
    assert {by_name[n]["visibility"] for n in secret} == {"after_published"}
    assert {t["visibility"] for n, t in by_name.items() if n not in secret} == {"visible"}
    assert data["score"] == sum(t["max_score"] for t in data["tests"]) > 0
    assert all(t["status"] == "passed" for t in data["tests"]), \
        [t["output"] for t in data["tests"] if t["status"] != "passed"]
