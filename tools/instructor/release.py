"""tools/release: the students' copy of the course.

    tools/release [--out DIR] [--solutions 1,2] [--exclude PATH ...] [--git]

Writes to DIR (default release/) every file of this repository (what git tracks) except:

    solutions/NN-name/                 but those of the labs given with --solutions
    grade/selftest/mutants/NN-name.toml   (they quote the solutions) likewise
    handouts/variants/NN-name.toml        (the same: the handouts' planted mistakes)
    anything under an --exclude path   (`make release HIDDEN=dir` excludes the hidden tests,
                                       should they live inside the repository)

and a file .release that says what it holds; the selftests read it to skip, with the reason,
what needs a solution the copy lacks (and to accept no skip at all in a full copy), and to run
the host tests of the labs on the student's own labs/ once a lab no longer matches its
starter as released. With
--git, DIR becomes a fresh repository with one commit (no history, so no solution in it).
DIR is replaced if it is an earlier release; any other existing DIR is refused.
"""
import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from . import course

MARKER = ".release"


def release_files(root, solutions=(), exclude=()):
    """The relative paths of the files a release keeps."""
    root = Path(root).resolve()
    excluded = []
    for e in exclude:
        p = Path(e).resolve()
        if p.is_relative_to(root):
            excluded.append(p.relative_to(root).as_posix())
    keep = []
    for f in course.tracked_files(root):
        parts = f.split("/")
        if f == MARKER:
            continue
        if parts[0] == "solutions" and (len(parts) < 3 or parts[1] not in solutions):
            continue
        if (f.startswith("grade/selftest/mutants/") or f.startswith("handouts/variants/")) \
                and f.endswith(".toml") and Path(f).stem not in solutions:
            continue
        if any(f == x or f.startswith(x + "/") for x in excluded):
            continue
        keep.append(f)
    return keep


def write_release(out, solutions=(), exclude=(), git=False, root=course.ROOT):
    """Write the release into out; the list of files written."""
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root.is_relative_to(out):
        raise ValueError(f"{out} holds the course itself")
    if out.exists():
        if not (out / MARKER).is_file():
            raise ValueError(f"{out} exists and is not an earlier release: not replacing it")
        shutil.rmtree(out)
    files = release_files(root, solutions, exclude)
    for f in files:
        (out / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, out / f)
    (out / MARKER).write_text(json.dumps({
        "what": "a students' copy of the course, made by `make release`",
        "solutions": sorted(solutions),
        "labs": course.lab_dirs(out),
        # The starters as released: a lab whose files still match has not been started,
        # and its own `make test` leaves its host tests out until it is.
        "starters": {f: hashlib.sha256((out / f).read_bytes()).hexdigest()
                     for f in files if f.startswith("labs/")}}, indent=2) + "\n")
    if git:
        cmd = ["git", "-c", "user.name=teachos release", "-c", "user.email=release@localhost",
               "-C", str(out)]
        subprocess.run(["git", "init", "-q", str(out)], check=True)
        subprocess.run(cmd + ["add", "-A"], check=True)
        subprocess.run(cmd + ["commit", "-q", "-m", "The course, for students"], check=True)
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=course.ROOT / "release")
    ap.add_argument("--solutions", default="", help="include these labs' solutions: 1,2 or 1-6 or all")
    ap.add_argument("--exclude", type=Path, action="append", default=[], help="leave this out")
    ap.add_argument("--git", action="store_true", help="make the copy a fresh git repository")
    args = ap.parse_args(argv)
    try:
        labs = course.lab_dirs()
        solutions = course.solution_labs(args.solutions, labs)
        files = write_release(args.out, solutions, args.exclude, args.git)
    except (ValueError, OSError, subprocess.CalledProcessError) as e:
        print(f"release: {e}", file=sys.stderr)
        return 2
    print(f"release: wrote {len(files)} files to {args.out}/, with "
          + (f"the solutions of {', '.join(solutions)}" if solutions else "no solutions")
          + ". Check it with `make -C " + str(args.out) + " test`.")
    return 0
