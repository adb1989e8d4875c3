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
# The step a message names: a TODO the test reached, or a test that cannot pass before a step.
_STEP = re.compile(r"(?:not implemented: .*?|cannot pass before )\bsteps? (\d+)")
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

    @property
    def lab(self):
        return self.result["lab"]

    @property
    def test(self):
        return self.result["test"]


def step_of(result, steps):
    """The step a failure belongs to: the one its message names (a TODO's "step 4: ..."), else
    the one after which the test passes (grade/steps.toml), else None."""
    m = _STEP.search(result.get("message") or "")
    if m:
        return int(m.group(1))
    return steps.get(result["lab"], {}).get(result["test"])


def order(failures, current):
    """The current lab's failures first, by step, then the other labs' in lab order."""
    def key(f):
        return (f.lab != current, f.lab, f.step is None, f.step or 0)
    return sorted(failures, key=key)


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


def report(results, current, layers, steps):
    """The lines to print about the failed results: [(text, style)]."""
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
        failures.append(Failure(r, step_of(r, steps), body, logs))
    if notes:
        lines.append((BOOT_NOTES_HEADER, {"bold": True}))
        lines += [("    " + n, {}) for n in notes]
    failures = order(failures, current)
    by_cause = {}
    for f in failures:
        by_cause.setdefault((f.lab == current, f.cause), []).append(f)
    first_own = next((f for f in failures if f.lab == current), None)
    if first_own and first_own.step is not None:
        later = [f for f in failures if f.lab == current and (f.step or 0) > first_own.step]
        if later:
            lines.append((f"Start with the first failure below ({first_own.test}, step "
                          f"{first_own.step}): the {len(later)} after it from later steps may "
                          f"fail only because of it.", {"bold": True}))
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
