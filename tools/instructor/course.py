"""This repository as the instructor's tools see it: its labs, the lab files a submission may
replace, a pristine copy to grade a submission in, and the files a copy of it is made of."""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_SUFFIXES = (".c", ".S")  # what a lab directory holds, and all a submission may change
# What grading needs from the repository; never build output, the selftests or the history.
COURSE_PARTS = ("Makefile", "kernel", "grade", "tools", "labs", "user")
NEVER_COPIED = ("__pycache__", "*.pyc", ".pytest_cache")

# Gradescope's test visibilities, as the grader's own results writer knows them.
sys.path.insert(0, str(ROOT / "grade"))
from harness import build, gradescope  # noqa: E402

# LAB= and SOLUTIONS= as make reads them: the harness's reading, which make qemu's hints use too.
LAB_NAME, resolve_lab, solution_labs = build.LAB_NAME, build.resolve_lab, build.solution_labs

VISIBILITIES = gradescope.VISIBILITIES


def lab_dirs(root=ROOT):
    """The labs ("01-boot", ...): those in labs/ and those in solutions/."""
    names = set()
    for base in (Path(root) / "labs", Path(root) / "solutions"):
        if base.is_dir():
            names |= {p.name for p in base.iterdir() if p.is_dir() and LAB_NAME.match(p.name)}
    return sorted(names)


def hidden_dir(spec):
    """argparse type: an instructor's hidden test directory, which must hold ktests/ or tests/."""
    path = Path(spec)
    if not ((path / "ktests").is_dir() or (path / "tests").is_dir()):
        raise argparse.ArgumentTypeError(
            f"{spec} is not a hidden test directory: one holds ktests/NN-lab/*.c, tests/test_*.py "
            "or both (handouts/instructors.md)")
    return path


def lab_files(root=ROOT):
    """The files a submission provides: labs/NN-name/*.c and *.S as this repository has them
    (the starters), path -> content."""
    files = {}
    for lab in lab_dirs(root):
        d = Path(root) / "labs" / lab
        if d.is_dir():
            for f in sorted(d.iterdir()):
                if f.is_file() and f.suffix in SOURCE_SUFFIXES:
                    files[f"labs/{lab}/{f.name}"] = f.read_bytes()
    return files


def make_pristine(dest, solutions=(), root=ROOT):
    """Copy what grading needs from this repository into dest (which must not exist): the
    Makefile, kernel/, grade/ (without its selftests), tools/, the starters in labs/, the
    programs of user/ (checkpoint 08 on), and solutions/ of the labs named in solutions.
    Returns dest."""
    root, dest = Path(root), Path(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns(*NEVER_COPIED)
    for part in COURSE_PARTS:
        src = root / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore, symlinks=True)
        elif src.is_file():
            shutil.copy2(src, dest / part)
    shutil.rmtree(dest / "grade" / "selftest", ignore_errors=True)
    for lab in solutions:
        src = root / "solutions" / lab
        if not src.is_dir():
            raise FileNotFoundError(f"solutions/{lab} is not part of {root}")
        shutil.copytree(src, dest / "solutions" / lab, ignore=ignore)
    return dest


def tracked_files(root=ROOT):
    """The repository's own files, relative paths: what git tracks, or, outside a git checkout
    (a release, an autograder's copy), every file but build output and caches."""
    root = Path(root)
    if (root / ".git").exists():
        p = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return sorted(f for f in p.stdout.split("\0") if f and (root / f).is_file())
    skip = {".git", "build", "release", "__pycache__", ".pytest_cache"}
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if skip & set(rel.parts) or not p.is_file() or p.suffix == ".pyc":
            continue
        out.append(rel.as_posix())
    return sorted(out)
