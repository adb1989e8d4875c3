"""QEMU forked from a zygote (grade/harness/zygote.py, qemu_zygote.c) boots as QEMU started
afresh does, in every way the harness looks at; the zygote goes when the process that started
it goes, taking its children along; and where no zygote can be had, QEMU starts as before."""
import os
import re
import subprocess
import textwrap
import time

import pytest

from conftest import PYTHON, require_solutions
from harness import build, qemu, zygote
from harness.paths import ROOT, SOLUTIONS


@pytest.fixture(scope="module")
def selftest_kernel(labs):
    require_solutions(labs[0])
    return build.kernel("selftest", 1, [SOLUTIONS / labs[0]], tests=[ROOT / "grade/selftest/ktests"])


@pytest.fixture
def fresh(monkeypatch):
    """This process's zygote state as if it had not booted yet; a zygote made here is closed."""
    monkeypatch.setattr(zygote, "_zygote", None)
    monkeypatch.setattr(zygote, "_boots", 0)
    monkeypatch.setattr(zygote, "_no_library", False)
    monkeypatch.delenv("QEMU_ZYGOTE", raising=False)
    forked = []
    spawn = zygote.Zygote.spawn

    def spy(self, args, environ):
        child = spawn(self, args, environ)
        forked.append(child)
        return child
    monkeypatch.setattr(zygote.Zygote, "spawn", spy)
    yield forked
    zygote._close()


def ktap(run):
    return [line.strip() for line in run.text.splitlines() if re.match(r"\s*(not )?ok \d", line)]


def test_a_forked_qemu_boots_as_a_started_one(selftest_kernel, fresh):
    append = "ktest=selftest misbehave=fail"
    started = qemu.boot(selftest_kernel, "zygote-first", append=append)  # a process's first boot
    assert not fresh, "the first boot of a process starts QEMU itself"
    forked = qemu.boot(selftest_kernel, "zygote-forked", append=append)
    assert len(fresh) == 1 and fresh[0] is not None, "the second boot did not come from the zygote"
    assert (forked.end, forked.status) == (started.end, started.status) == ("exit", qemu.EXIT_FAILURE)
    assert ktap(forked) == ktap(started) and any(t.startswith("not ok 2 second") for t in ktap(forked))
    assert forked.stderr == started.stderr

    # Stopped at its timeout: the same child is asked where the CPU was, then killed; the
    # zygote serves the next boot.
    zygote_pid = zygote._zygote.proc.pid
    hung = qemu.boot(selftest_kernel, "zygote-spin", append="ktest=selftest misbehave=spin", timeout=1)
    assert hung.end == "timeout" and "When it was stopped the CPU was at rip 0x" in hung.describe()
    assert fresh[-1].returncode is not None, "the child stopped at its timeout was not reaped"
    again = qemu.boot(selftest_kernel, "zygote-again", append="ktest=selftest")
    assert again.status == qemu.EXIT_SUCCESS and zygote._zygote.proc.pid == zygote_pid
    assert len(fresh) == 3


def test_without_a_zygote_qemu_starts_as_before(selftest_kernel, fresh, monkeypatch, tmp_path):
    # QEMU_ZYGOTE=0, a library that cannot be built, a script in QEMU's place: every boot
    # starts QEMU itself.
    monkeypatch.setenv("QEMU_ZYGOTE", "0")
    for name in ("off-1", "off-2"):
        assert qemu.boot(selftest_kernel, name, append="ktest=selftest").status == qemu.EXIT_SUCCESS
    monkeypatch.delenv("QEMU_ZYGOTE")
    monkeypatch.setattr(zygote, "library", lambda: None)
    assert qemu.boot(selftest_kernel, "nolib", append="ktest=selftest").status == qemu.EXIT_SUCCESS
    assert not fresh and zygote._zygote is None

    script = tmp_path / "qemu-system-x86_64"
    script.write_text("#!/bin/sh\nexec qemu-system-x86_64 \"$@\"\n")
    script.chmod(0o755)
    assert zygote.is_qemu(str(script)) is None
    assert zygote.is_qemu("qemu-system-x86_64") == subprocess.run(
        ["sh", "-c", "command -v qemu-system-x86_64"], capture_output=True, text=True).stdout.strip()


def test_the_library_leaves_other_programs_alone():
    lib = zygote.library()
    assert lib is not None, "the zygote library does not build (a C compiler is needed)"
    p = subprocess.run(["env"], capture_output=True, text=True, timeout=10,
                       env={"PATH": os.environ["PATH"], "LD_PRELOAD": str(lib), "TEACHOS_ZYGOTE_FD": "99"})
    assert p.returncode == 0 and "TEACHOS_ZYGOTE_FD=99" in p.stdout, p.stdout + p.stderr
    # QEMU started as a zygote is, should the library not take over: it prints its version.
    p = subprocess.run(["qemu-system-x86_64", "--version", "(zygote)".ljust(zygote.TITLE)],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "QEMU emulator version" in p.stdout, p.stdout + p.stderr


def gone(pid):
    """True once pid has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def shows(pid, words, seconds=20):
    """True once the command line ps shows for pid holds words (a forked child writes its
    own soon after the fork)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if words in f.read():
                return True
        time.sleep(0.05)
    return False


def wait_until_gone(pids, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(gone(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if not gone(p)]


BOOTER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, "grade")
    from harness import qemu, zygote
    kernel = sys.argv[1]
    qemu.boot(kernel, "zygote-life-1", append="ktest=selftest")
    qemu.boot(kernel, "zygote-life-2", append="ktest=selftest")
    print(zygote._zygote.proc.pid, flush=True)
    if sys.argv[2] == "hang":
        cmd = qemu.qemu_command(os.path.join(kernel, "kernel.bin"), append="ktest=selftest misbehave=spin")
        child = zygote.popen(cmd, qemu.qemu_env())
        print(child.pid, flush=True)
        time.sleep(600)
""")


@pytest.mark.parametrize("how", ["exit", "hang"])
def test_the_zygote_goes_with_its_process(selftest_kernel, how):
    environ = {k: v for k, v in os.environ.items() if k != "QEMU_ZYGOTE"}  # a zygote even so
    p = subprocess.Popen([PYTHON, "-c", BOOTER, str(selftest_kernel), how], cwd=ROOT, env=environ,
                         stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        pids = [int(p.stdout.readline())]
        if how == "hang":  # killed in the middle of a boot: its QEMU goes too
            pids.append(int(p.stdout.readline()))
            assert not gone(pids[1])
            assert shows(pids[1], b"misbehave=spin"), "ps does not show the child's own arguments"
            p.kill()
        assert p.wait(timeout=60) == (0 if how == "exit" else -9)
    finally:
        p.kill()
        p.wait()
    assert not wait_until_gone(pids), f"still running after their process ended: {pids}"
