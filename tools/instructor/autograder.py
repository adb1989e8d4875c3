"""tools/autograder/build: Gradescope's autograder, as the zip Gradescope takes.

    tools/autograder/build [--out FILE] [--lab N] [--solutions 1,2] [--hidden DIR]
                           [--hidden-visibility V] [--boot-timeout S]

The zip holds, at its top (as Gradescope requires):

    setup.sh         installs the compiler, QEMU, pytest and bubblewrap, and says whether the
                     sandbox runs in Gradescope's image (tools/autograder/setup.sh)
    run_autograder   grades /autograder/submission into /autograder/results/results.json
                     with tools/grade-submission (made from tools/autograder/run_autograder.in)
    course/          the course as `make release` writes it: no solutions/ but those of
                     --solutions, which grading then uses for those labs
    hidden/          the hidden tests, if --hidden was given

Try it as Gradescope would, without Gradescope: unzip it into DIR/source, put a submission in
DIR/submission, run `AUTOGRADER_ROOT=DIR DIR/source/run_autograder`, read
DIR/results/results.json (grade/selftest/test_instructor.py does exactly that).
"""
import argparse
import shlex
import shutil
import stat
import sys
import zipfile
from pathlib import Path

from . import course, release

TEMPLATES = course.ROOT / "tools" / "autograder"


def run_autograder_script(lab, solutions, hidden, hidden_visibility, boot_timeout):
    args = ["--lab", lab]
    if solutions:
        args += ["--solutions", ",".join(s[:2] for s in solutions)]
    if hidden:
        args += ["--hidden", '"$SOURCE/hidden"', "--hidden-visibility", hidden_visibility]
    if boot_timeout:
        args += ["--boot-timeout", f"{boot_timeout:g}"]
    text = (TEMPLATES / "run_autograder.in").read_text()
    quoted = " ".join(a if a.startswith('"$') else shlex.quote(a) for a in args)
    return text.replace("@LAB@", lab).replace("@ARGS@", quoted)


def build(out, lab=None, solutions="", hidden=None, hidden_visibility="after_published",
          boot_timeout=None, root=course.ROOT):
    """Write the autograder zip to out; the list of names in it."""
    labs = course.lab_dirs(root)
    lab = course.resolve_lab(lab, labs) if lab else labs[-1]
    sol = course.solution_labs(solutions, labs)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        def add(name, data, mode):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            names.append(name)

        add("setup.sh", (TEMPLATES / "setup.sh").read_bytes(), 0o755)
        add("run_autograder", run_autograder_script(lab, sol, hidden, hidden_visibility,
                                                    boot_timeout), 0o755)
        for f in release.release_files(root, sol, [hidden] if hidden else []):
            src = Path(root) / f
            add(f"course/{f}", src.read_bytes(), 0o755 if src.stat().st_mode & 0o111 else 0o644)
        add(f"course/{release.MARKER}", '{"what": "the course inside an autograder"}\n', 0o644)
        if hidden:
            for src in sorted(Path(hidden).rglob("*")):
                if src.is_file() and "__pycache__" not in src.parts:
                    add(f"hidden/{src.relative_to(hidden).as_posix()}", src.read_bytes(), 0o644)
    return names


def unpack(zip_path, dest):
    """Unzip as Gradescope does, keeping the executable bits (for trying it locally)."""
    dest = Path(dest)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
    return dest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=course.ROOT / "build" / "autograder" / "autograder.zip")
    ap.add_argument("--lab", help="the checkpoint to grade, as make's LAB= (default: the last)")
    ap.add_argument("--solutions", default="", help="labs graded on (and shipped with) their solutions")
    ap.add_argument("--hidden", type=course.hidden_dir, help="the hidden test directory to include")
    ap.add_argument("--hidden-visibility", default="after_published",
                    choices=course.VISIBILITIES)
    ap.add_argument("--boot-timeout", type=float)
    args = ap.parse_args(argv)
    try:
        names = build(args.out, args.lab, args.solutions, args.hidden, args.hidden_visibility,
                      args.boot_timeout)
    except (ValueError, OSError) as e:
        print(f"autograder: {e}", file=sys.stderr)
        return 2
    hidden = sum(n.startswith("hidden/") for n in names)
    print(f"autograder: wrote {args.out} ({len(names)} files"
          + (f", {hidden} of them hidden tests" if hidden else ", no hidden tests") + ").")
    print("Upload it as the assignment's autograder on Gradescope (Configure Autograder > Zip file).")
    return 0
