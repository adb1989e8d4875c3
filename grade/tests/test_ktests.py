"""Every kernel test (KTEST in grade/ktests/) as one pytest test. All the tests of a suite
share one boot, and xdist keeps a suite on one worker (--dist loadgroup)."""
import pytest

from harness import manifest
from harness.grading import judge_case

CASES = manifest.load()


def all_cases(config):
    """The course's kernel tests, and the instructor's hidden ones when --hidden is given."""
    hidden = config.getoption("hidden")
    return manifest.load(hidden / "ktests") if hidden else CASES


def pytest_generate_tests(metafunc):
    if "kcase" in metafunc.fixturenames:
        metafunc.parametrize("kcase", [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(c.suite))
                                       for c in all_cases(metafunc.config)])


def test_kernel(kernel, kcase, request):
    cases = all_cases(request.config)
    _, report = kernel.suite(kcase.suite)
    suite = report.suites.get(kcase.suite)
    if suite and kcase.name in suite.forged:  # noted even when a genuine result follows
        request.node.user_properties.append(("forged", True))
    judge_case(kernel, kcase, [c for c in cases if c.suite == kcase.suite])
