"""Every kernel test (KTEST in grade/ktests/) as one pytest test. All the tests of a suite
share one boot, and xdist keeps a suite on one worker (--dist loadgroup)."""
import pytest

from harness import manifest
from harness.grading import judge_case

CASES = manifest.load()


def pytest_generate_tests(metafunc):
    if "kcase" in metafunc.fixturenames:
        hidden = metafunc.config.getoption("hidden")
        cases = manifest.load(hidden / "ktests" if hidden else None) if hidden else CASES
        metafunc.parametrize("kcase", [pytest.param(c, id=c.id, marks=pytest.mark.xdist_group(c.suite))
                                       for c in cases])


def test_kernel(kernel, kcase, request):
    hidden = request.config.getoption("hidden")
    cases = manifest.load(hidden / "ktests" if hidden else None) if hidden else CASES
    _, report = kernel.suite(kcase.suite)
    suite = report.suites.get(kcase.suite)
    if suite and kcase.name in suite.forged:  # noted even when a genuine result follows
        request.node.user_properties.append(("forged", True))
    judge_case(kernel, kcase, [c for c in cases if c.suite == kcase.suite])
