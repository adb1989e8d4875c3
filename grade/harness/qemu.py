"""Booting a kernel in QEMU and telling, in words, what happened.

One place builds the QEMU command line, for the harness and for `make qemu` alike:
TCG by default (ACCEL=kvm to opt in), -no-reboot so a triple fault ends the run instead of
rebooting, the isa-debug-exit device for the kernel's exit code, and QEMU's own log of
exceptions and resets (-d int,cpu_reset,guest_errors) for when the kernel cannot speak for itself.
"""
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import socket
import struct
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import attest, symbols, zygote
from .paths import env, rel

QEMU = "qemu-system-x86_64"
EXIT_SUCCESS, EXIT_FAILURE, EXIT_PANIC = 33, 35, 37
EXIT_MEANING = {EXIT_SUCCESS: "finished, all tests passed", EXIT_FAILURE: "finished, some test failed",
                EXIT_PANIC: "kernel panic"}
SERIAL_CAP = 1 << 20     # bytes of console output before a run counts as flooding
QEMU_LOG_CAP = 64 << 20  # bytes of QEMU's interrupt log before we stop the run
# The host backs a page of the guest's RAM once the kernel writes to it (qemu_command maps
# the RAM unreserved), so a kernel that writes to every frame of a 16 GiB machine makes QEMU
# hold 16 GiB of the host's memory: on a laptop, or on a grading server with several boots at
# once, the host runs out, and its out-of-memory killer ends some process, perhaps another
# submission's QEMU. A boot may make the host back at most RAM_TOUCH_CAP of the guest's RAM
# (with QEMU_OWN more for QEMU itself, which holds 40-50 MiB): a machine no larger than that
# never reaches the cap, and on the larger machines the graders boot (4G and 16G, for the
# memory allocators) a correct kernel writes to a few dozen MiB.
RAM_TOUCH_CAP = 2 << 30
QEMU_OWN = 256 << 20
BANNER = "teachos: checkpoint"
GDB_KILLED = "Terminated via GDBstub"  # what QEMU says when GDB kills it


def machine(variables=None):
    """MACHINE: from variables (a dict of make's variables) where given there, else from the
    environment (as ACCEL and QEMUEXTRA below)."""
    return (variables or {}).get("MACHINE") or env("MACHINE", "microvm")


def machine_option(variables=None):
    """What -M is given. microvm without its ACPI tables: the kernel finds nothing through
    ACPI (the memory map comes from the loader, the devices are the PC's), and building the
    tables costs each boot about 5 ms of CPU, much of it zeroing the 2 MiB of ROM they are
    given (a make test boots about a thousand times)."""
    m = machine(variables)
    return "microvm,acpi=off" if m == "microvm" else m


def accel_args(variables=None):
    accel = (variables or {}).get("ACCEL") or env("ACCEL", "tcg")
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    if accel != "tcg":
        raise ValueError(f"ACCEL={accel}: use tcg (the default) or kvm")
    return ["-accel", "tcg"]


# A grading starts QEMU dozens of times, and a `make test` a thousand times: about a third of
# a short boot's time went to page faults in QEMU's own heap (its machine, its TCG caches), a
# fault per 4 KiB page touched. glibc's tunables let malloc ask for transparent huge pages
# (hugetlb=1) and grow its heap in steps large enough to get them (top_pad, 16 MiB): a boot
# takes a few large faults instead, and about 30% less time (ld linking a kernel, 15% less).
# Where the kernel does not give huge pages (transparent_hugepage set to never) or glibc is
# older than 2.35, nothing changes. Tunables already in the environment come after these, so
# they win.
MALLOC_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=16777216"
# QEMU, besides: one malloc arena for all its threads, and its blocks of up to 8 MiB (the TCG
# hash table's 2 MiB, say) taken from that heap, whose huge pages are faulted in already,
# rather than mapped afresh 4 KiB page by 4 KiB page. QEMU started directly, 40 short boots
# each, side by side: 80 ms of CPU a boot instead of 92. With the zygote's malloc_trim
# (qemu_zygote.c) as well, 160 boots of checkpoint 09 took 73 ms each instead of 86.
QEMU_TUNABLES = MALLOC_TUNABLES + ":glibc.malloc.mmap_threshold=8388608:glibc.malloc.arena_max=1"


def with_malloc_tunables(environ, tunables=MALLOC_TUNABLES):
    """environ (a dict) with tunables added, for programs started many times."""
    mine = environ.get("GLIBC_TUNABLES")
    return {**environ, "GLIBC_TUNABLES": tunables + (f":{mine}" if mine else "")}


def qemu_env():
    """The environment to start QEMU in: this one, with QEMU_TUNABLES."""
    return with_malloc_tunables(os.environ, QEMU_TUNABLES)


def ram_size(mem):
    """MEM as a memory backend's size: -m counts a bare number in MiB, a backend in bytes."""
    mem = str(mem)
    return f"{mem}M" if re.fullmatch(r"\d+", mem) else mem


_UNITS = {"": 1 << 20, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def ram_bytes(mem):
    """MEM in bytes, as -m reads it (a bare number in MiB, or a number and K, M, G or T); None
    if it is not one of those."""
    m = re.fullmatch(r"(\d+)([KMGT]?)B?", str(mem).strip().upper())
    return int(m[1]) * _UNITS[m[2]] if m else None


MULTIBOOT_MAGIC = 0x1BADB002
MULTIBOOT_SEARCH = 8192  # the header is in the image's first 8 KiB (the multiboot spec)


def image_end(kernel_bin):
    """Where the kernel ends in physical memory, its .bss included: its multiboot header's
    bss_end_addr (kernel/multiboot.S gives the load addresses, the "a.out kludge"). None if
    the image has no such header."""
    try:
        with open(kernel_bin, "rb") as f:
            head = f.read(MULTIBOOT_SEARCH)
    except OSError:
        return None
    for off in range(0, len(head) - 32 + 1, 4):
        magic, flags, checksum = struct.unpack_from("<III", head, off)
        if magic == MULTIBOOT_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            if not flags & (1 << 16):  # no load addresses given
                return None
            return struct.unpack_from("<I", head, off + 24)[0]  # bss_end_addr
    return None


def too_little_memory(kernel_bin, mem):
    """What to say when a machine of mem is too small to hold the kernel at all (QEMU loads
    what fits and the machine runs into nothing: a hang, or a reset at an address of no
    function), else None."""
    size, end = ram_bytes(mem), image_end(kernel_bin)
    if size is None or end is None or size > end:
        return None
    return (f"MEM={mem} is too small for this kernel: loaded at 1 MiB, its image and .bss end "
            f"at {end / (1 << 20):.1f} MiB, above the machine's last byte. Give it more (the "
            f"default is 128M; the graders boot 32M to 16G).")


def resident_cap(mem):
    """How much of the host's memory QEMU may hold in a boot of a machine with mem of RAM."""
    size = ram_bytes(mem)
    return min(size if size is not None else RAM_TOUCH_CAP, RAM_TOUCH_CAP) + QEMU_OWN


def mib(n):
    """A size in bytes, for a reader: MiB below 10 GiB, GiB with one decimal above."""
    return f"{n >> 20} MiB" if n < 10 << 30 else f"{n / (1 << 30):.1f} GiB"


def qemu_command(kernel_bin, mem="128M", append="", extra=(), log=None, interactive=False,
                 gdb_port=None, qmp=None, variables=None):
    """The QEMU command line for one boot of kernel_bin; with qmp, a socket path where QEMU
    answers questions about the machine (the CPU's registers when a run is stopped).
    variables: MACHINE, ACCEL and QEMUEXTRA where not the environment's (machine())."""
    # The guest's RAM is mapped without reserving it (reserve=off): the host gives it a page
    # when the kernel first touches one, and a kernel touches little of a large machine. The
    # graders boot machines of up to 16 GiB (lab 06's [16G] test), more than many laptops have;
    # mapped as QEMU maps RAM by default, the whole size promised up front, QEMU would not start
    # on a host with less memory and swap than that ("cannot set up guest memory").
    cmd = [QEMU, "-M", f"{machine_option(variables)},memory-backend=ram", *accel_args(variables),
           "-m", str(mem), "-object", f"memory-backend-ram,id=ram,size={ram_size(mem)},reserve=off",
           "-kernel", str(kernel_bin),
           "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]
    if append:
        cmd += ["-append", append]
    if interactive:
        cmd += ["-nographic"]  # console and QEMU's monitor on the terminal: Ctrl-A X quits
    else:
        cmd += ["-display", "none", "-serial", "stdio", "-monitor", "none"]
    if qmp:
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    if log:
        cmd += ["-d", "int,cpu_reset,guest_errors", "-D", str(log)]
    if gdb_port:
        cmd += ["-S", "-gdb", f"tcp:127.0.0.1:{gdb_port}"]
    qemuextra = (variables or {}).get("QEMUEXTRA")
    cmd += list(extra) + shlex.split(env("QEMUEXTRA", "") if qemuextra is None else qemuextra)
    return cmd


# ---------------------------------------------------------------------------------------------
# What QEMU's log says about exceptions and resets.

_EXC = re.compile(r"^\s*\d+: v=([0-9a-f]{2}) e=([0-9a-f]{4}) i=(\d) cpl=\d IP=[0-9a-f]{4}:([0-9a-f]+)"
                  r" pc=([0-9a-f]+).*?(?: CR2=([0-9a-f]+))?$")
VECTOR_NAMES = {0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint", 4: "#OF overflow",
                5: "#BR bound range", 6: "#UD invalid opcode", 7: "#NM device not available",
                8: "#DF double fault", 10: "#TS invalid TSS", 11: "#NP segment not present",
                12: "#SS stack-segment fault", 13: "#GP general protection", 14: "#PF page fault",
                16: "#MF x87 error", 17: "#AC alignment check", 18: "#MC machine check",
                19: "#XM SIMD error"}


@dataclass
class CpuException:
    vector: int
    error: int
    rip: int
    cr2: int = None
    software: bool = False

    @property
    def name(self):
        return VECTOR_NAMES.get(self.vector, f"vector {self.vector}")


def last_exception_chain(log_text):
    """The exceptions of the final cascade, the one that caused the others first, or [].

    A cascade is a run of exceptions at the same instruction: the CPU failed to deliver the
    first (a missing or broken IDT entry raises #GP, that one #DF, and a third failure resets
    the machine)."""
    excs = []
    for line in log_text.splitlines():
        m = _EXC.match(line)
        if m:
            excs.append(CpuException(int(m.group(1), 16), int(m.group(2), 16), int(m.group(5), 16),
                                     int(m.group(6), 16) if m.group(6) else None, m.group(3) == "1"))
    chain = excs[-1:]
    for exc in reversed(excs[:-1]):
        if exc.rip != chain[0].rip:
            break
        chain.insert(0, exc)
    return chain


# ---------------------------------------------------------------------------------------------
# The CPU as QEMU's monitor shows it.

_REGS = re.compile(r"RIP=([0-9a-f]+) RFL=([0-9a-f]+) .*?HLT=(\d)")
RFLAGS_IF = 1 << 9


@dataclass
class CpuState:
    rip: int
    rflags: int
    halted: bool

    @property
    def interrupts_enabled(self):
        return bool(self.rflags & RFLAGS_IF)


def cpu_state(qmp_path, timeout=2.0):
    """The CPU's rip, rflags and halt state from QEMU's QMP socket, or None."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(str(qmp_path))
            f = s.makefile("rwb")
            f.readline()  # the greeting
            f.write(b'{"execute": "qmp_capabilities"}\n{"execute": "human-monitor-command", '
                    b'"arguments": {"command-line": "info registers"}}\n')
            f.flush()
            for _ in range(8):
                reply = json.loads(f.readline() or b"{}")
                if isinstance(reply.get("return"), str):
                    m = _REGS.search(reply["return"])
                    return m and CpuState(int(m[1], 16), int(m[2], 16), m[3] == "1")
                if not reply:
                    return None
    except (OSError, ValueError):
        return None
    return None


# ---------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One boot: how it ended and what the kernel printed."""
    name: str
    command: list
    elf: Path
    timeout: float
    end: str                      # "exit", "timeout", "halted", "flood", "log-flood", "no-qemu",
                                  # "memory" (the host backed more of the guest's RAM than
                                  # resident_cap allows), "stopped" (by the caller's until:
                                  # nothing more was wanted)
    status: int = None            # QEMU's exit status when end == "exit"
    serial: bytes = b""
    stderr: str = ""
    serial_path: Path = None
    qemu_log_path: Path = None
    key: str = None               # the key this boot's kernel signs its results with (attest.py)
    timeout_note: str = ""        # why the timeout was shorter than usual, if it was
    stand_in_note: str = ""       # set when this run answers for a boot that was not made
    wall: float = None            # seconds on the clock, and of them the seconds QEMU could
    ran: float = None             # run (less what it waited for a CPU on a busy machine)
    timer_irqs: int = 0           # timer interrupts (IRQ 0) in QEMU's log
    timer_quiet: float = None     # seconds from the last of them to the end of the run
    cpu: CpuState = None          # the CPU when the run was stopped (timeout, halted)
    mem: str = "128M"             # the machine's RAM (-m)
    resident: int = 0             # the most of the host's memory QEMU was seen to hold, bytes
    _text: str = field(default=None, repr=False)

    @property
    def text(self):
        """The console output as text: carriage returns dropped, bad UTF-8 shown as U+FFFD."""
        if self._text is None:
            self._text = self.serial.decode("utf-8", errors="replace").replace("\r", "")
        return self._text

    @property
    def lines(self):
        return self.text.splitlines()

    def qemu_log(self):
        try:
            with open(self.qemu_log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - (4 << 20)))  # the end is what matters
                return f.read().decode("utf-8", errors="replace")
        except (OSError, TypeError):
            return ""

    @property
    def reached_c(self):
        return BANNER in self.text

    @property
    def started_work(self):
        """The kernel brought its layers up and began what the command line asked: the tests,
        a scenario, or the tour (whose sections start "== NN-name")."""
        return re.search(r"^(KTAP version 1|scenario \S+: start|== \d\d-\S+: .*)$", self.text,
                         re.MULTILINE) is not None

    @property
    def reset(self):
        return self.end == "exit" and self.status == 0

    @property
    def panicked(self):
        return self.end == "exit" and self.status == EXIT_PANIC or "\nPANIC" in "\n" + self.text

    @property
    def ended_from_gdb(self):
        """GDB's kill command ends QEMU with status 0, as a reset does."""
        return GDB_KILLED in self.stderr

    @property
    def finished(self):
        """Exited through isa-debug-exit after the kernel's own run (tests or tour)."""
        return self.end == "exit" and self.status in (EXIT_SUCCESS, EXIT_FAILURE)

    def boot_notes(self):
        """The kernel's notes about layers it had to skip while booting (TODOs left)."""
        notes = [l.removeprefix("kernel: ") for l in self.lines
                 if l.startswith("kernel: ") and " skipped: " in l]
        if not notes:
            return ""
        return "While booting, the kernel had to skip:\n" + "\n".join("    " + n for n in notes)

    def last_lines(self, n=12):
        # The signatures the grader checks mean nothing to a reader: the log keeps them.
        lines = [l for l in self.lines if l.strip() and not l.lstrip().startswith(("# attest:", "# mac "))]
        shown = lines[-n:]
        if not shown:
            return "    (no output at all)"
        return "\n".join("    | " + symbols.symbolize_text(self.elf, l) for l in shown)

    def panic_report(self):
        """The panic message with its backtrace, symbolized; None if the kernel did not panic."""
        lines = self.lines
        for i, line in enumerate(lines):
            if line.startswith("PANIC"):
                block = [line]
                for l in lines[i + 1:i + 30]:
                    if l.startswith("backtrace:") or symbols.BACKTRACE_LINE.match(l):
                        block.append(l)
                    elif len(block) > 1:
                        break
                return symbols.symbolize_text(self.elf, "\n".join(block))
        return None

    def describe_reset(self):
        where = ("after the kernel started" if self.reached_c else
                 "before reaching C (kernel_main never printed its banner)")
        msg = [f"the machine reset {where}: most likely a triple fault, an exception the CPU could "
               f"not deliver (no IDT yet, or a broken one)."]
        chain = last_exception_chain(self.qemu_log())
        if chain:
            first = chain[0]
            loc = symbols.locate_one(self.elf, first.rip)
            msg.append(f"QEMU's log: the first exception was {first.name} (vector {first.vector}, "
                       f"error 0x{first.error:x}) at rip 0x{first.rip:x}, in {loc}")
            src = loc.source_line()
            if src:
                msg.append(f"    {loc.where()}:  {src}")
            if first.vector == 14 and first.cr2 is not None:
                msg.append(f"    the page fault's address (CR2) was 0x{first.cr2:x}")
            if len(chain) > 1:
                msg.append("    then, delivering it: " + ", ".join(e.name for e in chain[1:]) +
                           ", then the reset")
        else:
            msg.append("QEMU's log shows no exception before the reset.")
        msg.append(f"(QEMU's log: {rel(self.qemu_log_path)})")
        return "\n".join(msg)

    def answering_for_a_boot_not_made(self):
        """This run, hung while the kernel brought its layers up, as the answer for a later
        boot that would have brought them up alike (grading.KernelUnderTest.boot)."""
        return replace(self, stand_in_note=(
            f"\n(This test's boot was not made: boot {self.name} of the same kernel, with the same "
            f"memory and the same command line but for what to run, hung while bringing up the "
            f"layers, and so would this one have.)"))

    def describe(self):
        """What happened, in words, for a failure message. Empty if it finished normally."""
        if self.end == "no-qemu":
            return f"QEMU did not start: {self.stderr.strip() or 'no error message'}"
        if self.end == "timeout":
            return (f"timed out after {self.timeout:g} s: the kernel neither finished nor crashed "
                    f"(a hang, or an endless loop).{self.timeout_note}{self.busy_note()}"
                    f"{self.timer_note()}{self.cpu_note()}\nLast lines of its output:\n"
                    f"{self.last_lines()}{self.kvm_note()}{self.stand_in_note}")
        if self.end == "halted":
            if self.cpu is not None and not self.cpu.interrupts_enabled:
                what = ("the CPU halted with interrupts disabled (hlt after cli): nothing can wake "
                        "it, so the run was stopped there.")
            else:
                what = (f"the CPU halted (hlt) to wait for an interrupt, and none came for "
                        f"{HALT_WINDOW:g} s, so the run was stopped there.")
            return (f"{what}{self.timer_note()}{self.cpu_note()}\nLast lines of its output:\n"
                    f"{self.last_lines()}{self.stand_in_note}")
        if self.end == "flood":
            return (f"stopped after {len(self.serial) >> 10} KiB of output, more than a run may "
                    f"print (a loop that prints?). Last lines:\n{self.last_lines()}")
        if self.end == "stopped":
            return (f"stopped once what it was booted for had been seen (the results of the tests "
                    f"asked for). Last lines:\n{self.last_lines()}")
        if self.end == "log-flood":
            return (f"stopped: QEMU's interrupt log grew past {QEMU_LOG_CAP >> 20} MiB (an "
                    f"exception or interrupt storm?). Last lines:\n{self.last_lines()}")
        if self.end == "memory":
            return (f"stopped: QEMU came to hold {mib(self.resident)} of the host's memory, more "
                    f"than a boot of a {self.mem} machine may. The host gives QEMU a page for each "
                    f"page of the machine's RAM the kernel writes to, and a graded boot may make it "
                    f"give {mib(RAM_TOUCH_CAP)} at most, so that no kernel runs the host out of "
                    f"memory. A correct kernel writes to a few dozen MiB of a large machine: does "
                    f"something write to every frame (a free list with a node in each 4 KiB "
                    f"frame, say)?\nLast lines of its output:\n{self.last_lines()}")
        if self.reset:
            if self.ended_from_gdb:
                return ("QEMU was ended from GDB (kill, or quit while attached): the kernel did "
                        "not crash.")
            return self.describe_reset()
        report = self.panic_report()
        if report:
            return "the kernel panicked:\n" + "\n".join("    " + l for l in report.splitlines())
        if self.status == 1 and self.stderr.strip():
            return f"QEMU stopped with an error: {self.stderr.strip()}" + self.kvm_note()
        if self.finished:
            return ""
        if self.status is not None and self.status < 0:
            try:
                name = signal.Signals(-self.status).name
            except ValueError:
                name = f"signal {-self.status}"
            said = "\n".join("    " + l for l in self.stderr.strip().splitlines()[-5:])
            return (f"QEMU itself crashed ({name}), so the kernel could not finish"
                    + (f"; QEMU said:\n{said}" if said else ".") + self.memory_note()
                    + self.kvm_note())
        return (f"QEMU exited with status {self.status}, which the kernel never uses (33: tests "
                f"passed, 35: a test failed, 37: panic). Last lines:\n{self.last_lines()}")

    def busy_note(self):
        if self.wall is None or self.ran is None or self.wall - self.ran < 1:
            return ""
        return (f" (That is {self.ran:.0f} s of running time: the machine was busy, and "
                f"{self.wall:.0f} s passed on the clock.)")

    def timer_note(self):
        """What QEMU's log says about a timer that stopped, if it did."""
        if not self.timer_irqs or self.timer_quiet is None or self.timer_quiet < 1:
            return ""
        n = self.timer_irqs
        said = (f" QEMU's log: timer interrupts stopped after {n} (IRQ 0 came {n} "
                f"time{'s' if n != 1 else ''}, then never again in the last "
                f"{self.timer_quiet:.0f} s).")
        if self.cpu is not None and not self.cpu.interrupts_enabled:
            return said + (" The CPU's interrupt flag is clear: interrupts were disabled and not "
                           "enabled again (a cli, or an irq_save without its irq_restore?).")
        return said + (" Is the EOI sent to the PIC for each one, before anything that may "
                       "switch threads (timer_interrupt)? Until it comes, the PIC holds IRQ 0 "
                       "back.")

    def cpu_note(self):
        """Where the CPU was when the run was stopped."""
        if self.cpu is None:
            return ""
        loc = symbols.locate_one(self.elf, self.cpu.rip) if self.elf else None
        how = []
        if self.end != "halted" and self.cpu.halted:
            how.append("halted")
        if self.end != "halted" or self.cpu.interrupts_enabled:
            how.append("interrupts " + ("enabled" if self.cpu.interrupts_enabled else "disabled"))
        text = (f"\nWhen it was stopped the CPU was at rip 0x{self.cpu.rip:x}"
                + (f", in {loc}" if loc and loc.known else "")
                + (f" ({', '.join(how)})" if how else "") + ".")
        src = loc.source_line() if loc and loc.known else None
        return text + (f"\n    {loc.where()}:  {src}" if src else "")

    def memory_note(self):
        """For a QEMU killed from outside: how much memory it held, if that was a lot."""
        if self.status != -signal.SIGKILL or self.resident < 1 << 30:
            return ""
        return (f"\nWhen last looked at, QEMU held {mib(self.resident)} of the host's memory, "
                f"for the RAM the kernel had written to: the host's out-of-memory killer may have "
                f"ended it.")

    def kvm_note(self):
        if "kvm" not in self.command:
            return ""
        return ("\nThis run used ACCEL=kvm, which does not work on every machine (nested "
                "virtualization, say): use the default, ACCEL=tcg.")

    def show_command(self):
        return " ".join(shlex.quote(c) for c in self.command)


# ---------------------------------------------------------------------------------------------
# Watching QEMU while it runs: how much of the machine it got, and whether the guest sleeps.

HALT_WINDOW = 2.0     # seconds with the guest halted and nothing arriving: a hang
HALT_BUSY_MAX = 0.05  # of that window, at most this share spent running or waiting to run
POLL_EVERY = 0.2      # seconds between looks at /proc and at QEMU's log
# QEMU writes the console a byte at a time, so a reader that wakes for whatever has arrived
# wakes a few thousand times a boot. Pausing this long after each read lets the output gather
# in the pipe instead (a pipe holds 64 KiB; QEMU waits while it is full): a dozen reads per
# boot of a tenth of a second, and about a fifth less CPU per boot for QEMU and the harness
# together. A run's end is seen at most this much later.
GATHER = 0.005
TIMER_VECTOR = 0x20   # IRQ 0, the PIT, through the PIC (PIC_VECTOR_BASE + IRQ_TIMER, kernel/pic.h)
_TIMER_IRQ = re.compile(rb": v=%02x e=[0-9a-f]{4} i=0 " % TIMER_VECTOR)


def _task_times(pid):
    """[(ns on a CPU, ns waiting for one)] for each thread of a process, from /proc; [] where
    the host keeps no such statistics."""
    times = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return times
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ran, waited = f.read().split()[:2]
            times.append((int(ran), int(waited)))
        except (OSError, ValueError):
            continue
    return times


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _resident(pid):
    """Bytes of the host's memory a process holds (its resident set), from /proc; 0 where
    there is no such file."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


class _Watch:
    """QEMU's process as the host's scheduler sees it, and QEMU's interrupt log as it grows.

    The run's clock is the time QEMU could use: wall-clock time less the longest time one of
    its threads (the vCPU's, on a busy machine) waited for a CPU. A timeout thus means the
    same on a loaded machine as on an idle one. The guest counts as halted when, for
    HALT_WINDOW seconds, QEMU neither ran nor waited to run (its vCPU thread sleeps in hlt),
    printed nothing and logged no interrupt: nothing is coming to wake it."""

    def __init__(self, pid, log_path, start):
        self.pid, self.log_path, self.start = pid, log_path, start
        self.log_read, self.log_pending = 0, b""
        self.timer_irqs, self.last_timer = 0, None  # how many, and when the last one came
        self.last_activity = start                  # output or a logged interrupt
        self.waited = 0.0                           # seconds QEMU waited for a CPU
        self.samples = []                           # (time, ns running or waiting to run)
        self.resident = 0                           # the most memory QEMU held, in bytes
        self.next_poll = start

    def elapsed(self, now):
        """Seconds of this run that QEMU could use."""
        return max(0.0, now - self.start - self.waited)

    def poll(self, now, output_grew=False):
        if output_grew:
            self.last_activity = now
        if now < self.next_poll:
            return
        self.next_poll = now + POLL_EVERY
        if self._read_log():
            self.last_activity = now
        self.resident = max(self.resident, _resident(self.pid))
        times = _task_times(self.pid)
        if times:
            self.waited = max(w for _, w in times) / 1e9
            self.samples.append((now, sum(r + w for r, w in times)))
            while len(self.samples) > 2 and self.samples[1][0] <= now - HALT_WINDOW:
                self.samples.pop(0)

    def _read_log(self):
        """Count the timer interrupts logged since the last look; True if the log grew."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_read)
                chunk = f.read(8 << 20)
        except OSError:
            return False
        if not chunk:
            return False
        self.log_read += len(chunk)
        data = self.log_pending + chunk
        cut = data.rfind(b"\n") + 1  # a line still being written is counted when it is whole
        self.log_pending = data[cut:]
        n = len(_TIMER_IRQ.findall(data, 0, cut))
        if n:
            self.timer_irqs += n
            self.last_timer = time.monotonic()
        return True

    def halted(self, now):
        """True if the guest has been halted, with nothing arriving, for HALT_WINDOW s."""
        if len(self.samples) < 2 or now - self.last_activity < HALT_WINDOW:
            return False
        (t0, busy0), (t1, busy1) = self.samples[0], self.samples[-1]
        return t1 - t0 >= HALT_WINDOW and busy1 - busy0 < HALT_BUSY_MAX * (t1 - t0) * 1e9


def boot(kernel_dir, name, append="", mem="128M", timeout=10.0, key=None, lap=None, until=None):
    """Boot kernel_dir/kernel.bin once and wait for it to end. Never raises for what the
    kernel does; a missing QEMU ends as "no-qemu". With key, the kernel gets it through
    fw_cfg to sign its results (attest.py). The timeout counts the time QEMU could run (see
    _Watch); a guest that halts with nothing left to wake it ends the run as "halted". With
    lap = (marker, n), the timeout starts again each time the console prints marker (bytes),
    up to n timeouts in all: a boot that runs n suites gives each of them the whole timeout,
    and a kernel printing the marker forever still ends. With until, a function of the console
    output so far, the run ends as "stopped" as soon as it returns True: nothing more is wanted
    of this boot. A kernel that makes QEMU hold more of the host's memory than resident_cap(mem)
    allows ends as "memory"."""
    kernel_dir = Path(kernel_dir)
    log_dir = kernel_dir / "runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    serial_path = log_dir / f"{name}.serial.log"
    qemu_log_path = log_dir / f"{name}.qemu.log"
    extra = attest.qemu_args(key) if key else []
    qmp_dir = Path(tempfile.mkdtemp(prefix="teachos-qmp-"))  # a socket's path must be short
    cmd = qemu_command(kernel_dir / "kernel.bin", mem, append, extra, log=qemu_log_path,
                       qmp=qmp_dir / "qmp")
    run = Run(name, cmd, kernel_dir / "kernel.elf", timeout, "exit", serial_path=serial_path,
              qemu_log_path=qemu_log_path, key=key, mem=str(mem))
    memory_cap = resident_cap(mem)
    (log_dir / f"{name}.cmd").write_text(run.show_command() + "\n")
    try:
        qemu_log_path.unlink()  # what a watch reads must be this run's
    except OSError:
        pass

    start = time.monotonic()
    try:
        proc = zygote.popen(cmd, qemu_env())
    except OSError as e:
        shutil.rmtree(qmp_dir, ignore_errors=True)
        run.end, run.stderr = "no-qemu", f"{QEMU}: {e.strerror}"
        return run

    watch = _Watch(proc.pid, qemu_log_path, start)
    serial, err = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, serial)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    open_streams = 2
    lap_start, laps_seen = 0.0, 0  # when the current lap began (in watch.elapsed's time)
    try:
        while open_streams:
            now = time.monotonic()
            used = watch.elapsed(now)
            left = min(timeout - (used - lap_start), timeout * (lap[1] if lap else 1) - used)
            if left <= 0:
                run.end = "timeout"
                break
            printed = False
            for ready, _ in sel.select(timeout=min(left, POLL_EVERY)):
                chunk = os.read(ready.fileobj.fileno(), 65536)
                if not chunk:
                    sel.unregister(ready.fileobj)
                    open_streams -= 1
                else:
                    ready.data.extend(chunk)
                    printed = True
            now = time.monotonic()
            watch.poll(now, printed)
            if until and printed and until(serial):
                run.end = "stopped"
                break
            if lap and printed and serial.find(lap[0], laps_seen) >= 0:
                laps_seen = serial.rfind(lap[0]) + len(lap[0])
                lap_start = watch.elapsed(now)
            if len(serial) > SERIAL_CAP:
                run.end = "flood"
                break
            if watch.log_read > QEMU_LOG_CAP:
                run.end = "log-flood"
                break
            if watch.resident > memory_cap:
                run.end = "memory"
                break
            if open_streams and watch.halted(now):
                run.cpu = cpu_state(qmp_dir / "qmp")
                if run.cpu is None or run.cpu.halted:
                    run.end = "halted"
                    break
                watch.last_activity = now  # it runs after all: look again later
            if printed:
                time.sleep(GATHER)
    finally:
        if run.end == "timeout" and proc.poll() is None:
            run.cpu = cpu_state(qmp_dir / "qmp")
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
        shutil.rmtree(qmp_dir, ignore_errors=True)
    end = time.monotonic()
    watch.poll(end + POLL_EVERY)  # the last of the log
    run.status = proc.returncode if run.end == "exit" else None
    run.serial = bytes(serial)
    run.stderr = err.decode("utf-8", errors="replace")
    run.wall, run.ran = end - start, watch.elapsed(end)
    run.timer_irqs = watch.timer_irqs
    run.resident = watch.resident
    run.timer_quiet = end - watch.last_timer if watch.last_timer is not None else None
    serial_path.write_bytes(run.serial)
    return run
