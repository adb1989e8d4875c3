"""The report of `make bench` (tools/bench/bench.py): the targets, the text tables and the plots,
all made from the results dictionary bench.py measured (also saved as results.json)."""
from pathlib import Path

# The targets, printed as met / not met; never asserted anywhere.
TARGET_REAL_VS_GLIBC = 3.0     # fixed-block time per op on a real trace, times glibc's at most
TARGET_REAL_UTIL = 0.7         # fixed-block utilization on a real trace, at least
TARGET_REAL_X2 = 1.5           # time per op with twice the live blocks, times the original at most
TARGET_GUEST_PAIR = 150        # instructions per 16-byte kmalloc+kfree in the guest at checkpoint 07
TARGET_GUEST_CHECKPOINT = "07"
TARGET_BUMP_NS = 3.0
TARGET_HOLE_NS = 3.0
TARGET_BUDDY_PAIR_NS = 100.0
TARGET_SWITCH_INSNS = 30
TARGET_BOOT_VS_STUB_MS = 20.0
TARGET_BOOT_16G_RATIO = 2.0
TARGET_GRADE_S = 10.0
BUDGET_S = 300  # `make bench` must finish within 5 minutes on 2 cores
LOAD_BUSY = 0.5  # load average per core above which the report warns that times are noisy
SMALL_SIZES = ("8", "16", "32", "64", "128", "256")


def _status(heap, name):
    a = heap.get("allocators", {}).get(name)
    if a is None:
        return "not measured in this run"
    return a["status"].splitlines()[0]


def _target(what, met, value):
    return {"target": what, "status": {True: "met", False: "not met", None: "not measured yet"}[met],
            "value": value}


def targets(r):
    heap, frames = r.get("heap", {}), r.get("frames", {})
    pairs = heap.get("pairs", {})
    out = []

    fb, gl = pairs.get("fixed-block"), pairs.get("glibc")
    what = "fixed-block small-object pair <= glibc's, same run (8..256 B)"
    if fb and gl:
        sizes = [z for z in SMALL_SIZES if fb.get(z, {}).get("ns") and gl.get(z, {}).get("ns")]
        ok = [z for z in sizes if fb[z]["ns"] <= gl[z]["ns"]]
        out.append(_target(what, bool(sizes) and len(ok) == len(sizes),
                           f"at {len(ok)} of {len(sizes)} sizes; " + ", ".join(
                               f"{z} B {fb[z]['ns']:.1f} vs {gl[z]['ns']:.1f} ns" for z in sizes)))
    else:
        out.append(_target(what, None, "fixed-block: " + _status(heap, "fixed-block")
                           if not fb else "glibc: " + _status(heap, "glibc")))

    out += real_targets(r)

    bump = pairs.get("bump")
    what = f"bump pair <= {TARGET_BUMP_NS:g} ns"
    if bump:
        worst = max(v["ns"] for k, v in bump.items() if isinstance(v, dict) and v.get("ns"))
        out.append(_target(what, worst <= TARGET_BUMP_NS, f"slowest size {worst:.2f} ns"))
    else:
        out.append(_target(what, None, "bump: " + _status(heap, "bump")))

    what = f"linked-list cost per hole walked <= {TARGET_HOLE_NS:g} ns"
    ll = heap.get("holes", {}).get("linked-list")
    slope = hole_slope(ll)
    if slope is not None:
        insns = hole_slope(ll, "alloc_insns", "free_insns")
        out.append(_target(what, slope <= TARGET_HOLE_NS, f"{slope:.2f} ns per hole"
                           + (f" ({insns:.1f} instructions)" if insns is not None else "")))
    else:
        out.append(_target(what, None, "linked-list: " + _status(heap, "linked-list")))

    what = f"buddy pair at 50% full <= {TARGET_BUDDY_PAIR_NS:g} ns"
    b = frames.get("results", {}).get("buddy")
    if b and b.get("pair50_split_ns") is not None:
        worst = max(b["pair50_split_ns"], b.get("pair50_scattered_ns") or 0)
        out.append(_target(what, worst <= TARGET_BUDDY_PAIR_NS,
                           f"{worst:.1f} ns (worse of scattered {b.get('pair50_scattered_ns') or 0:.1f}"
                           f" and split {b['pair50_split_ns']:.1f})"))
    else:
        st = frames.get("allocators", {}).get("buddy", {}).get("status", "not measured in this run")
        out.append(_target(what, None, "buddy: " + st.splitlines()[0]))

    what = f"context switch routine <= {TARGET_SWITCH_INSNS} instructions"
    sw = [(lab, e["switch_routine"]) for lab, e in sorted(r.get("guest", {}).items())
          if isinstance(e, dict) and e.get("switch_routine")]
    if sw:
        lab, s = sw[-1]
        out.append(_target(what, s["insns"] <= TARGET_SWITCH_INSNS,
                           f"{s['symbol']}: {s['insns']} instructions ({lab})"))
    else:
        out.append(_target(what, None, "no context-switch routine yet (checkpoint 07)"))

    boot = r.get("boot", {}).get("ms")
    what = f"boot within {TARGET_BOOT_VS_STUB_MS:g} ms of the stub"
    if boot:
        diffs = {m: boot["teachos"][m]["exit"] - boot["stub"][m]["exit"] for m in boot["teachos"]
                 if boot["teachos"][m]["exit"] is not None and boot["stub"][m]["exit"] is not None}
        if diffs:
            out.append(_target(what, max(diffs.values()) <= TARGET_BOOT_VS_STUB_MS,
                               ", ".join(f"MEM={m} {d:+.1f} ms" for m, d in diffs.items())))
        else:
            out.append(_target(what, None, "no successful boot"))
        t = boot["teachos"]
        what = f"MEM=16G boot <= {TARGET_BOOT_16G_RATIO:g}x the 128M boot"
        if t.get("16G", {}).get("exit") and t.get("128M", {}).get("exit"):
            ratio = t["16G"]["exit"] / t["128M"]["exit"]
            out.append(_target(what, ratio <= TARGET_BOOT_16G_RATIO,
                               f"{t['16G']['exit']:.1f} vs {t['128M']['exit']:.1f} ms: {ratio:.2f}x"))
        else:
            out.append(_target(what, None, "not measured in this run"))
    else:
        out.append(_target(what, None, r.get("boot", {}).get("status", "not measured in this run")))

    what = f"the whole grade <= {TARGET_GRADE_S:g} s"
    g = r.get("grade", {}).get("whole")
    if g and g.get("wall_s") is not None:
        out.append(_target(what, g["wall_s"] <= TARGET_GRADE_S,
                           f"{g['wall_s']:.1f} s (checkpoint {g['checkpoint']})"))
    else:
        out.append(_target(what, None, r.get("grade", {}).get("status", "not measured in this run")))
    return out


def real_programs(r):
    """The recorded programs' traces (not their doubled variants) that this run measured."""
    return [t for t in r.get("real", {}).get("traces_used", []) if not t.endswith("-x2")]


def _over(d):
    """'over 20 s (9% done)' for a replay stopped at the limit, else None."""
    t = d.get("timeout")
    if not t:
        return None
    done = f" ({100 * t['done'] / t['of']:.0f}% done)" if t.get("done") is not None and t.get("of") else ""
    return f"over {t['after_s']} s{done}"


def real_targets(r):
    real = r.get("real", {})
    res = real.get("results", {})
    fb, gl = res.get("fixed-block", {}), res.get("glibc", {})
    progs = real_programs(r)
    out = []
    missing = "no real program recorded in this run" if not progs else None
    if not progs and real.get("programs"):
        missing = "; ".join(f"{n}: {p.get('error', '?')}" for n, p in real["programs"].items())

    what = f"fixed-block time per op <= {TARGET_REAL_VS_GLIBC:g}x glibc's on every real trace, same run"
    if missing or not fb or not gl:
        out.append(_target(what, None, missing or "fixed-block or glibc not measured"))
    else:
        parts, ok = [], True
        for t in progs:
            a, b = fb.get(t, {}), gl.get(t, {})
            if a.get("ns_per_op") and b.get("ns_per_op"):
                ratio = a["ns_per_op"] / b["ns_per_op"]
                ok &= ratio <= TARGET_REAL_VS_GLIBC
                parts.append(f"{t} {a['ns_per_op']:.1f} vs {b['ns_per_op']:.1f} ns ({ratio:.2f}x)")
            else:
                ok = False
                parts.append(f"{t} " + (_over(a) or a.get("error", "not measured")))
        out.append(_target(what, ok, ", ".join(parts)))

    what = f"fixed-block utilization >= {TARGET_REAL_UTIL:g} on every real trace"
    if missing or not fb:
        out.append(_target(what, None, missing or "fixed-block not measured"))
    else:
        us = {t: fb.get(t, {}).get("util") for t in progs}
        out.append(_target(what, all(u is not None and u >= TARGET_REAL_UTIL for u in us.values()),
                           ", ".join(f"{t} {u:.2f}" if u is not None else f"{t} -" for t, u in us.items())))

    what = f"fixed-block time per op with twice the live blocks <= {TARGET_REAL_X2:g}x"
    if missing or not fb:
        out.append(_target(what, None, missing or "fixed-block not measured"))
    else:
        parts, ok = [], True
        for t in progs:
            a, b = fb.get(t, {}), fb.get(f"{t}-x2", {})
            if a.get("ns_per_op") and b.get("ns_per_op"):
                ratio = b["ns_per_op"] / a["ns_per_op"]
                ok &= ratio <= TARGET_REAL_X2
                ins = (f", instructions {b['insns_per_op'] / a['insns_per_op']:.2f}x"
                       if a.get("insns_per_op") and b.get("insns_per_op") else "")
                parts.append(f"{t} {a['ns_per_op']:.1f} -> {b['ns_per_op']:.1f} ns ({ratio:.2f}x{ins})")
            else:
                ok = None if f"{t}-x2" not in real.get("traces_used", []) else False
                parts.append(f"{t}: " + ("no doubled trace in this run" if ok is None else "not measured"))
        out.append(_target(what, ok, ", ".join(parts)))

    what = (f"16-byte kmalloc+kfree pair <= {TARGET_GUEST_PAIR} instructions in the guest at checkpoint "
            f"{TARGET_GUEST_CHECKPOINT}")
    g = [(lab, e) for lab, e in sorted(r.get("guest", {}).items())
         if lab.startswith(TARGET_GUEST_CHECKPOINT) and isinstance(e, dict)]
    pair = g[0][1].get("bench_kmalloc", {}).get("insns_per_pair", {}).get("16") if g else None
    if pair is not None:
        heap = g[0][1].get("bench_block_heap", {}).get("insns_per_pair", {}).get("16")
        out.append(_target(what, pair <= TARGET_GUEST_PAIR, f"{pair:.0f} instructions ({g[0][0]})"
                           + (f": the block heap's own pair {heap:.0f}, kmalloc and kfree add {pair - heap:.0f}"
                              if heap is not None else "")))
    else:
        out.append(_target(what, None, f"checkpoint {TARGET_GUEST_CHECKPOINT} not measured in this run"))
    return out


def _pair(d, a="alloc_ns", f="free_ns"):
    return d[a] + d[f] if d.get(a) is not None and d.get(f) is not None else None


def hole_slope(holes, a="alloc_ns", f="free_ns"):
    """Cost per hole walked (ns, or instructions with the _insns keys): the growth of the
    pair cost from the fewest holes to the most."""
    if not holes:
        return None
    pts = sorted((int(h), _pair(v, a, f)) for h, v in holes.items() if _pair(v, a, f) is not None)
    if len(pts) < 2 or pts[-1][0] == pts[0][0]:
        return None
    return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])


# ---------------------------------------------------------------------------------------------
# Text

def _f(x, fmt="{:.1f}", none="-"):
    return none if x is None else fmt.format(x)


def _ns_insns(d, ns="ns", insns="insns"):
    if not d or d.get(ns) is None:
        return "-"
    return _f(d[ns]) + (f" / {d[insns]:.0f}" if d.get(insns) is not None else "")


def _table(head, rows, first=16, col=14):
    lines = ["  " + head[0].ljust(first) + "".join(h.rjust(col) for h in head[1:])]
    for row in rows:
        lines.append("  " + row[0].ljust(first) + "".join(str(c).rjust(col) for c in row[1:]))
    return lines


def _unavailable(part, names):
    """Lines for the allocators of a part that were not measured, and why (with the
    compiler's first complaints when an adapter no longer builds)."""
    out = []
    for n in names:
        status = part.get("allocators", {}).get(n, {}).get("status", "ok")
        if status != "ok":
            first, *rest = status.splitlines()
            out += [f"  {n:<16}{first}"] + [f"  {'':<16}| {line}" for line in rest]
    return out


def _real_cell(d, key, fmt):
    if not d:
        return "-"
    if d.get("timeout"):
        return f">{d['timeout']['after_s']} s"
    if "oom_at" in d:
        return "oom"
    if d.get("skipped"):
        return "skipped"
    return _f(d.get(key), fmt)


def guest_trace_text(r):
    """The real programs replayed through kmalloc in the guest, beside the host's block heap."""
    traces = r.get("real", {}).get("traces_used", [])
    g = {lab: e["bench_trace"] for lab, e in sorted(r.get("guest", {}).items())
         if isinstance(e, dict) and isinstance(e.get("bench_trace"), dict)}
    if not traces or not g:
        return []
    rows, notes = [], []
    for lab, d in g.items():
        row = [lab]
        for t in traces:
            x = d.get(t, {})
            row.append(_f(x.get("insns_per_op"), "{:.0f}") if "insns_per_op" in x
                       else "oom" if "oom_at" in x else x.get("error", "-"))
        rows.append(row)
        if d.get("status"):
            notes.append(f"  {lab}: bench_trace {d['status']}; last lines:")
            notes += ["    | " + line for line in d.get("output", "").splitlines()]
    host = r.get("real", {}).get("results", {}).get("fixed-block", {})
    rows.append(["host fixed-block"] + [_f(host.get(t, {}).get("insns_per_op"), "{:.0f}") for t in traces])
    return ["", "  the real programs through kmalloc (instructions per operation, the replay loop left out);",
            "  last row: lab 05's block heap alone on the host (callgrind, heapbench's loop included)"] \
        + _table(["checkpoint"] + traces, rows, first=18, col=11) + notes


def real_text(r, names):
    """Section 2b: the recorded real programs, every allocator, the same four figures."""
    real = r.get("real", {})
    progs, traces = real.get("programs", {}), real.get("traces_used", [])
    if not progs:
        return []
    L = ["", "2b. Real programs, recorded at the start of this run (tools/bench/realtrace.py); a -x2",
         "   trace is the same program twice, interleaved: twice the blocks live at every point;",
         "   ns/op: the fastest of the rounds in which every allocator replays every trace in turn"]
    for n, p in progs.items():
        if "error" in p:
            L.append(f"  {n:<10}{p['what']}: not recorded: {p['error'].splitlines()[0]}")
        else:
            L.append(f"  {n:<10}{p['what']}: {p['ops']:,} operations, at most {p['peak_live_blocks']:,} "
                     f"blocks ({p['peak_live_bytes'] / 1e6:.1f} MB) live")
    res = real.get("results", {})
    if not traces or not res:
        return L
    for title, key, fmt in (("ns/op", "ns_per_op", "{:.1f}"), ("insns/op", "insns_per_op", "{:.0f}"),
                            ("U", "util", "{:.2f}"), ("P", "score", "{:.2f}")):
        rows = [[t] + [_real_cell(res.get(n, {}).get(t), key, fmt) for n in names] for t in traces]
        if any(c not in ("-",) for row in rows for c in row[1:]):
            L += ["", f"   {title}"] + _table(["trace"] + names, rows, col=12)
    notes = []
    for n in names:
        for t in traces:
            d = res.get(n, {}).get(t, {})
            if d.get("timeout"):
                notes.append(f"  {n} on {t}: stopped after {_over(d)[5:]}")
            elif d.get("insns_skipped"):
                notes.append(f"  {n} on {t}: instructions {d['insns_skipped']}")
            elif d.get("skipped"):
                notes.append(f"  {n} on {t}: {d['skipped']}")
    if notes:
        L += ["", "   Not measured in full:"] + notes
    ratios = []
    for n in names:
        cells = []
        for t in real_programs(r):
            a, b = res.get(n, {}).get(t, {}), res.get(n, {}).get(f"{t}-x2", {})
            if a.get("ns_per_op") and b.get("ns_per_op"):
                cells.append(f"{t} {b['ns_per_op'] / a['ns_per_op']:.2f}x")
        if cells:
            ratios.append(f"  {n:<16}" + ", ".join(cells))
    if ratios:
        L += ["", "   Time per op with twice the blocks live, over the original (1.00x: it does not grow)"]
        L += ratios
    return L


def text(r):
    m = r["meta"]
    el = r.get("elapsed_s", {})
    L = ["teachos benchmark report (`make bench`" + (", smoke run" if r.get("smoke") else "") + ")",
         "=" * 60,
         f"{m['date']} on {m['cpu']} ({m['cores']} cores), Linux {m['kernel']}",
         f"{m['qemu']}; CC={m.get('cc')}; commit {m['commit']}; checkpoints: "
         + (", ".join(m["checkpoints"]) or "none"),
         "Times are medians of several runs and vary from machine to machine; instruction counts",
         "(callgrind on the host, QEMU -icount in the guest) are exact and repeat from run to run,",
         "except where jemalloc and mimalloc return memory on timers (a percent or so, on traces).",
         *([f"Other work was running (load average {m['load'][0]:.1f} at the start on {m['cores']} "
            "cores): the times are less reliable than usual, the instruction counts are not affected."]
           if m.get("load") and m["load"][0] > LOAD_BUSY * (m["cores"] or 1) else []),
         f"took {el.get('total', 0):.0f} s of at most {BUDGET_S} ("
         + ", ".join(f"{k} {v:.0f} s" for k, v in el.items() if k != "total") + ")",
         "", "Targets (met / not met; never asserted)"]
    for t in r.get("targets", []):
        L.append(f"  [{t['status']}] {t['target']}: {t['value']}")

    heap = r.get("heap")
    if heap:
        names = [n for n in heap["allocators"] if heap["allocators"][n]["status"] == "ok"]
        sizes = list(next(iter(heap["pairs"].values()), {}).keys()) if heap.get("pairs") else []
        sizes = [z for z in sizes if z.isdigit()]
        L += ["", "1. Heap on the host: one alloc/free pair, freed at once (ns / instructions per pair)"]
        L += _table(["allocator"] + [f"{z} B" for z in sizes],
                    [[n] + [_ns_insns(heap["pairs"][n].get(z)) for z in sizes] for n in names])
        L += _unavailable(heap, heap["allocators"])
        L += ["", "   A batch of 1000 mixed sizes (8 B..4 KiB) allocated, then freed in a shuffled order"]
        L += _table(["allocator", "ns / insns"], [[n, _ns_insns(heap["batch"].get(n))] for n in names])
        if heap.get("callgrind"):
            L.append(f"   (instruction counts: {heap['callgrind']})")

        traces = heap.get("traces_used", [])
        if traces and names:
            L += ["", "2. Traces (tools/bench/tracegen.py, malloc-lab style): utilization U = peak live",
                  "   payload / peak heap span; ns per operation; score P = 0.6 U + 0.4 min(1, T/T_glibc)"]
            for title, key, fmt in (("U", "util", "{:.2f}"), ("ns/op", "ns_per_op", "{:.1f}"),
                                    ("insns/op", "insns_per_op", "{:.0f}"), ("P", "score", "{:.2f}")):
                rows = []
                for t in traces:
                    row = [t]
                    for n in names:
                        d = heap["traces"].get(n, {}).get(t, {})
                        row.append("oom" if "oom_at" in d else _f(d.get(key), fmt))
                    rows.append(row)
                if key == "score":
                    ov = heap.get("overall", {})
                    rows.append(["all traces"] + [_f(ov.get(n, {}).get("score"), fmt) for n in names])
                if any(c != "-" for row in rows for c in row[1:]):
                    L += ["", f"   {title}"] + _table(["trace"] + names, rows, col=12)

        L += real_text(r, names)

        holes = heap.get("holes", {})
        if holes:
            hs = sorted({int(h) for v in holes.values() for h in v})
            L += ["", "3. Fragmentation: one alloc+free pair with N free holes ahead of it; the slope is",
                  "   the cost per hole walked (from the fewest holes to the most)"]
            for unit, a, f in (("ns", "alloc_ns", "free_ns"), ("insns", "alloc_insns", "free_insns")):
                rows = []
                for n, v in holes.items():
                    row = [n] + [_f(_pair(v.get(str(h), {}), a, f), "{:.1f}" if unit == "ns" else "{:.0f}")
                                 for h in hs]
                    slope = hole_slope(v, a, f)
                    if slope is not None and abs(slope) < 0.005:
                        slope = 0.0  # shown as 0.00, not -0.00
                    row.append(_f(slope, "{:.2f}"))
                    rows.append(row)
                if any(c != "-" for row in rows for c in row[1:]):
                    L += ["", f"   {unit} per pair"]
                    L += _table(["allocator"] + [f"{h} holes" for h in hs] + [f"{unit}/hole"], rows)
            L += _unavailable(heap, [n for n in ("linked-list", "fixed-block") if n not in holes])

    fr = r.get("frames")
    if fr:
        L += ["", "4. Frames on the host: 65,536 frames of 4 KiB (ns / instructions per operation)"]
        rows = []
        for n, d in fr.get("results", {}).items():
            ch = d.get("churn")
            rows.append([n, _ns_insns(d, "fill_ns", "fill_insns"), _ns_insns(d, "drain_ns", "drain_insns"),
                         _ns_insns(d, "pair50_scattered_ns", "pair50_scattered_insns"),
                         _ns_insns(d, "pair50_split_ns", "pair50_split_insns"),
                         f"{ch['largest_free_order']} ({ch['free_frames']} free)" if ch else "-"])
        L += _table(["allocator", "alloc/frame", "free/frame", "pair 50% scat.", "pair 50% split",
                     "largest free"], rows, col=16)
        L += ["  (50% scattered: a random half freed; split: half taken in order, the rest one block;",
              "   largest free: the largest order still free after random churn, half the frames taken)"]
        L += _unavailable(fr, fr["allocators"])

    g = r.get("guest")
    if g:
        L += ["", "5. In the guest: QEMU -icount shift=0, instructions counted by the time-stamp counter"]
        cal = [(lab, e["bench_calibrate"]) for lab, e in sorted(g.items())
               if isinstance(e, dict) and isinstance(e.get("bench_calibrate"), dict)
               and "verified" in e["bench_calibrate"]]
        for lab, c in cal[-1:]:
            L.append(f"  check: a 2-instruction loop gives ticks = 2 x loops + {', '.join(map(str, c['constant']))} "
                     f"({'verified: one tick per instruction' if c['verified'] else 'NOT one tick per instruction'})")
        sizes = sorted({int(z) for e in g.values() if isinstance(e, dict)
                        for z in e.get("bench_kmalloc", {}).get("insns_per_pair", {})})
        rows, notes = [], []
        for lab, e in sorted(g.items()):
            if e.get("status") != "ok":
                first, *rest = e.get("status", "?").splitlines()
                rows.append([lab, "bench kernel " + first])
                notes += [f"  {lab}: | {line}" for line in rest]
                continue
            km = e.get("bench_kmalloc", {})
            y = e.get("bench_yield", {})
            sw = e.get("switch_routine")
            if "insns_per_pair" not in km:
                if km.get("status") != "not in this checkpoint":
                    why = km.get("status", "-")
                elif int(lab[:2]) < 3:
                    why = "no kernel heap yet"
                else:
                    why = "bench_kmalloc not built: no kmalloc header (see tools/bench/guest/heap.c)"
                rows.append([lab, why])
                continue
            if int(lab[:2]) >= 7 and y.get("status") == "not in this checkpoint":
                notes.append(f"  {lab}: bench_yield not built: no kernel/thread.h "
                             "(see tools/bench/guest/threads.c)")
            row = [lab] + [_f(km["insns_per_pair"].get(str(z)), "{:.0f}") for z in sizes]
            row.append(_f(e.get("bench_block_heap", {}).get("insns_per_pair", {}).get("16"), "{:.0f}"))
            row.append(_f(e.get("kmalloc_batch"), "{:.0f}"))
            row.append(_f(y.get("insns_per_switch"), "{:.0f}"))
            row.append(f"{sw['insns']}" if sw else "-")
            rows.append(row)
        if sizes:
            L += ["  instructions per kmalloc+kfree pair, per yield switch, in the switch routine;",
                  "  heap: a 16-byte block_heap_alloc+block_heap_free pair alone, on an arena of its own"]
            L += _table(["checkpoint"] + [f"{z} B" for z in sizes] + ["heap", "batch", "yield", "routine"],
                        rows, col=9)
        else:
            L += ["  instructions per kmalloc+kfree pair (from checkpoint 03) and per context switch",
                  "  (from 07):"] + [f"  {row[0]:<16}{row[1]}" for row in rows]
        L += notes
        L += guest_trace_text(r)
        for lab, e in sorted(g.items()):
            for sc in ("bench_kmalloc", "bench_yield"):
                if isinstance(e.get(sc), dict) and e[sc].get("output"):
                    L.append(f"  {lab} {sc} {e[sc]['status']}; last lines:")
                    L += ["    | " + line for line in e[sc]["output"].splitlines()]

    b = r.get("boot")
    if b:
        L += ["", "6. Boot: ms from starting QEMU to the first console byte / to its exit"
              + (f" (median of {max(v['runs'] for p in b['ms'].values() for v in p.values())})" if b.get("ms") else "")]
        if b.get("ms"):
            ins = b.get("insns", {})
            rows = []
            for mem in b["ms"]["teachos"]:
                t, s = b["ms"]["teachos"][mem], b["ms"]["stub"][mem]
                rows.append([f"MEM={mem}", f"{_f(t['first'])} / {_f(t['exit'])}",
                             f"{_f(s['first'])} / {_f(s['exit'])}",
                             _f(t["exit"] - s["exit"] if t["exit"] and s["exit"] else None, "{:+.1f}"),
                             _f(ins.get("teachos", {}).get(mem), "{:,}"), _f(ins.get("stub", {}).get(mem), "{:,}")])
            L += _table(["", f"teachos {b['checkpoint']}", "stub kernel", "exit diff", "insns teachos",
                         "insns stub"], rows, first=10, col=15)
            L.append("  (insns: instructions from power-on to the end of boot, QEMU -icount, exact)")
        for e in b.get("errors", []):
            L.append(f"  error: {e}")
        if b.get("status"):
            L.append(f"  {b['status']}")

    gr = r.get("grade")
    if gr:
        L += ["", "7. Grading (kernels already built; wall time)"]
        w = gr.get("whole")
        if w:
            L.append(f"  make grade SOLUTIONS=all (checkpoint {w['checkpoint']}, every lab): "
                     f"{_f(w['wall_s'], '{:.2f}')} s, median of {len(w['runs'])} "
                     f"({', '.join(f'{x:.2f}' for x in w['runs'])})")
        if gr.get("per_lab_test_s"):
            L.append("  per lab, time spent in its tests in that run (summed over both workers; the boot of a")
            L.append("  batch of suites, of any labs, counts for the lab of the test that started it):")
            L.append("    " + ", ".join(f"{lab} {s:.2f} s" for lab, s in gr["per_lab_test_s"].items()))
        if gr.get("per_checkpoint"):
            L.append("  per checkpoint, make grade LAB=N SOLUTIONS=all:")
            L.append("    " + ", ".join(f"{lab} {v['wall_s']:.2f} s" + ("" if v["ok"] else " (FAILED)")
                                        for lab, v in gr["per_checkpoint"].items()))
        if gr.get("failed"):
            L.append("  the grade FAILED:\n" + gr["failed"])
        if gr.get("status"):
            L.append(f"  {gr['status']}")
    if r.get("run_errors"):
        L += ["", "benchmark programs that failed (their figures are missing above):"]
        L += [f"  {e}" for e in r["run_errors"]]
    if r.get("callgrind_errors"):
        L += ["", "callgrind runs that failed:"] + [f"  {k}: {v.splitlines()[0] if v else ''}"
                                                     for k, v in r["callgrind_errors"].items()]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------------------------------------
# Plots

def plots(r, out):
    """Write the PNG plots into out; returns their paths ([] without matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        r["plots"] = "skipped: matplotlib is not installed (`tools/need bench`)"
        return []
    made = []

    def save(fig, name):
        fig.tight_layout()
        path = Path(out) / name
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)

    def style(heap, name):
        ours = heap["allocators"].get(name, {}).get("ours")
        return {"linestyle": "-" if ours else "--", "marker": "o" if ours else "s"}

    heap = r.get("heap", {})
    if heap.get("pairs"):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for name, per in heap["pairs"].items():
            sizes = [int(z) for z in per if z.isdigit() and per[z].get("ns") is not None]
            axes[0].plot(sizes, [per[str(z)]["ns"] for z in sizes], label=name, **style(heap, name))
            ins = [z for z in sizes if per[str(z)].get("insns") is not None]
            if ins:
                axes[1].plot(ins, [per[str(z)]["insns"] for z in ins], label=name, **style(heap, name))
        for ax, what in zip(axes, ("ns per pair (median)", "instructions per pair (callgrind)")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("block size (bytes)")
            ax.set_ylabel(what)
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=8)
        fig.suptitle("One malloc/free pair, freed at once (dashed: reference allocators)")
        save(fig, "heap_pairs.png")

    tr = heap.get("traces", {})
    if tr and heap.get("traces_used"):
        traces = heap["traces_used"]
        names = list(tr)
        fig, axes = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            xs = [j + i * width for j in range(len(traces))]
            axes[0].bar(xs, [tr[name].get(t, {}).get("util") or 0 for t in traces], width, label=name)
            axes[1].bar(xs, [tr[name].get(t, {}).get("score") or 0 for t in traces], width, label=name)
        axes[0].set_ylabel("utilization U")
        axes[1].set_ylabel("score P = 0.6U + 0.4min(1,T/Tglibc)")
        axes[1].set_xticks([j + 0.4 - width / 2 for j in range(len(traces))])
        axes[1].set_xticklabels(traces, rotation=20)
        for ax in axes:
            ax.set_ylim(0, 1.05)
            ax.grid(alpha=0.3, axis="y")
        axes[0].legend(fontsize=8, ncol=len(names))
        fig.suptitle("Heap traces: utilization and score")
        save(fig, "heap_traces.png")

    real = r.get("real", {})
    rres, rtraces = real.get("results", {}), real.get("traces_used", [])
    if rres and rtraces:
        names = list(rres)
        g = {lab: e["bench_trace"] for lab, e in sorted(r.get("guest", {}).items())
             if isinstance(e, dict) and isinstance(e.get("bench_trace"), dict)}
        panels = 3 if g else 2
        fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.5))
        width = 0.8 / max(1, len(names))
        for ax, key, what in ((axes[0], "ns_per_op", "ns per operation (median)"),
                              (axes[1], "insns_per_op", "instructions per operation (callgrind)")):
            top = max([d.get(key) or 0 for per in rres.values() for d in per.values()] + [1])
            for i, name in enumerate(names):
                xs = [j + i * width for j in range(len(rtraces))]
                vals, over = [], []
                for t in rtraces:
                    d = rres[name].get(t, {})
                    vals.append(d.get(key) or 0)
                    over.append(bool(d.get("timeout")))
                bars = ax.bar(xs, vals, width, label=name)
                for x, o in zip(xs, over):  # stopped at the limit: a hatched bar to the top
                    if o:
                        ax.bar([x], [top * 2], width, color=bars.patches[0].get_facecolor(),
                               hatch="//", alpha=0.4)
            ax.set_yscale("log")
            ax.set_ylabel(what)
            ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rtraces))])
            ax.set_xticklabels(rtraces, rotation=20)
            ax.grid(alpha=0.3, axis="y")
        axes[0].legend(fontsize=7)
        if g:
            ax = axes[2]
            w = 0.8 / max(1, len(g))
            for i, (lab, d) in enumerate(g.items()):
                ax.bar([j + i * w for j in range(len(rtraces))],
                       [d.get(t, {}).get("insns_per_op") or 0 for t in rtraces], w, label=lab)
            ax.set_ylabel("instructions per kmalloc or kfree (QEMU -icount)")
            ax.set_xticks([j + 0.4 - w / 2 for j in range(len(rtraces))])
            ax.set_xticklabels(rtraces, rotation=20)
            ax.grid(alpha=0.3, axis="y")
            ax.legend(fontsize=7)
            ax.set_title("in the guest, through kmalloc", fontsize=9)
        fig.suptitle("Real programs' allocations replayed (hatched: stopped at the time limit)")
        save(fig, "heap_real.png")

    holes = heap.get("holes", {})
    if holes:
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, per in holes.items():
            pts = sorted((int(h), v["alloc_ns"] + v["free_ns"]) for h, v in per.items()
                         if v.get("alloc_ns") is not None and v.get("free_ns") is not None)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, **style(heap, name))
        ax.set_xlabel("free holes ahead of the request")
        ax.set_ylabel("ns per alloc+free pair")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Fragmentation: the cost of walking past holes")
        save(fig, "fragmentation.png")

    fr = r.get("frames", {}).get("results", {})
    if fr:
        keys = [("fill_ns", "alloc per frame"), ("drain_ns", "free per frame"),
                ("pair50_scattered_ns", "pair, 50% scattered"), ("pair50_split_ns", "pair, 50% split")]
        fig, ax = plt.subplots(figsize=(8, 4))
        width = 0.8 / max(1, len(fr))
        for i, (name, d) in enumerate(fr.items()):
            ax.bar([j + i * width for j in range(len(keys))], [d.get(k) or 0 for k, _ in keys], width,
                   label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))])
        ax.set_xticklabels([t for _, t in keys])
        ax.set_ylabel("ns (median)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
        ax.set_title("Frame allocators over 65,536 frames")
        save(fig, "frames.png")

    g = r.get("guest", {})
    km = {lab: e["bench_kmalloc"]["insns_per_pair"] for lab, e in sorted(g.items())
          if isinstance(e, dict) and isinstance(e.get("bench_kmalloc"), dict)
          and e["bench_kmalloc"].get("insns_per_pair")}
    if km:
        fig, ax = plt.subplots(figsize=(7, 4))
        for lab, per in km.items():
            sizes = sorted(int(z) for z, v in per.items() if v is not None)
            ax.plot(sizes, [per[str(z)] for z in sizes], marker="o", label=lab)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("size (bytes)")
        ax.set_ylabel("instructions per kmalloc+kfree")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Kernel heap at each checkpoint (QEMU -icount)")
        save(fig, "guest_kmalloc.png")

    b = r.get("boot", {}).get("ms")
    if b:
        mems = list(b["teachos"])
        fig, ax = plt.subplots(figsize=(8, 4))
        bars = [("teachos", "first"), ("teachos", "exit"), ("stub", "first"), ("stub", "exit")]
        width = 0.8 / len(bars)
        for i, (who, k) in enumerate(bars):
            ax.bar([j + i * width for j in range(len(mems))], [b[who][m][k] or 0 for m in mems], width,
                   label=f"{who}: {'first console byte' if k == 'first' else 'exit'}")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(mems))])
        ax.set_xticklabels([f"MEM={m}" for m in mems])
        ax.set_ylabel("ms from starting QEMU (median)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
        ax.set_title(f"Boot: teachos {r['boot']['checkpoint']} beside a stub kernel")
        save(fig, "boot.png")

    gr = r.get("grade", {})
    if gr.get("whole", {}).get("wall_s") is not None:
        labels = ["all (SOLUTIONS=all)"] + [f"LAB={lab[:2]}" for lab in gr.get("per_checkpoint", {})]
        vals = [gr["whole"]["wall_s"]] + [v["wall_s"] for v in gr.get("per_checkpoint", {}).values()]
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.bar(labels, vals, color=["tab:red"] + ["tab:blue"] * (len(vals) - 1))
        ax.axhline(TARGET_GRADE_S, color="gray", linestyle=":", label=f"target {TARGET_GRADE_S:g} s")
        ax.set_ylabel("wall time (s)")
        ax.legend(fontsize=8)
        ax.set_title("make grade, kernels already built")
        save(fig, "grade.png")
    return made
