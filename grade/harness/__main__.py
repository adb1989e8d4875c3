"""`make qemu`, `make qemu-gdb` and `make gdb`: boot a kernel on the terminal, and attach GDB.

    python -m harness qemu --kernel build/01-boot-l [--append "ktest=idt"]
                           [--gdb PORT|auto --gdbinit .gdbinit] [--make "make qemu LAB=1"]
    python -m harness gdb --gdbinit .gdbinit

The console is the terminal (Ctrl-A X quits QEMU). Backtrace lines are shown with function
and file:line; when the run ends, the exit is explained as the grader would explain it. When
the input is a terminal, the kernel is told so (console.interactive on its command line): from
checkpoint 09 on, the tour then leaves the shell to the person at the keyboard. Input piped or
redirected in is not the keyboard, and is not read: at those checkpoints, make qemu says so.

With --gdb auto, QEMU waits for GDB on a port nobody uses (picked afresh, and said), and the
.gdbinit written for it tells `make gdb` where to attach: two users, or two checkouts, on one
machine never fight over a port.
"""
import argparse
import io
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

from . import build, qemu, summary, symbols
from .paths import ROOT, SOLUTIONS, env, rel

# The kernel's own reports, whose "at rip 0x..." the console shows with the function and line
# (as the grader does): a test's diagnostics and results, a panic. What lab code prints (an
# exception report of lab 01, say) is shown as it was printed.
KERNEL_REPORT = re.compile(r"^\s*(?:# |not ok |PANIC: )")

GDBINIT_TEMPLATE = ROOT / "tools" / "gdbinit.tmpl"
GDB_HELPERS = ROOT / "tools" / "gdb" / "teachos.py"
GDB_PORT_LINE = re.compile(r"^target remote 127\.0\.0\.1:(\d+)\s*$", re.MULTILINE)
PORT_ATTEMPTS = 5  # a port found free may be taken before QEMU binds it: then another


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on now, chosen by the system."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_gdb_port(port):
    """None if QEMU can listen on port, else what to do instead."""
    if port_is_free(port):
        return None
    return (f"GDB port {port} is already in use (another `make qemu-gdb` still running, "
            f"yours or another user's?). Stop it, or leave GDBPORT out: `make qemu-gdb` then "
            f"picks a free port itself and `make gdb` finds it.")


def write_gdbinit(path, kernel_dir, port):
    text = GDBINIT_TEMPLATE.read_text()
    text = (text.replace("@KERNEL@", str(Path(kernel_dir).resolve() / "kernel.elf"))
            .replace("@PORT@", str(port)).replace("@HELPERS@", str(GDB_HELPERS)))
    Path(path).write_text(text)


def _forward(stream, keep, out):
    """Copy what QEMU writes on stderr to the terminal as it comes, and keep it."""
    for line in iter(stream.readline, b""):
        keep.append(line)
        out.write(line)
        out.flush()


def run_interactive(kernel_dir, append, gdb_port=None, gdbinit=None, make_command=None,
                    keyboard=None, time_limit=None, out=None, err=None, variables=None):
    """Boot on the terminal and say how the run ended; the exit status for make.

    keyboard: whether someone can type (None: whether stdin is a terminal); without one,
    QEMU reads nothing. time_limit: seconds after which QEMU is killed (TimeoutError); None,
    as for a person at the terminal, waits for ever. out, err: binary streams for what the
    run prints (None: this process's stdout and stderr). variables: make's MEM, QEMUEXTRA,
    ACCEL and MACHINE for this run (None: the environment's)."""
    kernel_dir = Path(kernel_dir)
    streams = _Streams(out or sys.stdout.buffer, err or sys.stderr.buffer)
    if keyboard is None:
        keyboard = sys.stdin.isatty()
        if not keyboard and input_given(sys.stdin) and "ktest=" not in append:
            note = unread_input_note(kernel_dir, make_command)
            if note:
                streams.say(note, streams.err)
    attempts = 1
    if gdb_port == "auto":
        gdb_port, attempts = free_port(), PORT_ATTEMPTS
    elif gdb_port:
        gdb_port = int(gdb_port)
        why = check_gdb_port(gdb_port)
        if why:
            streams.say(why, streams.err)
            return 2
    for attempt in range(attempts):
        status, retry = _run_once(kernel_dir, append, gdb_port, gdbinit, make_command, keyboard,
                                  time_limit, streams, variables or {})
        if not retry or attempt == attempts - 1:
            return status
        gdb_port = free_port()
    return status


def input_given(stream):
    """True if stream is input someone gave on purpose: a pipe or a file (`<<<`, `<`, `|`),
    not a terminal, and not /dev/null or a closed stdin."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


# A kernel whose tour ends in a shell that reads the console (checkpoint 09 on): it has the
# console's input (kernel/layers/09-process/tty.c).
_SHELL_SYMBOL = "tty_start"


def unread_input_note(kernel_dir, make_command=None):
    """What to say when make qemu's input is a pipe or a file and the kernel's shell reads the
    console: that input is not read (only a terminal's is); None for a kernel without one."""
    if _SHELL_SYMBOL not in symbols.symbol_table(Path(kernel_dir) / "kernel.elf"):
        return None
    words = make_command.split() if make_command else []
    run = " ".join(words) if words[:2] == ["make", "qemu"] else "make qemu"
    return (f"make qemu: your input is not a terminal, so the kernel does not read it: the shell "
            f"at the end of the tour reads only what the tour types, and what was piped or "
            f"redirected in is left unread. To type commands to the shell, run `{run}` in a "
            f"terminal (handouts/09-process-2-kernel.md, \"init, the shell, and the console\").")


class _Streams:
    """Where a run's words go: out (the console, and what is said about the run) and err."""

    def __init__(self, out, err):
        self.out, self.err = out, err

    def say(self, text, stream=None):
        stream = stream or self.out
        stream.write(text.encode() + b"\n")
        stream.flush()


def _run_once(kernel_dir, append, gdb_port, gdbinit, make_command, keyboard, time_limit,
              streams, variables):
    """Boot once; (exit status, True if the GDB port was taken meanwhile and another may do)."""
    say = streams.say
    if gdb_port:
        if gdbinit:
            write_gdbinit(gdbinit, kernel_dir, gdb_port)
        say(f"QEMU waits for GDB on port {gdb_port}: run `make gdb` in another terminal "
            f"(it attaches to this port).")
    if keyboard:  # someone can type: the kernel may wait for them (checkpoint 09's shell)
        append = (append + " console.interactive").strip()
    log = kernel_dir / "runs" / "qemu-interactive.qemu.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    mem = variables.get("MEM") or env("MEM", "128M")
    too_little = qemu.too_little_memory(kernel_dir / "kernel.bin", mem)
    if too_little:
        say(too_little, streams.err)
        return 2, False
    cmd = qemu.qemu_command(kernel_dir / "kernel.bin", mem, append, log=log, interactive=True,
                            gdb_port=gdb_port, variables=variables)
    say("+ " + " ".join(cmd))
    try:
        proc = subprocess.Popen(cmd, stdin=None if keyboard else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=qemu.qemu_env())
    except OSError as e:
        say(f"cannot start QEMU: {e.strerror}", streams.err)
        return 1, False
    said = []
    forwarder = threading.Thread(target=_forward, args=(proc.stderr, said, streams.err), daemon=True)
    forwarder.start()
    killed = threading.Event()

    def kill():
        killed.set()
        proc.kill()
    limit = threading.Timer(time_limit, kill) if time_limit else None
    if limit:
        limit.start()
    elf = kernel_dir / "kernel.elf"
    out = streams.out
    pending = b""
    serial = bytearray()
    try:
        while True:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            serial += chunk
            pending += chunk
            # Whole lines get symbolized; a partial line waits for its end.
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode("utf-8", errors="replace")
                if symbols.BACKTRACE_LINE.match(text.rstrip("\r")):
                    line = symbols.symbolize_text(elf, text.rstrip("\r")).encode() + b"\r"
                elif KERNEL_REPORT.match(text) or make_command:
                    if KERNEL_REPORT.match(text):  # the kernel's report of a fault: where it was
                        text = symbols.symbolize_rips(elf, text)
                    line = (with_run_variables(text, make_command) if make_command else text).encode()
                out.write(line + b"\n")
            out.flush()
    except KeyboardInterrupt:
        proc.terminate()
    out.write(pending)
    out.flush()
    status = proc.wait()
    forwarder.join(timeout=2)
    if limit:
        limit.cancel()
        if killed.is_set():
            raise TimeoutError(f"QEMU did not end within {time_limit:g} s")
    stderr = b"".join(said).decode("utf-8", errors="replace")
    if gdb_port and status == 1 and not serial and "Address already in use" in stderr:
        say(f"[port {gdb_port} was taken just now: trying another]")
        return 1, True
    run = qemu.Run("interactive", cmd, elf, 0, "exit", status, bytes(serial), stderr=stderr,
                   qemu_log_path=log)
    if status == qemu.EXIT_SUCCESS:
        say("\n[the kernel finished and left QEMU]")
        return 0, False
    if status == qemu.EXIT_FAILURE:
        said, code = "[the kernel finished: some test failed]", 1
    elif status == 0:
        said, code = "[" + run.describe() + "]", (0 if run.ended_from_gdb else 1)
    elif status == qemu.EXIT_PANIC:
        said, code = "[the kernel panicked]", 1
    elif status < 0:
        said, code = "[" + run.describe() + "]", 1
    else:
        said, code = f"[QEMU exited with status {status}; console log not kept, QEMU's log: {rel(log)}]", status
    say("\n" + said)
    hint = earlier_labs_hint(kernel_dir, run, make_command) if code else None
    if hint:
        say(hint)
    return code, False


def earlier_labs_hint(kernel_dir, run, make_command=None):
    """What make grade says when the kernel stopped in an earlier lab's unfinished code (the
    starter of lab 01's boot.S, a TODO of lab 02 reached at boot, ...): finish it, or take the
    reference code this copy has, with the same make command and SOLUTIONS; None otherwise."""
    layers = summary.layers_of(kernel_dir)
    if not layers:
        return None
    current = max(layers)
    labs = summary.unfinished_earlier_labs([run.describe(), run.text], current, layers)
    if not labs:
        return None
    return summary.earlier_labs_note(labs, current, layers, rerun=make_command,
                                     doing="run this checkpoint")


def run_captured(kernel_dir, append="", variables=None, time_limit=300):
    """(exit status, stdout, stderr) of `make qemu` booting kernel_dir with nobody at the
    keyboard, in this process: the handouts' excerpts (tools/site/runs.py) quote dozens of
    such runs, two at a time in threads, and a Python started for each cost about 0.2 s of
    CPU. variables: MEM, QEMUEXTRA, ACCEL, MACHINE as make would pass them. TimeoutError
    after time_limit seconds."""
    out, err = io.BytesIO(), io.BytesIO()
    status = run_interactive(kernel_dir, append, keyboard=False, time_limit=time_limit, out=out,
                             err=err, variables=variables)
    return status, *(s.getvalue().decode("utf-8", errors="replace") for s in (out, err))


# A command the kernel suggests ("Try `make grade LAB=6`") gets the variables of the make
# command that booted it, so that it grades what was booted (SOLUTIONS=..., CC=clang, ...).
# But MEM and TEST: `make grade` boots the sizes its tests ask for, whatever MEM says, and
# runs every test. A variable the suggestion sets itself keeps its value, written as the make
# command wrote it when both name the same thing: the kernel's SOLUTIONS=1,2,3,4,5,6,7,8 is
# the student's SOLUTIONS=1-8.
_SUGGESTED = re.compile(r"`make ([a-z-]+)((?: [A-Z_]+=[^ `]*)*)`")
_NOT_FOR = {"grade": {"MEM", "TEST"}}  # TEST: make grade runs every test of its labs


def _solution_labs(value, lab):
    """The numbers of the labs up to lab that SOLUTIONS=value takes from solutions/, as make
    reads it (all: those this copy has); None if it is not a value make takes."""
    if value.strip() == "all":
        chosen = [d.name for d in SOLUTIONS.glob("[0-9][0-9]-*") if d.is_dir()]
    else:
        try:
            chosen = build.solution_labs(value, build.lab_dirs())
        except ValueError:
            return None
    return {int(name[:2]) for name in chosen if int(name[:2]) <= lab}


def _same_setting(name, own, given, lab):
    """True if a suggestion's own NAME=own builds what the run's NAME=given built."""
    if own == given:
        return True
    if name == "SOLUTIONS" and lab is not None:
        ours = _solution_labs(own, lab)
        return ours is not None and ours == _solution_labs(given, lab)
    if name == "CC":  # the kernel names the compiler alone: clang for /usr/bin/clang-16
        return own == os.path.basename(given.split()[-1]) if given.split() else False
    return False


def with_run_variables(text, make_command):
    """text with each `make target VAR=...` in it completed by the variables of
    make_command ("make qemu LAB=6 SOLUTIONS=1,2") that it does not set itself, and with
    those it sets to the same thing written as make_command writes them."""
    given = {}
    for word in shlex.split(make_command)[2:]:
        name, _, value = word.partition("=")
        given[name] = (value, f"{name}={shlex.quote(value)}" if value else word)

    def complete(m):
        own = m.group(2).split()
        lab = next((v.split("=", 1)[1] for v in own if v.startswith("LAB=")), None)
        lab = int(lab) if lab and lab.isdigit() else None
        said = []
        for v in own:
            name, _, value = v.partition("=")
            same = name in given and _same_setting(name, value, given[name][0], lab)
            said.append(given[name][1] if same else v)
        names = {v.split("=", 1)[0] for v in own} | _NOT_FOR.get(m.group(1), set())
        more = [word for name, (_, word) in given.items() if name not in names]
        return "`make " + " ".join([m.group(1), *said, *more]) + "`"
    return _SUGGESTED.sub(complete, text)


def run_gdb(gdbinit):
    """Attach GDB to the QEMU `make qemu-gdb` started, as its .gdbinit says."""
    path = Path(gdbinit)
    if not path.is_file():
        print("No .gdbinit yet: start `make qemu-gdb` first (in another terminal).", file=sys.stderr)
        return 2
    m = GDB_PORT_LINE.search(path.read_text())
    if m and port_is_free(int(m.group(1))):
        print(f"Nothing waits for GDB on port {m.group(1)}, where the last `make qemu-gdb` "
              f"listened: start `make qemu-gdb` again (in another terminal), then `make gdb`.",
              file=sys.stderr)
        return 2
    os.execvp("gdb", ["gdb", "-q", "-nx", "-x", str(path)])


def main():
    ap = argparse.ArgumentParser(prog="python -m harness")
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("qemu", help="boot a kernel on the terminal")
    q.add_argument("--kernel", required=True, help="build directory holding kernel.bin")
    q.add_argument("--append", default="", help="kernel command line")
    q.add_argument("--gdb", help="wait for GDB on this port, or on a free one (auto)")
    q.add_argument("--gdbinit", help="write GDB's commands for attaching here")
    q.add_argument("--make", help="the make command of this run, to complete the ones the "
                   "kernel suggests")
    g = sub.add_parser("gdb", help="attach GDB to the kernel `qemu --gdb` started")
    g.add_argument("--gdbinit", default=".gdbinit")
    args = ap.parse_args()
    if args.command == "qemu":
        if args.gdb and args.gdb != "auto" and not args.gdb.isdigit():
            print(f"GDBPORT={args.gdb}: a port is a number, such as 26000 (or leave GDBPORT "
                  f"out for a free one).", file=sys.stderr)
            return 2
        return run_interactive(args.kernel, args.append, args.gdb, args.gdbinit, args.make)
    if args.command == "gdb":
        return run_gdb(args.gdbinit)
    return 2


if __name__ == "__main__":
    sys.exit(main())
