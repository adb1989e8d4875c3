"""The make commands behave as the README says, including with bad input."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import chdir
from pathlib import Path

from conftest import require_solutions, require_starters
from harness import __main__ as harness_main, build
from harness.paths import ROOT


CCACHE_BIN = Path("/usr/lib/ccache")  # Debian's ccache: gcc and clang that go through it


def quiet_env(more=None):
    """The environment for a make run of its own: none of the variables of a `make test`
    around it (MAKEFLAGS would pass on its LAB=, SOLUTIONS=, ...), and its compilers through
    the cache the other tests' builds fill (build.py), so that what they compiled is not
    compiled again."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(build.ccache_env())
    if (CCACHE_BIN / "gcc").exists():
        env["PATH"] = f"{CCACHE_BIN}:{env.get('PATH', '')}"
    return {**env, **(more or {})}


def make(*args, timeout=300, env=None):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=quiet_env(env))


def test_make_test_runs_some_tests_with_the_right_python(tmp_path):
    # TESTS names some of the tests as pytest does; make runs them with the system's python3,
    # even when another python3, without pytest, comes first on the PATH.
    (tmp_path / "python3").write_text("#!/bin/sh\necho 'No module named pytest' >&2\nexit 1\n")
    (tmp_path / "python3").chmod(0o755)
    # (An expression with spaces, in quotes of its own, as the README shows.)
    p = make("test", "TESTS=grade/selftest/test_harness.py -k 'ktap_parser or within_a_step'",
             "JOBS=1", env={"PATH": f"{tmp_path}:{os.environ.get('PATH', '')}"})
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert re.search(r"\b3 passed\b", p.stdout), p.stdout[-1000:]


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
                      ("BOOT_TIMEOUT=0.0", "seconds per boot, more than 0"),
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
    # The command the tour suggests grades what was booted: it repeats the run's variables.
    assert "Try `make grade LAB=1 SOLUTIONS=all`" in p.stdout, p.stdout[-500:]


def test_qemu_names_where_the_kernel_reports_a_fault(labs):
    # The console shows the kernel's own reports with the function and line of each rip, as
    # the grader does; the report lab 01 prints (EXCEPTION: ...) stays as it was printed.
    require_solutions(labs[0])
    p = make("qemu", f"LAB={labs[0][:2]}", "SOLUTIONS=all", "QEMUEXTRA=-append scenario=page_fault")
    lines = p.stdout.splitlines()
    panic = next((l for l in lines if l.startswith("PANIC: unhandled exception #PF")), "")
    assert "(in ktest_scenario_fn_page_fault (grade/ktests/01-boot/scenarios_ktest.c:" in panic, p.stdout
    report = next((l for l in lines if l.startswith("EXCEPTION: vector 14")), "")
    assert " at rip 0x" in report and "(in " not in report, p.stdout


def test_qemu_says_when_the_shell_does_not_read_what_was_piped_in(labs):
    # make qemu reads the keyboard only from a terminal: text piped in is not the shell's
    # input. At the checkpoint whose tour ends in a shell, it says so, with what to do.
    lab = labs[-1]
    require_solutions(lab)
    run = ["make", "--no-print-directory", "qemu", f"LAB={int(lab[:2])}", "SOLUTIONS=all"]
    p = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=300,
                       input="echo hi\nexit 4\n", env=quiet_env())
    assert p.returncode == 0, p.stdout[-1000:] + p.stderr[-1000:]
    assert "your input is not a terminal, so the kernel does not read it" in p.stderr, p.stderr
    assert f"run `make qemu LAB={int(lab[:2])} SOLUTIONS=all` in a terminal" in p.stderr, p.stderr
    assert "$ echo hi" not in p.stdout
    # Not when nothing was given (/dev/null), nor at a checkpoint without the shell.
    assert "not a terminal" not in make("qemu", f"LAB={int(lab[:2])}", "SOLUTIONS=all").stderr
    earlier = labs[-2]
    require_solutions(earlier)
    p = subprocess.run([*run[:3], f"LAB={int(earlier[:2])}", "SOLUTIONS=all"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, input="x\n", env=quiet_env())
    assert p.returncode == 0 and "not a terminal" not in p.stderr, p.stderr[-1000:]


def test_qemu_explains_a_starter_that_resets(labs):
    require_starters()
    p = make("qemu", "LAB=1")
    assert p.returncode != 0
    assert "the machine reset before reaching C" in p.stdout
    assert f"labs/{labs[0]}/" in p.stdout
    # The handouts' runs (tools/site/runs.py) boot through the same code in their own
    # process: they print what make printed, from its command line on.
    with chdir(ROOT):
        status, out, err = harness_main.run_captured(f"build/{labs[0]}-l")
    assert status == 1 and out == p.stdout[p.stdout.index("+ qemu-system"):], out


def test_qemu_says_how_to_run_on_the_earlier_labs_reference_code(labs):
    # Checkpoint 02 with lab 01 still the starter stops in boot.S: make qemu says so, as make
    # grade does, with its own command and the solutions this copy has.
    require_starters()
    require_solutions(labs[0])
    p = make("qemu", f"LAB={labs[1][:2]}", "TEST=memmap")
    assert p.returncode != 0
    assert f"The kernel stopped in unfinished code of an earlier lab: labs/{labs[0]}/" in p.stdout, p.stdout
    assert f"`make qemu LAB={int(labs[1][:2])} TEST=memmap SOLUTIONS=1`" in p.stdout, p.stdout


def test_grade_exit_status_follows_the_result(labs):
    require_starters()
    require_solutions(labs[0])
    runs = ROOT / "build" / f"{labs[0]}-s" / "runs"
    shutil.rmtree(runs, ignore_errors=True)  # only this run's logs
    # In parallel, as on a student's machine (the selftests' own gradings boot one at a time).
    good = make("grade", "LAB=1", "SOLUTIONS=1", "JOBS=2")
    assert good.returncode == 0, good.stdout[-3000:]
    assert "total" in good.stdout and "points" in good.stdout
    assert "on 2 cores" in good.stdout
    # One seed for the whole run, drawn once: every boot, in either worker, used the one the
    # grade prints, and the command it gives to replay it repeats LAB and SOLUTIONS.
    m = re.search(r"^seed (\d+) \(`make grade LAB=1 SOLUTIONS=1 SEED=\1` replays this run\)",
                  good.stdout, re.MULTILINE)
    assert m, good.stdout[-800:]
    seeds = {line for f in runs.glob("*.serial.log")
             for line in f.read_text(errors="replace").splitlines() if line.startswith("# ktest seed:")}
    assert seeds == {f"# ktest seed: {m[1]}"}, seeds
    bad = make("grade", "LAB=1")
    assert bad.returncode != 0
    assert "FAIL" in bad.stdout and "labs/01-boot/" in bad.stdout


def test_solutions_takes_ranges_and_errors_fit_the_copy(labs, tmp_path):
    require_solutions(*labs)
    assert make("check-lab", "SOLUTIONS=1-3,5").returncode == 0
    p = make("check-lab", "SOLUTIONS=3-1")
    assert p.returncode == 2 and "the range 3-1 runs backwards" in p.stderr, p.stderr
    p = make("check-lab", "SOLUTIONS=1-x")
    assert p.returncode == 2 and "is not a lab number or a range" in p.stderr, p.stderr
    # A students' copy with no solutions: all means none, a number says what the copy has.
    sys.path.insert(0, str(ROOT / "tools"))
    from instructor import release
    copy = tmp_path / "copy"
    release.write_release(copy, [])
    run = subprocess.run(["make", "--no-print-directory", "-C", str(copy), "check-lab",
                          "SOLUTIONS=all"], capture_output=True, text=True, env=quiet_env())
    assert run.returncode == 0, run.stderr
    run = subprocess.run(["make", "--no-print-directory", "-C", str(copy), "check-lab",
                          f"SOLUTIONS=1-{len(labs) - 1}"], capture_output=True, text=True,
                         env=quiet_env())
    assert run.returncode == 2 and "is not part of this copy of the course" in run.stderr
    assert "This copy of the course has no solutions: leave SOLUTIONS out" in run.stderr, run.stderr
    assert "SOLUTIONS=all or" not in run.stderr


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


def _waiting_port(proc, seconds):
    """The port `make qemu-gdb` says QEMU waits on, read from its output as it comes."""
    deadline = time.monotonic() + seconds
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.match(r"QEMU waits for GDB on port (\d+)", line)
        if m:
            return int(m.group(1)), lines
    return None, lines


def test_gdb_attaches_unwinds_traps_and_shows_the_kernels_state(labs):
    require_solutions(*labs)
    last = labs[-1][:2]
    # No GDBPORT: make qemu-gdb picks a free port, says which, and .gdbinit tells GDB.
    qemu = subprocess.Popen(["make", "--no-print-directory", "qemu-gdb", f"LAB={last}",
                             "SOLUTIONS=all", "TEST=preempt"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True, env=quiet_env())
    try:
        port, said = _waiting_port(qemu, 300)
        assert port, "make qemu-gdb never said its port:\n" + "".join(said[-20:])
        assert f"target remote 127.0.0.1:{port}" in (ROOT / ".gdbinit").read_text()
        assert wait_for_port(port, 60), "QEMU never opened its GDB port"
        gdb = subprocess.run(
            ["gdb", "-q", "-nx", "-batch", "-x", ".gdbinit", "-ex", "info symbol $pc",
             "-ex", "break kernel_main", "-ex", "continue", "-ex", "bt", "-ex", "kthreads",
             "-ex", "break spin", "-ex", "continue", "-ex", "delete",
             "-ex", "break thread_tick", "-ex", "continue", "-ex", "bt",
             "-ex", "kthreads", "-ex", "runqueue", "-ex", "heapfree", "-ex", "buddyfree",
             "-ex", "kill"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        rest, _ = qemu.communicate(timeout=60)
    finally:
        if qemu.poll() is None:
            os.killpg(qemu.pid, 9)
        qemu.wait()
    out = gdb.stdout
    assert "Breakpoint 1, _start () at" in out and "boot.S" in out, out + gdb.stderr
    assert "thread_init has not run yet" in out, out
    assert "Breakpoint 2, kernel_main" in out and "in higher_half ()" in out, out
    # In the timer interrupt: bt goes through the trap frame into the preempted thread.
    trap = out[out.index("Breakpoint 4, thread_tick"):]
    # (Between the timer's handler and trap_dispatch: a layer's wrapper, as 08's user_timer.
    # Between the trap and spin: what spin was calling when the tick came, as deep as
    # read_rflags, inlined in irq_save, in pit_read_count, in tick_deadline_passed. GDB writes
    # "0x... in spin (" for the interrupted frame, or "spin (" when the interrupt came at the
    # start of one of its lines.)
    assert re.search(r"timer_interrupt .*\n(#\d+ .*\n){0,2}.*trap_dispatch .*\n.*<signal handler called>\n"
                     r"(#\d+ .*\n){0,6}#\d+ +(0x[0-9a-f]+ in )?spin \(", trap), trap
    assert re.search(r"\* 0x[0-9a-f]+ 'spin-[ab]' RUNNING", trap), trap
    assert re.search(r"  0x[0-9a-f]+ 'main' BLOCKED; the boot stack\n.*#0 .* switch_to", trap), trap
    assert "'idle'" in trap and "run queue: 1 thread" in trap, trap
    assert "kmalloc runs on" in trap and "the fallback list heap" in trap, trap
    assert re.search(r"region 1: frames .* free\n  order", trap), trap
    # GDB's kill ends QEMU: said as such, not as a triple fault.
    assert "QEMU was ended from GDB" in rest and "triple fault" not in rest, rest


def test_gdb_port_in_use_says_how_to_pick_another(labs):
    require_solutions(*labs)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The kernel the test above debugs: built once for both.
        r = make("qemu-gdb", f"LAB={labs[-1][:2]}", "SOLUTIONS=all", f"GDBPORT={port}")
    assert r.returncode != 0
    assert f"GDB port {port} is already in use" in r.stderr, r.stdout + r.stderr
    assert "leave GDBPORT out" in r.stderr and "QEMU waits" not in r.stdout
