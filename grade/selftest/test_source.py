"""The sources themselves: labs/ generated from solutions/, formatting, no leftovers, the
clang build, the handouts covering every step."""
import importlib.util
import re
import subprocess
import tomllib

import pytest

from conftest import PYTHON, require_solutions, require_starters
from harness import build, qemu
from harness.paths import LABS, ROOT, SOLUTIONS



def test_labs_are_generated_from_solutions():
    require_starters()
    p = subprocess.run([PYTHON, "tools/mklab.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_solutions_leave_no_todo():
    leftovers = []
    for f in (p for p in SOLUTIONS.rglob("*") if p.is_file()):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r"\bTODO\b", line) and "/// STARTER:" not in line:
                leftovers.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not leftovers, "TODOs in the solutions:\n" + "\n".join(leftovers)


def test_every_starter_has_todos():
    require_starters()
    for lab in build.lab_dirs():
        text = "".join(f.read_text() for f in (LABS / lab).iterdir())
        assert "TODO" in text, f"labs/{lab} has nothing left to do"


def _c_sources():
    dirs = ["kernel", "solutions", "grade/harness", "grade/ktests", "grade/selftest/ktests", "tools", "user"]
    return sorted(str(p.relative_to(ROOT)) for d in dirs for p in (ROOT / d).rglob("*.[ch]"))


def test_c_formatting():
    p = subprocess.run(["clang-format", "--dry-run", "--Werror", *_c_sources()], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, "run `make format`:\n" + p.stderr[-4000:]


def test_python_is_clean():
    p = subprocess.run([PYTHON, "-m", "pyflakes", "grade", "tools"], cwd=ROOT, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_core_does_not_ask_for_the_checkpoint():
    """The files directly in kernel/ are the same at every checkpoint: what a layer adds comes
    from its folder (kernel/layers/NN-name/, registered with LAYER), never from a test of the
    checkpoint's number in a core file (docs/adding-a-checkpoint.md)."""
    uses = []
    for f in sorted(p for p in (ROOT / "kernel").iterdir() if p.suffix in (".c", ".h", ".S")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r"\bCHECKPOINT\b", line):
                uses.append(f"kernel/{f.name}:{n}: {line.strip()}")
    assert not uses, ("the core tests the checkpoint's number; let the layer's folder provide "
                      "what differs (a header found with __has_include, a LAYER entry):\n"
                      + "\n".join(uses))


def test_no_kernel_file_is_over_500_lines():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in sorted((ROOT / "kernel").rglob("*"))
            if p.suffix in (".c", ".h", ".S") and (n := len(p.read_text().splitlines())) > 500]
    assert not long, "split these where the job changes:\n" + "\n".join(long)


def test_clang_builds_and_boots_the_last_checkpoint(labs):
    require_solutions(*labs)
    last = labs[-1]
    out = build.kernel(f"check-{last}-clang", int(last[:2]), build.checkpoint_layers(labs, last),
                       cc="clang")
    run = qemu.boot(out, "clang-tour", timeout=20)
    assert run.finished, run.describe()
    assert "The tour of checkpoint" in run.text


@pytest.mark.parametrize("lab", build.lab_dirs())
def test_handout_covers_every_step(lab):
    handout = ROOT / "handouts" / f"{lab}.md"
    assert handout.is_file(), f"no handout {handout.relative_to(ROOT)}"
    # A chapter may be split into parts: handouts/01-boot.md, handouts/01-boot-2-exceptions.md, ...
    text = "\n".join(p.read_text() for p in [handout, *sorted(handout.parent.glob(f"{lab}-*.md"))])
    steps = set()
    for f in (LABS / lab).iterdir():
        steps |= {int(n) for n in re.findall(r"\bsteps? (\d+)", f.read_text())}
        steps |= {int(b) for a, b in re.findall(r"\bsteps (\d+)-(\d+)", f.read_text())}
    missing = [s for s in sorted(steps) if not re.search(rf"(?im)^#+ .*\bstep {s}\b", text)]
    assert not missing, f"{handout.name} has no section heading for step(s) {missing}"
    for word in ("## Questions", "## Extensions"):
        assert word in text, f"{handout.name} has no '{word}' section"
    for ref in re.findall(r"`((?:kernel|labs|grade)/[\w./-]+)`", text):
        assert (ROOT / ref).exists(), f"{handout.name} mentions {ref}, which does not exist"


def test_every_test_has_its_step():
    """grade/steps.toml (tools/steps.py) knows the step of every test of the labs it covers:
    a new or renamed test must be measured, or make grade cannot put its failures in order."""
    spec = importlib.util.spec_from_file_location("steps", ROOT / "tools" / "steps.py")
    steps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(steps)
    tables = tomllib.loads((ROOT / "grade" / "steps.toml").read_text())
    assert tables, "grade/steps.toml is empty: run tools/steps.py"
    require_solutions(*tables)  # the steps are read from the solutions' markers
    bad = steps.check(tables)
    assert not bad, "\n".join(bad)

