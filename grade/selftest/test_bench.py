"""`make bench` keeps working: a smoke run of its driver (tools/bench/bench.py --smoke: one
repetition of everything but the grading, a few seconds), the trace generator, the recorder
of real programs and what turns its records into traces, and heapbench's replay. Timings are
never checked here, only that every part still measures something and says what it could not."""
import importlib.util
import json
import struct
import subprocess
import sys

from conftest import PYTHON, require_solutions
from harness.paths import ROOT

sys.path.insert(0, str(ROOT / "tools" / "bench"))
import realtrace  # noqa: E402
import report  # noqa: E402
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

    # A real program was recorded and every allocator replayed it, or ran out of time saying
    # so; lab 05's heap finished it (its replay does not grow with the live blocks).
    cc1 = r["real"]["programs"]["cc1"]
    assert "error" not in cc1 and cc1["ops"] > 1000, cc1
    for name, a in r["heap"]["allocators"].items():
        if a["status"] == "ok":
            d = r["real"]["results"][name]["cc1"]
            assert "timeout" in d or (0 < d.get("util", 0) <= 1 and d.get("ns_per_op", 0) > 0), (name, d)
    fb = r["real"]["results"]["fixed-block"]
    assert "timeout" not in fb["cc1"] and "timeout" not in fb["cc1-x2"], fb

    # The guest: the bench kernel builds, and its counter counts instructions.
    last = r["meta"]["checkpoints"][-1]
    guest = r["guest"][last]
    assert guest["status"] == "ok", guest["status"]
    assert guest["bench_calibrate"]["verified"], guest["bench_calibrate"]
    for sc in ("bench_kmalloc", "bench_yield"):
        assert "output" not in guest.get(sc, {}), f"{sc}: {guest[sc]}"
    # ... and replays the recorded program through kmalloc, counting its instructions.
    assert guest["bench_trace"]["cc1"]["insns_per_op"] > 10, guest["bench_trace"]
    assert guest["bench_block_heap"]["insns_per_pair"]["16"] > 10, guest["bench_block_heap"]
    if int(last[:2]) >= 8:  # the null system call (tools/bench/syscallbench.py)
        assert r["syscall"].get("insns_per_call", 0) > 0, r["syscall"]
    if int(last[:2]) >= 9:  # fork, copy-on-write and eager (tools/bench/forkbench.py)
        assert 0 < r["fork"].get("cow", 0) < r["fork"].get("eager", 0), r["fork"]

    # Boot: both kernels booted and printed their instruction counts.
    for who in ("teachos", "stub"):
        assert r["boot"]["ms"][who]["128M"]["exit"] > 0, r["boot"]
        assert r["boot"]["insns"][who]["128M"] > 0, r["boot"]
    assert "Targets" in report and "6. Boot" in report
    if importlib.util.find_spec("matplotlib") is None:
        return  # `tools/need bench` installs it; the rest works without
    assert (tmp_path / "heap_pairs.png").is_file() and (tmp_path / "boot.png").is_file()
    assert (tmp_path / "heap_real.png").is_file()


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


def _records(*recs):
    return b"".join(struct.pack("<QQQQ", ord(k), ptr, old, size) for k, ptr, old, size in recs)


def test_records_become_a_trace(tmp_path):
    """realloc is a new block and a free; malloc(0) asks 1 byte; a free of a block from before
    the recording is left out; what is live at exit is freed at the end, oldest first."""
    rec = tmp_path / "p.rec"
    rec.write_bytes(_records(("a", 0x1000, 0, 24), ("a", 0x2000, 0, 0), ("r", 0x3000, 0x1000, 100),
                             ("f", 0x9000, 0, 0), ("r", 0x3000, 0x3000, 50), ("f", 0x2000, 0, 0),
                             ("a", 0x2000, 0, 8)))
    stats = realtrace.convert(rec, "p", tmp_path / "p.trace")
    lines = (tmp_path / "p.trace").read_text().splitlines()
    assert lines[:2] == [tracegen.MAGIC, "name p"]
    assert lines[2:] == ["a 0 24", "a 1 1", "a 2 100", "f 0", "a 3 50", "f 2", "f 1", "a 4 8",
                         "f 3", "f 4"]
    assert stats["unknown_frees"] == 1 and stats["freed_at_exit"] == 2
    # realloc: old and new both live for a moment, as a copy would have them
    assert stats["peak_live_blocks"] == 3 and stats["peak_live_bytes"] == 1 + 100 + 50


def test_doubled_and_guest_traces(tmp_path):
    t = tmp_path / "t.trace"
    t.write_text("\n".join([tracegen.MAGIC, "name t", "a 0 16", "a 1 32", "f 0", "a 2 8", "f 1",
                            "f 2"]) + "\n")
    realtrace.live_x2(t, tmp_path / "t2.trace", "t-x2")
    lines = (tmp_path / "t2.trace").read_text().splitlines()
    assert lines[1] == "name t-x2" and lines[2:6] == ["a 0 16", "a 3 16", "a 1 32", "a 4 32"]
    assert len(lines) == 2 + 12
    ops, slots = realtrace.guest_trace(t, tmp_path / "t.gtrace")
    data = (tmp_path / "t.gtrace").read_bytes()
    assert data[:16] == realtrace.GUEST_MAGIC and struct.unpack("<II", data[16:24]) == (6, 2)
    words = struct.unpack("<12I", data[32:])
    free = realtrace.GUEST_FREE
    # slots reused: block 2 takes block 0's slot
    assert words == (0, 16, 1, 32, free | 0, 0, 0, 8, free | 1, 0, free | 0, 0)
    assert (ops, slots) == (6, 2)


def test_recorder_sees_every_call(tmp_path):
    """The LD_PRELOAD recorder, on a program whose calls we know."""
    so, why = realtrace.build_recorder(tmp_path)
    assert so, why
    prog = tmp_path / "calls.c"
    prog.write_text("""#include <stdlib.h>
int main(void) {
    void *a = malloc(40), *b = calloc(3, 8), *c;
    a = realloc(a, 400);
    c = realloc(NULL, 12);
    if (posix_memalign(&b, 64, 100) == 0) free(b);
    free(a);
    free(realloc(c, 0) ? c : NULL);
    return 0;
}
""")
    exe = tmp_path / "calls"
    subprocess.run(["gcc", "-O0", "-o", str(exe), str(prog)], check=True)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([str(exe)], env={"HEAPRECORD_DIR": str(out), "LD_PRELOAD": str(so)}, check=True)
    recs = list(out.glob("calls.*.rec"))
    assert len(recs) == 1, list(out.iterdir())
    data = recs[0].read_bytes()
    kinds = [(chr(k), size) for k, _, _, size in struct.iter_unpack("<QQQQ", data)]
    # malloc 40, calloc 24, realloc to 400, realloc(NULL, 12), memalign 100, two frees,
    # realloc(c, 0) freeing c (the program's own startup may allocate before main: skip it)
    assert kinds[-8:] == [("a", 40), ("a", 24), ("r", 400), ("a", 12), ("a", 100), ("f", 0),
                          ("f", 0), ("f", 0)], kinds


def test_heapbench_limit_and_utilization_of_the_first_trace(tmp_path):
    """--limit stops a replay and says how far it got; utilization is measured only for the
    first trace of a process (a later one would find memory the earlier left behind)."""
    exe = tmp_path / "heapbench-glibc"
    subprocess.run(["gcc", "-O2", "-Itools/bench/host", '-DBENCH_ADAPTER="adapters/heap_glibc.h"',
                    "-o", str(exe), "tools/bench/host/heapbench.c"], cwd=ROOT, check=True)
    traces = tracegen.generate(tmp_path, scale=0.05, names=("small-churn", "queue"))
    p = subprocess.run([str(exe), "trace", "0", *map(str, traces)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("peak_live=") == 1 and "trace small-churn peak_live=" in p.stdout
    # a limit the replay cannot outlast: passes of a trace, more than any machine runs in a second
    p = subprocess.run([str(exe), "--limit", "1", "trace", "100000000", str(traces[0])],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 4, (p.returncode, p.stdout[-500:], p.stderr)
    assert "timeout trace/small-churn done=" in p.stdout and " after=1" in p.stdout, p.stdout


def test_report_says_what_ran_over_the_limit():
    r = {"meta": {"date": "-", "cpu": "-", "cores": 2, "kernel": "-", "qemu": "-", "commit": "-",
                  "checkpoints": []},
         "heap": {"allocators": {"linked-list": {"ours": True, "status": "ok"},
                                 "glibc": {"ours": False, "status": "ok"}},
                  "pairs": {}, "batch": {}, "traces": {}, "traces_used": []},
         "real": {"programs": {"cc1": {"what": "cc1", "ops": 10, "peak_live_blocks": 3,
                                       "peak_live_bytes": 100}},
                  "traces_used": ["cc1"],
                  "results": {"linked-list": {"cc1": {"timeout": {"after_s": 20, "done": 5, "of": 10}}},
                              "glibc": {"cc1": {"ns_per_op": 10.0, "ops": 10, "util": 0.9}}}}}
    text = report.text(r)
    assert ">20 s" in text and "linked-list on cc1: stopped after 20 s (50% done)" in text, text
