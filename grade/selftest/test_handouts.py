"""The handouts quote real runs: every console excerpt under a `<!-- run: ... -->` marker
(tools/site/excerpts.py) must be what that run prints now, apart from what truly varies from
build to build (kernel addresses, seeds, timings, and what the marker's vary= names). The
runs are a few boots of the reference and starter kernels and of small variants of one lab
(a step left undone, a planted mistake), each a recompilation of the files it changes. A
fenced block that looks like what the kernel, the grader or a host program prints must have
such a marker (or a figure's), or say why it quotes no run: `<!-- not a run: REASON -->`, where
a REASON "quoted from FILE" holds the block to that file.

No chapter may grow past 6,000 words."""
import re
import sys
from pathlib import Path

import pytest

from conftest import RELEASE, graded
from harness.paths import ROOT

sys.path.insert(0, str(ROOT / "tools" / "site"))
import excerpts  # noqa: E402
import runs  # noqa: E402

runs.grader = graded  # a kernel test_checkpoints.py grades too is graded once

HANDOUTS = sorted((ROOT / "handouts").glob("*.md"))
WITH_RUNS = [p for p in HANDOUTS if "<!-- run:" in p.read_text()]


@pytest.mark.parametrize("path", WITH_RUNS, ids=[p.name for p in WITH_RUNS])
def test_excerpts_are_what_the_runs_print(path):
    if RELEASE:
        pytest.skip("the excerpts quote the starters and the reference code; in a students' copy "
                    "labs/ holds your work and solutions/ is not all there")
    notes = []
    problems = excerpts.check([path], log=notes.append)
    assert not problems, "\n\n".join(problems)
    if notes and not RELEASE:
        pytest.fail("\n".join(notes), pytrace=False)


@pytest.mark.parametrize("path", HANDOUTS, ids=[p.name for p in HANDOUTS])
def test_markers_are_well_formed(path):
    found, problems = excerpts.find(path)
    assert not problems, "\n".join(problems)
    for ex in found:
        runs.parse(ex.command)  # raises, naming what is wrong


def misplaced_hints(text):
    """Lines of `*Hint:*` paragraphs that are not under a numbered question of a Questions
    section (the web edition folds each hint under its question)."""
    section, question, bad = None, None, []
    for n, line in enumerate(text.splitlines(), 1):
        heading = re.match(r"^(#{1,2}) (.*)", line)
        if heading:
            section, question = heading.group(2), None
        elif section and "Question" in section and re.match(r"^\d+\. ", line):
            question = n
        if "*Hint:*" in line and question is None:
            bad.append(n)
    return bad


@pytest.mark.parametrize("path", HANDOUTS, ids=[p.name for p in HANDOUTS])
def test_every_hint_sits_under_its_question(path):
    bad = misplaced_hints(path.read_text())
    assert not bad, (f"{path.name}: the hint(s) on line(s) {bad} are not under a question of its "
                     f"Questions section")


def test_a_hint_outside_the_questions_is_found():
    text = "## Steps\n\n1. pic_init\n\n   *Hint:* x\n\n## Questions\n\n1. Why?\n\n   *Hint:* y\n"
    assert misplaced_hints(text) == [5]


def test_no_chapter_is_longer_than_6000_words():
    long = []
    for p in HANDOUTS:
        text = re.sub(r"<!--.*?-->", "", p.read_text(), flags=re.S)
        words = len(text.split())
        if re.match(r"\d\d-", p.name) and words > 6000:
            long.append(f"{p.name}: {words} words")
    assert not long, "chapters over 6,000 words (split them where the subject changes):\n" + "\n".join(long)


def test_a_changed_excerpt_is_caught_and_named(tmp_path):
    # The comparison itself, without a boot: a changed line is named with both versions, a
    # moved kernel address or a new seed is not a difference.
    ex = excerpts.Excerpt(Path(ROOT / "handouts" / "x.md"), 10, "make qemu LAB=1", {"vary": []}, 11, 15,
                          ["$ make qemu LAB=1", "...", "EXCEPTION: vector 3 (#BP breakpoint) error 0x0 at rip "
                           "0xffffffff80108640", "seed 1234", "usable: 130559 KiB"])
    ran = ["EXCEPTION: vector 3 (#BP breakpoint) error 0x0 at rip 0xffffffff8010db70", "seed 99",
           "usable: 130687 KiB"]
    diff = excerpts.compare(ex, ran)
    assert diff and "130559" in diff and "130687" in diff and "line 16" in diff
    assert excerpts.compare(ex, ran[:2] + ["usable: 130559 KiB"]) is None
    assert "more lines" in excerpts.compare(ex, ran[:2] + ["usable: 130559 KiB", "one more"])


def test_a_measure_run_is_kept_only_for_the_same_executable(tmp_path, monkeypatch):
    # A host program's run (`measure NAME`) is kept beside it under its executable's hash:
    # rebuilt unchanged, it is not run again; changed, it is.
    prog = tmp_path / "tools" / "heapmeasure" / "count.c"
    prog.parent.mkdir(parents=True)
    source = ("/*\n *   gcc -O2 -o build/heapmeasure/count tools/heapmeasure/count.c\n */\n"
              "#include <stdio.h>\nint main(void) { FILE *f = fopen(\"runs\", \"a\"); "
              "fputs(\"x\", f); fclose(f); printf(\"%d\\n\", N); return 0; }\n")
    prog.write_text(source.replace("N)", "6 * 7)"))
    monkeypatch.setattr(runs, "ROOT", tmp_path)
    m = runs.Measure.parse("measure count", ["count"])
    assert m.run() == "42\n" and m.run() == "42\n"
    assert (tmp_path / "runs").read_text() == "x", "the same executable was run again"
    prog.write_text(source.replace("N)", "6 * 8)"))
    assert m.run() == "48\n" and (tmp_path / "runs").read_text() == "xx"


def test_selection_marks_the_lines_it_leaves_out():
    text = "a\nCC x\nb\nCC y\nc\nd\n"
    assert excerpts.select(text, {"from": "^b", "to": "^d", "drop": "^CC", "vary": []}) == ["b", "...", "c", "d"]
    with pytest.raises(runs.RunError, match="no line matching from="):
        excerpts.select(text, {"from": "^zzz", "vary": []})


def test_partial_steps_keep_the_starter_of_later_steps():
    src = ("x\n/// SOLUTION BEGIN\ndone1\n/// SOLUTION END\n/// STARTER: TODO(\"step 1: a\");\n"
           "/// SOLUTION BEGIN\ndone2\n/// SOLUTION END\n/// STARTER: TODO(\"steps 2-3: b\");\n")
    assert runs.partial_text(src, 1) == "x\ndone1\nTODO(\"steps 2-3: b\");\n"
    assert runs.partial_text(src, 3) == "x\ndone1\ndone2\n"
    assert [b[2] for b in runs.solution_blocks(src)] == [[1], [2, 3]]



# Lines the kernel or the grader prints (at their start, after any indentation): a fenced block
# with one quotes a run. So does one with two rows of a table of measurements (a host program's,
# `measure NAME` in tools/site/runs.py), or with a command typed at a `$ ` prompt followed by
# what it printed.
CONSOLE = re.compile(
    r"^\s*(== \d\d-|== \w[\w ]*: |kernel: |heap: |memmap: |paging: |pages: |threads: |user: |"
    r"proc: |program '|teachos: |EXCEPTION: |PAGE FAULT|PANIC|FAIL |(not )?ok \d+ |KTAP version|"
    r"# Subtest: |\[the kernel |QEMU's log|-+ points -+$|total +\d+/\d+|graded \d+ submissions )")
# A number standing alone: a row of measurements has three or more, one of them a fraction or a
# percentage (the bit numbers of a register's picture, or block orders, are whole numbers).
NUMBER = re.compile(r"(?:^|(?<=\s))\d+(\.\d+)?%?(?=\s|$)")
RUN_MARKER = re.compile(r"^\s*<!--\s*(run|figure):")
NOT_A_RUN = re.compile(r"^\s*<!--\s*not a run:\s*(\S.*?)\s*-->\s*$")
QUOTED_FROM = re.compile(r"\bquoted from `?([\w./-]+\.\w+)`?")


def measured(line):
    found = [m.group(0) for m in NUMBER.finditer(line)]
    return len(found) >= 3 and any("." in n or "%" in n for n in found)


def fenced_blocks(text):
    """(line of the opening fence, counted from 1, the nearest non-blank line above it, the
    lines inside the fence) for every fenced block of a Markdown text."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        f = excerpts.FENCE.match(lines[i])
        if not f:
            i += 1
            continue
        k = i + 1
        while k < len(lines) and not lines[k].strip().startswith(f.group(1)):
            k += 1
        above = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        blocks.append((i + 1, above, lines[i + 1:k]))
        i = k + 1
    return blocks


def shows_output(body):
    """Does a block quote what a run printed: a line of the kernel's or grader's console, two
    rows of a table of measurements, or a `$ ` command followed by lines that are neither
    commands nor their continuations?"""
    if any(CONSOLE.match(l) for l in body) or sum(map(measured, body)) >= 2:
        return True
    typed = False
    for n, line in enumerate(body):
        if line.lstrip().startswith("$ "):
            typed = True
        elif typed and line.strip() and line.strip() != "..." and not body[n - 1].rstrip().endswith("\\"):
            return True
    return False


def unchecked_console(text, root=ROOT):
    """Where a Markdown text quotes console output that no run checks: (line, why) for every
    fenced block that looks like a run's output with neither a `<!-- run: ... -->` nor a
    `<!-- figure: ... -->` marker above it, nor `<!-- not a run: REASON -->` (an HTML comment,
    which the site does not show). A reason "quoted from FILE" holds the block to that file:
    every line of the block must be in it (the format examples of a header, say)."""
    bad = []
    for line, above, body in fenced_blocks(text):
        if RUN_MARKER.match(above):
            continue
        m = NOT_A_RUN.match(above)
        if m:
            q = QUOTED_FROM.search(m.group(1))
            if q:
                src = root / q.group(1)
                if not src.is_file():
                    bad.append((line, f"quoted from {q.group(1)}, which does not exist"))
                    continue
                have = src.read_text()
                missing = [l.strip() for l in body if l.strip() and l.strip() != "..." and l.strip() not in have]
                if missing:
                    bad.append((line, f"not in {q.group(1)}: {missing[0]}"))
            continue
        if shows_output(body):
            bad.append((line, "console output with no <!-- run: ... --> marker above it"))
    return bad


@pytest.mark.parametrize("path", HANDOUTS, ids=[p.name for p in HANDOUTS])
def test_console_output_is_marked(path):
    # What a run printed is quoted under a run marker, which make test checks against the run,
    # or says why it is not a run: an excerpt without one would drift unseen.
    bad = unchecked_console(path.read_text())
    assert not bad, "\n".join(
        [f"{path.name}:{n}: {why}" for n, why in bad] +
        ["Mark each with <!-- run: make qemu ... | from=... to=... --> (tools/site/excerpts.py; "
         "then make excerpts FILE=...), or <!-- not a run: REASON --> if it quotes no run."])


def test_unmarked_console_output_is_found():
    # The tour of checkpoint 08 as handouts/08-user-2-kernel.md quoted it unmarked, drifted
    # from the run (9 programs where the kernel has 16).
    tour = ("`make qemu LAB=8 SOLUTIONS=all` ends with this:\n\n```\n== 08-user: programs in ring 3 ==\n"
            "9 programs in the kernel image: bench fault hello hostile layout memtest regs sleepy spin\n"
            "every program gone: 32111 frames free, as before the first (32111)\n```\n")
    assert [n for n, _ in unchecked_console(tour)] == [3]
    marked = tour.replace("\n\n```", "\n\n<!-- run: make qemu LAB=8 SOLUTIONS=all | from=\"^== 08\" -->\n```", 1)
    assert unchecked_console(marked) == []
    # A host program's output after its command, the command's continuation lines apart.
    host = "```\n$ gcc -O2 -o build/x x.c \\\n      y.c\n$ build/x\npolicy  failed\nfirst fit  30.9\n```\n"
    assert [n for n, _ in unchecked_console(host)] == [1]
    table = ("```\n high mark  allocator           ns per op  fallback walks/1000   regions walked\n"
             "      1000  list heap alone         421.6               1004.6              188\n"
             "      4000  list heap alone        2022.6               1018.2              671\n```\n")
    assert [n for n, _ in unchecked_console(table)] == [1]
    assert unchecked_console("```sh\n$ gcc -O2 -o build/x x.c \\\n      y.c\n$ build/x\n```\n") == []
    # Commands to type and code are not output.
    assert unchecked_console("```sh\nmake grade LAB=4   # checkpoint 04\n```\n\n```c\nint ok = 1;\n```\n") == []
    # A format example quoted from a header must be in it.
    quoted = ("<!-- not a run: quoted from kernel/pagefault.h -->\n```\n"
              "PAGE FAULT: address 0x{}, write, page not present, kernel mode\n```\n")
    assert unchecked_console(quoted.format("00000000deadb000")) == []
    assert "not in kernel/pagefault.h" in unchecked_console(quoted.format("00000000deadb001"))[0][1]

