"""Fixtures for the project's own tests (`make test`).

In the full course every selftest must run: a skipped one fails the run. A students' copy
(`make release`, marked by its .release file) lacks some or all of solutions/: there the tests
that need a missing solution, or that check labs/ still holds the starters, are skipped with
the reason printed.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import build, grading, manifest, qemu, summary  # noqa: E402
from harness.paths import ROOT, SOLUTIONS, rel  # noqa: E402

PYTHON = "/usr/bin/python3"
RELEASE = (ROOT / ".release").is_file()

# The selftests run make as a person would, not with the variables of the `make test` around
# them: make puts TESTS=... of its command line in MAKEFLAGS and in the environment, and either
# would hand it on to the `make test` of a students' copy, which would then run only the
# tests named for this one; PYTEST_ADDOPTS (say --durations=20, for a look at the slowest
# tests) would add its output to every grading's, which the handouts quote.
for _var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TESTS", "PYTEST_ADDOPTS"):
    os.environ.pop(_var, None)
# And the gradings they start (make grade, the instructor tools) boot one kernel at a time:
# JOBS=1, which make and the tools read from the environment. The selftests keep every core
# busy already, a test per core; a grading's own parallel workers would only add two pytest
# processes to each (about a CPU-second, twice the Python of a grading of lab 01). A test of
# parallel grading says JOBS itself.
os.environ["JOBS"] = "1"
# Every Python they start (about two hundred: gradings, the course's tools, the workers of a
# nested make test) allocates through the C library's malloc, with the tunables the harness
# gives compilers and QEMU: a heap in huge pages, not Python's own arenas, each of whose 4 KiB
# pages is faulted in when first used. Page faults are slow on a virtual machine: a grading's
# pytest starts and collects with about 1,600 of them instead of 6,000, and the grading's
# Python took 0.59 s of CPU instead of 0.67 (checkpoint 09, three of each, side by side).
# What they start inherits the tunables; the bench takes them out for the programs it
# measures (tools/bench/bench.py).
os.environ["PYTHONMALLOC"] = "malloc"
if qemu.MALLOC_TUNABLES not in os.environ.get("GLIBC_TUNABLES", ""):
    os.environ.update(qemu.with_malloc_tunables(os.environ))
# And they keep their bytecode (in __pycache__/, which git ignores), even where the environment
# says not to (PYTHONDONTWRITEBYTECODE, set on some build machines): without it each of them
# compiles the harness again, and pytest rewrites the test modules again. Collecting the
# selftests took 850 ms of CPU instead of 490; a grading's pytest, 320 ms instead of 280.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def require_solutions(*labs):
    """Skip in a students' copy that lacks solutions/ of these labs; fail in the full course."""
    missing = [lab for lab in labs if not (SOLUTIONS / lab).is_dir()]
    if not missing:
        return
    what = ", ".join(f"solutions/{lab}" for lab in missing)
    if RELEASE:
        pytest.skip(f"needs {what}, which this students' copy does not include")
    pytest.fail(f"{what} is missing: the full course must have every lab's solution", pytrace=False)


def require_starters():
    """Skip in a students' copy: there labs/ holds the student's own work, not the starters."""
    if RELEASE:
        pytest.skip("checks that labs/ holds the starters; in a students' copy it holds your work")


# The tests that take longest start first, so that neither worker is left with one of them
# at the end while the other has nothing to do. pytest-xdist hands each worker a first run of
# consecutive tests (a quarter of its share), so the slow ones are dealt out: the k-th to the
# start of worker k mod W's run.
SLOW_FIRST = ("test_recipe.py::test_the_recipe", "test_bench.py::test_bench_smoke",
              "test_site.py::test_pages_load_in_chromium",
              "test_imports.py::test_each_labs_list",
              "test_security.py::test_hostile_submissions", "test_source.py::test_clang",
              "test_instructor.py::test_batch", "test_instructor.py::test_release",
              "test_checkpoints.py::test_starter", "test_checkpoints.py::test_solutions",
              "test_commands.py::test_gdb_attaches", "test_handouts.py::test_excerpts",
              "test_security.py::test_make_grade_submission", "test_instructor.py::test_autograder")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        return next((i for i, s in enumerate(SLOW_FIRST) if s in item.nodeid), len(SLOW_FIRST))
    items.sort(key=rank)
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    slow = sum(1 for item in items if rank(item) < len(SLOW_FIRST))
    chunk = max(len(items) // workers // 4, 2)  # xdist's LoadScheduling, as of 3.1
    if workers < 2 or slow > chunk * workers:
        return
    dealt = [None] * len(items)
    for k, item in enumerate(items[:slow]):
        dealt[(k % workers) * chunk + k // workers] = item
    rest = iter(items[slow:])
    items[:] = [item if item is not None else next(rest) for item in dealt]


_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and not RELEASE and not hasattr(session.config, "workerinput"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped and not RELEASE:
        terminalreporter.write_line(
            f"{len(_skipped)} selftests were skipped, which the full course does not allow (only "
            f"a students' copy from `make release` may skip): {', '.join(_skipped[:5])}", red=True)


@pytest.fixture(scope="session")
def labs():
    return build.lab_dirs()


RUN = None  # this run of the selftests: the same in each of its workers, another in the next run


def pytest_configure(config):
    global RUN
    RUN = getattr(config, "workerinput", {}).get("testrunuid") or f"{os.getpid()}-{id(config)}"


def graded(kernel_dir, checkpoint):
    """The real grading (as `make grade` does) of a built kernel at checkpoint: {"status": its
    exit status, "stdout", "stderr", "results": what it wrote to --results, or None}.

    A kernel graded already in this run of the selftests, and not built again since, is not
    graded again: the handouts quote the gradings of starters (`make grade LAB=1`, built in
    the same directory as test_checkpoints.py's), and the later of the two tests waits for the
    earlier's grading and reads it. Another run grades again."""
    kernel_dir = Path(kernel_dir)
    kept = kernel_dir / "selftest-grading.json"
    with build.locked(kernel_dir / "selftest-grading"):
        st = (kernel_dir / "kernel.bin").stat()
        key = [RUN, st.st_mtime_ns, st.st_size, checkpoint]
        try:
            old = json.loads(kept.read_text())
            if old["key"] == key:
                return old["graded"]
        except (OSError, ValueError, KeyError):
            pass
        command = summary.grade_command(kernel_dir)  # the hints read as in `make grade`
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "results.json"
            p = subprocess.run([PYTHON, "-m", "pytest", "grade/tests", "-q", "--tb=no", "-rN", "-p", "no:xdist",
                                "-p", "no:cacheprovider", "--kernel", rel(kernel_dir),
                                "--checkpoint", str(checkpoint), "--results", str(results)]
                               + (["--rerun", command] if command else []),
                               cwd=ROOT, capture_output=True, text=True, errors="replace",
                               stdin=subprocess.DEVNULL)
            out = {"status": p.returncode, "stdout": p.stdout, "stderr": p.stderr,
                   "results": json.loads(results.read_text()) if results.is_file() else None}
        kept.write_text(json.dumps({"key": key, "graded": out}))
    return out


def grade(kernel_dir, checkpoint):
    """The real grading of a built kernel (graded()): the parsed results, with the exit status
    and what it printed."""
    g = graded(kernel_dir, checkpoint)
    if g["results"] is None:
        pytest.fail(f"grading wrote no results (exit {g['status']}):\n{g['stdout']}\n{g['stderr']}",
                    pytrace=False)
    return {**g["results"], "exit_status": g["status"], "output": g["stdout"]}


# ---------------------------------------------------------------------------------------------
# Judging some tests of a kernel without a pytest run of its own: the same verdicts as the
# grader's (grading.judge_case for kernel tests, the test functions of grade/tests/ for the
# black-box ones), for the tests a planted bug must fail.

TESTS_DIR = ROOT / "grade" / "tests"
_blackbox = {}


def blackbox_tests():
    """{name as the grader reports it ("usable_ram_matches_the_machine[32M]"): (function,
    keyword arguments)} for every black-box test in grade/tests/."""
    if _blackbox:
        return _blackbox
    for path in sorted(TESTS_DIR.glob("test_[0-9][0-9]_*.py")):
        spec = importlib.util.spec_from_file_location(f"blackbox_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for attr, fn in vars(module).items():
            if not attr.startswith("test_") or not callable(fn):
                continue
            suites = [m.args[0] for m in getattr(fn, "pytestmark", []) if m.name == "suite"]
            name = (f"{suites[0]}." if suites else "") + attr.removeprefix("test_")
            params = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
            if not params:
                _blackbox[name] = (fn, {})
                continue
            argname, values = params[0].args[0], params[0].args[1]
            ids = params[0].kwargs.get("ids") or [str(v) for v in values]
            for value, id_ in zip(values, ids):
                _blackbox[f"{name}[{id_}]"] = (fn, {argname: value})
    return _blackbox


_cases = {}


def kernel_cases():
    """{suite.name: KCase} of every kernel test, read from grade/ktests/ once per process (the
    mutants' judge asks for them 160 times)."""
    if not _cases:
        _cases.update((c.id, c) for c in manifest.load())
    return _cases


def judge(kernel_dir, names, timeout=10.0, seed=1, checkpoint=None, to_fail=False):
    """{test name: None if it passed, else the grader's message} for the named tests (kernel
    tests as suite.name, black-box tests as the grader names them) on a built kernel.
    Unknown names are left out of the result. With checkpoint, a kernel test is judged as
    `make grade` at that checkpoint judges it: first in its batch (the suites before it in
    the grader's batch run first, in the same boot), then, unless it passed there or ran first
    in that boot, alone. With to_fail (the tests are expected to fail), a boot ends as soon as
    the named kernel tests it runs have all failed (KernelUnderTest's wanted_failures): the
    verdicts are the same, and a bug that hangs the kernel in a later test costs no timeout."""
    cases = kernel_cases()
    kernel = grading.KernelUnderTest(kernel_dir, seed, timeout,
                                     batches=checkpoint and grader_batches(cases.values(), checkpoint, names),
                                     wanted_failures=[n for n in names if n in cases] if to_fail else ())
    boxes = blackbox_tests()
    verdicts = {}
    for name in names:
        try:
            if name in cases:
                c = cases[name]
                grading.judge_case(kernel, c, [x for x in cases.values() if x.suite == c.suite])
            elif name in boxes:
                fn, kwargs = boxes[name]
                fn(kernel, **kwargs)
            else:
                continue
            verdicts[name] = None
        except pytest.fail.Exception as e:
            verdicts[name] = str(e)
    return verdicts


def grader_batches(cases, checkpoint, names):
    """The grader's batches at checkpoint for the suites of the kernel tests in names, each
    cut after the last of those suites: the suites after it, which run after it in the same
    boot, cannot change its results. A suite first in its batch has no batch: it would boot
    just as it does alone."""
    plan = grading.batches([c for c in cases if int(c.lab[:2]) <= checkpoint])
    wanted = {n.split(".")[0] for n in names} & set(plan)
    out = {}
    for suite in wanted:
        batch, members = plan[suite]
        order = list(members)
        last = max(order.index(s) for s in wanted if plan[s][0] == batch)
        cut = {s: members[s] for s in order[:last + 1]}
        if len(cut) > 1:  # a batch of the one suite boots as the suite alone does
            out.update((s, (batch, cut)) for s in cut)
    return out

