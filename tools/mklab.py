#!/usr/bin/env python3
"""Generate the starter files in labs/ from the reference files in solutions/.

solutions/ is the single source of truth. In a solution file:

    /// SOLUTION BEGIN
    ...reference code...          removed from the starter
    /// SOLUTION END
    /// STARTER: TODO("step 2: ...");   in the starter, this line without the marker

Files without markers are copied as they are. Usage:

    tools/mklab.py            rewrite labs/ (every lab that has a solutions/ directory)
    tools/mklab.py --check    exit 1, naming the files, if labs/ is not what it would write
    tools/mklab.py --out DIR  write the labs into DIR instead of labs/
"""
import argparse
import re
import sys
from pathlib import Path

BEGIN = re.compile(r"^\s*/// SOLUTION BEGIN\s*$")
END = re.compile(r"^\s*/// SOLUTION END\s*$")
STARTER = re.compile(r"^(\s*)/// STARTER:(?: (.*))?$")
ROOT = Path(__file__).resolve().parent.parent


class MarkerError(Exception):
    pass


def starter_text(path, text):
    """The starter version of one solution file."""
    out, inside, begin_line = [], False, 0
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        body = line.rstrip("\n")
        if BEGIN.match(body):
            if inside:
                raise MarkerError(f"{path}:{n}: SOLUTION BEGIN inside the block opened at line {begin_line}")
            inside, begin_line = True, n
        elif END.match(body):
            if not inside:
                raise MarkerError(f"{path}:{n}: SOLUTION END without a SOLUTION BEGIN")
            inside = False
        elif inside:
            if STARTER.match(body):
                raise MarkerError(f"{path}:{n}: a STARTER line inside a SOLUTION block")
        else:
            m = STARTER.match(body)
            out.append(m.group(1) + (m.group(2) or "") + "\n" if m else line)
    if inside:
        raise MarkerError(f"{path}:{begin_line}: SOLUTION BEGIN is never closed")
    return "".join(out)


def generate(solutions, labs_out):
    """Map each output path to its content: the starter of every file in solutions/NN-*/."""
    files = {}
    for lab in sorted(p for p in solutions.iterdir() if p.is_dir() and re.match(r"\d\d-", p.name)):
        for src in sorted(p for p in lab.rglob("*") if p.is_file()):
            rel = src.relative_to(solutions)
            files[labs_out / rel] = starter_text(src.relative_to(ROOT) if src.is_relative_to(ROOT) else src,
                                                 src.read_text())
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that labs/ is up to date")
    ap.add_argument("--out", type=Path, default=ROOT / "labs", help="where to write the labs")
    ap.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    args = ap.parse_args()

    if not args.solutions.is_dir():
        print(f"mklab: no {args.solutions} here (a student copy has none): nothing to generate")
        return 0
    try:
        files = generate(args.solutions, args.out)
    except MarkerError as e:
        print(f"mklab: {e}", file=sys.stderr)
        return 1

    stale = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
    generated_labs = {p.relative_to(args.out).parts[0] for p in files}
    extra = [p for lab in generated_labs for p in (args.out / lab).rglob("*")
             if p.is_file() and p not in files]
    if args.check:
        for p in stale:
            print(f"mklab: {p.relative_to(ROOT) if p.is_relative_to(ROOT) else p} differs from what "
                  f"solutions/ generates", file=sys.stderr)
        for p in extra:
            print(f"mklab: {p} has no counterpart in solutions/", file=sys.stderr)
        if stale or extra:
            print("mklab: run `make labs` to regenerate labs/ from solutions/", file=sys.stderr)
            return 1
        return 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(files[p])
        print(f"mklab: wrote {p.relative_to(ROOT) if p.is_relative_to(ROOT) else p}")
    for p in extra:
        p.unlink()
        print(f"mklab: removed {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
