"""The make commands behave as the README says, including with bad input."""
import os
import socket
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


def test_bad_variables_are_refused_before_anything_runs():
    for var, said in (("SEED=12ab", "a seed is a whole number"), ("ACCEL=xen", "use tcg"),
                      ("JOBS=0", "the number of parallel boots"), ("BOOT_TIMEOUT=soon", "seconds per boot"),
                      ("CC=no-such-cc", "no such compiler")):
        p = make("grade", "LAB=1", var)
        assert p.returncode == 2 and f"{var}: {said}" in p.stderr, var + ": " + p.stdout + p.stderr
        assert "Traceback" not in p.stdout + p.stderr


def test_a_missing_hidden_directory_is_refused(tmp_path):
    # A typo in HIDDEN must not grade quietly without the hidden tests.
    p = make("grade", f"HIDDEN={tmp_path / 'hiden'}")
    assert p.returncode == 2 and "is not a hidden test directory" in p.stderr


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def test_gdb_stops_at_the_kernel_entry_with_symbols(labs):
    require_solutions(labs[0])
    # A port of this test's own: the per-user default may be in use by a `make qemu-gdb`.
    port = free_port()
    qemu = subprocess.Popen(["make", "--no-print-directory", "qemu-gdb", "LAB=1", "SOLUTIONS=all",
                             f"GDBPORT={port}"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_for_port(port, 120), "QEMU never opened its GDB port"
        gdb = subprocess.run(["gdb", "-q", "-nx", "-batch", "-x", ".gdbinit", "-ex", "info symbol $pc",
                              "-ex", "break kernel_main", "-ex", "continue", "-ex", "bt", "-ex", "kill"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        os.killpg(qemu.pid, 9)
        qemu.wait()
    assert "Breakpoint 1, _start () at" in gdb.stdout and "boot.S" in gdb.stdout, gdb.stdout + gdb.stderr
    assert "Breakpoint 2, kernel_main" in gdb.stdout and "in higher_half ()" in gdb.stdout


def test_gdb_port_in_use_says_how_to_pick_another(labs):
    require_solutions(labs[0])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = make("qemu-gdb", "LAB=1", "SOLUTIONS=all", f"GDBPORT={port}")
    assert r.returncode != 0
    assert f"GDB port {port} is already in use" in r.stderr, r.stdout + r.stderr
    assert "make qemu-gdb GDBPORT=" in r.stderr and "QEMU waits" not in r.stdout
