"""docs/adding-a-checkpoint.md, followed to the letter in a temporary copy of the course.

The page's files (each a bold `path` line followed by a code block) are written into the copy
with NN the number after the last lab; then the new checkpoint must build, its solution pass
every test, its starter fail exactly its own tests, its handout cover its step, and its tour
show its part. A change that breaks the recipe breaks this test, not the next maintainer.
"""
import os
import re
import shutil
import subprocess

from conftest import PYTHON, require_solutions
from harness.paths import ROOT

DOC = ROOT / "docs" / "adding-a-checkpoint.md"
FILE_BLOCK = re.compile(r"^\*\*`([^`]+)`\*\*\n\n```\w*\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def recipe_files(number):
    """The files the page tells a maintainer to write, NN made concrete."""
    files = {}
    for path, body in FILE_BLOCK.findall(DOC.read_text()):
        body = body.replace("LAYER(NN,", f"LAYER({number},")
        files[path.replace("NN", f"{number:02d}")] = body.replace("NN", f"{number:02d}")
    return files


def copy_course(dest):
    """The course as it is checked out, without build output."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns("build", ".git", "release"))
        return
    for name in filter(None, listed.stdout.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def run(cmd, cwd, timeout=900):
    # The copy compiles what the course has compiled already: through the course's ccache
    # (where ccache is installed), whose entries do not depend on the directory built in.
    env = {**os.environ, "CCACHE_DIR": os.environ.get("CCACHE_DIR", str(ROOT / "build" / "ccache"))}
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout + p.stderr


def test_the_recipe_adds_a_checkpoint(labs, tmp_path):
    require_solutions(*labs)
    number = int(labs[-1][:2]) + 1
    lab = f"{number:02d}-hello"
    files = recipe_files(number)
    assert set(files) == {"kernel/hello.h", f"solutions/{lab}/hello.c",
                          f"kernel/layers/{lab}/hello.c", f"grade/ktests/{lab}/hello_test.c",
                          f"handouts/{lab}.md"}, f"the page's files are now {sorted(files)}"

    course = tmp_path / "course"
    copy_course(course)
    for path, text in files.items():
        (course / path).parent.mkdir(parents=True, exist_ok=True)
        (course / path).write_text(text)
    status, out = run([PYTHON, "tools/mklab.py"], course)
    assert status == 0, f"make labs failed:\n{out}"
    assert "TODO(" in (course / "labs" / lab / "hello.c").read_text()

    # The project's own checks of a checkpoint, run on the new one in the copy.
    status, out = run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                       "grade/selftest/test_checkpoints.py", "grade/selftest/test_source.py",
                       "-k", lab], course)
    assert status == 0, f"the new checkpoint {lab} fails the project's checks:\n{out[-6000:]}"
    assert re.search(r"\b3 passed\b", out), f"expected the 3 checks of {lab} to run:\n{out[-3000:]}"

    # Its tour: the new part comes last, under its title.
    status, out = run(["make", "-s", "qemu", f"LAB={number}", "SOLUTIONS=all"], course)
    assert status == 0, f"make qemu LAB={number} SOLUTIONS=all failed:\n{out[-3000:]}"
    assert f"== {lab}: the smallest layer there is ==\nhello_sum of 1 to 10 is 55" in out, \
        f"the tour of {lab} does not show the hello part:\n{out[-3000:]}"
