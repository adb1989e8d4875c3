"""Heap traces in the style of a malloc lab: each a sequence of allocations and frees with a
pattern that stresses one thing (reuse, splitting, coalescing, fragmentation). Generated
here from a fixed seed, so every run and every allocator replays the same operations.

    /usr/bin/python3 tools/bench/tracegen.py OUTDIR [--scale S]

writes OUTDIR/<name>.trace, one per style below, in this format (heapbench.c reads it):

    # teachos heap trace v1
    name small-churn
    a <id> <size>      allocate block <id> of <size> bytes
    f <id>             free block <id>

Every block is freed by the end of its trace.
"""
import argparse
import random
from pathlib import Path

MAGIC = "# teachos heap trace v1"
SEED = 20240601


class Trace:
    def __init__(self, name, rng):
        self.name, self.rng = name, rng
        self.ops = []
        self.live = {}     # id -> size
        self.next_id = 0

    def alloc(self, size):
        i = self.next_id
        self.next_id += 1
        self.ops.append(f"a {i} {size}")
        self.live[i] = size
        return i

    def free(self, i):
        self.ops.append(f"f {i}")
        del self.live[i]

    def free_all(self, shuffle=True):
        ids = list(self.live)
        if shuffle:
            self.rng.shuffle(ids)
        for i in ids:
            self.free(i)

    def text(self):
        return "\n".join([MAGIC, f"name {self.name}", *self.ops]) + "\n"


def log_uniform(rng, lo, hi):
    """A size between lo and hi, each power of two equally likely: many small, some large."""
    import math
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def small_churn(t, n):
    """Kernel-like: many small objects (8..128 B) with random lifetimes, about 500 live."""
    for _ in range(n):
        if t.live and (len(t.live) > 500 or t.rng.random() < 0.45):
            t.free(t.rng.choice(list(t.live)))
        else:
            t.alloc(t.rng.choice((8, 16, 24, 32, 48, 64, 96, 128)))
    t.free_all()


def mixed_random(t, n):
    """Sizes from 8 B to 8 KiB (log-uniform), random frees, growing to about 1000 live."""
    for _ in range(n):
        if t.live and t.rng.random() < 0.4:
            t.free(t.rng.choice(list(t.live)))
        else:
            t.alloc(log_uniform(t.rng, 8, 8192))
    t.free_all()


def binary_holes(t, n):
    """Small and large blocks alternate; the large ones are freed, then slightly larger
    requests arrive: the holes fit none of them unless they can merge (they cannot)."""
    rounds = n // 3
    small, large = [], []
    for _ in range(rounds):
        small.append(t.alloc(t.rng.randint(16, 64)))
        large.append(t.alloc(t.rng.randint(224, 256)))
    for i in large:
        t.free(i)
    for _ in range(rounds // 2):
        t.alloc(t.rng.randint(257, 320))
    t.free_all()


def coalesce(t, n):
    """Runs of neighbours are freed together, then a block as big as the whole run is asked
    for: served from the freed space only by an allocator that merges neighbours."""
    while len(t.ops) < n:
        run = [t.alloc(t.rng.choice((64, 128, 192, 256))) for _ in range(8)]
        keep = t.alloc(32)  # a live block after the run
        total = sum(t.live[i] for i in run)
        for i in run:
            t.free(i)
        big = t.alloc(total)
        if t.rng.random() < 0.5:
            t.free(big)
        if t.rng.random() < 0.3:
            t.free(keep)
    t.free_all()


def stack(t, n):
    """Last in, first out, like nested calls: depth wanders between 0 and 200."""
    stack_ids = []
    while len(t.ops) < n:
        if stack_ids and (len(stack_ids) > 200 or t.rng.random() < 0.48):
            t.free(stack_ids.pop())
        else:
            stack_ids.append(t.alloc(log_uniform(t.rng, 16, 2048)))
    while stack_ids:
        t.free(stack_ids.pop())


def queue(t, n):
    """First in, first out, like network packets in a ring: 64..1500 B, about 300 queued."""
    q = []
    while len(t.ops) < n:
        if q and (len(q) > 300 or t.rng.random() < 0.45):
            t.free(q.pop(0))
        else:
            q.append(t.alloc(t.rng.randint(64, 1500)))
    for i in q:
        t.free(i)


def grow(t, n):
    """A buffer grown by half each time (alloc the new one, free the old), with a small
    long-lived object allocated after each growth so the buffer cannot grow in place."""
    while len(t.ops) < n:
        size = 64
        buf = t.alloc(size)
        while size < 256 * 1024 and len(t.ops) < n:
            size = size * 3 // 2
            new = t.alloc(size)
            t.free(buf)
            buf = new
            t.alloc(t.rng.randint(16, 48))
        t.free_all()


def big_and_small(t, n):
    """Page-sized and larger blocks (4..64 KiB) among many small ones, random frees."""
    for _ in range(n):
        if t.live and t.rng.random() < 0.45:
            t.free(t.rng.choice(list(t.live)))
        elif t.rng.random() < 0.15:
            t.alloc(t.rng.randint(4096, 65536))
        else:
            t.alloc(t.rng.randint(8, 256))
    t.free_all()


STYLES = {"small-churn": small_churn, "mixed-random": mixed_random, "binary-holes": binary_holes,
          "coalesce": coalesce, "stack": stack, "queue": queue, "grow": grow,
          "big-and-small": big_and_small}
OPS = 6000  # operations per trace at scale 1, before the final frees


def generate(outdir, scale=1.0, names=None):
    """Write the traces; returns their paths, in the order of STYLES."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, (name, style) in enumerate(STYLES.items()):
        if names and name not in names:
            continue
        t = Trace(name, random.Random(SEED + k))
        style(t, max(30, int(OPS * scale)))
        assert not t.live, f"{name}: blocks left allocated"
        path = outdir / f"{name}.trace"
        path.write_text(t.text())
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--scale", type=float, default=1.0, help="operations per trace, times 6000")
    args = ap.parse_args()
    for p in generate(args.outdir, args.scale):
        print(p)


if __name__ == "__main__":
    main()
