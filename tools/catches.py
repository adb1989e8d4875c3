#!/usr/bin/python3
"""Which tests catch a planted bug: for writing the caught_by of a mutant
(grade/selftest/mutants/NN-name.toml).

    tools/catches.py grade/selftest/mutants/03-bump.toml [--name TEXT] [--runs N]

Builds each mutant of the file (or those whose name contains TEXT) as `make test` does and
runs every test of its lab, N times (default 1): prints the tests that failed each time, those
that failed only sometimes (never put those in caught_by) and the first line of each failure.
"""
import argparse
import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "grade" / "selftest"), str(ROOT / "grade")]
os.environ.setdefault("PYTEST_XDIST_WORKER", "catches")

from conftest import blackbox_tests, judge  # noqa: E402
from harness import build, manifest  # noqa: E402
from test_mutants import BOOT_TIMEOUT, mutant_kernel, mutated_source  # noqa: E402


def lab_tests(lab):
    names = [c.id for c in manifest.load() if c.lab == lab]
    module = f"test_{lab[:2]}_{lab[3:].replace('-', '_')}"
    names += [n for n, (fn, _) in blackbox_tests().items() if fn.__module__.endswith(module)]
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("toml", type=Path)
    ap.add_argument("--name", default="")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    lab = args.toml.stem
    labs = build.lab_dirs()
    names = lab_tests(lab)
    for m in tomllib.loads(args.toml.read_text()).get("mutant", []):
        if args.name not in m["name"]:
            continue
        if mutated_source(lab, m)[1] != 1:
            print(f"{m['name']}: the find text does not occur exactly once in {m['file']}")
            continue
        try:
            out = mutant_kernel(labs, lab, m, "mutants/catches")
        except build.BuildError as e:
            print(f"{m['name']}: does not compile:\n{e}")
            continue
        counts, first = {}, {}
        for i in range(args.runs):
            for test, why in judge(out, names, timeout=BOOT_TIMEOUT, seed=i + 1).items():
                if why is not None:
                    counts[test] = counts.get(test, 0) + 1
                    first.setdefault(test, why.splitlines()[0][:160])
        always = [t for t, n in counts.items() if n == args.runs]
        sometimes = [t for t, n in counts.items() if n < args.runs]
        print(f"{m['name']}:\n  caught by: {always or 'NOTHING'}")
        if sometimes:
            print(f"  only sometimes: {sometimes}")
        for t in always + sometimes:
            print(f"    {t}: {first[t]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
