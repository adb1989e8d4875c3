"""What `make grade` prints about the tests that failed, in the order a student fixes them.

    * what the kernel had to skip while booting, once, at the top;
    * the failures of the checkpoint's own lab first, in the order of the handout's steps (the
      step a failure names, such as a TODO's "step 4", or else the step after which the test
      passes, from grade/steps.toml), then those of the earlier labs, each lab's group saying
      which later lab's code they run on at this checkpoint ("the kernel's frames come from
      labs/06-buddy/buddy.c");
    * each cause once, in full, with the tests that failed for the same reason listed after it.
"""
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .paths import ROOT

STEPS_FILE = ROOT / "grade" / "steps.toml"
BOOT_NOTES_HEADER = "While booting, the kernel had to skip:"
LOG_LINE_PREFIXES = ("(console log:", "(QEMU's log:", "(log:")
# The step a message names: a TODO the test reached (in the file it names), or a test that
# cannot pass before a step.
_TODO_STEP = re.compile(r"not implemented: \S+ at (\S+?):\d+: .*?\bsteps? (\d+)")
_BEFORE_STEP = re.compile(r"cannot pass before steps? (\d+)")
_TODO_FN_STEP = re.compile(r"not implemented: (\S+) at (\S+?):\d+: .*?\bsteps? (\d+)")
# The kernel's word that a function of a lab's step, called by the kernel for a test of another
# step, faulted (kernel/layers/09-process/procs.c: "proc_exit (lab 09, step 6) faulted").
_FAULTED_IN_STEP = re.compile(r"\(lab (\d\d), step (\d+)\) faulted\b")
# A test without a result because an earlier test stopped the run (grading.judge_case).
_STOPPED_DURING = re.compile(r"the run stopped during test (\S+) \(the first without a result\)")
_STOPPED_IN_ITSELF = re.compile(r"no result for this test: the run stopped during this test\.")
# Where a message shows the kernel in a lab's unfinished code: a TODO it reached, or a line of
# the starter (boot.S's `ud2 /* TODO step 1 ... */`, say) it stopped at.
_LAB_TODO = re.compile(r"not implemented: \S+ at labs/(\d\d-[\w-]+)/"
                       r"|\blabs/(\d\d-[\w-]+)/[^\s:]+:\d+:.*\bTODO\b")
_LAYER = re.compile(r"(\d\d-[\w-]+):(\S+)")

# What a lab's code does for the kernel from its checkpoint on, and which earlier labs' tests
# run through it there: (what it serves, the file, the labs whose tests use it).
SERVES = {
    "03-bump": ("the kernel heap (kmalloc) runs on", "bump.c", ()),
    "04-linked-list": ("the kernel heap (kmalloc) runs on", "list_heap.c", ("03-bump",)),
    "05-fixed-block": ("the kernel heap (kmalloc) runs on", "block_heap.c",
                       ("03-bump", "04-linked-list")),
    "06-buddy": ("the kernel's frames come from", "buddy.c",
                 ("02-paging", "03-bump", "04-linked-list", "05-fixed-block")),
    "07-threads": ("timer interrupts and thread switches happen during every test, through",
                   "pic.c, timer.c, thread.c",
                   ("00-kernel", "01-boot", "02-paging", "03-bump", "04-linked-list",
                    "05-fixed-block", "06-buddy")),
}


def load_steps(path=STEPS_FILE):
    """{lab: {test: step}} from grade/steps.toml, or {} if there is none."""
    try:
        return {lab: dict(tests) for lab, tests in tomllib.loads(Path(path).read_text()).items()}
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def layers_of(kernel_dir):
    """{lab: where its code came from ("solutions", "labs", or another directory)}, as the
    kernel's build recorded it (build_info.c, written by kernel/build.mk); {} if unknown."""
    try:
        text = (Path(kernel_dir) / "build_info.c").read_text()
    except (OSError, TypeError):
        return {}
    m = re.search(r'build_layers\[\] = "([^"]*)"', text)
    return dict(_LAYER.findall(m.group(1))) if m else {}


def grade_command(kernel_dir):
    """The `make grade` command that grades the build in kernel_dir (LAB, and SOLUTIONS for the
    layers taken from solutions/), as kernel/build.mk wrote it into build_info.c; None if
    unknown. What a grading run from elsewhere than make passes as --rerun, so that its hints
    read as they do in `make grade`."""
    try:
        text = (Path(kernel_dir) / "build_info.c").read_text()
    except (OSError, TypeError):
        return None
    m = re.search(r'build_grade_command\[\] = "([^"]*)"', text)
    return m.group(1) if m else None


def split_message(message):
    """(the message without the boot notes and log lines, the boot notes, the log lines)."""
    body, notes, logs = [], [], []
    in_notes = False
    for line in message.splitlines():
        if line == BOOT_NOTES_HEADER:
            in_notes = True
            continue
        if in_notes and line.startswith("    "):
            notes.append(line.strip())
            continue
        in_notes = False
        (logs if line.startswith(LOG_LINE_PREFIXES) else body).append(line)
    return "\n".join(body).strip(), notes, logs


@dataclass
class Failure:
    result: dict                 # as conftest keeps it: lab, test, max_points, message, ...
    step: int = None
    cause: str = ""
    logs: list = field(default_factory=list)
    after: "Failure" = None      # the test that stopped the run before this one got a result

    @property
    def lab(self):
        return self.result["lab"]

    @property
    def test(self):
        return self.result["test"]


def step_of(result, steps, body=None):
    """The step a failure belongs to: the earlier of the one its message names (a TODO of the
    test's own lab it reached, "step 4: ...", or "cannot pass before step 4") and the one
    after which the test passes (grade/steps.toml); None if neither says. body is the message
    without its boot notes (split_message): what the kernel skipped while booting is said
    once, at the top, and names no step of this test. A TODO of a later step than the test's
    own, reached when an earlier step's code failed (a crash handled by a later step's
    function, say), leaves the test at its own step. But a later step's function that the
    kernel says faulted, "(lab 09, step 6) faulted", puts the test at that step: the test
    passed without that function (its TODO), so the fault is that step's to fix."""
    text = split_message(result.get("message") or "")[0] if body is None else body
    faulted = [int(m.group(2)) for m in _FAULTED_IN_STEP.finditer(text)
               if m.group(1) == result["lab"][:2]]
    if faulted:
        return min(faulted)
    named = [int(m.group(2)) for m in _TODO_STEP.finditer(text)
             if f"/{result['lab']}/" in f"/{m.group(1)}"]
    named += [int(m.group(1)) for m in _BEFORE_STEP.finditer(text)]
    listed = steps.get(result["lab"], {}).get(result["test"])
    known = named + ([listed] if listed is not None else [])
    return min(known) if known else None


def order(failures, current):
    """The current lab's failures first, by step, then the other labs' in lab order; a test
    that got no result because another stopped the run comes after that one. Within a step,
    the tests that said what their check found come before those the kernel crashed in (but
    not in a TODO, which names what to write): a crash says where the kernel stopped, while a
    failed check of the same step usually names what the code got wrong (a destroy that keeps
    a frame, say, before a test that crashed over that frame). Then suite by suite, and in
    each the order its tests are written in (the handout's, as a rule), not their names':
    buddy's unit tests before buddy_churn's random ones, the black-box tests last."""
    def crashed(f):
        return bool(_STOPPED_IN_ITSELF.match(f.cause)) and not _TODO_STEP.search(f.cause)

    def written(f):  # suite by suite (a black-box test last), each in its source's order
        suite = f.test.split(".", 1)[0] if "." in f.test else "~"
        return (suite, *(f.result.get("place") or ("", 0)))

    def key(f):
        return (f.lab != current, f.lab, f.step is None, f.step or 0, f.after is not None,
                crashed(f), written(f))
    return sorted(failures, key=key)


def link_to_culprits(failures):
    """A test without a result because an earlier test of its lab stopped the run belongs to
    that test: its step, and its place in the list (after it, as failing for the same
    reason)."""
    by_test = {(f.lab, f.test): f for f in failures}
    for f in failures:
        m = _STOPPED_DURING.search(f.cause)
        culprit = by_test.get((f.lab, m.group(1))) if m else None
        if culprit is not None and culprit is not f:
            f.after, f.step = culprit, culprit.step


def unfinished_earlier_labs(texts, current, layers):
    """The earlier labs, taken from labs/, whose unfinished code the texts show the kernel in."""
    found = set()
    for text in texts:
        for m in _LAB_TODO.finditer(text):
            lab = m.group(1) or m.group(2)
            if lab < current and layers.get(lab, "labs") == "labs":
                found.add(lab)
    return sorted(found)


def number_list(numbers):
    """[1, 2, 3, 5] as SOLUTIONS reads it: 1-3,5."""
    parts, run = [], []
    for n in sorted(set(numbers)) + [None]:
        if run and (n is None or n != run[-1] + 1):
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run)))
            run = []
        if n is not None:
            run.append(n)
    return ",".join(parts)


def todo_reached(failure, current):
    """(step, function) of the TODO of the current lab that holds the failure at its step (the
    test reached it, and it is of the step the failure is filed under), or None."""
    for m in _TODO_FN_STEP.finditer(failure.cause):
        if f"/{current}/" in f"/{m.group(2)}" and int(m.group(3)) == failure.step:
            return int(m.group(3)), m.group(1)
    return None


def earlier_labs_note(labs, current, layers, rerun=None, have_solutions=None,
                      doing="grade this lab"):
    """What to say when the kernel stopped in the unfinished code of earlier labs: finish
    them, or take their reference code, which this copy of the course may have."""
    if have_solutions is None:
        have_solutions = {p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()} \
            if (ROOT / "solutions").is_dir() else set()
    named = ", ".join(f"labs/{lab}/" for lab in labs)
    text = (f"The kernel stopped in unfinished code of an earlier lab: {named}. Checkpoint "
            f"{current} is built from every lab up to it, each from labs/ unless SOLUTIONS "
            f"says otherwise, so {'those labs come' if len(labs) > 1 else 'that lab comes'} "
            f"first.")
    earlier = sorted(lab for lab in have_solutions if lab < current)
    if all(lab in have_solutions for lab in labs):
        solutions = number_list(int(lab[:2]) for lab in earlier)
        command = (re.sub(r" {2,}", " ", re.sub(r"\s+SOLUTIONS=\S+", "", rerun).strip()) if rerun
                   else f"make grade LAB={int(current[:2])}") + f" SOLUTIONS={solutions}"
        text += (f" Finish {'them' if len(labs) > 1 else 'it'}, or {doing} on the "
                 f"reference code of the earlier labs, which this copy has: `{command}`.")
    else:
        text += f" Finish {'them' if len(labs) > 1 else 'it'} first (its handout's steps)."
    return text


def runs_through(lab, current, layers):
    """Why a test of `lab` can fail through the code of a later lab at this checkpoint: a
    sentence, or "" if no later lab serves its tests."""
    said, whats = [], {}
    for later, (what, file, users) in SERVES.items():
        if lab < later <= current and lab in users:
            whats[what] = later  # a later lab serving the same takes over from an earlier one
    for later, (what, file, users) in SERVES.items():
        if whats.get(what) == later:
            src = layers.get(later)
            if src not in ("labs", "solutions"):
                path = f"lab {later[:2]}'s code ({file})"
            elif "," in file:
                path = f"{src}/{later}/ ({file})"
            else:
                path = f"{src}/{later}/{file}"
            said.append(f"{what} {path}")
    if not said:
        return ""
    own = layers.get(lab)
    text = (f"These are tests of {lab}, run at checkpoint {current}, where "
            + "; and ".join(said) + ".")
    if own == "solutions":
        text += (f" {lab} itself is the reference solution here, so the cause is in that "
                 f"later code.")
    return text


def report(results, current, layers, steps, rerun=None):
    """The lines to print about the failed results: [(text, style)]. rerun: the command that
    made this run (for a command to suggest)."""
    failed = [r for r in results if r["status"] != "passed"]
    if not failed:
        return []
    lines, notes = [], []
    failures = []
    for r in failed:
        body, boot, logs = split_message(r.get("message") or "")
        for n in boot:
            if n not in notes:
                notes.append(n)
        failures.append(Failure(r, step_of(r, steps, body), body, logs))
    if notes:
        lines.append((BOOT_NOTES_HEADER, {"bold": True}))
        lines += [("    " + n, {}) for n in notes]
    link_to_culprits(failures)
    failures = order(failures, current)
    by_cause = {}
    for f in failures:
        lead = f.after or f
        by_cause.setdefault((lead.lab == current, lead.cause), []).append(f)
    unfinished = unfinished_earlier_labs([f.cause for f in failures] + notes, current, layers)
    if unfinished:
        lines.append((earlier_labs_note(unfinished, current, layers, rerun), {"bold": True}))
    first_own = next((f for f in failures if f.lab == current), None)
    if first_own and first_own.step is not None and not unfinished:
        later = [f for f in failures if f.lab == current and (f.step or 0) > first_own.step]
        # Those that reached a TODO of a later step fail for want of that step, not because
        # of the first failure: they are counted apart, by the TODOs they reached.
        todos = {}
        for f in later:
            reached = todo_reached(f, current)
            if reached:
                todos.setdefault(reached, []).append(f)
        blocked = [f for f in later if not todo_reached(f, current)]
        if later:
            text = f"Start with the first failure below ({first_own.test}, step {first_own.step})"
            if blocked:
                text += f": the {len(blocked)} after it from later steps may fail only because of it"
            if todos:
                reached = ", ".join(f"step {step}: {fn}" for step, fn in sorted(todos))
                count = sum(len(fs) for fs in todos.values())
                text += (f"{'; ' if blocked else ': '}{count} "
                         f"{'more' if blocked else 'after it'} reach TODOs of later steps ({reached})")
            lines.append((text + ".", {"bold": True}))
    shown_lab = None
    for (own, cause), fs in by_cause.items():
        first = fs[0]
        if first.lab != current and first.lab != shown_lab:
            shown_lab = first.lab
            why = runs_through(first.lab, current, layers)
            if why:
                lines.append((why, {"bold": True}))
        step = f", step {first.step}" if first.step is not None and first.lab == current else ""
        lines.append((f"FAIL {first.lab} {first.test} (0/{first.result['max_points']} "
                      f"points{step})", {"red": True, "bold": True}))
        lines += [("    " + l, {}) for l in (cause or "failed").splitlines() + first.logs]
        if len(fs) > 1:
            names = [f"{f.lab[:2]}:{f.test}" for f in fs[1:]]
            shown = ", ".join(names[:12]) + (f", and {len(names) - 12} more" if len(names) > 12 else "")
            lines.append((f"FAIL for the same reason: {len(names)} more test(s): {shown}",
                          {"red": True, "bold": True}))
    return lines
