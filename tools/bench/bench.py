"""`make bench`: teachos's performance, each figure measured beside its reference in one run.

    /usr/bin/python3 tools/bench/bench.py [--out build/bench] [--smoke] [--only PART,...]

Parts, in the order they run (docs/bench.md explains each figure):

  heap     our heap allocators beside glibc malloc, jemalloc and mimalloc, on the host:
           a pair freed at once (8..256 B), a batch of 1000 mixed sizes, generated traces
           (utilization and score), the allocations of real programs recorded at the start
           of the run (the Python interpreter and gcc's cc1 on this repository's files,
           tools/bench/realtrace.py), the cost of free holes ahead of a request
  frames   the buddy allocator beside a plain free list of frames, on the host
  guest    instructions per kmalloc/kfree and per context switch inside the kernel, at
           each checkpoint, counted by QEMU -icount; the recorded real programs replayed
           through kmalloc from checkpoint 05 on; a null system call (08) and fork of a
           4 MiB process, copy-on-write beside an eager copy (09)
  boot     time to the first console byte and to the exit, beside a stub kernel
  grade    wall time of `make grade SOLUTIONS=all`, whole and per checkpoint

Times are medians of several runs; instruction counts (callgrind on the host, -icount in the
guest) are exact and repeat from run to run. Writes report.txt, results.json and the plots
(*.png) into the output directory. Everything not yet in this copy of the course (a lab
not written yet, a package not installed) is reported as such, never an error.

To add an allocator: one Allocator line in HEAP_ALLOCATORS or FRAME_ALLOCATORS below and
one adapter header in tools/bench/host/adapters/.
"""
import argparse
import json
import os
import platform
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tools" / "bench"
HOST = BENCH / "host"
sys.path.insert(0, str(ROOT / "grade"))
sys.path.insert(0, str(BENCH))

from harness import build as hbuild  # noqa: E402
from harness import qemu as hqemu  # noqa: E402
from harness.paths import SOLUTIONS, rel  # noqa: E402
import realtrace  # noqa: E402
import report  # noqa: E402
import forkbench  # noqa: E402
import syscallbench  # noqa: E402
import tracegen  # noqa: E402


# ---------------------------------------------------------------------------------------------
# What is measured. Each allocator is one entry; it is built and run only if what it needs
# exists, and reported as "not available yet" otherwise.

@dataclass
class Allocator:
    name: str
    adapter: str                # header in tools/bench/host/adapters/: the only API-specific code
    labs: tuple = ()            # solutions/<lab>/*.c compiled in (ours)
    needs: tuple = ()           # files that must exist (headers of the lab or the package)
    libs: tuple = ()            # link flags
    package: str = ""           # Debian package providing it (references)

    @property
    def ours(self):
        return bool(self.labs)

    def missing(self):
        """Why it cannot be built here, or None."""
        for lab in self.labs:
            if not sorted((SOLUTIONS / lab).glob("*.c")):
                return f"not available yet (no solutions/{lab}/*.c)"
        for f in self.needs:
            p = Path(f) if Path(f).is_absolute() else ROOT / f
            if not p.exists():
                return (f"not installed ({self.package}: `tools/need bench`)" if self.package
                        else f"not available yet (no {f})")
        return None


HEAP_ALLOCATORS = [
    Allocator("bump", "heap_bump.h", labs=("03-bump",), needs=("kernel/bump.h",)),
    Allocator("linked-list", "heap_list.h", labs=("04-linked-list",), needs=("kernel/list_heap.h",)),
    Allocator("fixed-block", "heap_block.h", labs=("04-linked-list", "05-fixed-block"),
              needs=("kernel/list_heap.h", "kernel/block_heap.h")),
    Allocator("glibc", "heap_glibc.h"),
    Allocator("jemalloc", "heap_jemalloc.h", needs=("/usr/include/jemalloc/jemalloc.h",),
              libs=("-ljemalloc",), package="libjemalloc-dev"),
    Allocator("mimalloc", "heap_mimalloc.h", needs=("/usr/include/mimalloc.h",),
              libs=("-lmimalloc",), package="libmimalloc-dev"),
]
FRAME_ALLOCATORS = [
    Allocator("buddy", "frame_buddy.h", labs=("06-buddy",), needs=("kernel/buddy.h",)),
    Allocator("free-list", "frame_list.h"),
]
REFERENCE_HEAP = "glibc"   # T_glibc in the trace score P = 0.6 U + 0.4 min(1, T / T_glibc)

# The scenarios of the bench kernel (tools/bench/guest/), built into a kernel of its own at
# each checkpoint through kernel/build.mk's EXTRA_SRCS; the graded kernel never has them.
GUEST_SOURCES = sorted((BENCH / "guest").glob("*.c"))
ICOUNT = ["-icount", "shift=0,sleep=off"]  # one tick per instruction, idle time not counted
# The context-switch routine of lab 07 (labs/07-threads/switch.S, kernel/context.h), for its
# static instruction count: the first of these symbols the kernel has.
SWITCH_SYMBOLS = ("context_switch",)


@dataclass
class Settings:
    pair_sizes: tuple = (8, 16, 32, 64, 128, 256)
    pair_iters: int = 200_000
    batch_iters: int = 20
    reps: int = 7
    trace_scale: float = 1.0
    trace_names: tuple = ()          # () = every style in tracegen.STYLES
    holes: tuple = (100, 1000, 5000)
    hole_count: int = 200
    frame_pair_iters: int = 200_000
    frame_reps: int = 5
    churn_steps: int = 200_000
    callgrind: bool = True
    cg_pair_iters: int = 20_000
    cg_batch_iters: int = 5
    cg_frame_pair_iters: int = 20_000
    boot_mems: tuple = ("128M", "4G", "16G")
    boot_reps: int = 9
    boot_icount: bool = True
    grade_reps: int = 3
    grade_checkpoints: bool = True
    checkpoints: str = "all"         # "all" or "last": which bench kernels to build and run
    plots: bool = True
    real_programs: tuple = tuple(realtrace.PROGRAMS)  # recorded at the start (realtrace.py)
    real_x2: bool = True             # also each trace with twice the live blocks
    real_reps: int = 5               # rounds over every allocator and real trace
    real_limit_s: int = 10           # a replay running longer is stopped and reported as such
    real_cg_native_s: float = 2.0    # callgrind only where one pass took less than this natively
    real_cg_limit_s: int = 240
    recorder: Path = None            # the recorder, built by make (else built here)
    cc: str = "gcc"
    guest_trace_mem: str = "512M"
    guest_trace_limit_s: int = 120


FULL = Settings()
SMOKE = Settings(pair_sizes=(16,), pair_iters=1000, batch_iters=1, reps=1, trace_scale=0.02,
                 trace_names=("small-churn",), holes=(10,), hole_count=10, frame_pair_iters=1000,
                 frame_reps=1, churn_steps=1000, callgrind=False, boot_mems=("128M",),
                 boot_reps=1, grade_reps=0, grade_checkpoints=False, checkpoints="last",
                 real_programs=("cc1",), real_reps=1, real_limit_s=1)
PARTS = ("heap", "frames", "guest", "boot", "grade")


# ---------------------------------------------------------------------------------------------
# Small helpers

def log(msg):
    print(msg, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def run_measured(cmd, timeout=600):
    """run() for a program whose figures are the bench's: in this environment less the C
    library's malloc settings (GLIBC_TUNABLES, which `make test` sets for the programs it
    starts, or a caller's MALLOC_ARENA_MAX, say), which would change glibc's figures."""
    env = {k: v for k, v in os.environ.items()
           if k != "GLIBC_TUNABLES" and not k.startswith("MALLOC_")}
    return run(cmd, timeout=timeout, env=env)


def clean_env(env=None):
    """The environment for a nested `make` (env, or else this one): none of the outer make's
    variables."""
    env = dict(os.environ if env is None else env)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "LAB", "SOLUTIONS", "MEM",
              "QEMUEXTRA", "SEED", "JUNIT", "RESULTS", "HIDDEN", "TEST"):
        env.pop(k, None)
    return env


_RESULT = re.compile(r"^result (\S+) ops=(\d+) ns=(\d+)$", re.M)


def parse_results(text):
    """{label: [ns per op, one per repetition]} from `result` lines."""
    out = {}
    for label, ops, ns in _RESULT.findall(text):
        out.setdefault(label, []).append(int(ns) / max(1, int(ops)))
    return out


def parse_ops(text):
    return {label: int(ops) for label, ops, _ in _RESULT.findall(text)}


def first_lines(text, n=6):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return "\n".join(lines[:n])


# ---------------------------------------------------------------------------------------------
# Host programs

# The kernel sources a host program needs besides the lab's, as kernel/host.mk lists them.
SUPPORT_SOURCES = ("kernel/kprintf.c", "kernel/ktest.c", "kernel/ktry.c", "kernel/cmdline.c",
                   "kernel/attest.c", "kernel/hmac.c", "kernel/sha256.c")
HOST_SHIM = "kernel/host/host.c"   # panic() and the console for host builds (its main renamed)


class HostBuild:
    def __init__(self, out, cc):
        self.out = out / "host"
        self.cc = cc
        # Each source compiles through ccache where it is installed, with the cache the
        # kernels use: the same file with the same flags is the same object, so a second run
        # (or the smoke run of `make test`) compiles only what changed.
        self.compile = hbuild.compiler(cc).split()
        self.env = hbuild.ccache_env()

    def cflags(self, checkpoint):
        # HEAP_DEBUG=0: no poisoning of freed memory, as the reference allocators do none
        # (kernel/heap.h); the kernel itself keeps it on.
        return ["-std=gnu11", "-O2", "-g", "-fno-omit-frame-pointer", "-Wall", "-Wextra",
                "-Wno-unused-parameter", "-DKTEST_HOST", "-DHEAP_DEBUG=0", f"-DCHECKPOINT={checkpoint}",
                "-Ikernel", "-Igrade/ktests/include", f"-I{rel(HOST)}"]

    def build(self, program, alloc):
        """Build tools/bench/host/<program>.c with alloc's adapter; (path, None) or (None, why)."""
        why = alloc.missing()
        if why:
            return None, why
        exe = self.out / f"{program}-{alloc.name}"
        objdir = self.out / f"obj-{program}-{alloc.name}"
        objdir.mkdir(parents=True, exist_ok=True)
        checkpoint = max([int(l[:2]) for l in alloc.labs], default=0)
        flags = self.cflags(checkpoint)
        objs = []
        sources = [(f"tools/bench/host/{program}.c", [f'-DBENCH_ADAPTER="adapters/{alloc.adapter}"'])]
        if alloc.ours:
            sources += [(str(p.relative_to(ROOT)), []) for lab in alloc.labs
                        for p in sorted((SOLUTIONS / lab).glob("*.c"))]
            sources += [(s, []) for s in SUPPORT_SOURCES]
            sources += [(HOST_SHIM, ["-Dmain=host_tests_main"])]
        for src, extra in sources:
            obj = objdir / (src.replace("/", "_") + ".o")
            p = run([*self.compile, *flags, *extra, "-c", src, "-o", str(obj)], env=self.env)
            if p.returncode != 0:
                return None, f"did not build ({src}, adapter tools/bench/host/adapters/{alloc.adapter}):\n" \
                    + first_lines(p.stderr, 8)
            objs.append(str(obj))
        p = run([self.cc, "-o", str(exe), *objs, *alloc.libs])
        if p.returncode != 0:
            return None, f"did not link (adapter tools/bench/host/adapters/{alloc.adapter}):\n" \
                + first_lines(p.stderr, 8)
        return exe, None


RUN_ERRORS = []  # programs that failed, for the report


def run_program(exe, args, timeout=300):
    """Run a benchmark program; a failure (a panic in the allocator, say) is recorded for the
    report and its figures stay empty."""
    p = run_measured([str(exe), *[str(a) for a in args]], timeout=timeout)
    if p.returncode != 0:
        RUN_ERRORS.append(f"{Path(exe).name} {args[0]}: exit status {p.returncode}: "
                          + " | ".join((p.stdout + p.stderr).strip().splitlines()[-4:]))
    return p


def callgrind(exe, args, tmpdir, timeout=600):
    """Run under callgrind; {label: instructions per op} from the dumps measure_end asks for.
    A label dumped more than once (repetitions) keeps its last, warm, count."""
    out = Path(tempfile.mkdtemp(dir=tmpdir))
    try:
        p = run_measured(["valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={out}/cg.out",
                          str(exe), "--callgrind", *[str(a) for a in args]], timeout=timeout)
    except subprocess.TimeoutExpired:
        shutil.rmtree(out, ignore_errors=True)
        return None, f"over the limit of {timeout} s under callgrind"
    if p.returncode != 0:
        return None, first_lines(p.stderr + p.stdout)
    ops = parse_ops(p.stdout)
    counts = {}
    parts = sorted(out.glob("cg.out.*"), key=lambda f: int(f.suffix[1:]))
    for f in parts:
        text = f.read_text(errors="replace")
        m = re.search(r"^desc: Trigger: Client Request: (\S+)$", text, re.M)
        t = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
        if m and t and m.group(1) in ops:
            counts[m.group(1)] = int(t.group(1)) / max(1, ops[m.group(1)])
    shutil.rmtree(out, ignore_errors=True)
    return counts, None


# ---------------------------------------------------------------------------------------------
# Part: heap allocators on the host

def bench_heap(s, hb, out, results, cg_jobs, real):
    res = results.setdefault("heap", {})
    res["allocators"] = {}
    exes = {}
    for a in HEAP_ALLOCATORS:
        exe, why = hb.build("heapbench", a)
        res["allocators"][a.name] = {"ours": a.ours, "status": "ok" if exe else why}
        if exe:
            exes[a.name] = exe
        log(f"  heap allocator {a.name}: {'built' if exe else why.splitlines()[0]}")

    traces = tracegen.generate(out / "traces", s.trace_scale, s.trace_names or None)
    res["traces_used"] = [t.stem for t in traces]
    rtr = results["real"]["results"]
    pairs, batch, tr, holes = {}, {}, {}, {}
    for name, exe in exes.items():
        log(f"  heap: timing {name}")
        p = run_program(exe, ["pairs", s.pair_iters, s.reps, *s.pair_sizes])
        r = parse_results(p.stdout)
        pairs[name] = {str(z): {"ns": median(r.get(f"pair/{z}", []))} for z in s.pair_sizes}
        if p.returncode:
            pairs[name]["error"] = first_lines(p.stdout + p.stderr)
        p = run_program(exe, ["batch", s.batch_iters, s.reps])
        batch[name] = {"ns": median(parse_results(p.stdout).get("batch", []))}

        tr[name] = {}
        for t in traces:  # utilization, each in a fresh process
            p = run_program(exe, ["trace", 0, t])
            tr[name][t.stem] = parse_trace_util(p.stdout, t.stem)
        p = run_program(exe, ["trace", s.reps, *traces])
        r = parse_results(p.stdout)
        for t in traces:
            tr[name][t.stem]["ns_per_op"] = median(r.get(f"trace/{t.stem}", []))
            tr[name][t.stem]["ops"] = parse_ops(p.stdout).get(f"trace/{t.stem}")

        if name != "bump":  # a bump allocator leaves no holes to walk past
            p = run_program(exe, ["holes", s.hole_count, s.reps, *s.holes])
            r = parse_results(p.stdout)
            holes[name] = {str(h): {"alloc_ns": median(r.get(f"holes/{h}/alloc", [])),
                                    "free_ns": median(r.get(f"holes/{h}/free", []))}
                           for h in s.holes}

    log(f"  heap: real programs, {s.real_reps} rounds")
    bench_real(s, exes, real, rtr)

    if s.callgrind and shutil.which("valgrind"):
        for name, exe in exes.items():
            def store_pairs(c, n=name):
                for z in s.pair_sizes:
                    pairs[n][str(z)]["insns"] = c.get(f"pair/{z}")

            def store_batch(c, n=name):
                batch[n]["insns"] = c.get("batch")

            def store_traces(c, n=name):
                for t in traces:
                    tr[n][t.stem]["insns_per_op"] = c.get(f"trace/{t.stem}")

            def store_holes(c, n=name):
                for h in s.holes:
                    holes[n][str(h)].update(alloc_insns=c.get(f"holes/{h}/alloc"),
                                            free_insns=c.get(f"holes/{h}/free"))

            cg_jobs.append((f"heap {name} pairs", exe, ["pairs", s.cg_pair_iters, 2, *s.pair_sizes],
                            store_pairs))
            cg_jobs.append((f"heap {name} batch", exe, ["batch", s.cg_batch_iters, 2], store_batch))

            counted = []
            for tname, _, path in real:
                d = rtr[name].get(tname, {})
                if d.get("pass_s") is not None and d["pass_s"] <= s.real_cg_native_s:
                    counted.append((tname, path))
                elif "ns_per_op" in d:
                    d["insns_skipped"] = (f"not counted: one pass took {d['pass_s']:.1f} s, "
                                          f"about 50 times that under callgrind")

            def store_real(c, n=name, names=tuple(t for t, _ in counted)):
                for t in names:
                    rtr[n][t]["insns_per_op"] = c.get(f"trace/{t}")

            if counted:
                cg_jobs.append((f"heap {name} real traces", exe,
                                ["trace", 1, *[p for _, p in counted]], store_real,
                                s.real_cg_limit_s))
            cg_jobs.append((f"heap {name} traces", exe, ["trace", 1, *traces], store_traces))
            if name in holes:
                cg_jobs.append((f"heap {name} holes", exe, ["holes", s.hole_count, 1, *s.holes],
                                store_holes))
    else:
        res["callgrind"] = "skipped" if not s.callgrind else "valgrind not installed"
    res.update(pairs=pairs, batch=batch, traces=tr, holes=holes)


_TIMEOUT = re.compile(r"^timeout (\S+) done=(\d+) of=(\d+) after=(\d+)$", re.M)


def record_real(s, out, results):
    """Record the real programs (tools/bench/realtrace.py) and write their traces, the
    variants with twice the live blocks, and the guest's compact form. Returns
    [(trace name, path, guest path)] and fills results["real"]."""
    real = results.setdefault("real", {"results": {}})
    programs = real["programs"] = {}
    if not s.real_programs:
        return []
    rec, why = (s.recorder, None) if s.recorder else realtrace.build_recorder(out, s.cc)
    if not rec:
        for name in s.real_programs:
            programs[name] = {"what": realtrace.PROGRAMS[name][0], "error": why}
        return []
    tdir = out / "traces" / "real"
    tdir.mkdir(parents=True, exist_ok=True)
    made = []
    for name in s.real_programs:
        r = realtrace.record(rec, name, tdir)
        programs[name] = {k: v for k, v in r.items() if k != "path"}
        if "error" in r:
            log(f"  real program {name}: {r['error']}")
            continue
        log(f"  real program {name}: {r['ops']:,} operations, at most {r['peak_live_blocks']:,} "
            f"blocks live ({r['record_s']} s)")
        names = [(name, Path(r["path"]))]
        if s.real_x2:
            x2 = tdir / f"{name}-x2.trace"
            realtrace.live_x2(r["path"], x2, f"{name}-x2")
            names.append((f"{name}-x2", x2))
        for tname, path in names:
            g = path.with_suffix(".gtrace")
            ops, slots = realtrace.guest_trace(path, g)
            made.append((tname, path, g))
            real.setdefault("guest_files", {})[tname] = {"ops": ops, "slots": slots}
    real["traces_used"] = [name for name, _, _ in made]
    return made


def run_real_pass(s, exe, name, path, reps):
    """One process replaying a real trace: reps 0 measures its utilization, reps 1 times one
    pass after a warm-up. A dict of what it gave, with "timeout" if it ran past the limit."""
    start = time.monotonic()
    try:
        p = run_measured([str(exe), "--limit", str(s.real_limit_s), "trace", str(reps), str(path)],
                         timeout=s.real_limit_s + 60)
    except subprocess.TimeoutExpired:
        return {"timeout": {"after_s": s.real_limit_s, "done": None}}
    r = {"wall_s": time.monotonic() - start}
    m = _TIMEOUT.search(p.stdout)
    if m:
        r["timeout"] = {"after_s": int(m.group(4)), "done": int(m.group(2)), "of": int(m.group(3))}
    elif p.returncode != 0:
        RUN_ERRORS.append(f"{Path(exe).name} trace {name}: exit status {p.returncode}: "
                          + " | ".join((p.stdout + p.stderr).strip().splitlines()[-4:]))
        r["error"] = first_lines(p.stdout + p.stderr)
    elif reps == 0:
        r.update(parse_trace_util(p.stdout, name))
    else:
        r["ns_per_op"] = (parse_results(p.stdout).get(f"trace/{name}") or [None])[-1]
        r["ops"] = parse_ops(p.stdout).get(f"trace/{name}")
    return r


def bench_real(s, exes, real, rtr):
    """The real traces, every allocator: the utilization in a process of its own each, then
    s.real_reps rounds that time one pass of every allocator on every trace in turn, so that
    a change in the machine's load falls on all of them alike; the time is the fastest round
    (the targets compare these times with each other, and other work on the machine only
    adds to them). An allocator slower than a second per pass gets one round; one that runs
    past the limit is reported as such."""
    for name, exe in exes.items():
        rtr[name] = {}
        for tname, _, g in real:
            base = rtr[name].get(tname[:-3], {}) if tname.endswith("-x2") else {}
            if "timeout" in base:
                rtr[name][tname] = {"skipped": f"{tname[:-3]} itself ran over the limit"}
                continue
            r = run_real_pass(s, exe, tname, g, 0)
            rtr[name][tname] = {k: v for k, v in r.items() if k != "wall_s"}
            rtr[name][tname]["util_s"] = r.get("wall_s")
    times = {}
    for rnd in range(s.real_reps):
        for name, exe in exes.items():
            for tname, _, g in real:
                d = rtr[name][tname]
                if any(k in d for k in ("timeout", "oom_at", "error", "skipped")):
                    continue
                if rnd > 0 and (d.get("util_s") or 0) > 1.0:
                    continue
                r = run_real_pass(s, exe, tname, g, 1)
                if "timeout" in r or "error" in r:
                    d.update({k: r[k] for k in ("timeout", "error") if k in r})
                    continue
                d["ops"] = r["ops"]
                if r["ns_per_op"] is not None:
                    times.setdefault((name, tname), []).append(r["ns_per_op"])
    for (name, tname), v in times.items():  # the fastest round: other work only adds time
        d = rtr[name][tname]
        if "timeout" not in d:
            d.update(ns_per_op=min(v), runs=len(v), pass_s=min(v) * (d["ops"] or 0) / 1e9)


def parse_trace_util(text, name):
    m = re.search(rf"^trace {re.escape(name)} peak_live=(\d+) peak_span=(\d+)$", text, re.M)
    if m:
        live, span = int(m.group(1)), int(m.group(2))
        return {"peak_live": live, "peak_span": span, "util": live / span if span else None}
    m = re.search(rf"^trace {re.escape(name)} oom_at=(\d+)$", text, re.M)
    if m:
        return {"oom_at": int(m.group(1))}
    return {"error": first_lines(text) or "no result"}


def score_traces(results):
    """P = 0.6 U + 0.4 min(1, T / T_glibc) per trace, and over all traces (mean U; T from
    the total operations over the total time, as a malloc lab scores)."""
    h = results.get("heap", {})
    tr = h.get("traces", {})
    ref = tr.get(REFERENCE_HEAP, {})
    for name, per in tr.items():
        total_ops = total_ns = 0
        utils = []
        complete = True
        for trace, r in per.items():
            ns, ref_ns = r.get("ns_per_op"), ref.get(trace, {}).get("ns_per_op")
            if r.get("util") is not None and ns and ref_ns:
                r["score"] = 0.6 * r["util"] + 0.4 * min(1.0, ref_ns / ns)
                utils.append(r["util"])
                total_ops += r["ops"] or 0
                total_ns += ns * (r["ops"] or 0)
            else:
                complete = False
        ref_ops = sum(x.get("ops") or 0 for x in ref.values())
        ref_ns = sum((x.get("ns_per_op") or 0) * (x.get("ops") or 0) for x in ref.values())
        if utils and total_ns and ref_ns and complete:
            u = sum(utils) / len(utils)
            t, t_ref = total_ops / total_ns, ref_ops / ref_ns
            h.setdefault("overall", {})[name] = {"util": u, "throughput_ratio": t / t_ref,
                                                 "score": 0.6 * u + 0.4 * min(1.0, t / t_ref)}
    real = results.get("real", {}).get("results", {})
    ref = real.get(REFERENCE_HEAP, {})
    for name, per in real.items():
        for trace, r in per.items():
            ns, ref_ns = r.get("ns_per_op"), ref.get(trace, {}).get("ns_per_op")
            if r.get("util") is not None and ns and ref_ns:
                r["score"] = 0.6 * r["util"] + 0.4 * min(1.0, ref_ns / ns)


# ---------------------------------------------------------------------------------------------
# Part: frame allocators on the host

def bench_frames(s, hb, results, cg_jobs):
    res = results.setdefault("frames", {})
    res["allocators"] = {}
    per = res.setdefault("results", {})
    for a in FRAME_ALLOCATORS:
        exe, why = hb.build("framebench", a)
        res["allocators"][a.name] = {"ours": a.ours, "status": "ok" if exe else why}
        log(f"  frame allocator {a.name}: {'built' if exe else why.splitlines()[0]}")
        if not exe:
            continue
        r = per[a.name] = {}
        p = run_program(exe, ["fill", s.frame_reps])
        t = parse_results(p.stdout)
        r["fill_ns"], r["drain_ns"] = median(t.get("fill", [])), median(t.get("drain", []))
        p = run_program(exe, ["pair50", s.frame_pair_iters, s.frame_reps])
        t = parse_results(p.stdout)
        r["pair50_scattered_ns"] = median(t.get("pair50/scattered", []))
        r["pair50_split_ns"] = median(t.get("pair50/split", []))
        if p.returncode:
            r["error"] = first_lines(p.stderr + p.stdout)
        if a.ours:  # the reference has single frames only: no orders to churn
            p = run_program(exe, ["churn", s.churn_steps, 12345])
            m = re.search(r"taken_frames=(\d+) free_frames=(\d+) largest_free_order=(-?\d+)", p.stdout)
            if m:
                r["churn"] = {"steps": s.churn_steps, "taken_frames": int(m.group(1)),
                              "free_frames": int(m.group(2)), "largest_free_order": int(m.group(3))}
        if s.callgrind and shutil.which("valgrind"):
            cg_jobs.append((f"frames {a.name} fill", exe, ["fill", 1],
                            lambda c, r=r: r.update(fill_insns=c.get("fill"), drain_insns=c.get("drain"))))
            cg_jobs.append((f"frames {a.name} pair50", exe, ["pair50", s.cg_frame_pair_iters, 1],
                            lambda c, r=r: r.update(pair50_scattered_insns=c.get("pair50/scattered"),
                                                    pair50_split_insns=c.get("pair50/split"))))


def run_callgrind_jobs(jobs, out, results):
    """Instruction counts do not depend on the machine's load: two at a time."""
    if not jobs:
        return
    tmp = out / "callgrind"
    tmp.mkdir(parents=True, exist_ok=True)
    errors = results.setdefault("callgrind_errors", {})

    def one(job):
        what, exe, args, store, *limit = job
        counts, err = callgrind(exe, args, tmp, *limit)
        return what, counts, err, store

    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        for what, counts, err, store in pool.map(one, jobs):
            if err:
                errors[what] = err
                log(f"  callgrind {what}: failed: {err.splitlines()[0] if err else ''}")
            else:
                store(counts)
    log(f"  callgrind: {len(jobs)} runs")


# ---------------------------------------------------------------------------------------------
# Part: inside the guest, with -icount

def lab_dirs():
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit())


def build_bench_kernel(lab, labs, cc):
    """The graded kernel of checkpoint `lab` (every layer from solutions/) plus the bench
    scenarios. Returns (directory, None) or (None, why)."""
    n = int(lab[:2])
    upto = labs[:labs.index(lab) + 1]
    out = ROOT / "build" / "bench" / f"kernel-{lab}"
    tests = ["grade/ktests/00-kernel"] + [f"grade/ktests/{l}" for l in upto
                                           if (ROOT / "grade/ktests" / l).is_dir()]
    cmd = ["make", "--no-print-directory", "-s", f"-j{os.cpu_count() or 2}", "-f", "kernel/build.mk",
           f"OUT={out}", f"CC={hbuild.compiler(cc)}", f"CHECKPOINT={n}", f"CHECKPOINT_NAME={lab}",
           "LAYERS=" + " ".join(f"solutions/{l}" for l in upto), "TESTS=" + " ".join(tests),
           "EXTRA_SRCS=" + " ".join(str(p.relative_to(ROOT)) for p in GUEST_SOURCES)]
    # Through the compiler cache, as the graded kernels are: the files this kernel shares with
    # the graded kernel of its checkpoint are the same objects.
    p = run(cmd, env=clean_env(hbuild.ccache_env()))
    if p.returncode != 0:
        errors = "\n".join(l for l in (p.stdout + p.stderr).splitlines()
                           if not re.match(r"^\s*(CC|LD)\s", l))
        return None, "did not build:\n" + first_lines(errors, 10)
    return out, None


def boot_once(kernel, mem="128M", append="", extra=(), timeout=30.0):
    """One boot, timed from starting QEMU: (first console byte s, exit s, status, output)."""
    cmd = hqemu.qemu_command(kernel, mem, append, extra)
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                env=hqemu.qemu_env())
        first, out = None, bytearray()
        fd = proc.stdout.fileno()
        try:
            while True:
                left = start + timeout - time.monotonic()
                if left <= 0:
                    proc.kill()
                    break
                ready, _, _ = select.select([fd], [], [], left)
                if not ready:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                if first is None:
                    first = time.monotonic() - start
                out += chunk
        finally:
            status = proc.wait()
            end = time.monotonic() - start
            proc.stdout.close()
    return first, end, status, out.decode("utf-8", errors="replace")


_BENCH_LINE = re.compile(r"^bench: (\w+)((?: \w+=\S+)*)\s*$", re.M)


def bench_lines(text):
    """[(what, {key: value})] from the guest's `bench: what key=value ...` lines."""
    out = []
    for what, kvs in _BENCH_LINE.findall(text):
        d = {}
        for kv in kvs.split():
            k, v = kv.split("=", 1)
            try:
                d[k] = int(v, 0)
            except ValueError:
                d[k] = v
        out.append((what, d))
    return out


def static_switch_count(kernel):
    """Instructions of the context-switch routine, counted in the disassembly up to its
    first return (it runs straight through): (symbol, count) or None."""
    sym = kernel / "kernel.sym"
    if not sym.is_file():
        return None
    table = {}
    for line in sym.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            table.setdefault(parts[2], int(parts[0], 16))
    for name in SWITCH_SYMBOLS:
        if name in table:
            start = table[name]
            later = sorted(a for a in table.values() if a > start)
            stop = later[0] if later else start + 4096
            p = run(["objdump", "-d", "--no-show-raw-insn", f"--start-address={start}",
                     f"--stop-address={stop}", str(kernel / "kernel.elf")])
            count = 0
            for line in p.stdout.splitlines():
                if re.match(r"^\s*[0-9a-f]+:\s+\S", line):
                    count += 1
                    if re.search(r"\sret", line):
                        break
            return name, count
    return None


def bench_guest(s, cc, results, real):
    res = results.setdefault("guest", {})
    labs = lab_dirs()
    chosen = labs if s.checkpoints == "all" else labs[-1:]
    # The real programs go through kmalloc where it is the block heap (checkpoint 05 on).
    trace_args = [a for name, _, g in real for a in ("-fw_cfg", f"name=opt/teachos/trace/{name},file={g}")]
    kernels = {}
    for lab in chosen:
        k, why = build_bench_kernel(lab, labs, cc)
        entry = res.setdefault(lab, {})
        if not k:
            entry["status"] = why
            log(f"  bench kernel {lab}: {why.splitlines()[0]}")
            continue
        kernels[lab] = k
        entry["status"] = "ok"

    def guest_run(lab, scenario):
        if scenario == "bench_trace":
            start = time.monotonic()
            first, _, status, text = boot_once(
                kernels[lab] / "kernel.bin", mem=s.guest_trace_mem, append=f"scenario={scenario}",
                extra=ICOUNT + trace_args, timeout=s.guest_trace_limit_s)
            if time.monotonic() - start >= s.guest_trace_limit_s:
                text += f"\nbench: trace_timeout after={s.guest_trace_limit_s}\n"
            return lab, scenario, status, text
        _, _, status, text = boot_once(kernels[lab] / "kernel.bin", append=f"scenario={scenario}",
                                       extra=ICOUNT, timeout=60)
        return lab, scenario, status, text

    jobs = [(lab, sc) for lab in kernels
            for sc in ("bench_calibrate", "bench_kmalloc", "bench_block_heap", "bench_yield")]
    jobs += [(lab, "bench_trace") for lab in kernels if int(lab[:2]) >= 5 and trace_args]
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        runs = list(pool.map(lambda j: guest_run(*j), jobs))
    for lab, scenario, status, text in runs:
        entry = res[lab]
        lines = bench_lines(text)
        if f"scenario {scenario}: no such scenario" in text:
            entry[scenario] = {"status": "not in this checkpoint"}
            continue
        if scenario == "bench_trace":
            entry[scenario] = guest_traces(lines, status, text)
            continue
        if status not in (hqemu.EXIT_SUCCESS, hqemu.EXIT_FAILURE) or not lines:
            entry[scenario] = {"status": f"failed (QEMU status {status})",
                               "output": "\n".join(text.strip().splitlines()[-6:])}
            continue
        if scenario == "bench_calibrate":
            pts = [(d["loops"], d["ticks"]) for w, d in lines if w == "calibrate"]
            consts = {t - 2 * n for n, t in pts}
            entry[scenario] = {"runs": pts, "constant": sorted(consts),
                               "verified": len(consts) == 1 and 0 <= min(consts) < 16}
        elif scenario == "bench_kmalloc":
            sizes = {}
            for w, d in lines:
                if w == "kmalloc" and "ticks" in d:
                    sizes[str(d["size"])] = (d["ticks"] - d["empty"]) / d["pairs"]
                elif w == "kmalloc" and "failed" in d:
                    sizes[str(d["size"])] = None
                elif w == "kmalloc_batch" and d.get("pairs"):
                    entry["kmalloc_batch"] = d["ticks"] / d["pairs"]
            entry[scenario] = {"insns_per_pair": sizes}
        elif scenario == "bench_block_heap":
            entry[scenario] = {"insns_per_pair": {str(d["size"]): (d["ticks"] - d["empty"]) / d["pairs"]
                                                  for w, d in lines if w == "block_heap" and "ticks" in d}}
        elif scenario == "bench_yield":
            d = next((d for w, d in lines if w == "yield" and "ticks" in d), None)
            entry[scenario] = {"insns_per_switch": d["ticks"] / d["switches"]} if d else \
                {"status": "failed", "output": "\n".join(text.strip().splitlines()[-6:])}
    for lab, k in kernels.items():
        sw = static_switch_count(k)
        if sw:
            res[lab]["switch_routine"] = {"symbol": sw[0], "insns": sw[1]}
    return kernels


def guest_traces(lines, status, text):
    """{trace: {insns_per_op, ops} or {oom_at} or {error}} from bench_trace's lines."""
    out = {}
    for w, d in lines:
        if w == "trace" and "ticks" in d:
            out[d["name"]] = {"ops": d["ops"], "insns_per_op": (d["ticks"] - d["empty"]) / d["ops"]}
        elif w == "trace" and "oom_at" in d:
            out[d["name"]] = {"oom_at": d["oom_at"]}
        elif w == "trace" and "error" in d:
            out[d.get("name", "?")] = {"error": d["error"]}
        elif w == "trace_timeout":
            out["timeout_s"] = d["after"]
    if not any(w == "trace_done" for w, _ in lines):
        out["status"] = (f"did not finish (QEMU status {status})" if "timeout_s" not in out
                         else f"over the limit of {out['timeout_s']} s")
        out["output"] = "\n".join(text.strip().splitlines()[-6:])
    return out


# ---------------------------------------------------------------------------------------------
# Part: boot

def build_stub(out):
    d = out / "stub"
    d.mkdir(parents=True, exist_ok=True)
    p = run(["gcc", "-m32", "-c", str(BENCH / "stub" / "stub.S"), "-o", str(d / "stub.o")])
    if p.returncode == 0:
        p = run(["ld", "-m", "elf_i386", "-n", "-T", str(BENCH / "stub" / "stub.ld"), "-o",
                 str(d / "stub.elf"), str(d / "stub.o")])
    if p.returncode != 0:
        return None, "the stub kernel did not build:\n" + first_lines(p.stderr)
    return d / "stub.elf", None


def bench_boot(s, out, kernels, results):
    res = results.setdefault("boot", {})
    if not kernels:
        res["status"] = "no bench kernel built"
        return
    lab = sorted(kernels)[-1]
    stub, why = build_stub(out)
    if not stub:
        res["status"] = why
        return
    kernel = kernels[lab] / "kernel.bin"
    res["checkpoint"] = lab
    targets = {"teachos": (kernel, "scenario=bench_boot"), "stub": (stub, "")}
    times = {who: {mem: {"first": [], "exit": []} for mem in s.boot_mems} for who in targets}
    bad = []
    for _ in range(s.boot_reps):
        for mem in s.boot_mems:
            for who, (k, append) in targets.items():  # interleaved, so drift hits both alike
                first, end, status, text = boot_once(k, mem, append)
                if status != hqemu.EXIT_SUCCESS or first is None:
                    bad.append(f"{who} MEM={mem}: status {status}: {text.strip()[-200:]}")
                    continue
                times[who][mem]["first"].append(first * 1000)
                times[who][mem]["exit"].append(end * 1000)
    res["ms"] = {who: {mem: {"first": median(t["first"]), "exit": median(t["exit"]),
                             "runs": len(t["exit"])} for mem, t in per.items()}
                 for who, per in times.items()}
    if bad:
        res["errors"] = bad[:6]
    if s.boot_icount:
        ticks = {}
        for who, (k, append) in targets.items():
            for mem in s.boot_mems:
                _, _, status, text = boot_once(k, mem, append, extra=ICOUNT)
                d = next((d for w, d in bench_lines(text) if w == "boot"), None)
                ticks.setdefault(who, {})[mem] = d["ticks"] if d else None
        res["insns"] = ticks


# ---------------------------------------------------------------------------------------------
# Part: grading

def timed_make(args):
    start = time.monotonic()
    p = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True,
                       text=True, env=clean_env(), stdin=subprocess.DEVNULL, timeout=900)
    return time.monotonic() - start, p


def bench_grade(s, out, results):
    res = results.setdefault("grade", {})
    labs = lab_dirs()
    if not s.grade_reps:
        res["status"] = "skipped in this run"
        return
    build, p = timed_make(["kernel", "SOLUTIONS=all"])
    if p.returncode != 0:
        res["status"] = "the kernel did not build:\n" + first_lines(p.stdout + p.stderr)
        return
    walls, per_lab = [], {}
    for i in range(s.grade_reps):
        rfile = out / f"grade-{i}.json"
        wall, p = timed_make(["grade", "SOLUTIONS=all", f"RESULTS={rfile}"])
        walls.append(wall)
        if p.returncode != 0:
            res["failed"] = first_lines(p.stdout[-2000:], 10)
        if rfile.is_file():
            for t in json.loads(rfile.read_text())["tests"]:
                per_lab.setdefault(t["lab"], [0.0] * s.grade_reps)[i] += t["duration"]
    res["whole"] = {"wall_s": median(walls), "runs": walls, "checkpoint": labs[-1] if labs else None}
    res["per_lab_test_s"] = {lab: median(v) for lab, v in sorted(per_lab.items())}
    if s.grade_checkpoints:
        res["per_checkpoint"] = {}
        for lab in labs:
            n = str(int(lab[:2]))
            timed_make(["kernel", f"LAB={n}", "SOLUTIONS=all"])
            wall, p = timed_make(["grade", f"LAB={n}", "SOLUTIONS=all"])
            res["per_checkpoint"][lab] = {"wall_s": wall, "ok": p.returncode == 0}


# ---------------------------------------------------------------------------------------------

def host_info():
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    qemu_v = run([hqemu.QEMU, "--version"]).stdout.splitlines()[:1]
    rev = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
    dirty = bool(run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip())
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu, "cores": os.cpu_count(),
            "kernel": platform.release(), "qemu": qemu_v[0] if qemu_v else "?",
            "commit": rev + ("+changes" if dirty else ""),
            "checkpoints": lab_dirs()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    ap.add_argument("--smoke", action="store_true", help="a few seconds: one repetition of each")
    ap.add_argument("--only", default=",".join(PARTS), help="parts to run: " + ",".join(PARTS))
    ap.add_argument("--cc", default=os.environ.get("CC") or "gcc")
    ap.add_argument("--recorder", type=Path, help="the recorder library (make builds it; default: "
                    "build it here)")
    args = ap.parse_args(argv)
    s = SMOKE if args.smoke else FULL
    s.cc = args.cc
    if args.recorder:
        if not args.recorder.is_file():
            ap.error(f"--recorder {args.recorder}: no such file")
        s.recorder = args.recorder.resolve()
    parts = [p for p in args.only.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {unknown}: choose from {', '.join(PARTS)}")
    if not (ROOT / "solutions").is_dir():
        print("make bench measures the reference solutions (solutions/), which this copy of the "
              "course does not include.", file=sys.stderr)
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()

    load_start = os.getloadavg()[0]
    results = {"meta": host_info(), "elapsed_s": {}, "smoke": args.smoke, "parts": parts}
    results["meta"]["cc"] = args.cc
    started = time.monotonic()
    hb = HostBuild(out, args.cc)
    cg_jobs = []
    kernels = {}

    def phase(name, fn):
        if name not in parts:
            return None
        log(f"bench: {name} ...")
        t = time.monotonic()
        r = fn()
        results["elapsed_s"][name] = round(time.monotonic() - t, 1)
        return r

    real = []
    if "heap" in parts or "guest" in parts:
        log("bench: recording real programs ...")
        t = time.monotonic()
        real = record_real(s, out, results)
        results["elapsed_s"]["record"] = round(time.monotonic() - t, 1)
    phase("heap", lambda: bench_heap(s, hb, out, results, cg_jobs, real))
    phase("frames", lambda: bench_frames(s, hb, results, cg_jobs))
    if cg_jobs:
        t = time.monotonic()
        log("bench: instruction counts (callgrind) ...")
        run_callgrind_jobs(cg_jobs, out, results)
        results["elapsed_s"]["callgrind"] = round(time.monotonic() - t, 1)
    score_traces(results)
    kernels = phase("guest", lambda: bench_guest(s, args.cc, results, real)) or {}
    if "guest" in parts:  # the null system call of checkpoint 08 (tools/bench/syscallbench.py)
        results["syscall"] = syscallbench.measure(kernels, boot_once, ICOUNT, args.cc, out, run_measured)
        # fork at checkpoint 09, copy-on-write against an eager copy (tools/bench/forkbench.py)
        results["fork"] = forkbench.measure(kernels, boot_once, ICOUNT, args.cc, out, run_measured)
    if "boot" in parts and not kernels:  # boot needs a bench kernel even without the guest part
        labs = lab_dirs()
        if labs:
            k, _ = build_bench_kernel(labs[-1], labs, args.cc)
            if k:
                kernels = {labs[-1]: k}
    phase("boot", lambda: bench_boot(s, out, kernels, results))
    phase("grade", lambda: bench_grade(s, out, results))
    results["elapsed_s"]["total"] = round(time.monotonic() - started, 1)
    results["meta"]["load"] = [load_start, os.getloadavg()[0]]

    results["run_errors"] = RUN_ERRORS
    results["targets"] = (report.targets(results) + syscallbench.targets(results.get("syscall"))
                          + forkbench.targets(results.get("fork")))
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    text = report.text(results) + "\n".join(syscallbench.text(results.get("syscall"))
                                             + forkbench.text(results.get("fork"))) + "\n"
    (out / "report.txt").write_text(text)
    plots = report.plots(results, out) if s.plots else []
    print(text)
    log(f"bench: wrote {rel(out / 'report.txt')}, {rel(out / 'results.json')}"
        + (f" and {len(plots)} plots ({', '.join(p.name for p in plots)})" if plots else
           f"; plots: {results.get('plots', 'none')}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
