"""The handouts quote real runs: every console excerpt under a `<!-- run: ... -->` marker
(tools/site/excerpts.py) must be what that run prints now, apart from what truly varies from
build to build (kernel addresses, seeds, timings, and what the marker's vary= names). The
runs are a few boots of the reference and starter kernels and of small variants of one lab
(a step left undone, a planted mistake), each a recompilation of the files it changes.

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
