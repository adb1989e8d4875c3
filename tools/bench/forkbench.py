"""fork + exit + wait of a 4 MiB process at checkpoint 09, for `make bench` (guest part).

In the guest: the scenario bench_fork (tools/bench/guest/fork.c) runs the program forkbench
of user/ twice, once with lab 09's copy-on-write fork and once with an eager copy of every
page; under QEMU -icount each run's ticks / forks is the instructions of one fork, the
child's exit and the parent's wait. Beside it, on the host: Linux's fork of a process with
the same 4 MiB written (tools/bench/host/forkbench.c), in microseconds.
"""
import re
from pathlib import Path

SCENARIO = "bench_fork"
TARGET_RATIO = 10  # copy-on-write at least this many times cheaper than the eager copy
_LINE = re.compile(r"^bench: fork label=(\w+) kib=(\d+) forks=(\d+) ticks=(\d+)\s*$", re.M)
_HOST = re.compile(r"^fork ns=([\d.]+)", re.M)
HOST_SOURCE = Path(__file__).resolve().parent / "host" / "forkbench.c"


def measure(kernels, boot_once, icount, cc, out, run):
    """{"checkpoint", "kib", "forks", "cow", "eager" (instructions per fork), "host_us"} (or
    "status" saying why not), from the bench kernel of the last checkpoint with processes."""
    res = {}
    labs = [lab for lab in sorted(kernels) if int(lab[:2]) >= 9]
    if not labs:
        res["status"] = "no checkpoint with processes (09) built"
    else:
        lab = labs[-1]
        _, _, status, text = boot_once(kernels[lab] / "kernel.bin", append=f"scenario={SCENARIO}",
                                       extra=icount, timeout=180)
        res["checkpoint"] = lab
        for label, kib, forks, ticks in _LINE.findall(text):
            res.update(kib=int(kib), forks=int(forks))
            res[label] = int(ticks) / int(forks)
        if "cow" not in res or "eager" not in res:
            res["status"] = f"the scenario printed no result for both forks (QEMU status " \
                f"{status}): " + " | ".join(text.strip().splitlines()[-3:])
    exe = Path(out) / "host" / "forkbench"
    exe.parent.mkdir(parents=True, exist_ok=True)
    p = run([cc, "-O2", "-o", str(exe), str(HOST_SOURCE)])
    if p.returncode == 0:
        p = run([str(exe)])
        m = _HOST.search(p.stdout)
        if m:
            res["host_us"] = float(m.group(1)) / 1000
    return res


def targets(res):
    what = f"copy-on-write fork of 4 MiB >= {TARGET_RATIO}x cheaper than an eager copy (checkpoint 09)"
    if not res or "cow" not in res or "eager" not in res:
        return [{"target": what, "status": "not measured yet",
                 "value": (res or {}).get("status", "not measured in this run")}]
    ratio = res["eager"] / res["cow"]
    return [{"target": what, "status": "met" if ratio >= TARGET_RATIO else "not met",
             "value": f"{ratio:.1f}x ({res['cow']:.0f} vs {res['eager']:.0f} instructions)"}]


def text(res):
    if not res:
        return []
    L = ["", "9. fork + exit + wait of a process with 4 MiB written"]
    if "cow" in res and "eager" in res:
        L.append(f"  teachos {res['checkpoint']}, in the guest ({res['kib']} KiB, {res['forks']} "
                 f"forks, QEMU -icount), instructions per fork, exit and wait:")
        L.append(f"    copy-on-write (lab 09)  {res['cow']:>12,.0f}")
        L.append(f"    eager copy              {res['eager']:>12,.0f}   "
                 f"({res['eager'] / res['cow']:.1f}x)")
    else:
        L.append(f"  teachos: {res.get('status', 'not measured')}")
    if "host_us" in res:
        L.append(f"  Linux on this host: {res['host_us']:.0f} us per fork, exit and waitpid of a "
                 f"process with 4 MiB written (time, not instructions)")
    return L
