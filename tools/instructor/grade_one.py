"""tools/grade-submission: grade one submission from outside.

    tools/grade-submission [--lab N] [--solutions 1,2] [--hidden DIR] [--out DIR] SUBMISSION

SUBMISSION is a directory, a git bundle or a tarball (see intake.py). Its lab files, and
nothing else of it, go into a pristine copy of this repository made in a temporary
directory; that copy's own Makefile builds the kernel (`make kernel`) and grades it (`make
grade-nobuild`), so the submission's Makefile, scripts and tests are never run, nor even
copied. A kernel that does not build is graded too: every test fails, quoting the compiler.

The build compiles the lab files in a sandbox (sandbox.py, through the compiler wrapper
tools/instructor/cc) and links the kernel at a layout of its own (a fresh KERNEL_LAYOUT_SEED,
kernel/kernel.ld). Then what each lab file's object uses is checked (objects.py). A lab file
that tried to read a file outside the course, or that uses what no lab may, is refused like
any other (intake.py): the kernel is built again with its lab's starter in its place.

OUT (default build/grading/<name>/) receives:

    summary.json       status, score, points per lab, what the intake found, flags
    results.json       Gradescope's results.json
    results-full.json  the grader's own results (every test, message, hidden and forged flags)
    junit.xml          JUnit XML
    intake.txt         which files were taken, missing, extra, refused, ignored, for review
    intake.json        the same, for programs
    build.log          `make kernel` in the pristine copy
    grade.log          the grading run: the points table and what failed, as `make grade` shows
    runs/              the console log of every boot
"""
import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import course, intake as intake_mod, objects, sandbox

BUILD_TIMEOUT = 600   # seconds for `make kernel`
GRADE_TIMEOUT = 3600  # seconds for the whole grading run (each boot has its own timeout)
OUTPUTS = ("summary.json", "results.json", "results-full.json", "junit.xml", "intake.txt",
           "intake.json", "build.log", "grade.log", "runs")
_NOISE = re.compile(r"^\s*(CC|LD|HOSTCC)\s|^checkpoint ")  # progress lines of the build


def grade(submission, out, lab=None, solutions="", hidden=None, hidden_visibility="after_published",
          jobs=1, boot_timeout=None, keep=False, course_root=course.ROOT, layout_seed=None):
    """Grade one submission into the directory out; returns the summary (also out/summary.json).
    layout_seed: the graded kernel's KERNEL_LAYOUT_SEED (default: a fresh one). Raises
    ValueError for a bad lab or solutions list (an instructor's mistake)."""
    start = time.monotonic()
    labs = course.lab_dirs(course_root)
    lab_dir = course.resolve_lab(lab, labs) if lab else labs[-1]
    sol = course.solution_labs(solutions, labs)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in OUTPUTS:  # from an earlier grading of the same name
        if (out / old).is_dir():
            shutil.rmtree(out / old)
        else:
            (out / old).unlink(missing_ok=True)

    found = intake_mod.read(submission, course_root, lab_dir)
    cc = os.environ.get("CC") or "gcc"
    boxed, how = sandbox.probe(cc)
    found.sandbox = (f"in a sandbox ({how}): each lab file saw only the course's include "
                     "directories and its own folder" if boxed else
                     f"WITHOUT a sandbox ({how}): the fallback checks of "
                     "tools/instructor/sandbox.py applied instead")
    found.layout_seed = secrets.randbits(62) if layout_seed is None else layout_seed

    work = Path(tempfile.mkdtemp(prefix="teachos-grade-"))
    status = "graded"
    try:
        copy = course.make_pristine(work / "course", sol, course_root)
        for rel, data in found.files.items():
            (copy / rel).write_bytes(data)
        make_vars = [f"LAB={lab_dir}", f"CC={copy / 'tools' / 'instructor' / 'cc'}"] \
            + ([f"SOLUTIONS={','.join(s[:2] for s in sol)}"] if sol else [])
        if hidden:
            make_vars += [f"HIDDEN={Path(hidden).resolve()}", f"HIDDEN_VISIBILITY={hidden_visibility}"]
        cache = os.environ.get("CCACHE_DIR") or Path(course_root) / "build" / "ccache"
        env = {**os.environ, **sandbox.environment(copy, boxed, work / "sandbox-notes",
                                                    work / "sandbox", cc, cache)}

        build_log = out / "build.log"
        if found.error:
            status = "unreadable"
            build_log.write_text(f"the submission could not be read: {found.error}\n")
            errors = build_log
        else:
            ok, text = _build(copy, make_vars + [f"KERNEL_LAYOUT_SEED={found.layout_seed}"], env,
                              found, course_root)
            build_log.write_text(f"lab files compiled {found.sandbox}\n"
                                 f"kernel layout: KERNEL_LAYOUT_SEED={found.layout_seed}\n" + text)
            errors = None
            if not ok:
                status = "build failed"
                errors = work / "build-errors.log"
                errors.write_text("\n".join(l for l in text.splitlines() if not _NOISE.match(l)) + "\n")

        grade_vars = make_vars + [f"RESULTS={out / 'results-full.json'}",
                                  f"GRADESCOPE={out / 'results.json'}", f"JUNIT={out / 'junit.xml'}",
                                  f"JOBS={jobs}"]
        if boot_timeout:
            grade_vars.append(f"BOOT_TIMEOUT={boot_timeout}")
        if errors:
            grade_vars.append(f"BUILD_LOG={errors}")
        _, text = _run(["make", "-C", str(copy), "--no-print-directory", "grade-nobuild", *grade_vars],
                       GRADE_TIMEOUT, "grading", env)
        text = "\n".join(l for l in text.splitlines() if not l.startswith("make[")) + "\n"
        (out / "grade.log").write_text(_local_paths(text))
        _keep_console_logs(copy / "build", out / "runs")
        for f in ("results.json", "results-full.json"):
            if (out / f).is_file():
                (out / f).write_text(_local_paths((out / f).read_text()))
        if not (out / "results-full.json").is_file():
            status = "error"
    finally:
        if keep:
            print(f"kept the pristine copy and its build: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    (out / "intake.txt").write_text(found.report() + "\n")
    (out / "intake.json").write_text(json.dumps(found.as_dict(), indent=2) + "\n")
    summary = _summary(found, status, out, lab_dir, time.monotonic() - start)
    _add_intake_to_gradescope(out / "results.json", found, summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _build(copy, make_vars, env, found, course_root):
    """`make kernel` in the copy, then the checks of what the lab files' compilation read
    (the sandbox's notes) and of what their objects use (objects.py). A lab file either
    check refuses is replaced by its starter and the kernel built again. (succeeded, log)"""
    notes = Path(env["TEACHOS_SANDBOX_NOTES"])
    log = ""
    for _ in range(len(course.lab_files(course_root)) + 1):
        notes.unlink(missing_ok=True)
        # -k: every lab file is compiled, and checked, even when one of them fails.
        ok, text = _run(["make", "-k", "-C", str(copy), "--no-print-directory", "kernel", *make_vars],
                        BUILD_TIMEOUT, "the build", env)
        log += text
        refused = {}  # source -> [why]
        for source, path in _sandbox_notes(notes):
            if source in found.files and _outside(copy, source, path):
                refused.setdefault(source, []).append(
                    f"compiling it reads {path}, a file outside the course: a lab file may read "
                    "only the course's include directories and its own folder")
        build_dirs = [d for d in (copy / "build").iterdir() if (d / "obj").is_dir()]
        for build_dir in build_dirs:
            for f in objects.check(build_dir, copy, sources=list(found.files)):
                if f.refuse:
                    refused.setdefault(f.source, []).append(f.why)
                elif (f.source, None, f.why) not in found.review:
                    found.review.append((f.source, None, f.why))
        if not refused:
            return ok, log
        for source, whys in sorted(refused.items()):
            why = "; ".join(dict.fromkeys(whys))
            found.refuse(source, why)
            # A fresh file (copyfile: a new time stamp, so make compiles it), and no object
            # of the refused one left behind in any case.
            shutil.copyfile(Path(course_root) / source, copy / source)
            for build_dir in build_dirs:
                obj = objects.lab_objects(build_dir, copy).get(source)
                if obj:
                    obj.unlink(missing_ok=True)
            log += f"\nrefused {source}: {why}\nbuilding again with its starter in its place\n\n"
    return False, log + "\nthe build went on refusing lab files: stopped\n"


def _sandbox_notes(path):
    """(source, path) of each file a lab file's compilation could not read."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [tuple(l.split("\t", 1)) for l in lines if "\t" in l]


def _outside(copy, source, path):
    """Whether a file the compiler could not read lies outside the course: an absolute path,
    a path through '..', or one that exists in the copy but was not shown to the compiler (a
    merely missing header is an ordinary error)."""
    p = Path(path)
    if p.is_absolute() or ".." in p.parts:
        return True
    return (copy / p).exists() or (copy / Path(source).parent / p).exists()


def _run(cmd, timeout, what, env=None):
    """Run cmd (never the submission's: the pristine copy's make); (succeeded, output)."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout,
                           start_new_session=True, env=env)
        return p.returncode == 0, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return False, out + f"\n{what} took longer than {timeout} s and was stopped\n"


def _local_paths(text):
    """Log paths of the pristine copy (deleted) as paths in the results folder (runs/)."""
    return re.sub(r"\bbuild/[\w.+-]+/runs\b", "runs", text)


def _keep_console_logs(build, runs):
    for d in sorted(build.glob("*/runs")):
        for f in d.iterdir():
            if f.name.endswith((".serial.log", ".cmd")):
                runs.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, runs / f.name)


def _summary(found, status, out, lab, seconds):
    tests = []
    if (out / "results-full.json").is_file():
        tests = json.loads((out / "results-full.json").read_text())["tests"]
    labs = {}
    for t in tests:
        got, most = labs.get(t["lab"], (0, 0))
        labs[t["lab"]] = (got + t["points"], most + t["max_points"])
    return {
        "name": intake_mod.name_of(found.source), "submission": found.source, "status": status,
        "checkpoint": lab, "score": sum(t["points"] for t in tests),
        "max_score": sum(t["max_points"] for t in tests),
        "labs": {k: {"score": v[0], "max_score": v[1]} for k, v in sorted(labs.items())},
        "tests": {f"{t['lab']}/{t['test']}": t["points"] for t in tests},
        "tests_passed": sum(t["status"] == "passed" for t in tests), "tests_total": len(tests),
        "timeouts": sum("timed out after" in t["message"] for t in tests),
        "forged": sorted(f"{t['lab']}/{t['test']}" for t in tests if t.get("forged")),
        "missing": found.missing, "extra": found.extra, "ignored": found.ignored,
        "refused": [f"{p}: {why}" for p, why in found.refused],
        "review": [f"{intake_mod.where(p, n)}: {why}" for p, n, why in found.review],
        "error": found.error, "seconds": round(seconds, 1),
        "sandbox": found.sandbox, "layout_seed": found.layout_seed,
    }


def _add_intake_to_gradescope(path, found, summary):
    """Put what the intake found, and the status, at the top of the student's output."""
    if not path.is_file():
        return
    data = json.loads(path.read_text())
    notes = []
    if summary["status"] != "graded":
        notes.append(f"status: {summary['status']}")
    notes.append(found.report(for_student=True))
    data["output"] = "\n".join(notes) + "\n\n" + data.get("output", "")
    path.write_text(json.dumps(data, indent=2) + "\n")


def describe(summary):
    """One line about a graded submission, and a few more about what to look at."""
    labs = ", ".join(f"{k} {v['score']}/{v['max_score']}" for k, v in summary["labs"].items())
    line = (f"{summary['name']}: {summary['score']}/{summary['max_score']} points"
            + (f" ({labs})" if labs else "") + f", {summary['status']}, {summary['seconds']:g} s")
    notes = []
    if summary.get("sandbox", "").startswith("WITHOUT"):
        notes.append(f"compiled {summary['sandbox']}")
    if summary["error"]:
        notes.append(f"unreadable: {summary['error']}")
    if summary["timeouts"]:
        notes.append(f"{summary['timeouts']} tests timed out")
    if summary["forged"]:
        notes.append(f"{len(summary['forged'])} tests with forged output (no points for it)")
    for key in ("missing", "extra", "refused", "ignored", "review"):
        if summary[key]:
            notes.append(f"{key}: " + "; ".join(summary[key][:4]) + (" ..." if len(summary[key]) > 4 else ""))
    return "\n".join([line] + ["    " + n for n in notes])


def write_gradescope_fallback(path, message):
    """A results.json Gradescope accepts when grading itself failed: no points, and why."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"score": 0.0, "output": message, "tests": [],
                                      "stdout_visibility": "hidden"}, indent=2) + "\n")


def positive_int(spec):
    """argparse type: a whole number from 1."""
    if not spec.isdigit() or int(spec) < 1:
        raise argparse.ArgumentTypeError(f"{spec}: a whole number from 1")
    return int(spec)


def default_jobs():
    """JOBS from the environment, as make reads it there, or else the number of cores."""
    spec = os.environ.get("JOBS", "")
    return int(spec) if spec.isdigit() and int(spec) >= 1 else os.cpu_count() or 1


def arguments(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--lab", help="the checkpoint to grade, as make's LAB= (default: the last)")
    ap.add_argument("--solutions", default="", help="labs taken from solutions/, as make's SOLUTIONS=")
    ap.add_argument("--hidden", type=course.hidden_dir, help="the instructor's hidden test directory")
    ap.add_argument("--hidden-visibility", default="after_published",
                    choices=course.VISIBILITIES)
    ap.add_argument("--boot-timeout", type=float, help="seconds per QEMU boot (default 10)")
    ap.add_argument("--out", type=Path, help="where the results go")
    ap.add_argument("--jobs", type=positive_int, default=default_jobs(),
                    help="parallel boots (default: JOBS from the environment, or the number of cores)")
    ap.add_argument("--keep", action="store_true", help="keep the pristine copy (to debug)")
    return ap


def main(argv=None):
    ap = arguments(__doc__.splitlines()[0])
    ap.add_argument("--gradescope", type=Path, help="also copy results.json here")
    ap.add_argument("--layout-seed", type=int, help="the graded kernel's KERNEL_LAYOUT_SEED, to "
                    "grade again exactly as before (default: a fresh one; intake.txt names it)")
    ap.add_argument("submission", type=Path)
    args = ap.parse_args(argv)
    if not args.submission.exists():
        if args.gradescope:
            write_gradescope_fallback(args.gradescope, f"no submission at {args.submission}")
        print(f"grade-submission: no submission at {args.submission}", file=sys.stderr)
        return 2
    out = args.out or course.ROOT / "build" / "grading" / intake_mod.name_of(args.submission)
    try:
        summary = grade(args.submission, out, args.lab, args.solutions, args.hidden,
                        args.hidden_visibility, args.jobs, args.boot_timeout, args.keep,
                        layout_seed=args.layout_seed)
    except Exception as e:  # noqa: BLE001 - the autograder must still write a result
        if args.gradescope:
            write_gradescope_fallback(args.gradescope, f"the grader failed: {e}")
        print(f"grade-submission: {e}", file=sys.stderr)
        return 2
    grade_log = Path(out) / "grade.log"
    if grade_log.is_file():
        print(grade_log.read_text().rstrip())
    print()
    print(describe(summary))
    print(f"    results in {out}/ (summary.json, results.json for Gradescope, junit.xml, logs)")
    if args.gradescope:
        if (Path(out) / "results.json").is_file():
            args.gradescope.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(out) / "results.json", args.gradescope)
        else:
            write_gradescope_fallback(args.gradescope, "the grader produced no results:\n"
                                      + (grade_log.read_text()[-4000:] if grade_log.is_file() else ""))
    return 0 if summary["status"] != "error" else 1
