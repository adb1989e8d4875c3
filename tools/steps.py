#!/usr/bin/python3
"""The step of the handout after which each test passes, measured: grade/steps.toml.

    tools/steps.py [LAB ...]          measure these labs (default: those already in the table)
    tools/steps.py --check            only check the table against the tests that exist

`make grade` lists a lab's failures in the order of its handout's steps (grade/harness/
summary.py): a failure that names its step (a TODO's "step 4: ...") goes there, any other
under the step after which its test passes. That step is measured here, not guessed: for each
step k of a lab, the lab is built from its solution with the blocks of steps 1 to k kept and
the later ones left as the starter has them (the /// SOLUTION and /// STARTER markers, as
tools/mklab.py reads them), the other labs from their solutions, and every test of the lab
is run. A test's step is the first k from which it passes for good.

A block's step is the one its STARTER line names ("step 4: ...", "steps 10-11: ..." counts as
10); a block without one (a helper, a function that starts empty) takes the step named in the
comment above it, or else the next step named in the file.
"""
import argparse
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "grade" / "selftest"), str(ROOT / "grade")]
os.environ.setdefault("PYTEST_XDIST_WORKER", "steps")

from conftest import blackbox_tests, judge  # noqa: E402
from harness import build, manifest  # noqa: E402
from harness.paths import SOLUTIONS  # noqa: E402
from harness.summary import STEPS_FILE  # noqa: E402

BEGIN = re.compile(r"^\s*/// SOLUTION BEGIN\s*$")
END = re.compile(r"^\s*/// SOLUTION END\s*$")
STARTER = re.compile(r"^(\s*)/// STARTER:(?: (.*))?$")
STEP = re.compile(r"\b[Ss]teps? (\d+)")
TIMEOUT = 10.0


def blocks(lines):
    """[(begin index, end index, step or None)] of the SOLUTION blocks of a file."""
    found, begin = [], None
    for i, line in enumerate(lines):
        if BEGIN.match(line):
            begin = i
        elif END.match(line) and begin is not None:
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            m = STARTER.match(nxt)
            step = STEP.search(m.group(2) or "") if m else None
            if not step:  # the comment right above the block (or its function)
                for above in reversed(lines[max(0, begin - 8):begin]):
                    step = STEP.search(above)
                    if step:
                        break
            found.append([begin, i, int(step.group(1)) if step else None])
            begin = None
    for b in found:  # no step at all: the next one named in the file
        if b[2] is None:
            later = [int(m.group(1)) for line in lines[b[1]:] for m in [STEP.search(line)] if m]
            b[2] = later[0] if later else 1
    return found


def partial(text, upto):
    """The file with the blocks of steps <= upto kept and the others as in the starter."""
    lines = text.splitlines(keepends=True)
    keep = {i for begin, end, step in blocks(lines) if step <= upto for i in range(begin, end + 1)}
    out, inside = [], False
    for i, line in enumerate(lines):
        body = line.rstrip("\n")
        if BEGIN.match(body):
            inside = i not in keep
            continue
        if END.match(body):
            inside = False
            continue
        if inside:
            continue
        m = STARTER.match(body)
        if m:
            prev_end = i > 0 and END.match(lines[i - 1].rstrip("\n")) and (i - 1) in keep
            if not prev_end:
                out.append(m.group(1) + (m.group(2) or "") + "\n")
            continue
        out.append(line)
    return "".join(out)


def lab_steps(lab):
    steps = set()
    for f in (SOLUTIONS / lab).iterdir():
        steps |= {s for _, _, s in blocks(f.read_text().splitlines(keepends=True))}
    return sorted(steps)


def lab_tests(lab):
    names = [c.id for c in manifest.load() if c.lab == lab]
    module = f"test_{lab[:2]}_{lab[3:].replace('-', '_')}"
    return names + [n for n, (fn, _) in blackbox_tests().items() if fn.__module__.endswith(module)]


def measure(lab, labs):
    names, steps = lab_tests(lab), lab_steps(lab)
    passing = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / lab
        src.mkdir()
        for k in steps:
            for f in (SOLUTIONS / lab).iterdir():
                (src / f.name).write_text(partial(f.read_text(), k))
            out = build.kernel(f"steps/{lab}", int(lab[:2]),
                               build.checkpoint_layers(labs, lab, source_for={lab: src}))
            verdicts = judge(out, names, timeout=TIMEOUT, seed=k)
            passing[k] = {n for n, why in verdicts.items() if why is None}
            print(f"  {lab} step {k}: {len(passing[k])} of {len(names)} tests pass", flush=True)
    table = {}
    for n in names:
        later = [k for k in steps if all(n in passing[j] for j in steps if j >= k)]
        table[n] = later[0] if later else steps[-1]
    return table


def write(tables):
    lines = ["# The step of each lab's handout after which each of its tests passes, measured by",
             "# tools/steps.py (build the lab with steps 1..k of its solution, run its tests). make",
             "# grade lists failures in this order; make test checks that every test is here.", ""]
    for lab in sorted(tables):
        lines.append(f"[{lab}]")
        for test, step in sorted(tables[lab].items(), key=lambda x: (x[1], x[0])):
            lines.append(f'"{test}" = {step}')
        lines.append("")
    STEPS_FILE.write_text("\n".join(lines))


def check(tables):
    """What is wrong with the table, in words: [] if every test of its labs is in it."""
    bad = []
    for lab, table in tables.items():
        names = set(lab_tests(lab))
        bad += [f"{lab}: {n} has no step (run tools/steps.py {lab})" for n in sorted(names - set(table))]
        bad += [f"{lab}: {n} is not a test" for n in sorted(set(table) - names)]
        known = set(lab_steps(lab))
        bad += [f"{lab}: {n} has step {s}, which the lab does not have"
                for n, s in table.items() if s not in known]
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("labs", nargs="*")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    tables = tomllib.loads(STEPS_FILE.read_text()) if STEPS_FILE.is_file() else {}
    if args.check:
        bad = check(tables)
        print("\n".join(bad) or "grade/steps.toml: every test has its step")
        return 1 if bad else 0
    labs = build.lab_dirs()
    for spec in args.labs or sorted(tables):
        lab = next((l for l in labs if spec in (l, l[:2], str(int(l[:2])))), None)
        if lab is None:
            print(f"steps: no lab {spec}", file=sys.stderr)
            return 2
        tables[lab] = measure(lab, labs)
        write(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
