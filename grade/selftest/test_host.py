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
from harness.paths import BUILD, KTESTS, LABS, ROOT, SOLUTIONS

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
        _runs[lab] = ("ran", *run_cases(prog, [c for c in CASES if c.lab == lab]))
    return _runs[lab]


def run_cases(prog, cases):
    """Run the cases' suites in the host program: (the run, {case id: a run of it alone}). A
    sanitizer's report ends the program, and the tests after the one that crashed get no
    result: each of those runs again alone, so that the one that crashed fails with its own
    report and the others with their own results."""
    p = run_tests(prog, ",".join(sorted({c.suite for c in cases})))
    alone = {}
    if p.returncode != 0:
        got = ktap.parse(p.stdout)
        alone = {c.id: run_tests(prog, c.id) for c in cases if got.case(c.suite, c.name) is None}
    return p, alone


def run_tests(prog, selection):
    return subprocess.run([str(prog), f"ktest={selection}", "ktest.seed=12345"],
                          capture_output=True, text=True, errors="replace", timeout=120)


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.lab}:{c.id}",
                                               marks=pytest.mark.xdist_group(f"host-{c.lab}"))
                                  for c in CASES])
def test_on_host(case):
    kind, result, *alone = _host_run(case.lab)
    if kind == "build":
        pytest.fail(f"the host test program did not build:\n{result}", pytrace=False)
    judge_on_host(case, alone[0].get(case.id, result))


def judge_on_host(case, result):
    """Fail the test for case if its run (the host program's) did not pass it."""
    got = ktap.parse(result.stdout).case(case.suite, case.name)
    if got is None:
        said = [l.strip()[2:] for l in result.stdout.splitlines()
                if l.startswith("    # ") and not l.strip().startswith(("# Subtest", "# ktest"))]
        before = "its checks before the crash said:\n" + "\n".join(said) + "\n" if said else ""
        pytest.fail(f"{case.id} crashed the host test program (exit status {result.returncode}), "
                    f"run alone; {before}what the sanitizer or the program said:\n"
                    f"{result.stderr[-3000:]}", pytrace=False)
    if not got.ok:
        pytest.fail(failure_text(got), pytrace=False)


def failure_text(case):
    """What a failed host test says: its first failure once (the runner prints it as a '#'
    line, then again on the result line), then the rest of what it printed."""
    return "\n".join([case.message] + case.details())


def test_a_failure_is_said_once():
    # The host program prints each test's first failure twice, as KTAP has it; the report of
    # `make test` showed both.
    out = ("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: bump\n    1..1\n"
           "    # bump_test.c:9: no reset\n    # bump_test.c:12: expected 0\n"
           "    not ok 1 reset_after_free_all # bump_test.c:9: no reset\nnot ok 1 bump\n")
    text = failure_text(ktap.parse(out).case("bump", "reset_after_free_all"))
    assert text == "bump_test.c:9: no reset\nbump_test.c:12: expected 0", text


# A write just outside each allocator's test arena, and a test that makes it: (lab, file,
# the solution's text, what it becomes, the test, the function ASan must name).
OUTSIDE_WRITES = [
    ("03-bump", "bump.c", "memset((void *)h->start, HEAP_POISON_BYTE, h->next - h->start);",
     "memset((void *)(h->start - 16), HEAP_POISON_BYTE, h->next - h->start);",
     "bump.reset_after_free_all", "bump_free"),
    ("04-linked-list", "list_heap.c",
     "void list_heap_init(struct list_heap *h, void *start, size_t len)\n{\n",
     "void list_heap_init(struct list_heap *h, void *start, size_t len)\n{\n"
     "\t((volatile uint8_t *)start)[-1] = 0;\n",
     "list_heap.init_makes_one_free_region", "list_heap_init"),
    ("05-fixed-block", "block_heap.c",
     "\t\t     const struct block_heap_config *config)\n{\n",
     "\t\t     const struct block_heap_config *config)\n{\n\t((volatile uint8_t *)start)[len] = 0;\n",
     "block_heap.slab_new_carves_a_whole_slab", "block_heap_init"),
]


@pytest.mark.parametrize("lab,file,right,wrong,test,function", OUTSIDE_WRITES,
                         ids=[w[0] for w in OUTSIDE_WRITES])
def test_a_write_just_outside_the_arena_is_reported(lab, file, right, wrong, test, function):
    # Handout 03 says AddressSanitizer reports a write outside the arena where it happens.
    # GCC gives the tests' page-aligned arenas no red zones, so test_arena.h puts a guard
    # area on each side: a write just before start (labs 03, 04), or at end (lab 05), must be
    # reported.
    labs = [l for l in build.lab_dirs() if "03" <= l[:2] <= lab[:2] and l[:2] != "03"] \
        if lab != "03-bump" else []
    require_solutions(lab, *labs)
    text = (SOLUTIONS / lab / file).read_text()
    assert text.count(right) == 1, f"solutions/{lab}/{file} no longer reads as this test expects"
    layer = BUILD / "host-src" / f"{lab}-write-outside"
    layer.mkdir(parents=True, exist_ok=True)
    broken = text.replace(right, wrong)
    if not (layer / file).is_file() or (layer / file).read_text() != broken:
        (layer / file).write_text(broken)
    below = [SOLUTIONS / l for l in labs if l != lab]
    try:
        prog = build.host_tests(f"{lab}-write-outside", [*below, layer], [KTESTS / lab])
    except build.BuildError as e:
        pytest.fail(f"the host test program did not build:\n{e}", pytrace=False)
    p = subprocess.run([str(prog), f"ktest={test}", "ktest.seed=1"],
                       capture_output=True, text=True, errors="replace", timeout=120)
    assert "ERROR: AddressSanitizer" in p.stderr and f"in {function}" in p.stderr, \
        f"no AddressSanitizer report of the write just outside the arena:\n{p.stdout}\n{p.stderr}"


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


def test_a_test_that_crashes_the_host_program_is_named_and_the_rest_still_run(tmp_path):
    # A sanitizer ends the host program at its first report: the crash is charged to the test
    # that made it, with what the sanitizer and the test said, and the tests after it are run
    # again, alone, rather than failing for want of a result.
    tests = tmp_path / "99-crash"  # as a lab's folder of tests
    tests.mkdir()
    (tests / "crash_test.c").write_text(
        '#include <stdint.h>\n#include "ktest.h"\n\n'
        'KTEST(crashy, before, 1)\n{\n\tEXPECT_EQ(t, 1, 1);\n}\n\n'
        'KTEST(crashy, crashes, 1)\n{\n\tint *volatile nowhere = NULL;\n\n'
        '\tEXPECT_EQ(t, 2 + 2, 5);\n\tEXPECT_EQ(t, *nowhere, 0);\n}\n\n'
        'KTEST(crashy, after, 1)\n{\n\tEXPECT_EQ(t, 1, 1);\n}\n')
    try:
        prog = build.host_tests("selftest-crash", [], [tests])
    except build.BuildError as e:
        pytest.fail(f"the host test program did not build:\n{e}", pytrace=False)
    cases = [c for c in manifest.scan(tmp_path) if c.host]
    assert [c.name for c in cases] == ["before", "crashes", "after"], cases
    p, alone = run_cases(prog, cases)
    assert p.returncode != 0 and set(alone) == {"crashy.crashes", "crashy.after"}, (p.stdout, alone)
    verdicts = {}
    for c in cases:
        try:
            judge_on_host(c, alone.get(c.id, p))
            verdicts[c.name] = None
        except pytest.fail.Exception as e:
            verdicts[c.name] = str(e)
    assert verdicts["before"] is None and verdicts["after"] is None, verdicts
    said = verdicts["crashes"]
    assert "crashy.crashes crashed the host test program" in said, said
    assert "crash_test.c:13: expected 2 + 2 == 5" in said and "null pointer" in said, said


def test_a_corrupt_free_list_is_described_not_followed():
    # With the overlap panic of lab 04's insert_free gone, add_region_merges_with_the_end links
    # regions on top of others, and its list's next pointers lead out of the arena. The tests'
    # helpers (grade/ktests/include/list_check.h) used to follow them: an ASan SEGV in
    # list_describe ended the host run there, and the tests after it got no result. They say
    # where the list leaves the arena instead, and every test of the suite still runs.
    import tomllib

    from test_mutants import mutated_source

    lab = "04-linked-list"
    require_solutions(lab)
    spec = tomllib.loads((ROOT / "grade" / "selftest" / "mutants" / f"{lab}.toml").read_text())
    mutant = next(m for m in spec["mutant"] if m["name"] == "insert_free never checks for overlap")
    source, count = mutated_source(lab, mutant)
    assert count == 1, f"the mutant's `find` text occurs {count} times in solutions/{lab}"
    try:
        prog = build.host_tests(f"{lab}-no-overlap-check", [source.parent], [KTESTS / lab])
    except build.BuildError as e:
        pytest.fail(f"the host test program did not build:\n{e}", pytrace=False)
    p = subprocess.run([str(prog), "ktest=list_heap", "ktest.seed=1"], capture_output=True,
                       text=True, errors="replace", timeout=120)
    assert "AddressSanitizer" not in p.stderr, p.stderr[-3000:]
    run = ktap.parse(p.stdout)
    names = [c.name for c in CASES if c.lab == lab and c.suite == "list_heap"]
    missing = [n for n in names if run.case("list_heap", n) is None]
    assert not missing, f"no result for {missing} (exit status {p.returncode}):\n{p.stderr[-3000:]}"
    got = run.case("list_heap", "add_region_merges_with_the_end")
    assert not got.ok
    assert "(the list leaves the arena at" in "\n".join([got.message] + got.diagnostics), p.stdout
