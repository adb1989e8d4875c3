"""QEMU started once per process and forked for each boot (qemu_zygote.c says how and why).

A grading boots QEMU dozens of times, and `make test` about a thousand times. A third of a
short boot's CPU went to QEMU's dynamic linking and constructors, the same for every boot;
from the second boot of a process on, qemu.boot asks a zygote instead: QEMU stopped before its
main(), which forks a child for each boot that runs main() with that boot's arguments. The
child is a QEMU like any other to the harness: its pid, a process group of its own, stdout and
stderr on pipes, an exit status.

Where the zygote cannot be had (no C compiler to build its library, an unwritable build/, a
QEMU it does not work with, or QEMU_ZYGOTE=0), QEMU is started as before: the zygote saves
time and changes nothing else.
"""
import array
import atexit
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import threading
from pathlib import Path

from .paths import BUILD, env

SOURCE = Path(__file__).with_name("qemu_zygote.c")
_INT = struct.Struct("i")
REPLY_TIMEOUT = 30.0  # seconds for a fork's pid: a zygote that takes longer is given up
TITLE = 2000  # bytes of a child's command line that ps can show


def library():
    """The zygote library, built once per version of its source into build/zygote/; None if
    it cannot be built here."""
    try:
        digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
        lib = BUILD / "zygote" / f"qemu_zygote-{digest}.so"
        if lib.is_file():
            return lib
        lib.parent.mkdir(parents=True, exist_ok=True)
        tmp = lib.with_name(f"{lib.name}.{os.getpid()}.tmp")
        p = subprocess.run(["cc", "-O2", "-fPIC", "-shared", "-o", str(tmp), str(SOURCE), "-ldl"],
                           capture_output=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            tmp.unlink(missing_ok=True)
            return None
        os.replace(tmp, lib)  # whole or not at all, for a process building it beside us
        return lib
    except OSError:
        return None


class Child:
    """A QEMU forked by the zygote, with what the harness uses of a subprocess.Popen: pid,
    stdout, stderr, poll(), wait() and returncode."""

    def __init__(self, zygote, pid, stdout, stderr):
        self._zygote, self.pid, self.stdout, self.stderr = zygote, pid, stdout, stderr
        self.returncode = None

    def _ended(self, reply):
        if len(reply) == _INT.size:
            self.returncode = os.waitstatus_to_exitcode(_INT.unpack(reply)[0])
        else:  # the zygote is gone, and its children with it (PR_SET_PDEATHSIG)
            self.returncode = -9
            self._zygote.dead = True
        self._zygote.busy.release()
        return self.returncode

    def poll(self):
        if self.returncode is None:
            self._zygote.sock.setblocking(False)
            try:
                return self._ended(self._zygote.sock.recv(_INT.size))
            except BlockingIOError:
                return None
        return self.returncode

    def wait(self):
        if self.returncode is None:
            self._zygote.sock.setblocking(True)
            return self._ended(self._zygote.sock.recv(_INT.size))
        return self.returncode


class Zygote:
    """One QEMU zygote (the program qemu, in the environment environ); one child at a time."""

    def __init__(self, qemu, environ, lib):
        self.qemu, self.environ, self.dead, self.busy = qemu, environ, False, threading.Lock()
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # `--version`: should the library not take over, QEMU prints its version and exits
        # (the first request then finds the socket closed), rather than start a machine. The
        # last argument, padded, is where a child writes its own arguments, for ps to show.
        self.proc = subprocess.Popen(
            [qemu, "--version", "(zygote: grade/harness/zygote.py)".ljust(TITLE)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
            env={**environ, "LD_PRELOAD": str(lib), "TEACHOS_ZYGOTE_FD": str(theirs.fileno()),
                 "TEACHOS_ZYGOTE_PARENT": str(os.getpid())})
        theirs.close()

    def spawn(self, args, environ):
        """Fork a child that runs QEMU with args (argv[1:]) and environ here, stdin from
        /dev/null and stdout and stderr on pipes. None if the zygote is busy or gone."""
        if self.dead or not self.busy.acquire(blocking=False):
            return None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            fields = [os.getcwd(), str(len(args)), *args, *(f"{k}={v}" for k, v in environ.items())]
            request = b"".join(os.fsencode(f) + b"\0" for f in fields)
            self.sock.settimeout(REPLY_TIMEOUT)
            self.sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                           array.array("i", [null, out_w, err_w]))])
            reply = self.sock.recv(_INT.size)
        except OSError:  # a timeout too: then the zygote is not to be trusted again
            reply = b""
        finally:
            for fd in (null, out_w, err_w):
                os.close(fd)
        pid = _INT.unpack(reply)[0] if len(reply) == _INT.size else -1
        if pid <= 0:
            os.close(out_r)
            os.close(err_r)
            self.dead = self.dead or not reply
            self.busy.release()
            return None
        return Child(self, pid, os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0))

    def close(self):
        self.sock.close()  # the zygote's next read finds it closed, and it exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def is_qemu(program):
    """The path of program (a name looked up in PATH, or a path) if it is an ELF executable
    named qemu-system-*, as a zygote needs; else None (a script in QEMU's place, say)."""
    path = shutil.which(program)
    if not path or not Path(path).name.startswith("qemu-system-"):
        return None
    try:
        with open(path, "rb") as f:
            return path if f.read(4) == b"\x7fELF" else None
    except OSError:
        return None


def _before_main(environ):
    """What of environ a zygote's QEMU reads before main() (the dynamic linker, malloc and the
    constructors may read any of it): all but what pytest changes for each test."""
    return {k: v for k, v in environ.items() if k != "PYTEST_CURRENT_TEST"}


_zygote = None
_boots = 0
_no_library = False
_lock = threading.Lock()


def _close():
    global _zygote
    if _zygote is not None:
        _zygote.close()
        _zygote = None


atexit.register(_close)


def popen(cmd, environ):
    """Start QEMU (cmd, its environment environ) for a harness boot: stdin /dev/null, stdout
    and stderr piped, a session of its own. The first boot of a process starts QEMU itself;
    later ones fork it from this process's zygote, if it can have one."""
    global _zygote, _boots, _no_library
    with _lock:
        _boots += 1
        if _boots > 1 and env("QEMU_ZYGOTE", "1") != "0" and not _no_library:
            qemu = is_qemu(cmd[0])
            if _zygote is not None and (_zygote.dead or (_zygote.qemu, _zygote.environ) != (qemu, _before_main(environ))):
                _close()
            if _zygote is None and qemu:
                lib = library()
                _no_library = lib is None
                if lib:
                    _zygote = Zygote(qemu, _before_main(environ), lib)
        zygote = _zygote
    child = zygote.spawn(cmd[1:], environ) if zygote is not None else None
    if child is not None:
        return child
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=environ)
