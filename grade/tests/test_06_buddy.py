"""Lab 06 black-box tests: the buddy allocator as the kernel's frame source on machines of
4 GiB and 16 GiB, and frames from before the switch given back to it.

Everything is judged from records the kernel signs (kernel/attest.h): kernel/layers/06-buddy/init.c signs
what each region got at boot (its frames, its frame table, the runs of free frames it was
given, and the free counts per order that lab 06's code then reports), lab 02's layer signs
the frame bitmap, and the scenarios (grade/ktests/06-buddy/scenarios_ktest.c) sign the boot
loader's memory map and what they saw. The expected counts are recomputed here from the map,
the kernel's symbols and the runs.
"""
import re

import pytest

from harness import check

LAB = "06-buddy"

PAGE = 4096
MAX_ORDER = 10                 # BUDDY_MAX_ORDER in kernel/buddy.h
LOW_MEMORY_END = 0x100000
USED_BEFORE_SWITCH_MAX = 1024  # frames the kernel may take from lab 02's bitmap before the switch
KEEP = 3                       # frames kept from before the switch (pages.keep=N)

SOURCE_RECORD = r"buddy source regions=(\d+) total=(\d+) free=(\d+) bitmap_free=(\d+)"
REGION_RECORD = (r"buddy region (\d+) base=(\d+) frames=(\d+) table=(\d+)\+(\d+) given=(\d+) "
                 r"free=(\d+) counts=([\d ]+)")
RUN_RECORD = r"buddy run region=(\d+) start=(\d+) count=(\d+)"
DRAINED_RECORD = r"buddy drained free=(\d+) got=(\d+) left=(\d+) after=(\d+) invariants=(\w+)"
KEPT_RECORD = (r"buddy kept frames=(\d+) reserved=(\d+) free_before=(\d+) free_after=(\d+) "
               r"invariants=(\w+) double_free=(\w+)")
SWITCHED_LINE = r"^pages: the kernel's frames now come from the buddy allocator"


def records(run, pattern):
    """Every signed record of this boot matching pattern, as match objects, in order."""
    return [m for _, m in check.records(run, pattern)]


def need_record(run, pattern, what, claim):
    """The first signed record matching pattern, or fail saying what is missing."""
    found = check.attested(run, pattern)
    if found is None:
        check.unconfirmed(run, claim, what, seen=False)
    return found[1]


def need_buddy_source(run):
    """The kernel's signed record of the switch, or fail saying why there was none."""
    found = records(run, SOURCE_RECORD)
    if found:
        return found[0]
    if re.search(SWITCHED_LINE, run.text, re.MULTILINE):
        check.unconfirmed(run, "the console says the kernel switched to the buddy allocator",
                          "kernel/layers/06-buddy/init.c's signed record of the switch")
    why = run.describe()
    check.fail("the kernel did not make the buddy allocator its frame source: "
               "buddy_layer_init (kernel/layers/06-buddy/init.c) could not set up the regions with your "
               "buddy_region_init and buddy_add_free_range"
               + (f".\nThe run: {why}" if why else ", see the notes below.")
               + f"\n(log: {run.serial_path})", run)


def whole_frames(start, end):
    """(first, end) frame numbers of the frames wholly inside [start, end)."""
    return (start + PAGE - 1) // PAGE, end // PAGE


def block_counts(runs):
    """Free blocks per order after giving these runs of frames to a buddy allocator: each
    maximal run, cut from the left into the largest aligned blocks that fit (what merging
    every pair of free buddies leaves)."""
    counts = [0] * (MAX_ORDER + 1)
    merged = []
    for start, n in sorted(runs):
        if merged and merged[-1][1] == start:
            merged[-1][1] = start + n
        else:
            merged.append([start, start + n])
    for p, end in merged:
        while p < end:
            k = 0
            while k < MAX_ORDER and p % (2 << k) == 0 and p + (2 << k) <= end:
                k += 1
            counts[k] += 1
            p += 1 << k
    return counts


def show(counts):
    return "[" + " ".join(str(c) for c in counts) + "]"


@pytest.mark.parametrize("mem", ["4G", "16G"])
@pytest.mark.points(3)
def test_regions_and_free_counts_match_the_machine(kernel, mem):
    run = kernel.boot(f"buddy-{mem}", append="scenario=buddy_memory", mem=mem)
    source = need_buddy_source(run)
    usable = [(int(m[1], 16), int(m[1], 16) + int(m[2], 16)) for m in records(run, check.MMAP_RECORD)
              if m[3] == "1"]
    if not usable:
        check.unconfirmed(run, "the kernel booted", "the scenario's signed copy of the memory map",
                          seen=False)
    want = [whole_frames(a, b) for a, b in usable]
    want = [(first, end - first) for first, end in want if end > first]

    regions = records(run, REGION_RECORD)
    got = [(int(m[2]), int(m[3])) for m in regions]
    if got != want:
        check.fail(f"with MEM={mem} the memory map has {len(want)} usable areas, frames "
                   + ", ".join(f"{a}..{a + n - 1}" for a, n in want)
                   + "; the kernel's buddy regions are "
                   + (", ".join(f"{a}..{a + n - 1}" for a, n in got) or "none")
                   + f"\n(log: {run.serial_path})", run)

    frames = need_record(run, check.FRAMES_RECORD, "lab 02's signed record of its bitmap",
                         "the kernel booted")
    bm_at, bm_bytes = int(frames[4], 16), int(frames[3])
    image = (kernel.symbol("__image_phys_start"), kernel.symbol("__image_phys_end"))
    tables = [(int(m[4]), int(m[4]) + int(m[5])) for m in regions]
    never = [("the low 1 MiB", 0, LOW_MEMORY_END // PAGE),
             ("the kernel image", image[0] // PAGE, (image[1] + PAGE - 1) // PAGE),
             ("lab 02's bitmap", bm_at // PAGE, (bm_at + bm_bytes + PAGE - 1) // PAGE)]
    never += [(f"the frame table of region {i}", a, b) for i, (a, b) in enumerate(tables)]

    runs = {}
    for m in records(run, RUN_RECORD):
        runs.setdefault(int(m[1]), []).append((int(m[2]), int(m[3])))
    for m in regions:
        i, base, n = int(m[1]), int(m[2]), int(m[3])
        given, free = int(m[6]), int(m[7])
        counts = [int(c) for c in m[8].split()]
        mine = runs.get(i, [])
        for start, count in mine:
            if start < base or start + count > base + n:
                check.fail(f"region {i} (frames {base}..{base + n - 1}) was given frames "
                           f"{start}..{start + count - 1}, outside it", run)
            for what, a, b in never:
                if start < b and a < start + count:
                    check.fail(f"region {i} was given frames {start}..{start + count - 1}, "
                               f"which overlap {what} (frames {a}..{b - 1})", run)
        if sum(c for _, c in mine) != given:
            check.fail(f"region {i}: the runs it was given add up to {sum(c for _, c in mine)} "
                       f"frames, not {given}", run)
        if free != given:
            check.fail(f"region {i} (frames {base}..{base + n - 1}) was given {given} free "
                       f"frames, but buddy_free_frames() says {free}\n(log: {run.serial_path})",
                       run)
        expected = block_counts(mine)
        if counts != expected:
            k = next(k for k in range(MAX_ORDER + 1) if counts[k] != expected[k])
            check.fail(f"with MEM={mem}, region {i} (frames {base}..{base + n - 1}) was given "
                       f"{len(mine)} run(s) of free frames ("
                       + ", ".join(f"{s}..{s + c - 1}" for s, c in mine[:4])
                       + (", ..." if len(mine) > 4 else "")
                       + f"): as maximal aligned blocks, merged, that is {show(expected)} free "
                       f"blocks per order 0..{MAX_ORDER}, but the region reports {show(counts)} "
                       f"(order {k} differs)\n(log: {run.serial_path})", run)

    total, free = sum(n for _, n in want), sum(int(m[6]) for m in regions)
    if (int(source[2]), int(source[3]), int(source[4])) != (total, free, free):
        check.fail(f"the kernel's frame source says {source[2]} frames, {source[3]} free; "
                   f"the regions hold {total} frames, {free} free", run)
    used = int(frames[2]) - free - sum(b - a for a, b in tables)
    if not 0 <= used <= USED_BEFORE_SWITCH_MAX:
        check.fail(f"lab 02's bitmap had {frames[2]} frames free at first; the buddy got {free} "
                   f"and its tables {sum(b - a for a, b in tables)}, which leaves {used} frames "
                   f"taken before the switch (expected 0 to {USED_BEFORE_SWITCH_MAX})", run)

    drained = need_record(run, DRAINED_RECORD, "the scenario's signed record",
                          "the kernel booted")
    d_free, d_got, d_left, d_after = (int(x) for x in drained.groups()[:4])
    if d_got != d_free:
        check.fail(f"the regions counted {d_free} frames free, but taking blocks from the "
                   f"largest order down until buddy_alloc had none left gave {d_got} frames", run)
    if d_left != 0:
        check.fail(f"after buddy_alloc had handed out every free frame, the regions still "
                   f"counted {d_left} frames free: buddy_free_frames is not kept in step with "
                   f"the free lists", run)
    if d_after != d_free or drained[5] != "ok":
        check.fail(f"after every block was given back, {d_after} frames are free (were "
                   f"{d_free}) and the invariants are {drained[5]}; see the scenario's line "
                   f"in the log ({run.serial_path})", run)
    check.finished(run)


@pytest.mark.points(2)
def test_frames_from_before_the_switch_come_back(kernel):
    run = kernel.boot("buddy-kept", append=f"scenario=frames_from_before_the_switch "
                      f"pages.keep={KEEP}")
    need_buddy_source(run)
    kept = records(run, KEPT_RECORD)
    if not kept:
        check.search(run, r"^scenario frames_from_before_the_switch: \d+ frames given back",
                     "the scenario giving back the frames taken before the switch")
        check.unconfirmed(run, "the scenario ran", "its signed record")
    n, reserved, before, after = (int(x) for x in kept[0].groups()[:4])
    if n != KEEP or reserved != KEEP:
        check.fail(f"of the {KEEP} frames taken from lab 02's bitmap just before the switch, "
                   f"{reserved} were reserved in the buddy allocator (expected all)", run)
    if after != before + KEEP:
        check.fail(f"giving back {KEEP} frames from before the switch with kframe_free took the "
                   f"free frames from {before} to {after}, not {before + KEEP}", run)
    if kept[0][5] != "ok":
        check.fail("after the frames from before the switch came back, a region breaks the "
                   f"buddy's invariants; see the scenario's line in the log ({run.serial_path})",
                   run)
    if kept[0][6] != "caught":
        check.fail("freeing one of them a second time was not caught as a double free", run)
    check.finished(run)
