"""The null system call, for `make bench` (tools/bench/bench.py, guest part): from
checkpoint 08 on, measured at the last checkpoint built.

In the guest: the scenario bench_syscall (tools/bench/guest/syscall.c) runs the program bench
of user/, which times 1000 getpid system calls with the time-stamp counter; under QEMU -icount
the difference from the empty loop, per call, is the instructions of one round trip (ring 3 ->
kernel -> ring 3). Beside it, on the host: Linux's getpid through the syscall instruction
(tools/bench/host/syscallbench.c), in nanoseconds.
"""
import re
from pathlib import Path

SCENARIO = "bench_syscall"
TARGET_INSNS = 150  # instructions for the round trip of a null system call
_LINE = re.compile(r"^bench: syscall calls=(\d+) ticks=(\d+) empty=(\d+)\s*$", re.M)
_HOST = re.compile(r"^syscall ns=([\d.]+)", re.M)
HOST_SOURCE = Path(__file__).resolve().parent / "host" / "syscallbench.c"


def measure(kernels, boot_once, icount, cc, out, run):
    """{"checkpoint", "insns_per_call", "calls", "host_ns"} (or "status" saying why not), from
    the bench kernel of the last checkpoint that has programs."""
    res = {}
    labs = [lab for lab in sorted(kernels) if int(lab[:2]) >= 8]
    if not labs:
        res["status"] = "no checkpoint with programs (08) built"
    else:
        lab = labs[-1]
        _, _, status, text = boot_once(kernels[lab] / "kernel.bin", append=f"scenario={SCENARIO}",
                                       extra=icount, timeout=60)
        m = _LINE.search(text)
        res["checkpoint"] = lab
        if m:
            calls, ticks, empty = (int(x) for x in m.groups())
            res.update(calls=calls, insns_per_call=(ticks - empty) / calls)
        else:
            res["status"] = f"the scenario printed no result (QEMU status {status}): " + \
                " | ".join(text.strip().splitlines()[-3:])
    exe = Path(out) / "host" / "syscallbench"
    exe.parent.mkdir(parents=True, exist_ok=True)
    p = run([cc, "-O2", "-o", str(exe), str(HOST_SOURCE)])
    if p.returncode == 0:
        p = run([str(exe)])
        m = _HOST.search(p.stdout)
        if m:
            res["host_ns"] = float(m.group(1))
    return res


def targets(res):
    at = (res or {}).get("checkpoint")  # the last checkpoint built: 08's entry, 09's dispatch
    what = (f"null system call round trip <= {TARGET_INSNS} instructions "
            f"({'checkpoint ' + at[:2] if at else 'checkpoint 08 on'})")
    if not res or "insns_per_call" not in res:
        return [{"target": what, "status": "not measured yet",
                 "value": (res or {}).get("status", "not measured in this run")}]
    n = res["insns_per_call"]
    return [{"target": what, "status": "met" if n <= TARGET_INSNS else "not met",
             "value": f"{n:.0f} instructions"}]


def text(res):
    if not res:
        return []
    L = ["", "8. A null system call (getpid), round trip from ring 3 and back"]
    if "insns_per_call" in res:
        L.append(f"  teachos {res['checkpoint']}, in the guest: {res['insns_per_call']:.0f} instructions "
                 f"per call (QEMU -icount, {res['calls']} calls; syscall, entry, dispatch, sysret)")
    else:
        L.append(f"  teachos: {res.get('status', 'not measured')}")
    if "host_ns" in res:
        L.append(f"  Linux on this host: {res['host_ns']:.0f} ns per getpid through the syscall "
                 f"instruction (time, not instructions: its entry does far more, and the host's "
                 f"mitigations count)")
    return L
