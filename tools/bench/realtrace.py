"""Heap traces of real programs: run a program under the recorder (tools/bench/record/heaprecord.c,
an LD_PRELOAD library) and turn what it recorded into a trace in the format of
tools/bench/tracegen.py, which every allocator of `make bench` replays.

    /usr/bin/python3 tools/bench/realtrace.py OUTDIR [--recorder build/bench/heaprecord.so]
                                                     [--only python,cc1] [--live-x2]

The programs (PROGRAMS below) do real work on this repository's own files:

  python   the Python interpreter (PYTHONMALLOC=malloc, so that every object is a malloc
           call and not one of pymalloc's private pools) parsing every Python file of the
           repository with ast, and writing and reading back an index of them as JSON
  cc1      the C compiler proper, which gcc runs for each file (gcc's own allocations are
           there; the driver and the assembler allocate little): `gcc -O2 -c` of kernel
           sources with the kernel's flags

A recorded realloc becomes an allocation of the new block followed by the free of the old
one (as a copy would be made); malloc(0) becomes an allocation of 1 byte (the allocators of
the course return NULL for 0); a free of a pointer the recording never saw allocated (made
before the recorder started) is left out; blocks still live when the program exits are freed
at the end, in the order they were allocated. `--live-x2` also writes each trace with twice
as many live blocks: two copies of it, interleaved operation by operation, with the ids of
the second copy shifted (the same sizes, the same order, twice the live set).
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tracegen import MAGIC  # noqa: E402

RECORD = struct.Struct("<QQQQ")
A, F, R = ord("a"), ord("f"), ord("r")


def python_files():
    """The files the Python program reads: the grading harness (grade/harness/*.py), in a
    fixed order."""
    return sorted((ROOT / "grade" / "harness").glob("*.py"))


# The Python program: parse every file, count the names in each tree, dump the index to JSON
# and load it back. Run with -S -s -B: no site packages, no user site, no .pyc written
# (not -I, which would ignore PYTHONMALLOC).
PY_WORK = r"""
import ast, json, sys
files = sys.argv[1:]
index = {}
for path in files:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tree = ast.parse(text, path)
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names[node.id] = names.get(node.id, 0) + 1
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = names.get(node.name, 0) + 1
    index[path] = {"lines": text.count("\n"), "names": names,
                   "dump": ast.dump(tree)[:20000]}
text = json.dumps(index, indent=1, sort_keys=True)
back = json.loads(text)
assert back == index
print(len(files), "files,", len(text), "bytes of JSON")
"""

# The C files cc1 compiles: the kernel's core and the reference solutions, as the kernel
# build compiles them (freestanding, -O2), each in a process of its own: the trace is the
# largest of these (the same file, every run).
CC_FILES = ("kernel/kprintf.c",)
CC_FLAGS = ("-std=gnu11", "-O2", "-g", "-ffreestanding", "-fno-omit-frame-pointer", "-Wall",
            "-Ikernel", "-DCHECKPOINT=7")


def _python(tmp):
    return [sys.executable if Path(sys.executable).name.startswith("python") else "/usr/bin/python3",
            "-S", "-s", "-B", "-c", PY_WORK, *[os.path.relpath(p, ROOT) for p in python_files()]], \
        {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}, "python3"


def _cc1(tmp):
    cmd = ["gcc", *CC_FLAGS, "-c", CC_FILES[0], "-o", str(Path(tmp) / "out.o")]
    return cmd, {}, "cc1"


# name -> (what it is, for the report; function giving (command, extra environment, the
# short name of the process whose records are the trace))
PROGRAMS = {
    "python": ("CPython parsing this repository's Python files (ast) and their JSON index", _python),
    "cc1": ("gcc's cc1 compiling kernel/kprintf.c -O2", _cc1),
}


def convert(rec_path, name, out_path):
    """Turn the records of one process into a trace file; returns its statistics."""
    data = Path(rec_path).read_bytes()
    ids = {}                      # address -> (id, size) of the live block there
    next_id = 0
    ops = []
    live = peak_live = live_bytes = peak_bytes = 0
    unknown = 0
    sizes = {}

    def alloc(ptr, size):
        nonlocal next_id, live, peak_live, live_bytes, peak_bytes
        size = max(1, size)
        if ptr in ids:            # a free the recording missed: forget the old block
            free(ptr)
        ids[ptr] = (next_id, size)
        ops.append(f"a {next_id} {size}")
        next_id += 1
        live += 1
        live_bytes += size
        peak_live = max(peak_live, live)
        peak_bytes = max(peak_bytes, live_bytes)
        b = max(size - 1, 1).bit_length()
        sizes[b] = sizes.get(b, 0) + 1

    def free(ptr):
        nonlocal live, live_bytes, unknown
        got = ids.pop(ptr, None)
        if got is None:
            unknown += 1
            return
        ops.append(f"f {got[0]}")
        live -= 1
        live_bytes -= got[1]

    for kind, ptr, old, size in RECORD.iter_unpack(data[:len(data) - len(data) % RECORD.size]):
        if kind == A:
            alloc(ptr, size)
        elif kind == F:
            free(ptr)
        elif kind == R:
            got = ids.pop(old, None)
            if got is None:       # realloc of a block from before the recording
                unknown += 1
                alloc(ptr, size)
                continue
            ids[("old", old)] = got
            alloc(ptr, size)
            free(("old", old))
    left = sorted(ids.values())
    for i, size in left:
        ops.append(f"f {i}")
    Path(out_path).write_text("\n".join([MAGIC, f"name {name}", *ops]) + "\n")
    return {"ops": len(ops), "allocs": next_id, "peak_live_blocks": peak_live,
            "peak_live_bytes": peak_bytes, "freed_at_exit": len(left), "unknown_frees": unknown,
            "size_log2": {str(k): v for k, v in sorted(sizes.items())}}


def live_x2(trace_path, out_path, name):
    """The trace twice, interleaved op by op, the second copy's ids shifted: twice the live
    blocks at every point, the same pattern."""
    lines = Path(trace_path).read_text().splitlines()
    ops = [l for l in lines if l[:2] in ("a ", "f ")]
    shift = 1 + max(int(l.split()[1]) for l in ops)
    out = [MAGIC, f"name {name}"]
    for l in ops:
        out.append(l)
        parts = l.split()
        parts[1] = str(int(parts[1]) + shift)
        out.append(" ".join(parts))
    Path(out_path).write_text("\n".join(out) + "\n")


GUEST_MAGIC = b"teachos-gtrace1\0"
GUEST_FREE = 1 << 31


def guest_trace(trace_path, out_path):
    """The trace in the compact form the guest replays (tools/bench/guest/trace.c): ids
    renumbered into slots, a freed block's slot reused, so that the guest's table of live
    blocks is as long as the most blocks live at once. Returns (ops, slots)."""
    words = []
    slot_of, free_slots, nslots = {}, [], 0
    for line in Path(trace_path).read_text().splitlines():
        if line[:2] == "a ":
            _, i, size = line.split()
            if free_slots:
                slot = free_slots.pop()
            else:
                slot, nslots = nslots, nslots + 1
            slot_of[i] = slot
            words.append((slot, int(size)))
        elif line[:2] == "f ":
            slot = slot_of.pop(line.split()[1])
            free_slots.append(slot)
            words.append((slot | GUEST_FREE, 0))
    body = struct.pack(f"<{2 * len(words)}I", *(x for w in words for x in w))
    Path(out_path).write_bytes(GUEST_MAGIC + struct.pack("<IIQ", len(words), nslots, 0) + body)
    return len(words), nslots


def record(recorder, name, outdir, timeout=120):
    """Run program `name` under the recorder and write outdir/<name>.trace. Returns a dict:
    the trace's path and statistics, or an error."""
    what, make = PROGRAMS[name]
    # The same paths every run (a program's allocations can depend on the length of a path).
    tmp = Path(outdir).resolve() / f"record-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        cmd, env_extra, proc_name = make(tmp)
        # A fixed environment: a program allocates for each variable it is given.
        env = dict(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LC_ALL="C", HOME=str(tmp),
                   HEAPRECORD_DIR=str(tmp), LD_PRELOAD=str(Path(recorder).resolve()), **env_extra)
        if shutil.which("setarch"):  # no address randomization: the same allocations every run
            cmd = ["setarch", "-R", *cmd]
        start = time.monotonic()
        try:
            p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"what": what, "error": f"the recorded run took more than {timeout} s"}
        seconds = time.monotonic() - start
        if p.returncode != 0:
            return {"what": what, "error": f"the recorded run failed (exit status {p.returncode}): "
                    + " | ".join((p.stderr or p.stdout).strip().splitlines()[-3:])}
        recs = sorted(tmp.glob(f"{proc_name}.*.rec"), key=lambda f: f.stat().st_size)
        if not recs:
            return {"what": what, "error": f"no records from a process named {proc_name} "
                    f"(found: {', '.join(f.name for f in tmp.glob('*.rec')) or 'none'})"}
        out = Path(outdir) / f"{name}.trace"
        stats = convert(recs[-1], name, out)
        return {"what": what, "path": str(out), "record_s": round(seconds, 2), **stats}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


RECORDER_FLAGS = ("-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror")  # as the Makefile's


def build_recorder(out, cc="gcc"):
    """Compile the recorder into out/heaprecord.so: (path, None) or (None, why)."""
    so = Path(out) / "heaprecord.so"
    so.parent.mkdir(parents=True, exist_ok=True)
    src = Path(__file__).resolve().parent / "record" / "heaprecord.c"
    p = subprocess.run([cc, *RECORDER_FLAGS, "-o", str(so), str(src)], capture_output=True, text=True)
    if p.returncode != 0:
        return None, "the recorder did not build:\n" + p.stderr.strip()
    return so, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--recorder", type=Path)
    ap.add_argument("--only", default=",".join(PROGRAMS))
    ap.add_argument("--live-x2", action="store_true")
    args = ap.parse_args()
    rec = args.recorder
    if not rec:
        rec, why = build_recorder(args.outdir)
        if not rec:
            sys.exit(why)
    for name in args.only.split(","):
        r = record(rec, name, args.outdir)
        print(name, {k: v for k, v in r.items() if k != "size_log2"})
        if "path" in r:
            print("  sizes (log2 ceil):", r["size_log2"])
            if args.live_x2:
                live_x2(r["path"], args.outdir / f"{name}-x2.trace", f"{name}-x2")


if __name__ == "__main__":
    main()
