"""The kernel tests that also run on the host (test files not named *_ktest.c), compiled with
the solutions under AddressSanitizer and UBSan: one pytest test per kernel test."""
import subprocess

import pytest

from conftest import require_solutions
from harness import build, ktap, manifest
from harness.paths import KTESTS, SOLUTIONS

CASES = [c for c in manifest.load() if c.host]
_runs = {}


def _host_run(lab):
    """Build and run the host program of one lab (cached per worker)."""
    if lab not in _runs:
        labs = build.lab_dirs()
        host_labs = sorted({c.lab for c in CASES if c.lab != "00-kernel"})
        layers = [SOLUTIONS / l for l in labs if l in host_labs and l <= lab]
        require_solutions(*(layer.name for layer in layers))
        try:
            prog = build.host_tests(f"{lab}-solutions", int(lab[:2]), layers, [KTESTS / lab])
        except build.BuildError as e:
            _runs[lab] = ("build", str(e))
            return _runs[lab]
        suites = sorted({c.suite for c in CASES if c.lab == lab})
        p = subprocess.run([str(prog), "ktest=" + ",".join(suites), "ktest.seed=12345"],
                           capture_output=True, text=True, errors="replace", timeout=120)
        _runs[lab] = ("ran", p)
    return _runs[lab]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.lab}:{c.id}",
                                               marks=pytest.mark.xdist_group(f"host-{c.lab}"))
                                  for c in CASES])
def test_on_host(case):
    kind, result = _host_run(case.lab)
    if kind == "build":
        pytest.fail(f"the host test program did not build:\n{result}", pytrace=False)
    got = ktap.parse(result.stdout).case(case.suite, case.name)
    if got is None:
        pytest.fail(f"no result for {case.id} (exit status {result.returncode}); stderr:\n"
                    f"{result.stderr[-3000:]}", pytrace=False)
    if not got.ok:
        pytest.fail("\n".join([got.message] + got.diagnostics), pytrace=False)
