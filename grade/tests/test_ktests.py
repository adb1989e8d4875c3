"""Every kernel test (KTEST in grade/ktests/) as one pytest test. The suites of this run are
booted in batches (harness/grading.py), and xdist keeps a batch on one worker (--dist
loadgroup)."""
import pytest

from harness import manifest
from harness.grading import batches, judge_case

CASES = manifest.load()


def all_cases(config):
    """The course's kernel tests, and the instructor's hidden ones when --hidden is given."""
    hidden = config.getoption("hidden")
    return manifest.load(hidden / "ktests") if hidden else CASES


def graded(config, cases):
    """The cases this run grades: labs up to --checkpoint, or --only-lab's."""
    checkpoint, only = config.getoption("checkpoint"), config.getoption("only_lab")
    return [c for c in cases if (checkpoint is None or int(c.lab[:2]) <= checkpoint)
            and (only is None or int(c.lab[:2]) == only)]


def pytest_generate_tests(metafunc):
    if "kcase" in metafunc.fixturenames:
        cases = all_cases(metafunc.config)
        # The kernel fixture (grade/conftest.py) boots by these batches.
        metafunc.config._grade_batches = plan = batches(graded(metafunc.config, cases))
        metafunc.parametrize("kcase", [
            pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(plan[c.suite][0] if c.suite in plan else c.suite))
            for c in cases])


def test_kernel(kernel, kcase, request):
    cases = all_cases(request.config)
    _, report = kernel.suite(kcase.suite)
    suite = report.suites.get(kcase.suite)
    if suite and kcase.name in suite.forged:  # noted even when a genuine result follows
        request.node.user_properties.append(("forged", True))
    judge_case(kernel, kcase, [c for c in cases if c.suite == kcase.suite])
