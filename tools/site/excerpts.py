#!/usr/bin/env python3
"""Console excerpts in the handouts, checked against real runs (or rewritten from them).

An excerpt is a fenced code block with a marker on the line above it:

    <!-- run: make qemu LAB=6 SOLUTIONS=all | from="^== 06-buddy" to="both freed" -->
    ```
    $ make qemu LAB=6 SOLUTIONS=all
    ...
    == 06-buddy: frames in blocks of 2^k ==
    ...
    ```

Left of the `|` is the run (tools/site/runs.py says what it may name); right of it, which of
its lines the block shows:

    from=RE      start at the first line matching RE (default: the first line)
    to=RE        end at the first line from there on matching RE (default: the last line)
    only=RE      within that window, keep only lines matching RE
    drop=RE      within that window, leave out lines matching RE
                 (a run of lines left out by only= or drop= shows as one "..." line)
    vary=RE      parts of lines that differ from build to build beyond the defaults below
                 (frame numbers, counts that follow the kernel's size); may be repeated

Lines at the top of the block that start with "$ " (the command, as the reader types it) or
are "...", are the reader's and are kept as written. The rest must be what the run printed,
line for line, once these are set aside on both sides: kernel addresses (0xffffffff80xxxxxx),
the seed, and timings, plus the block's own vary= patterns.

    tools/site/excerpts.py [FILE...]             check (what `make test` does), exit 1 on a difference
    tools/site/excerpts.py --update [FILE...]    rewrite the blocks from the runs (`make excerpts`)
"""
import argparse
from concurrent.futures import ThreadPoolExecutor
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runs  # noqa: E402

ROOT = runs.ROOT
MARKER = re.compile(r"^(\s*)<!--\s*run:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^\s*(```+|~~~+)")
OPTIONS = {"from", "to", "only", "drop", "vary"}

# What truly varies from one build, or one run, to the next.
DEFAULT_VARY = [
    r"0xffffffff80[0-9a-f]{6}",                 # an address in the kernel image
    r"(?<=seed )\d+", r"(?<=seed: )\d+", r"(?<=SEED=)\d+",  # the seed of the randomized tests
    r"(?<= in )\d+(\.\d+)?s\b",                 # pytest's run time
]


@dataclass
class Excerpt:
    path: Path
    line: int              # of the marker, counted from 1
    command: str
    options: dict
    start: int             # index of the first line inside the fence
    end: int               # index of the closing fence
    body: list = field(default_factory=list)
    indent: str = ""       # of a block inside a list item

    @property
    def where(self):
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def parse_marker(text):
    command, _, sel = text.partition(" | ")
    opts = {"vary": []}
    try:
        words = shlex.split(sel)
    except ValueError as e:
        raise runs.RunError(f"cannot read the selection `{sel}`: {e}")
    for w in words:
        key, eq, val = w.partition("=")
        if not eq or key not in OPTIONS:
            raise runs.RunError(f"{w!r} is not one of {', '.join(sorted(OPTIONS))}=...")
        if key == "vary":
            opts["vary"].append(val)
        else:
            opts[key] = val
    return command.strip(), opts


def find(path):
    """The excerpts of one Markdown file, and the problems with their markers."""
    lines = path.read_text().splitlines()
    found, problems = [], []
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        f = FENCE.match(lines[j]) if j < len(lines) else None
        if not f:
            problems.append(f"{path.relative_to(ROOT)}:{i + 1}: a run marker must stand right above a "
                            f"fenced code block (```)")
            continue
        k = j + 1
        while k < len(lines) and not lines[k].strip().startswith(f.group(1)):
            k += 1
        try:
            command, opts = parse_marker(m.group(2))
        except runs.RunError as e:
            problems.append(f"{path.relative_to(ROOT)}:{i + 1}: {e}")
            continue
        indent = m.group(1)
        body = [l[len(indent):] if l.startswith(indent) else l.lstrip() for l in lines[j + 1:k]]
        found.append(Excerpt(path, i + 1, command, opts, j + 1, k, body, indent))
    return found, problems


def select(text, opts):
    """The lines of a run's output that an excerpt shows."""
    lines = [l.rstrip() for l in text.splitlines()]
    a, b = 0, len(lines) - 1
    if "from" in opts:
        a = next((i for i, l in enumerate(lines) if re.search(opts["from"], l)), None)
        if a is None:
            raise runs.RunError(f"the run printed no line matching from={opts['from']!r}")
    if "to" in opts:
        b = next((i for i in range(a, len(lines)) if re.search(opts["to"], lines[i])), None)
        if b is None:
            raise runs.RunError(f"the run printed no line matching to={opts['to']!r} after its from= line")
    out, gap = [], False
    for l in lines[a:b + 1]:
        keep = ("only" not in opts or re.search(opts["only"], l)) and \
            ("drop" not in opts or not re.search(opts["drop"], l))
        if keep:
            if gap and out:
                out.append("...")
            out.append(l)
            gap = False
        else:
            gap = True
    return out


def prefix_len(body):
    n = 0
    while n < len(body) and (body[n].startswith("$ ") or body[n].strip() == "..."):
        n += 1
    return n


def normalize(line, vary):
    for pattern in DEFAULT_VARY + vary:
        line = re.sub(pattern, "<*>", line)
    return line.rstrip()


def compare(ex, shown):
    """None if the excerpt shows what the run printed, else what differs, in words."""
    body = ex.body[prefix_len(ex.body):]
    want = [normalize(l, ex.options["vary"]) for l in shown]
    have = [normalize(l, ex.options["vary"]) for l in body]
    if want == have:
        return None
    for i, (h, w) in enumerate(zip(have, want)):
        if h != w:
            return (f"line {ex.start + prefix_len(ex.body) + i + 1} of the file:\n"
                    f"      the handout: {body[i]}\n      the run:     {shown[i]}")
    if len(have) < len(want):
        return f"the run printed more lines; the first one missing:\n      {shown[len(have)]}"
    return f"the handout has lines the run did not print, from:\n      {body[len(want)]}"


def prefetch(specs, jobs=2):
    """Make the runs two at a time (each is mostly waiting for QEMU or the compiler)."""
    def one(spec):
        try:
            runs.output(spec)
        except runs.RunError:
            pass  # said again, in its place, when the excerpt asks for it
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, specs))


def check(paths, update=False, log=print):
    """Check (or rewrite) every excerpt of these files; the list of problems."""
    problems, specs = [], []
    for path in paths:
        for ex in find(path)[0]:
            try:
                specs.append(runs.parse(ex.command))
            except runs.RunError:
                pass
    prefetch(list(dict.fromkeys(specs)))
    for path in paths:
        excerpts, bad = find(path)
        problems += bad
        lines = path.read_text().splitlines()
        changed = False
        for ex in reversed(excerpts):
            try:
                spec = runs.parse(ex.command)
                shown = select(runs.output(spec), ex.options)
            except runs.MissingSolutions as e:
                log(f"{ex.where}: not checked: {e}, which this copy of the course does not have")
                continue
            except runs.RunError as e:
                problems.append(f"{ex.where}: `{ex.command}`: {e}")
                continue
            if update:
                new = ex.body[:prefix_len(ex.body)] + shown
                if compare(ex, shown) is not None:  # not only what varies from build to build
                    lines[ex.start:ex.end] = [(ex.indent + l) if l else l for l in new]
                    changed = True
                    log(f"{ex.where}: rewritten from `{ex.command}`")
                continue
            diff = compare(ex, shown)
            if diff:
                problems.append(f"{ex.where}: the excerpt of `{ex.command}` is not what that run prints now; "
                                f"{diff}\n    If the run is right, rewrite the excerpt from it: "
                                f"make excerpts FILE={path.relative_to(ROOT)} (then read the text around it)")
        if changed:
            path.write_text("\n".join(lines) + "\n")
    return problems


def handouts():
    return sorted((ROOT / "handouts").glob("*.md"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", action="store_true", help="rewrite the excerpts from the runs")
    ap.add_argument("files", nargs="*", type=Path)
    args = ap.parse_args()
    paths = [p.resolve() for p in args.files] or handouts()
    problems = check(paths, update=args.update)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} excerpt(s) differ from their runs.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
