"""`make qemu` and `make qemu-gdb`: boot a kernel on the terminal.

    python -m harness qemu --kernel build/01-boot-l [--append "ktest=idt"] [--gdb PORT]

The console is the terminal (Ctrl-A X quits QEMU). Backtrace lines are shown with function
and file:line; when the run ends, the exit is explained as the grader would explain it. When
the input is a terminal, the kernel is told so (console.interactive on its command line): from
checkpoint 09 on, the tour then leaves the shell to the person at the keyboard.
"""
import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

from . import qemu, symbols
from .paths import env, rel


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_gdb_port(port):
    """None if QEMU can listen on port, else what to do instead."""
    if port_is_free(port):
        return None
    spare = next((p for p in range(port + 1, port + 100) if port_is_free(p)), None)
    advice = f"`make qemu-gdb GDBPORT={spare}`, then `make gdb` as usual" if spare else \
        "`make qemu-gdb GDBPORT=<a free port>`"
    return (f"GDB port {port} is already in use (another `make qemu-gdb` still running, "
            f"yours or another user's?). Stop it, or use another port: {advice}.")


def run_interactive(kernel_dir, append, gdb_port):
    kernel_dir = Path(kernel_dir)
    why = gdb_port and check_gdb_port(gdb_port)
    if why:
        print(why, file=sys.stderr)
        return 2
    if gdb_port:
        print(f"QEMU waits for GDB on port {gdb_port}: run `make gdb` in another terminal.")
    if sys.stdin.isatty():  # someone can type: the kernel may wait for them (checkpoint 09's shell)
        append = (append + " console.interactive").strip()
    log = kernel_dir / "runs" / "qemu-interactive.qemu.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = qemu.qemu_command(kernel_dir / "kernel.bin", env("MEM", "128M"), append, log=log,
                            interactive=True, gdb_port=gdb_port)
    print("+ " + " ".join(cmd), flush=True)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    except OSError as e:
        print(f"cannot start QEMU: {e.strerror}", file=sys.stderr)
        return 1
    elf = kernel_dir / "kernel.elf"
    out = sys.stdout.buffer
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
                out.write(line + b"\n")
            out.flush()
    except KeyboardInterrupt:
        proc.terminate()
    out.write(pending)
    out.flush()
    status = proc.wait()
    run = qemu.Run("interactive", cmd, elf, 0, "exit", status, bytes(serial), qemu_log_path=log)
    if status == qemu.EXIT_SUCCESS:
        print("\n[the kernel finished and left QEMU]")
        return 0
    if status == qemu.EXIT_FAILURE:
        print("\n[the kernel finished: some test failed]")
        return 1
    if status == 0:
        print("\n[" + run.describe_reset() + "]")
        return 1
    if status == qemu.EXIT_PANIC:
        print("\n[the kernel panicked]")
        return 1
    if status < 0:
        print("\n[" + run.describe() + "]")
        return 1
    print(f"\n[QEMU exited with status {status}; console log not kept, QEMU's log: {rel(log)}]")
    return status


def main():
    ap = argparse.ArgumentParser(prog="python -m harness")
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("qemu", help="boot a kernel on the terminal")
    q.add_argument("--kernel", required=True, help="build directory holding kernel.bin")
    q.add_argument("--append", default="", help="kernel command line")
    q.add_argument("--gdb", type=int, help="wait for GDB on this port")
    args = ap.parse_args()
    if args.command == "qemu":
        return run_interactive(args.kernel, args.append, args.gdb)
    return 2


if __name__ == "__main__":
    sys.exit(main())
