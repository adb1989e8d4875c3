"""tools/grade-batch: grade a folder of submissions, several at a time.

    tools/grade-batch [--jobs N] [--lab N] [--solutions 1,2] [--hidden DIR] [--out DIR] FOLDER

Every entry of FOLDER is one student's submission: a directory, a git bundle or a tarball,
named for the student (alice/, bob.bundle, carol.tar.gz). Each is graded as
tools/grade-submission grades one, in its own pristine copy and build directory, JOBS at a
time (default: the number of cores), each with one QEMU at a time: a submission that does
not build, hangs or triple-faults costs its own points and its own boot timeouts, nothing
else. A line is printed as each submission finishes, and every HEARTBEAT seconds while any
runs. OUT (default build/grading/<folder>/) receives:

    scores.csv     one row per student: status, score, points per lab and per test, flags
    summary.txt    the summary printed at the end
    <name>/        everything tools/grade-submission writes for that student
"""
import csv
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import course, grade_one, intake

HEARTBEAT = 15.0  # seconds between "still running" lines
FLAG_COLUMNS = ("tests_passed", "tests_total", "timeouts", "forged", "missing", "extra", "refused",
                "ignored", "review", "error", "seconds", "sandbox", "layout_seed", "submission")


def submissions_in(folder):
    """(name, path) of each submission in folder, sorted by name; names made unique."""
    found, seen = [], {}
    for p in sorted(Path(folder).iterdir()):
        if p.name.startswith("."):
            continue
        if not (p.is_dir() or p.name.endswith(intake.ARCHIVE_SUFFIXES + intake.BUNDLE_SUFFIXES)):
            continue
        name = intake.name_of(p)
        seen[name] = seen.get(name, 0) + 1
        found.append((name if seen[name] == 1 else f"{name}-{seen[name]}", p))
    return found


def grade_all(folder, out, jobs, log=print, **options):
    """Grade every submission in folder into out/<name>/; the summaries, by name."""
    subs = submissions_in(folder)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    running, done, lock = {}, {}, threading.Lock()
    stop = threading.Event()
    start = time.monotonic()

    def one(name, path):
        with lock:
            running[name] = time.monotonic()
        try:
            return grade_one.grade(path, out / name, jobs=1, **options)
        except Exception as e:  # noqa: BLE001 - one broken submission must not stop the batch
            return {"name": name, "submission": str(path), "status": "error", "error": str(e),
                    "score": 0, "max_score": 0, "labs": {}, "tests": {}, "seconds": 0,
                    **{k: [] for k in ("forged", "missing", "extra", "refused", "ignored", "review")},
                    "timeouts": 0, "tests_passed": 0, "tests_total": 0}
        finally:
            with lock:
                running.pop(name, None)

    def heartbeat():
        while not stop.wait(HEARTBEAT):
            with lock:
                now = time.monotonic()
                busy = ", ".join(f"{n} ({now - t:.0f} s)" for n, t in sorted(running.items()))
            if busy:
                log(f"    ... {len(done)}/{len(subs)} done after {now - start:.0f} s; running: {busy}")

    log(f"grading {len(subs)} submissions from {folder}, {jobs} at a time, into {out}/")
    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(one, name, path): name for name, path in subs}
            for f in as_completed(futures):
                name = futures[f]
                summary = f.result()
                summary["name"] = name
                done[name] = summary
                first, *rest = grade_one.describe(summary).splitlines()
                log(f"[{len(done)}/{len(subs)}] {first}")
                for line in rest:
                    log(line)
    finally:
        stop.set()
    return dict(sorted(done.items())), time.monotonic() - start


def write_csv(path, summaries):
    """One row per student, after a row of the most points each column can have."""
    labs = sorted({lab for s in summaries.values() for lab in s["labs"]})
    tests = sorted({t for s in summaries.values() for t in s["tests"]})
    most = {}
    for s in summaries.values():
        for lab, v in s["labs"].items():
            most[lab] = max(most.get(lab, 0), v["max_score"])
        most["max_score"] = max(most.get("max_score", 0), s["max_score"])
    test_max = _test_maxima(summaries)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "status", "score", "max_score", *labs, *tests, *FLAG_COLUMNS])
        w.writerow(["(most points)", "", most.get("max_score", 0), most.get("max_score", 0),
                    *[most.get(lab, 0) for lab in labs], *[test_max.get(t, "") for t in tests],
                    *[""] * len(FLAG_COLUMNS)])
        for s in summaries.values():
            flags = [s.get(k, "") for k in FLAG_COLUMNS]
            flags = ["; ".join(v) if isinstance(v, list) else v for v in flags]
            w.writerow([s["name"], s["status"], s["score"], s["max_score"],
                        *[s["labs"].get(lab, {}).get("score", 0) for lab in labs],
                        *[s["tests"].get(t, 0) for t in tests], *flags])


def _test_maxima(summaries):
    """Each test's points, from any student's full results."""
    maxima = {}
    for s in summaries.values():
        full = Path(s.get("results_dir", "")) / "results-full.json"
        if full.is_file():
            for t in json.loads(full.read_text())["tests"]:
                maxima[f"{t['lab']}/{t['test']}"] = t["max_points"]
    return maxima


def summary_text(summaries, seconds, jobs, out):
    rows = list(summaries.values())
    width = max([len(s["name"]) for s in rows] + [4])
    lines = [f"graded {len(rows)} submissions in {seconds:.1f} s ({jobs} at a time)", "",
             f"  {'name':<{width}}  {'score':>9}  status"]
    for s in rows:
        lines.append(f"  {s['name']:<{width}}  {str(s['score']) + '/' + str(s['max_score']):>9}  {s['status']}")
    scores = [s["score"] for s in rows]
    if scores:
        most = max(s["max_score"] for s in rows)
        lines += ["", f"mean {statistics.mean(scores):.1f}, median {statistics.median(scores):g}, "
                      f"lowest {min(scores)}, highest {max(scores)} (of {most})"]

    def names(pred, detail=None):
        return ", ".join(s["name"] + (f" ({detail(s)})" if detail else "") for s in rows if pred(s))

    for title, pred, detail in [
            ("did not build", lambda s: s["status"] == "build failed", None),
            ("could not be read", lambda s: s["status"] == "unreadable", lambda s: s["error"]),
            ("grader error", lambda s: s["status"] == "error", lambda s: s.get("error", "")),
            ("timed out", lambda s: s["timeouts"], lambda s: f"{s['timeouts']} tests"),
            ("forged output rejected", lambda s: s["forged"], lambda s: f"{len(s['forged'])} tests"),
            ("files refused", lambda s: s["refused"], lambda s: f"{len(s['refused'])}"),
            ("files missing", lambda s: s["missing"], lambda s: f"{len(s['missing'])}"),
            ("for review", lambda s: s["review"], lambda s: "; ".join(s["review"][:2])),
            ("compiled WITHOUT the sandbox (see each intake.txt)",
             lambda s: s.get("sandbox", "").startswith("WITHOUT"), None)]:
        found = names(pred, detail)
        if found:
            lines.append(f"{title}: {found}")
    lines += ["", f"scores: {out}/scores.csv", f"each student's results and logs: {out}/<name>/"]
    return "\n".join(lines)


def main(argv=None):
    ap = grade_one.arguments(__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    args = ap.parse_args(argv)
    if not args.folder.is_dir():
        print(f"grade-batch: {args.folder} is not a folder of submissions", file=sys.stderr)
        return 2
    if not submissions_in(args.folder):
        print(f"grade-batch: no submissions in {args.folder} (each is a directory, a git bundle "
              f"({', '.join(intake.BUNDLE_SUFFIXES)}) or an archive "
              f"({', '.join(intake.ARCHIVE_SUFFIXES)}))", file=sys.stderr)
        return 2
    labs = course.lab_dirs()
    try:
        if args.lab:
            course.resolve_lab(args.lab, labs)
        course.solution_labs(args.solutions, labs)
    except ValueError as e:
        print(f"grade-batch: {e}", file=sys.stderr)
        return 2
    out = (args.out or course.ROOT / "build" / "grading" / args.folder.resolve().name).resolve()

    def log(line):
        print(line, flush=True)

    summaries, seconds = grade_all(args.folder, out, args.jobs, log, lab=args.lab,
                                   solutions=args.solutions, hidden=args.hidden,
                                   hidden_visibility=args.hidden_visibility,
                                   boot_timeout=args.boot_timeout, keep=args.keep)
    for s in summaries.values():
        s["results_dir"] = str(out / s["name"])
    write_csv(out / "scores.csv", summaries)
    text = summary_text(summaries, seconds, args.jobs, out)
    (out / "summary.txt").write_text(text + "\n")
    print()
    print(text)
    return 0 if all(s["status"] != "error" for s in summaries.values()) else 1
