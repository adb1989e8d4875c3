"""The make commands behave as the README says, including with bad input."""
import os
import subprocess
import time

from conftest import require_solutions, require_starters
from harness.paths import ROOT


def make(*args, timeout=300, env=None):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def test_unknown_lab_lists_the_labs(labs):
    p = make("qemu", "LAB=99")
    assert p.returncode == 2
    assert "Unknown LAB=99" in p.stderr and labs[0] in p.stderr


def test_bad_solutions_list_is_refused():
    p = make("grade", "SOLUTIONS=1,99")
    assert p.returncode == 2 and "no lab numbered 99" in p.stderr


def test_qemu_shows_the_tour(labs):
    require_solutions(labs[0])
    p = make("qemu", f"LAB={labs[0][:2]}", "SOLUTIONS=all")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "teachos: checkpoint" in p.stdout and "The tour of checkpoint" in p.stdout


def test_qemu_explains_a_starter_that_resets(labs):
    require_starters()
    p = make("qemu", "LAB=1")
    assert p.returncode != 0
    assert "the machine reset before reaching C" in p.stdout
    assert f"labs/{labs[0]}/" in p.stdout


def test_grade_exit_status_follows_the_result(labs):
    require_starters()
    require_solutions(labs[0])
    good = make("grade", "LAB=1", "SOLUTIONS=all")
    assert good.returncode == 0, good.stdout[-3000:]
    assert "total" in good.stdout and "points" in good.stdout
    bad = make("grade", "LAB=1")
    assert bad.returncode != 0
    assert "FAIL" in bad.stdout and "labs/01-boot/" in bad.stdout


def test_gdb_stops_at_the_kernel_entry_with_symbols(labs):
    require_solutions(labs[0])
    qemu = subprocess.Popen(["make", "--no-print-directory", "qemu-gdb", "LAB=1", "SOLUTIONS=all"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(200):  # the build may take a moment
            if (ROOT / ".gdbinit").exists() and b"waits for GDB" in (qemu.stdout.peek() if hasattr(qemu.stdout, "peek") else b""):
                break
            time.sleep(0.1)
        time.sleep(1)
        gdb = subprocess.run(["gdb", "-q", "-nx", "-batch", "-x", ".gdbinit", "-ex", "info symbol $pc",
                              "-ex", "break kernel_main", "-ex", "continue", "-ex", "bt 1", "-ex", "kill"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        os.killpg(qemu.pid, 9)
        qemu.wait()
    assert "_start" in gdb.stdout and "boot.S" in gdb.stdout, gdb.stdout + gdb.stderr
    assert "kernel_main" in gdb.stdout
