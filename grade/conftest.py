"""The grading harness as a pytest plugin.

`make grade` runs `pytest grade/tests --kernel build/<checkpoint> --checkpoint N`. Kernel
tests (KTEST in grade/ktests/) become one pytest test each, booted a batch of suites at a time;
black-box tests (grade/tests/test_NN_*.py) boot their own kernels. At the end a points
table per lab is printed; --results writes every result as JSON, --gradescope as Gradescope's
results.json (pytest's own --junitxml writes JUnit XML). Tests from an instructor's --hidden
directory are marked hidden (Gradescope visibility --hidden-visibility). --build-failed LOG
grades a kernel that could not be built: every test fails, quoting LOG.

The seed of the randomized tests is drawn once, here in the controlling process, and handed to
every xdist worker, so the seed printed at the end is the one every boot used. --rerun is
the command that repeats this run (`make grade LAB=7 SOLUTIONS=1-6`): the hints to replay a
seed are built from it.
"""
import fcntl
import json
import random
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import gradescope, summary  # noqa: E402
from harness.check import Unconfirmed  # noqa: E402
from harness.grading import KernelUnderTest  # noqa: E402
from harness.paths import rel  # noqa: E402

BUILD_LOG_LINES = 40  # of a failed build's log, quoted in every test's failure


def pytest_addoption(parser):
    g = parser.getgroup("grade", "teachos grading")
    g.addoption("--kernel", type=Path, help="the kernel build directory to grade")
    g.addoption("--checkpoint", type=int, help="grade the tests of labs 1..N (and 00-kernel)")
    g.addoption("--only-lab", type=int, help="only the tests of this lab")
    g.addoption("--seed", type=int, help="seed for randomized tests (default: a fresh one)")
    g.addoption("--rerun", help="the command that repeats this run, for the hints to replay it")
    g.addoption("--boot-timeout", type=float, default=10.0, help="seconds per QEMU boot")
    g.addoption("--results", type=Path, help="write the results as JSON here")
    g.addoption("--gradescope", type=Path, help="write Gradescope's results.json here")
    g.addoption("--hidden", type=Path, help="an instructor's hidden test directory")
    g.addoption("--hidden-visibility", default="after_published",
                choices=gradescope.VISIBILITIES, help="Gradescope visibility of hidden tests")
    g.addoption("--build-failed", type=Path, metavar="LOG",
                help="the kernel could not be built (LOG says why): fail every test with it")


def pytest_configure(config):
    worker = getattr(config, "workerinput", None)
    if worker is not None and "grade_seed" in worker:
        config.option.seed = worker["grade_seed"]  # the controller's: one seed for the run
    elif config.getoption("seed") is None:
        config.option.seed = random.randrange(1, 1 << 31)
    config._grade_results = {}
    config.pluginmanager.register(_Results(config), "teachos-results")
    config._grade_start = time.monotonic()
    if worker is None:
        config._grade_lock = hold_the_build(config.getoption("kernel"))


def hold_the_build(kernel_dir):
    """Two gradings of one build at once would write the same console logs (runs/): the
    second waits for the first, saying so. The lock is held until this process ends."""
    if kernel_dir is None or not kernel_dir.is_dir():
        return None
    lock = open(kernel_dir / "grading.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"waiting for another grading of {rel(kernel_dir)} to end (both would write its "
              f"console logs, {rel(kernel_dir)}/runs/) ...", file=sys.stderr, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist, on the controller, for each worker it starts: the run's seed goes with it."""
    node.workerinput["grade_seed"] = node.config.getoption("seed")


def rerun_command(config, seed):
    """The command that replays this run with seed, in words for a hint."""
    rerun = config.getoption("rerun")
    return f"`{rerun} SEED={seed}`" if rerun else f"SEED={seed} (with the rest of this run's command)"


@pytest.fixture(scope="session")
def kernel(request):
    log = request.config.getoption("build_failed")
    if log is not None:
        pytest.fail(build_failure(log), pytrace=False)
    d = request.config.getoption("kernel")
    if d is None:
        pytest.exit("grading needs --kernel DIR (use `make grade`)", returncode=4)
    if not (d / "kernel.bin").is_file():
        pytest.exit(f"no kernel at {d}/kernel.bin: build it first (`make grade` does)", returncode=4)
    seed = request.config.getoption("seed")
    return KernelUnderTest(d, seed, request.config.getoption("boot_timeout"),
                           rerun=rerun_command(request.config, seed),
                           batches=getattr(request.config, "_grade_batches", None))


def build_failure(log):
    try:
        lines = [l for l in Path(log).read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        lines = []
    shown = lines[-BUILD_LOG_LINES:]
    return ("the kernel could not be built, so no test could run. The build said:\n"
            + "\n".join("    " + l for l in shown)
            + (f"\n    ... ({len(lines) - len(shown)} lines before these in {rel(log)})"
               if len(lines) > len(shown) else ""))


# ---------------------------------------------------------------------------------------------
# Which tests run: labs up to the checkpoint, and their points.

def _labnum(name):
    return int(name[:2])


def pytest_collection_modifyitems(session, config, items):
    checkpoint, only = config.getoption("checkpoint"), config.getoption("only_lab")
    keep, drop = [], []
    for item in items:
        lab = item_lab(item)
        if lab is None:  # the project's own tests, not grading
            keep.append(item)
            continue
        n = _labnum(lab)
        if (checkpoint is not None and n > checkpoint) or (only is not None and n != only):
            drop.append(item)
            continue
        item.user_properties += [("lab", lab), ("points", item_points(item)), ("test", item_title(item)),
                                 ("hidden", item_hidden(item, config)), ("place", item_place(item))]
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    # The kernel tests first: their batches are the longest pieces of work, and xdist hands
    # out work in this order.
    items[:] = [i for i in keep if _kcase(i)] + [i for i in keep if not _kcase(i)]


def _kcase(item):
    """The kernel test an item runs (a KCase), or None for the black-box tests."""
    return getattr(item, "callspec", None) and item.callspec.params.get("kcase")


def item_lab(item):
    kcase = _kcase(item)
    if kcase:
        return kcase.lab
    return getattr(item.module, "LAB", None)


def item_place(item):
    """Where the test is written, as (file, line): the KTEST's, or the test function's. A
    lab's failures of one step are listed in this order, the order its tests were written in
    (the handout's, as a rule), rather than by name."""
    kcase = _kcase(item)
    if kcase:
        return (str(kcase.file), kcase.line)
    return (str(item.location[0]), item.location[1] or 0)


def item_points(item):
    kcase = _kcase(item)
    if kcase:
        return kcase.points
    m = item.get_closest_marker("points")
    return m.args[0] if m else 0


def item_hidden(item, config):
    """From the instructor's hidden directory: a hidden KTEST, or a test file in it."""
    kcase = _kcase(item)
    if kcase:
        return kcase.hidden
    hidden = config.getoption("hidden")
    path = Path(str(getattr(item, "path", None) or item.fspath))  # pytest 7, and 6
    return bool(hidden) and path.resolve().is_relative_to(hidden.resolve())


def item_title(item):
    """A test's name in the grader's output: suite.name for a kernel test, and for a black-box
    test its function's name without test_, after its suite's name if it has a suite marker."""
    kcase = _kcase(item)
    if kcase:
        return kcase.id
    suite = item.get_closest_marker("suite")
    return (f"{suite.args[0]}." if suite else "") + item.name.removeprefix("test_")


# ---------------------------------------------------------------------------------------------
# Results: collected on the controlling process (xdist sends every report there).
#
# A plugin of their own (registered in pytest_configure), not hooks of this conftest.py: pytest
# calls a conftest's report hooks only for the tests under its directory when it runs them in
# this process (JOBS=1, no xdist), and an instructor's hidden tests live elsewhere. Their
# results would be run, and left out of the table and the results.

class _Results:
    def __init__(self, config):
        self.config = config

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.excinfo is not None and call.excinfo.errisinstance(Unconfirmed):
            outcome.get_result().user_properties.append(("forged", True))

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if "lab" not in props:
            return
        results = self.config._grade_results
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            message = ""
            if report.failed:
                message = _failure_text(report)
            results[report.nodeid] = {"lab": props["lab"], "test": props["test"],
                                      "max_points": props["points"],
                                      "points": props["points"] if report.passed else 0,
                                      "status": "passed" if report.passed else "failed",
                                      "message": message, "duration": round(report.duration, 3),
                                      "hidden": bool(props.get("hidden")),
                                      "forged": bool(props.get("forged")),
                                      "place": list(props.get("place") or ("", 0))}


def _failure_text(report):
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    text = "\n".join(l for l in report.longreprtext.splitlines() if not l.startswith("[gw"))
    if crash is not None and "Failed: " not in (crash.message or "") and "Traceback" in text:
        # A bug in the harness, not in the kernel: one line here, the traceback in the log.
        return f"internal error in the grading harness: {crash.message}"
    if crash is not None and crash.message.startswith("Failed: "):
        return crash.message[len("Failed: "):] if "\n" not in text else text.split("Failed: ", 1)[-1]
    return text.strip()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config._grade_results
    if not results:
        return
    tr = terminalreporter
    ordered = sorted(results.values(), key=lambda r: (r["lab"], r["test"]))
    if any(r["status"] != "passed" for r in ordered):
        tr.write_sep("-", "what failed")
        current = config.getoption("only_lab")
        labs = sorted({r["lab"] for r in ordered})
        current = next((l for l in labs if int(l[:2]) == current), None) if current else labs[-1]
        for text, style in summary.report(ordered, current, summary.layers_of(config.getoption("kernel")),
                                          summary.load_steps(), config.getoption("rerun")):
            tr.write_line(text, **style)
    tr.write_sep("-", "points")
    table, tot = points_table(ordered)
    for text, style in table:
        tr.write_line(text, **style)
    seed = config.getoption("seed")
    tr.write_line(f"seed {seed} ({rerun_command(config, seed)} replays this run); console logs in "
                  f"{rel(config.getoption('kernel') / 'runs') if config.getoption('kernel') else '?'}")

    elapsed = time.monotonic() - config._grade_start
    out = config.getoption("results")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "kernel": str(config.getoption("kernel")), "checkpoint": config.getoption("checkpoint"),
            "seed": config.getoption("seed"),
            "execution_time": round(elapsed, 3),
            "score": tot[2], "max_score": tot[3], "tests": ordered}, indent=2) + "\n")
    out = config.getoption("gradescope")
    if out:
        table_text = "\n".join(text for text, _ in table)
        if config.getoption("build_failed"):
            table_text = build_failure(config.getoption("build_failed")) + "\n\n" + table_text
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(gradescope.results(
            ordered, elapsed, table_text, config.getoption("hidden_visibility")), indent=2) + "\n")


def points_table(ordered):
    """The points per lab, as (line, terminal style) pairs, and the totals
    [tests passed, tests, points, max points]."""
    table = [(f"{'lab':<18}{'tests passed':>14}{'points':>12}", {})]
    tot = [0, 0, 0, 0]
    for lab in sorted({r["lab"] for r in ordered}):
        rs = [r for r in ordered if r["lab"] == lab]
        p = sum(r["status"] == "passed" for r in rs)
        pts = sum(r["points"] for r in rs)
        mx = sum(r["max_points"] for r in rs)
        tot = [tot[0] + p, tot[1] + len(rs), tot[2] + pts, tot[3] + mx]
        table.append((f"{lab:<18}{f'{p}/{len(rs)}':>14}{f'{pts}/{mx}':>12}",
                      {"green": p == len(rs), "red": p != len(rs)}))
    table.append(("-" * 44, {}))
    table.append((f"{'total':<18}{f'{tot[0]}/{tot[1]}':>14}{f'{tot[2]}/{tot[3]}':>12}", {"bold": True}))
    return table, tot
