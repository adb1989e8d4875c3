"""`make bench` keeps working: a smoke run of its driver (tools/bench/bench.py --smoke: one
repetition of everything but the grading, a few seconds) and the trace generator. Timings
are never checked here, only that every part still measures something."""
import importlib.util
import json
import subprocess
import sys

from conftest import PYTHON, require_solutions
from harness.paths import ROOT

sys.path.insert(0, str(ROOT / "tools" / "bench"))
import tracegen  # noqa: E402



def test_bench_smoke_run(tmp_path, labs):
    require_solutions(*labs)  # it measures the reference solutions
    p = subprocess.run([PYTHON, "tools/bench/bench.py", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    r = json.loads((tmp_path / "results.json").read_text())
    report = (tmp_path / "report.txt").read_text()

    # Every allocator of ours is measured (all the solutions are here): an adapter that no
    # longer matches its lab's interface fails here (fix tools/bench/host/adapters/, named in
    # the message). Only a reference allocator may be missing, if its package is.
    for part in ("heap", "frames"):
        for name, a in r[part]["allocators"].items():
            assert a["status"] == "ok" or (not a["ours"] and a["status"].startswith("not installed")), \
                f"{part} allocator {name}: {a['status']}"
    glibc = r["heap"]["pairs"]["glibc"]
    assert all(v["ns"] > 0 for v in glibc.values())
    for name, a in r["heap"]["allocators"].items():
        if a["status"] == "ok":
            trace = r["heap"]["traces"][name]["small-churn"]
            assert 0 < trace["util"] <= 1 and trace["ns_per_op"] > 0, (name, trace)
    assert r["frames"]["results"]["free-list"]["fill_ns"] > 0

    # The guest: the bench kernel builds, and its counter counts instructions.
    last = r["meta"]["checkpoints"][-1]
    guest = r["guest"][last]
    assert guest["status"] == "ok", guest["status"]
    assert guest["bench_calibrate"]["verified"], guest["bench_calibrate"]
    for sc in ("bench_kmalloc", "bench_yield"):
        assert "output" not in guest.get(sc, {}), f"{sc}: {guest[sc]}"
    if int(last[:2]) >= 8:  # the null system call (tools/bench/syscallbench.py)
        assert r["syscall"].get("insns_per_call", 0) > 0, r["syscall"]

    # Boot: both kernels booted and printed their instruction counts.
    for who in ("teachos", "stub"):
        assert r["boot"]["ms"][who]["128M"]["exit"] > 0, r["boot"]
        assert r["boot"]["insns"][who]["128M"] > 0, r["boot"]
    assert "Targets" in report and "6. Boot" in report
    if importlib.util.find_spec("matplotlib") is None:
        return  # `tools/need bench` installs it; the rest works without
    assert (tmp_path / "heap_pairs.png").is_file() and (tmp_path / "boot.png").is_file()


def test_traces_are_reproducible_and_free_everything(tmp_path):
    a = tracegen.generate(tmp_path / "a", scale=0.05)
    b = tracegen.generate(tmp_path / "b", scale=0.05)
    assert [p.name for p in a] == [f"{n}.trace" for n in tracegen.STYLES]
    for x, y in zip(a, b):
        text = x.read_text()
        assert text == y.read_text(), f"{x.name} differs between two runs"
        allocated = {line.split()[1] for line in text.splitlines() if line.startswith("a ")}
        freed = [line.split()[1] for line in text.splitlines() if line.startswith("f ")]
        assert sorted(freed) == sorted(allocated), f"{x.name}: not every block is freed exactly once"
