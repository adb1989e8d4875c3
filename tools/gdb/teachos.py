"""GDB commands that show the kernel's own state: its threads, the run queue, the heap's free
list and the buddy allocator's free blocks. `make gdb` loads this file (tools/gdbinit.tmpl);
`help teachos` lists the commands.

    (gdb) kthreads          every thread: state, stack, where it stopped (a short backtrace)
    (gdb) runqueue          the run queue, front first, and the sleep queue with wake ticks
    (gdb) heapfree          the free list of the allocator kmalloc runs on
    (gdb) buddyfree [N]     the buddy allocator's free blocks per order, region by region

They read the kernel's data by the names of its variables and types (run_queue, slot_owner,
struct thread, pages_buddies, ...), not by file or line, and say what they cannot find: a command
about threads at a checkpoint before lab 07 says there are none yet.
"""
import gdb

WALK_MAX = 100000      # nodes followed in one list before calling it a loop
BACKTRACE_FRAMES = 8   # frames shown per stopped thread
LIST_SHOWN = 16        # list entries printed before "..."

STATE_NAMES = {0: "RUNNABLE", 1: "RUNNING", 2: "SLEEPING", 3: "BLOCKED", 4: "EXITED"}


class Missing(Exception):
    """A symbol or type this command needs is not in the kernel being debugged."""


def symbol(name):
    """The value of a variable, global or static to its file."""
    sym = gdb.lookup_global_symbol(name)
    if sym is None:
        sym = gdb.lookup_static_symbol(name)
    if sym is None:
        raise Missing(name)
    return sym.value()


def has_symbol(name):
    try:
        symbol(name)
        return True
    except Missing:
        return False


def struct(name):
    try:
        return gdb.lookup_type("struct " + name)
    except gdb.error:
        raise Missing("struct " + name)


def offset_of(type_, field):
    for f in type_.fields():
        if f.name == field:
            return f.bitpos // 8
    raise Missing(f"{type_}.{field}")


def container_of(node, type_name, field):
    """The struct type_name whose member field is at the address node points to."""
    t = struct(type_name)
    addr = int(node) - offset_of(t, field)
    return gdb.Value(addr).cast(t.pointer())


def list_nodes(head_addr):
    """The nodes of a circular list with a sentinel at head_addr (kernel/list.h), as ints."""
    node_t = struct("list_node").pointer()
    head = gdb.Value(head_addr).cast(node_t)
    seen, out = set(), []
    n = head["next"]
    while int(n) != head_addr:
        if int(n) in seen or len(out) >= WALK_MAX:
            raise RuntimeError(f"the list at {head_addr:#x} loops (node {int(n):#x} seen twice)")
        seen.add(int(n))
        out.append(int(n))
        n = n["next"]
    return out


def where(pc):
    """function (file:line) of an address, as the kernel's backtraces print it."""
    try:
        block = gdb.block_for_pc(pc)
    except RuntimeError:
        block = None
    fn = block.function if block is not None else None
    while block is not None and fn is None:
        block = block.superblock
        fn = block.function if block is not None else None
    sal = gdb.find_pc_line(pc)
    loc = f"{sal.symtab.filename}:{sal.line}" if sal.symtab else "?"
    return f"{fn.name if fn else '??'} ({loc})"


def frames_from(rip, rbp, count=BACKTRACE_FRAMES):
    """(return address, location) pairs from a saved rip and rbp, following the frame
    pointers (the kernel keeps them: -fno-omit-frame-pointer)."""
    out = [(rip, where(rip))]
    inferior = gdb.selected_inferior()
    for _ in range(count - 1):
        if rbp == 0 or rbp % 8:
            break
        try:
            mem = inferior.read_memory(rbp, 16).tobytes()
        except gdb.MemoryError:
            break
        next_rbp = int.from_bytes(mem[:8], "little")
        ret = int.from_bytes(mem[8:], "little")
        if ret == 0:
            break
        out.append((ret, where(ret - 1)))  # the call instruction, not the one after it
        if next_rbp <= rbp:
            break
        rbp = next_rbp
    return out


def state_name(value):
    return STATE_NAMES.get(int(value), f"state {int(value)}")


def thread_name(t):
    try:
        return t["name"].string()
    except (gdb.error, UnicodeDecodeError):
        return "?"


def all_threads():
    """Every thread the kernel knows: main (on the boot stack) and each owner of a stack slot
    (which covers the idle thread and every created thread not yet joined)."""
    thread_p = struct("thread").pointer()
    found = []
    try:
        found.append(int(symbol("main_record").address))
    except Missing:
        pass
    owners = symbol("slot_owner")
    n = owners.type.range()[1] + 1
    for i in range(n):
        p = int(owners[i])
        if p and p not in found:
            found.append(p)
    try:
        cur = int(symbol("current"))
        if cur and cur not in found:
            found.append(cur)
    except Missing:
        pass
    return [gdb.Value(p).cast(thread_p) for p in found]


def ticks_now():
    for name in ("ticks", "timer_ticks_count"):
        try:
            return int(symbol(name))
        except (Missing, gdb.error):
            continue
    return None


class TeachosPrefix(gdb.Command):
    """Commands that show the teachos kernel's own state:

    kthreads          every thread: state, stack, where it stopped
    runqueue          the run queue and the sleep queue
    heapfree          the free list of the allocator kmalloc runs on
    buddyfree [N]     the buddy allocator's free blocks per order (region N, or all)"""

    def __init__(self):
        super().__init__("teachos", gdb.COMMAND_USER, prefix=True)

    def invoke(self, arg, from_tty):
        gdb.execute("help teachos")


class KernelCommand(gdb.Command):
    needs = "the kernel's data"

    def __init__(self, name):
        super().__init__(name, gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        try:
            self.run(arg.strip())
        except Missing as e:
            print(f"{self._name()}: this kernel has no `{e}`: {self.needs}.")
        except gdb.MemoryError as e:
            print(f"{self._name()}: cannot read the kernel's memory there ({e}): is the kernel "
                  f"past the point where it sets this up?")
        except RuntimeError as e:
            print(f"{self._name()}: {e}")

    def _name(self):
        return type(self).__name__.lower().removesuffix("command")


class KthreadsCommand(KernelCommand):
    """List the kernel's threads: address, name, state, stack and where each one stopped.
    The running thread is marked *; `bt` shows its frames. With an argument, only the
    threads whose name contains it, with longer backtraces."""
    needs = "threads come with lab 07 (checkpoint 07 on)"

    def __init__(self):
        super().__init__("kthreads")

    def run(self, arg):
        cur = int(symbol("current"))
        now = ticks_now()
        threads = all_threads()
        if not cur:
            print("kthreads: thread_init has not run yet: there is only the boot code.")
            return
        for t in threads:
            name = thread_name(t)
            if arg and arg not in name:
                continue
            state = state_name(t["state"])
            extra = ""
            if state == "SLEEPING":
                wake = int(t["wake_tick"])
                extra = f", wakes at tick {wake}" + (f" (now {now})" if now is not None else "")
            joiner = int(t["joiner"])
            if joiner:
                extra += f", joined by '{thread_name(gdb.Value(joiner).cast(t.type))}'"
            stack = t["stack"]
            slot = int(stack["slot"])
            where_stack = ("the boot stack" if slot < 0 else
                           f"stack [{int(stack['bottom']):#x}, {int(stack['top']):#x}) slot {slot}")
            mark = "*" if int(t) == cur else " "
            print(f"{mark} {int(t):#x} '{name}' {state}{extra}; {where_stack}")
            if int(t) == cur:
                print("      (running: `bt` shows where)")
                continue
            ctx = t["context"]
            if not int(ctx) or state == "EXITED":
                continue
            frames = frames_from(int(ctx["rip"]), int(ctx["rbp"]),
                                 count=32 if arg else BACKTRACE_FRAMES)
            for i, (pc, loc) in enumerate(frames):
                print(f"      #{i} {pc:#x} {loc}")


class RunqueueCommand(KernelCommand):
    """Show the run queue (RUNNABLE threads, the next to run first) and the sleep queue
    (SLEEPING threads, the earliest wake tick first)."""
    needs = "the run queue comes with lab 07 (checkpoint 07 on)"

    def __init__(self):
        super().__init__("runqueue")

    def run(self, arg):
        cur = int(symbol("current"))
        now = ticks_now()
        if cur:
            c = gdb.Value(cur).cast(struct("thread").pointer())
            print(f"running: '{thread_name(c)}' ({state_name(c['state'])})"
                  + (f", tick {now}" if now is not None else ""))
        for title, var in (("run queue", "run_queue"), ("sleep queue", "sleep_queue")):
            nodes = list_nodes(int(symbol(var).address))
            print(f"{title}: {len(nodes)} thread{'s' if len(nodes) != 1 else ''}"
                  + (" (empty)" if not nodes else ""))
            for i, n in enumerate(nodes[:LIST_SHOWN]):
                t = container_of(n, "thread", "link")
                state = state_name(t["state"])
                extra = f", wakes at tick {int(t['wake_tick'])}" if var == "sleep_queue" else ""
                odd = ""
                if var == "run_queue" and state != "RUNNABLE":
                    odd = "  <- not RUNNABLE, yet on the run queue"
                if var == "sleep_queue" and state != "SLEEPING":
                    odd = "  <- not SLEEPING, yet on the sleep queue"
                print(f"  {i}: {int(t):#x} '{thread_name(t)}' {state}{extra}{odd}")
            if len(nodes) > LIST_SHOWN:
                print(f"  ... and {len(nodes) - LIST_SHOWN} more")


def list_regions(head):
    """(address, size) of the free regions of a list heap (struct list_region, NULL-ended)."""
    out, seen = [], set()
    r = head
    while int(r):
        if int(r) in seen or len(out) >= WALK_MAX:
            raise RuntimeError(f"the free list loops (region {int(r):#x} seen twice)")
        seen.add(int(r))
        out.append((int(r), int(r["size"])))
        r = r["next"]
    return out


def print_regions(regions, indent="  "):
    total = sum(size for _, size in regions)
    print(f"{indent}{len(regions)} free region{'s' if len(regions) != 1 else ''}, "
          f"{total} bytes in all")
    for addr, size in regions[:LIST_SHOWN]:
        print(f"{indent}  [{addr:#x}, {addr + size:#x})  {size} bytes")
    if len(regions) > LIST_SHOWN:
        print(f"{indent}  ... and {len(regions) - LIST_SHOWN} more")


class HeapfreeCommand(KernelCommand):
    """Show the free memory of the allocator kmalloc runs on: the bump allocator's arena
    (checkpoint 03), the list heap's free regions in address order (04), or the block heap's
    slabs with a free block, class by class, and its fallback's free regions (05 on)."""
    needs = "the kernel heap comes with lab 03 (checkpoint 03 on)"

    def __init__(self):
        super().__init__("heapfree")

    def run(self, arg):
        heap = symbol("heap")
        if not int(heap):
            print("heapfree: kmalloc has no heap yet (heap_layer_init has not run, or every "
                  "heap layer was skipped).")
            return
        backend = str(heap["id"])
        print(f"kmalloc runs on {str(heap['what'].string())} ({backend})")
        if backend.endswith("BUMP"):
            b = symbol("bump_heap")
            start, nxt, end = int(b["start"]), int(b["next"]), int(b["end"])
            print(f"  arena [{start:#x}, {end:#x}): handed out up to {nxt:#x}, {end - nxt} bytes "
                  f"left; {int(b['live_allocs'])} live allocations")
        elif backend.endswith("LIST"):
            print_regions(list_regions(symbol("list_heap")["head"]))
        elif backend.endswith("BLOCK"):
            h = symbol("kheap_block_heap")
            classes = h["classes"]
            n = classes.type.range()[1] + 1
            for c in range(n):
                cls = classes[c]
                slabs, p, seen = [], cls["slabs"], set()
                while int(p) and len(slabs) < WALK_MAX and int(p) not in seen:
                    seen.add(int(p))
                    free, f = 0, p["free"]
                    while int(f) and free < WALK_MAX:
                        free, f = free + 1, f["next"]
                    slabs.append(f"{int(p):#x} ({int(p['live'])} live, {free} free)")
                    p = p["next"]
                shown = " ".join(slabs[:3]) + (" ..." if len(slabs) > 3 else "")
                loop = "  <- the list loops" if int(p) and int(p) in seen else ""
                print(f"  class {c} ({8 << c} bytes): {len(slabs)} slab(s) with a free block, "
                      f"{int(cls['empty'])} counted empty: {shown or '-'}{loop}")
            print("  the fallback list heap:")
            print_regions(list_regions(h["fallback"]["head"]), indent="    ")
        else:
            print("heapfree: an allocator this command does not know")


class BuddyfreeCommand(KernelCommand):
    """Show the buddy allocator's free blocks: for each region (or region N), the free frames
    and, order by order, how many blocks the list holds and the first frames on it; a list
    whose length or blocks disagree with nr_free is pointed out."""
    needs = "the buddy allocator comes with lab 06 (checkpoint 06 on)"

    def __init__(self):
        super().__init__("buddyfree")

    def run(self, arg):
        regions, n = symbol("pages_buddies"), int(symbol("pages_nregions"))
        if n == 0:
            print("buddyfree: the buddy allocator has no regions yet (buddy_layer_init has not "
                  "run, or it was skipped).")
            return
        which = range(n)
        if arg:
            if not arg.isdigit() or int(arg) >= n:
                print(f"buddyfree: the regions are 0 to {n - 1}")
                return
            which = [int(arg)]
        for i in which:
            r = regions[i]
            base, count = int(r["base_pfn"]), int(r["nframes"])
            print(f"region {i}: frames {base:#x}-{base + count - 1:#x} ({count}), "
                  f"{int(r['free_frames'])} free")
            free = r["free"]
            for k in range(free.type.range()[1] + 1):
                pfns, node, seen = [], free[k], set()
                while int(node) and len(pfns) < WALK_MAX and int(node) not in seen:
                    seen.add(int(node))
                    pfns.append(int(node["pfn"]))
                    node = node["next"]
                counted = int(r["nr_free"][k])
                if not pfns and not counted:
                    continue
                shown = " ".join(f"{p:#x}" for p in pfns[:6]) + (" ..." if len(pfns) > 6 else "")
                note = ""
                if int(node):
                    note = "  <- the list loops"
                elif len(pfns) != counted:
                    note = f"  <- nr_free[{k}] says {counted}"
                print(f"  order {k:2} ({1 << k:4} frames): {len(pfns)} block"
                      f"{'s' if len(pfns) != 1 else ' '} {shown}{note}")


TeachosPrefix()
KthreadsCommand()
RunqueueCommand()
HeapfreeCommand()
BuddyfreeCommand()
