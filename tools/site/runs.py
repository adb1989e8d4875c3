"""Real runs for the handouts: build a kernel, boot it as `make qemu` would (or grade it as
`make grade` would), and keep what it printed.

The handouts' console excerpts (tools/site/excerpts.py) and the figures drawn from runs
(tools/site/figures.py) name a run with a make-like command:

    make qemu LAB=6 SOLUTIONS=all                 the tour of checkpoint 06, reference code
    make qemu LAB=6 SOLUTIONS=1,2,3,4,5           lab 06's starter on the reference labs 01-05
    make qemu LAB=1 TEST=idt STEPS=7              lab 01 with steps 1-7 done (the solution's
                                                  later steps left as in the starter)
    make qemu LAB=1 VARIANT="..."                 lab 01's solution with a planted mistake,
                                                  described in handouts/variants/01-boot.toml
                                                  or grade/selftest/mutants/01-boot.toml
    make grade LAB=1                              the grader's output
    make qemu LAB=1 MEM=32M QEMUEXTRA="-append scenario=page_fault"

LAB, SOLUTIONS, TEST, MEM and QEMUEXTRA mean what they mean to make. STEPS and VARIANT change
lab LAB only, which then shows as labs/NN-name (the file a student would have). The output is
shown as make would show it: the build directory is the one make would use.

Kernels are built with the same kernel/build.mk as everything else, under the names the
project's own tests use (build/check-NN-name-solutions, -starter), so `make test` and
`make site` share them; the variants of one lab share one build directory, so each costs the
recompilation of the files it changes.
"""
import fcntl
import hashlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "grade"))

from harness import __main__ as harness_main, build, summary  # noqa: E402
from harness.paths import LABS, SOLUTIONS  # noqa: E402

PYTHON = "/usr/bin/python3"
VARIANTS = ROOT / "handouts" / "variants"
MUTANTS = ROOT / "grade" / "selftest" / "mutants"
RUNS = ROOT / "build" / "site-runs"
KNOWN = {"LAB", "SOLUTIONS", "TEST", "MEM", "QEMUEXTRA", "STEPS", "VARIANT", "SEED"}


class RunError(Exception):
    """A run that could not be made as described (not a kernel that failed: that is output)."""


class MissingSolutions(RunError):
    """The run needs solutions/ that this copy of the course does not have."""


@dataclass(frozen=True)
class Spec:
    verb: str          # "qemu" or "grade"
    lab: str           # "06-buddy"
    solutions: tuple   # labs taken from solutions/
    test: str = ""
    mem: str = "128M"
    qemuextra: str = ""
    steps: int = None
    variant: str = ""
    seed: str = ""

    def __str__(self):
        words = ["make", self.verb, f"LAB={int(self.lab[:2])}"]
        if self.solutions:
            words.append("SOLUTIONS=" + ",".join(str(int(l[:2])) for l in self.solutions))
        for key, val in (("TEST", self.test), ("MEM", self.mem if self.mem != "128M" else ""),
                         ("QEMUEXTRA", self.qemuextra), ("STEPS", self.steps), ("VARIANT", self.variant),
                         ("SEED", self.seed)):
            if val not in ("", None):
                words.append(f"{key}={shlex.quote(str(val))}")
        return " ".join(words)


def labs():
    return build.lab_dirs()


def find_lab(value, all_labs):
    """LAB as make takes it: 3, 03, 03-bump or bump."""
    for lab in all_labs:
        num, name = lab.split("-", 1)
        if value in (lab, num, str(int(num)), name):
            return lab
    raise RunError(f"LAB={value}: no such lab (the labs are {', '.join(all_labs)})")


def parse(command):
    """A Spec from `make qemu LAB=6 SOLUTIONS=all ...`."""
    try:
        words = shlex.split(command)
    except ValueError as e:
        raise RunError(f"cannot read the command `{command}`: {e}")
    if words[:1] == ["measure"]:
        return Measure.parse(command, words[1:])
    if words[:1] == ["make"]:
        words = words[1:]
    if not words or words[0] not in ("qemu", "grade"):
        raise RunError(f"`{command}`: a run is `make qemu ...`, `make grade ...` or `measure NAME ...`")
    verb, env = words[0], {}
    for w in words[1:]:
        key, eq, val = w.partition("=")
        if not eq or key not in KNOWN:
            raise RunError(f"`{command}`: {w!r} is not one of {', '.join(sorted(KNOWN))}=...")
        env[key] = val
    all_labs = labs()
    lab = find_lab(env.get("LAB", all_labs[-1]), all_labs)
    upto = all_labs[:all_labs.index(lab) + 1]
    sol = env.get("SOLUTIONS", "")
    if sol == "all":
        chosen = set(upto)
    else:
        chosen = set()
        for part in filter(None, sol.split(",")):
            lo, _, hi = part.partition("-")
            for n in range(int(lo), int(hi or lo) + 1):
                chosen |= {l for l in upto if int(l[:2]) == n}
    steps = env.get("STEPS")
    if (steps or env.get("VARIANT")) and lab in chosen:
        chosen.discard(lab)  # the variant is lab LAB's source
    return Spec(verb, lab, tuple(l for l in upto if l in chosen), env.get("TEST", ""),
                env.get("MEM", "128M"), env.get("QEMUEXTRA", ""), int(steps) if steps else None,
                env.get("VARIANT", ""), env.get("SEED", ""))


# ---------------------------------------------------------------------------------------------
# Sources: the starter with some steps done, or the solution with a planted mistake.

_BEGIN = re.compile(r"^\s*/// SOLUTION BEGIN\s*$")
_END = re.compile(r"^\s*/// SOLUTION END\s*$")
_STARTER = re.compile(r"^(\s*)/// STARTER:(?: (.*))?$")
_STEP = re.compile(r"\bsteps? (\d+)(?:\s*(?:-|to|and)\s*(\d+))?", re.IGNORECASE)


def solution_blocks(text):
    """The SOLUTION blocks of a solution file: (first line, last line, steps, body), lines
    counted from 1 in the solution file; steps are those its STARTER lines name ("step 3: ...",
    "steps 10-11: ..."), in a list that is empty when they name none."""
    lines = text.splitlines(keepends=True)
    blocks, i = [], 0
    while i < len(lines):
        if _BEGIN.match(lines[i]):
            j = i + 1
            while j < len(lines) and not _END.match(lines[j]):
                j += 1
            k, steps = j + 1, []
            while k < len(lines) and _STARTER.match(lines[k]):
                steps += [int(n) for m in _STEP.finditer(lines[k]) for n in m.groups() if n]
                k += 1
            if not steps:  # a block with no TODO: the nearest "Step N" comment above it
                for back in reversed(lines[max(0, i - 20):i]):
                    m = re.search(r"\bStep (\d+)\b", back)
                    if m:
                        steps = [int(m.group(1))]
                        break
            if len(steps) == 2 and steps[1] > steps[0]:
                steps = list(range(steps[0], steps[1] + 1))
            blocks.append((i + 1, j + 1, steps, "".join(lines[i + 1:j])))
            i = k
        else:
            i += 1
    return blocks


def partial_text(text, done):
    """The starter of one solution file with the blocks of steps 1..done filled in."""
    out, lines, i = [], text.splitlines(keepends=True), 0
    while i < len(lines):
        line = lines[i]
        if _BEGIN.match(line):
            j = i + 1
            while not _END.match(lines[j]):
                j += 1
            k, starters, steps = j + 1, [], []
            while k < len(lines) and _STARTER.match(lines[k]):
                starters.append(lines[k])
                steps += [int(n) for m in _STEP.finditer(lines[k]) for n in m.groups() if n]
                k += 1
            if not steps:  # a helper with no TODO of its own: the nearest "Step N" above it
                for back in reversed(lines[max(0, i - 20):i]):
                    m = re.search(r"\bStep (\d+)\b", back)
                    if m:
                        steps = [int(m.group(1))]
                        break
            if not steps:  # else the step of the next block that names one (a helper's user)
                later = [b[2] for b in solution_blocks("".join(lines[k:])) if b[2]]
                steps = later[0] if later else []
            if (max(steps) if steps else 0) <= done:
                out += lines[i + 1:j]
            else:
                for s in starters:
                    m = _STARTER.match(s)
                    out.append(m.group(1) + (m.group(2) or "") + "\n")
            i = k
            continue
        m = _STARTER.match(line)
        out.append(m.group(1) + (m.group(2) or "") + "\n" if m else line)
        i += 1
    return "".join(out)


def find_variant(lab, name):
    for base in (VARIANTS, MUTANTS):
        f = base / f"{lab}.toml"
        if not f.is_file():
            continue
        data = tomllib.loads(f.read_text())
        for v in data.get("variant", []) + data.get("mutant", []):
            if v.get("name") == name:
                return v, f
    raise RunError(f"VARIANT={name!r}: no variant of that name in handouts/variants/{lab}.toml "
                   f"or grade/selftest/mutants/{lab}.toml")


def variant_files(spec):
    """{file name: text} of lab spec.lab for a STEPS or VARIANT run."""
    src = SOLUTIONS / spec.lab
    if not src.is_dir():
        raise MissingSolutions(f"{spec} needs solutions/{spec.lab}")
    files = {p.name: p.read_text() for p in sorted(src.iterdir()) if p.is_file()}
    v = None
    if spec.variant:
        v, where = find_variant(spec.lab, spec.variant)
    # A student's file: the starter with steps 1..N done (all of them by default), without
    # the solution's markers, so that line numbers are those of a finished lab.
    steps = spec.steps if spec.steps is not None else (v or {}).get("steps", 10 ** 6)
    files = {n: partial_text(t, int(steps)) for n, t in files.items()}
    if v:
        changes = v.get("changes") or [{k: v[k] for k in ("file", "find", "replace")}]
        for c in changes:
            text = files.get(c["file"])
            if text is None:
                raise RunError(f"variant {spec.variant!r} ({where.relative_to(ROOT)}): no file "
                               f"{c['file']} in {spec.lab}")
            if text.count(c["find"]) != 1:
                raise RunError(f"variant {spec.variant!r} ({where.relative_to(ROOT)}): its `find` "
                               f"text occurs {text.count(c['find'])} times in {c['file']} (must be once)")
            files[c["file"]] = text.replace(c["find"], c["replace"])
    return files


@contextmanager
def locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


# ---------------------------------------------------------------------------------------------

def make_dir(spec):
    """The build directory `make` itself would use for this command."""
    upto = labs()[:labs().index(spec.lab) + 1]
    return "build/" + spec.lab + "-" + "".join("s" if l in spec.solutions else "l" for l in upto)


def _kernel(spec):
    """Build the kernel of spec; (its directory, the layer directory shown as labs/ or None)."""
    all_labs = labs()
    upto = all_labs[:all_labs.index(spec.lab) + 1]
    n = int(spec.lab[:2])
    missing = [l for l in spec.solutions if not (SOLUTIONS / l).is_dir()]
    if missing:
        raise MissingSolutions(f"{spec} needs " + ", ".join(f"solutions/{l}" for l in missing))
    if spec.steps is not None or spec.variant:
        vdir = ROOT / "build" / "handouts" / spec.lab / "labs" / spec.lab
        files = variant_files(spec)
        vdir.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            p = vdir / name
            if not p.is_file() or p.read_text() != text:
                p.write_text(text)
        layers = [vdir if l == spec.lab else (SOLUTIONS if l in spec.solutions else LABS) / l for l in upto]
        tag = "".join("s" if l in spec.solutions else "l" for l in upto)
        return build.kernel(f"handouts-{spec.lab}-{tag}", n, layers), vdir
    if set(spec.solutions) == set(upto):
        name = f"check-{spec.lab}-solutions"
    elif set(spec.solutions) == set(upto[:-1]):
        name = f"check-{spec.lab}-starter"
    else:
        name = "site-" + make_dir(spec).removeprefix("build/")
    if any(l not in spec.solutions and not (LABS / l).is_dir() for l in upto):
        raise RunError(f"{spec}: labs/ lacks a lab it needs")
    return build.kernel(name, n, [(SOLUTIONS if l in spec.solutions else LABS) / l for l in upto]), None


def _show(text, out, vdir, spec):
    """The output as `make` would have printed it: make's build directory, labs/ paths."""
    rel_out = str(out.relative_to(ROOT))
    text = text.replace(str(out), make_dir(spec)).replace(rel_out, make_dir(spec))
    if vdir is not None:
        text = text.replace(str(vdir), f"labs/{spec.lab}")
        text = text.replace(str(vdir.relative_to(ROOT)), f"labs/{spec.lab}")
    return text


@dataclass(frozen=True)
class Measure:
    """`measure contig HIGH=97 LOW=90`: the host program tools/heapmeasure/contig.c, built as
    its header says (with -DHIGH=97 -DLOW=90 added) and run. Its counts are the same on every
    machine; its times are not (an excerpt sets them aside with vary=)."""
    name: str
    defines: tuple

    @staticmethod
    def parse(command, words):
        if not words or not re.fullmatch(r"[\w-]+", words[0]):
            raise RunError(f"`{command}`: measure needs the name of a program in tools/heapmeasure/")
        defines = []
        for w in words[1:]:
            key, eq, val = w.partition("=")
            if not eq or not re.fullmatch(r"[A-Z_]+", key) or not re.fullmatch(r"[\w.]+", val):
                raise RunError(f"`{command}`: {w!r} is not NAME=value")
            defines.append((key, val))
        return Measure(words[0], tuple(defines))

    def __str__(self):
        return " ".join(["measure", self.name] + [f"{k}={v}" for k, v in self.defines])

    @property
    def lab(self):
        return "measure"

    def run(self):
        src = ROOT / "tools" / "heapmeasure" / f"{self.name}.c"
        if not src.is_file():
            raise RunError(f"{self}: no tools/heapmeasure/{self.name}.c")
        head = src.read_text().split("*/", 1)[0].replace("\\\n", " ")
        m = re.search(rf"^\s*\*\s+(gcc .*-o build/heapmeasure/{self.name} .*)$", head, re.M)
        if not m:
            raise RunError(f"{self}: the header of {src.relative_to(ROOT)} has no `gcc ... -o "
                           f"build/heapmeasure/{self.name} ...` line")
        cmd = shlex.split(m.group(1).replace(" *", " "))
        for f in cmd:
            if f.endswith(".c") and f.startswith("solutions/") and not (ROOT / f).is_file():
                raise MissingSolutions(f"{self} needs {f}")
        tag = "".join(f"-{k}{v}" for k, v in self.defines)
        exe = ROOT / "build" / "heapmeasure" / f"{self.name}{tag}"
        out = cmd.index("-o")
        cmd[out + 1] = str(exe)
        cmd[1:1] = [f"-D{k}={v}" for k, v in self.defines]
        # One build and run at a time per program: the handouts of labs 04 and 05 quote the
        # same program, and `make test` checks them in different processes.
        with locked(exe):
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if p.returncode:
                raise RunError(f"{self}: does not build:\n{p.stdout}{p.stderr}")
            return self._output(exe)

    def _output(self, exe):
        """What exe prints, from its last run if that was of the same executable. The
        programs take 1 to 20 s, mostly timing loops; what they print but their times
        (which excerpts set aside) depends only on the executable, whose bytes are the key."""
        key = "executable sha256 " + hashlib.sha256(exe.read_bytes()).hexdigest() + "\n"
        kept = exe.with_name(exe.name + ".out")
        if kept.is_file():
            text = kept.read_text()
            if text.startswith(key):
                return text[len(key):]
        p = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if p.returncode:
            raise RunError(f"{self}: exited with {p.returncode}:\n{p.stdout}{p.stderr}")
        tmp = kept.with_name(kept.name + ".tmp")
        tmp.write_text(key + p.stdout)
        tmp.replace(kept)
        return p.stdout


_cache = {}

# Who grades for a `make grade` run (without SEED=): None for a pytest of the run's own, else
# grader(kernel directory, checkpoint) -> {"stdout", "stderr", ...}. The project's tests set
# theirs (grade/selftest/conftest.py's graded), which grades a kernel once per run of the tests.
grader = None


def output(spec):
    """What the run of spec printed (stdout and stderr, as a terminal shows them)."""
    key = str(spec)
    if key in _cache:
        return _cache[key]
    if isinstance(spec, Measure):
        _cache[key] = spec.run()
        return _cache[key]
    variant = spec.steps is not None or spec.variant
    # The variants of a lab share their sources and build directory: one at a time.
    with (locked(ROOT / "build" / "handouts" / spec.lab) if variant else nullcontext()):
        try:
            out, vdir = _kernel(spec)
        except build.BuildError as e:
            raise RunError(f"{spec}: the kernel does not build:\n{e}")
        variables = {"MEM": spec.mem, "QEMUEXTRA": spec.qemuextra, "ACCEL": "tcg", "MACHINE": "microvm"}
        env = {**os.environ, "PYTHONPATH": str(ROOT / "grade"), **variables}
        rel_out = str(out.relative_to(ROOT))
        cmd = [PYTHON, "-m", "pytest", "grade/tests", "-q", "--tb=no", "-rN", "-p", "no:xdist",
               "-p", "no:cacheprovider", "--kernel", rel_out, "--checkpoint", str(int(spec.lab[:2]))]
        if spec.seed:
            cmd += ["--seed", spec.seed]
        command = summary.grade_command(out)  # the hints read as in `make grade`
        if command:
            cmd += ["--rerun", command]
        if spec.verb == "qemu":
            # `make qemu` runs `python -m harness qemu`: its code, run here.
            try:
                _, stdout, stderr = harness_main.run_captured(
                    out, f"ktest={spec.test}" if spec.test else "", variables, time_limit=300)
            except TimeoutError:
                raise RunError(f"{spec}: did not end within 300 s")
            printed = stdout + stderr
        elif spec.verb == "grade" and grader and not spec.seed and not spec.qemuextra and spec.mem == "128M":
            g = grader(out, int(spec.lab[:2]))
            printed = g["stdout"] + g["stderr"]
        else:
            try:
                p = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, errors="replace", timeout=300)
            except subprocess.TimeoutExpired:
                raise RunError(f"{spec}: did not end within 300 s")
            printed = p.stdout + p.stderr
        text = _show(printed.replace("\r", ""), out, vdir, spec)
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / (re.sub(r"[^A-Za-z0-9=,.-]+", "_", key)[:150] + ".txt")).write_text(text)
    _cache[key] = text
    return text
