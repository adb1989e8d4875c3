"""The kernel tests that also run on the host (test files not named *_ktest.c), compiled under
AddressSanitizer and UBSan: one pytest test per kernel test.

In the full course they run on the solutions. In a students' copy (`make release`) each lab
runs from solutions/ where the copy has that lab's solution, and otherwise from the student's
own labs/: so `make test` is where a student's allocator meets the sanitizers. A lab whose
files still match the starters as released has not been started, and its host tests are
skipped, saying so, until it is.
"""
import hashlib
import json
import subprocess

import pytest

from conftest import RELEASE, require_solutions
from harness import build, ktap, manifest
from harness.paths import KTESTS, LABS, ROOT, SOLUTIONS

CASES = [c for c in manifest.load() if c.host]
_runs = {}


def released_starters():
    """{path: sha256} of the labs/ files as `make release` wrote them; {} in the full course."""
    if not RELEASE:
        return {}
    try:
        return json.loads((ROOT / ".release").read_text()).get("starters", {})
    except (OSError, ValueError):
        return {}


def untouched(lab):
    """True in a students' copy if labs/<lab> is still exactly the starter it was released as."""
    starters = released_starters()
    files = {f"labs/{lab}/{p.name}": p for p in (LABS / lab).iterdir() if p.is_file()} \
        if (LABS / lab).is_dir() else {}
    mine = {f: h for f, h in starters.items() if f.startswith(f"labs/{lab}/")}
    return bool(mine) and set(files) == set(mine) and all(
        hashlib.sha256(files[f].read_bytes()).hexdigest() == h for f, h in mine.items())


def layer(lab):
    """Where a lab's code comes from for the host tests: solutions/, or labs/ in a students'
    copy without that solution."""
    if (SOLUTIONS / lab).is_dir() or not RELEASE:
        return SOLUTIONS / lab
    return LABS / lab


def _host_run(lab):
    """Build and run the host program of one lab (cached per worker)."""
    if lab not in _runs:
        labs = build.lab_dirs()
        host_labs = sorted({c.lab for c in CASES if c.lab != "00-kernel"})
        layers = [layer(l) for l in labs if l in host_labs and l <= lab]
        if not RELEASE:
            require_solutions(*(layer.name for layer in layers))
        elif lab != "00-kernel" and untouched(lab):
            pytest.skip(f"labs/{lab} is still the starter as released: its host tests run "
                        f"once you start it")
        name = f"{lab}-" + "-".join("s" if l.parent == SOLUTIONS else "l" for l in layers)
        try:
            prog = build.host_tests(name, layers, [KTESTS / lab])
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


def test_a_selection_word_that_names_no_test_is_said():
    # `make qemu TEST=idtt,memmap` used to run memmap alone without a word about idtt: a word
    # of ktest=... that names no test is said, and the suites there are (kernel/ktest.c, the
    # same code in the kernel and in the host program).
    suite = sorted({c.suite for c in CASES if c.lab == "00-kernel"})[0]
    try:
        prog = build.host_tests("00-kernel-", [], [KTESTS / "00-kernel"])
    except build.BuildError as e:
        pytest.fail(f"the host test program did not build:\n{e}", pytrace=False)
    p = subprocess.run([str(prog), f"ktest={suite}x,{suite},{suite}.no_such_test", "ktest.seed=1"],
                       capture_output=True, text=True, errors="replace", timeout=120)
    run = ktap.parse(p.stdout)
    assert run.case(suite, sorted(c.name for c in CASES if c.suite == suite)[0]) is not None, p.stdout
    for word in (f"{suite}x", f"{suite}.no_such_test"):
        assert f'# ktest: no test of this kernel is named "{word}"' in p.stdout, p.stdout
    listed = next((l for l in p.stdout.splitlines() if l.startswith("# ktest: its suites are ")), "")
    assert suite in listed.split(), p.stdout
    assert f'named "{suite}"' not in p.stdout, p.stdout
