"""The grading harness classifies every way a kernel can go wrong, in words.

A purpose-built suite (grade/selftest/ktests/selftest_ktest.c) misbehaves on request in its
second test; the harness must name what happened, pin it to that test, and still give the
first test its result.
"""
import fcntl
import os
import re
import subprocess
import sys

import pytest

from conftest import PYTHON, require_solutions, require_starters
from harness import build, grading, ktap, qemu, summary, symbols
from harness.manifest import KCase
from harness.paths import LABS, ROOT, SOLUTIONS

CASES = [KCase("01-boot", "selftest", name, 1, "grade/selftest/ktests/selftest_ktest.c", 0, False)
         for name in ("first", "second", "third", "fourth")]  # "fourth" is not in the kernel


@pytest.fixture(scope="module")
def selftest_kernel(labs):
    require_solutions(labs[0])
    return build.kernel("selftest", 1, [SOLUTIONS / labs[0]],
                        tests=[ROOT / "grade/selftest/ktests"])


def test_the_symbol_table_is_what_nm_lists(selftest_kernel):
    """symbols.symbol_table reads the ELF file itself: the names and addresses nm gives, the
    later of two symbols of one name (two files' statics) included."""
    listed = subprocess.run(["nm", str(selftest_kernel / "kernel.elf")], capture_output=True,
                            text=True, check=True).stdout
    nm = {}
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) == 3:
            nm[parts[2]] = int(parts[0], 16)
    table = symbols.symbol_table(selftest_kernel / "kernel.elf")
    assert table == nm, sorted(set(table.items()) ^ set(nm.items()))[:10]
    assert "kernel_main" in table and "ktest_main" in table


def test_a_fault_in_a_message_is_placed_in_the_source(selftest_kernel):
    """A test's message that says where the kernel faulted ("at rip 0x...") also says in which
    function and line; a user program's address is left as it is."""
    elf = selftest_kernel / "kernel.elf"
    at = symbols.symbol_table(elf)["kernel_main"]
    text = (f"#PF page fault at rip 0x{at:016x}: reading address 0x0 (error 0x0)\n"
            f"user: #PF at rip 0x0000000000401000")
    said = symbols.symbolize_rips(elf, text)
    assert f"at rip 0x{at:016x} (in kernel_main (kernel/main.c:" in said, said
    assert said.endswith("at rip 0x0000000000401000"), said
    assert symbols.symbolize_rips(elf, said) == said  # once is enough


def verdicts(kernel_dir, misbehave="", timeout=30.0):
    """What the harness says about each of the four tests: None for a pass, else the message."""
    k = grading.KernelUnderTest(kernel_dir, seed=1, timeout=timeout,
                                append=f"misbehave={misbehave}" if misbehave else "",
                                tag=f"-{misbehave or 'none'}")
    out = {}
    for c in CASES:
        try:
            grading.judge_case(k, c, CASES)
            out[c.name] = None
        except pytest.fail.Exception as e:
            out[c.name] = str(e)
    return out


def test_well_behaved_suite_and_an_omitted_test(selftest_kernel):
    v = verdicts(selftest_kernel)
    assert v["first"] is None and v["second"] is None and v["third"] is None
    assert "no result for this test although the kernel finished" in v["fourth"]


def test_failed_expectation_names_file_line_and_values(selftest_kernel):
    v = verdicts(selftest_kernel, "fail")
    assert v["first"] is None and v["third"] is None
    assert "grade/selftest/ktests/selftest_ktest.c:" in v["second"]
    # A literal's value is its text: "and 5 = 5 (0x5)" would say nothing.
    assert "expected 2 + 2 == 5, but 2 + 2 = 4 (0x4)" in v["second"], v["second"]
    assert "5 = 5" not in v["second"], v["second"]


def test_addresses_in_failures_print_in_hex(selftest_kernel):
    run = qemu.boot(selftest_kernel, "fail-addresses", append="ktest=selftest misbehave=fail_addresses")
    text = run.text
    assert "but kernel_address = 0xffffffff80100000\n" in text, text
    # As the test wrote it (NULL), not as the preprocessor expands it (((void *)0)).
    assert "expected p == NULL, but p = 0xffffffff80100000\n" in text, text
    assert "but -1 = -1 (0xffffffffffffffff)\n" in text, text
    assert "-2146435072" not in text


def test_an_endless_loop_is_a_timeout_pinned_to_the_test(selftest_kernel):
    v = verdicts(selftest_kernel, "spin", timeout=1)
    assert v["first"] is None
    assert "timed out after 1 s" in v["second"] and "during this test" in v["second"]
    # Where it was stopped, from QEMU's monitor: the loop in the test, interrupts off.
    assert "When it was stopped the CPU was at rip 0x" in v["second"]
    assert "ktest_fn_selftest_second (grade/selftest/ktests/selftest_ktest.c:" in v["second"]
    assert "interrupts disabled" in v["second"]
    assert "during test selftest.second (the first without a result)" in v["third"]


def test_a_halt_with_nothing_to_wake_it_ends_at_once(selftest_kernel):
    # cli; hlt: QEMU sleeps, so no timeout would come soon; the halt itself ends the run.
    v = verdicts(selftest_kernel, "hang", timeout=60)
    assert v["first"] is None
    assert "the CPU halted with interrupts disabled (hlt after cli)" in v["second"], v["second"]
    assert "during this test" in v["second"]


def test_a_busy_machine_does_not_shorten_a_timeout(selftest_kernel):
    # QEMU's running time is what counts: a boot that waits for the CPU gets its time back.
    # Two spinning processes per CPU make QEMU wait; the loop still gets its 1 s of running.
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(2 * (os.cpu_count() or 1))]
    try:
        run = qemu.boot(selftest_kernel, "busy-spin", append="ktest=selftest misbehave=spin",
                        timeout=1)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert run.end == "timeout"
    assert run.ran >= 1 and run.wall > run.ran, (run.wall, run.ran)
    assert "ktest_fn_selftest_second" in run.describe()


def test_triple_fault_is_a_reset_with_qemus_record(selftest_kernel):
    v = verdicts(selftest_kernel, "triple_fault")
    assert v["first"] is None
    msg = v["second"]
    assert "the machine reset after the kernel started" in msg
    assert "#BP breakpoint (vector 3" in msg and "selftest_ktest.c" in msg
    assert "#GP general protection, #DF double fault, then the reset" in msg


def test_panic_inside_a_test_fails_only_that_test(selftest_kernel):
    v = verdicts(selftest_kernel, "panic")
    assert v["first"] is None and v["third"] is None
    assert "panic: selftest: a deliberate panic" in v["second"]
    # where from: the frames the kernel kept before it jumped back to the test runner
    assert "called from:\n" in v["second"], v["second"]
    assert "#0 0x" in v["second"] and "ktest_fn_selftest_second (grade/selftest/ktests/selftest_ktest.c:" \
        in v["second"], v["second"]


def test_a_fault_inside_a_test_is_traced_back_to_the_test(selftest_kernel):
    v = verdicts(selftest_kernel, "unmapped_read")
    assert v["first"] is None and v["third"] is None
    msg = v["second"]
    assert "#PF page fault at rip 0x" in msg and "reading address 0x10000000040" in msg, msg
    assert "(in read_unmapped_field (grade/selftest/ktests/selftest_ktest.c:" in msg, msg
    assert "called from:\n" in msg and "ktest_fn_selftest_second (grade/selftest/ktests/selftest_ktest.c:" \
        in msg.split("called from:")[1], msg


def test_an_exception_from_ring_3_that_reaches_the_kernels_panic_says_so(selftest_kernel):
    # Lab 08's user_fault passing a program's fault on (a wrong test of CS): the panic must
    # say that the fault came from ring 3, not look like a kernel bug at a user address.
    v = verdicts(selftest_kernel, "ring3_exception")
    assert "unhandled exception #UD invalid opcode at rip 0x401000, from ring 3" in v["second"], v["second"]
    assert "passed on as if it were the kernel's" in v["second"], v["second"]


def test_kernel_panic_is_shown_with_a_symbolized_backtrace(selftest_kernel):
    run = qemu.boot(selftest_kernel, "kernel-panic", append="scenario=kernel_panic", timeout=5)
    assert run.status == qemu.EXIT_PANIC
    msg = run.describe()
    assert "the kernel panicked" in msg and "PANIC: selftest: a deliberate panic" in msg
    assert "ktest_scenario_fn_kernel_panic (grade/selftest/ktests/selftest_ktest.c:" in msg
    assert "kernel_main (kernel/main.c:" in msg


def test_flood_is_cut_off(selftest_kernel, monkeypatch):
    # The cap, not the time, ends a flood: a smaller cap and no deadline worth the name keep
    # the test as quick on a slow machine as on a fast one.
    monkeypatch.setattr(qemu, "SERIAL_CAP", 64 << 10)
    v = verdicts(selftest_kernel, "flood", timeout=120)
    assert v["first"] is None
    assert "KiB of output, more than a run may print" in v["second"]
    assert "flooding the serial port" in v["second"]


def test_a_kernel_that_writes_to_much_of_a_large_machine_is_stopped(selftest_kernel, monkeypatch):
    """The host backs each page of the guest's RAM the kernel writes to: a boot may make it
    back RAM_TOUCH_CAP at most. Here the cap is 32 MiB and the kernel writes to 496 MiB of a
    512 MiB machine, then halts: the cap ends the run, while the kernel writes or once it has
    halted (a halt is seen only after two seconds)."""
    monkeypatch.setattr(qemu, "RAM_TOUCH_CAP", 32 << 20)
    run = qemu.boot(selftest_kernel, "write-ram-capped", append="ktest=selftest misbehave=write_ram",
                    mem="512M", timeout=120)
    assert run.end == "memory", (run.end, run.describe())
    assert run.resident > qemu.resident_cap("512M") == (32 << 20) + qemu.QEMU_OWN
    text = run.describe()
    assert "more than a boot of a 512M machine may" in text and "32 MiB at most" in text, text
    assert "Last lines of its output:" in text and "# Subtest: selftest" in text, text


def test_a_machine_no_larger_than_the_cap_may_be_written_to_in_full(selftest_kernel):
    """With the real cap, a kernel may write to all of a 256 MiB machine: the run ends as the
    kernel ends it (here, halted with interrupts off), not at the cap."""
    run = qemu.boot(selftest_kernel, "write-ram", append="ktest=selftest misbehave=write_ram",
                    mem="256M", timeout=120)
    assert run.end == "halted", (run.end, run.describe())
    assert "selftest: wrote to 61440 pages of RAM" in run.text, run.text[-800:]
    assert run.resident > 240 << 20, run.resident


def test_sizes_are_read_as_qemu_reads_them():
    assert [qemu.ram_bytes(m) for m in ("128", "128M", "4096M", "4G", "16g", "512K", "x")] == \
        [128 << 20, 128 << 20, 4 << 30, 4 << 30, 16 << 30, 512 << 10, None]
    assert qemu.resident_cap("128M") == (128 << 20) + qemu.QEMU_OWN
    assert qemu.resident_cap("16G") == qemu.RAM_TOUCH_CAP + qemu.QEMU_OWN


def test_a_machine_too_small_for_the_kernel_is_said_before_qemu_starts(selftest_kernel):
    # QEMU loads what fits of a kernel larger than the machine, which then runs into nothing:
    # with MEM=1M `make qemu` hung without a word, with a little less than the kernel it reset.
    from harness import __main__ as harness_main
    end = qemu.image_end(selftest_kernel / "kernel.bin")
    assert end and (1 << 20) < end < (64 << 20), hex(end or 0)
    status, out, err = harness_main.run_captured(selftest_kernel, "", {"MEM": "1M"}, time_limit=60)
    assert status == 2 and "MEM=1M is too small for this kernel" in err, out + err
    assert "+ qemu-system" not in out, out  # said before QEMU is started
    small = f"{(end >> 20) + 1}M"  # the least whole MiB above the kernel's end
    assert qemu.too_little_memory(selftest_kernel / "kernel.bin", small) is None
    assert qemu.too_little_memory(selftest_kernel / "kernel.bin", f"{end >> 20}M")


def test_a_qemu_killed_while_holding_much_memory_says_so():
    run = qemu.Run("oom", ["qemu-system-x86_64", "-accel", "tcg"], None, 10, "exit", -9,
                   resident=3 << 30)
    assert "out-of-memory killer" in run.describe() and "3072 MiB" in run.describe()
    run = qemu.Run("killed", ["qemu-system-x86_64", "-accel", "tcg"], None, 10, "exit", -9,
                   resident=60 << 20)
    assert run.describe() == "QEMU itself crashed (SIGKILL), so the kernel could not finish."


def test_invalid_utf8_does_not_break_the_reading(selftest_kernel):
    v = verdicts(selftest_kernel, "bad_utf8")
    assert v["first"] is None and v["second"] is None and v["third"] is None
    run = qemu.boot(selftest_kernel, "bad-utf8", append="ktest=selftest misbehave=bad_utf8")
    assert "\ufffd" in run.text


def test_wrong_exit_code(selftest_kernel):
    v = verdicts(selftest_kernel, "exit_code")
    assert v["first"] is None
    assert "QEMU exited with status 11, which the kernel never uses" in v["second"]


# --- suites booted together (grading.py's batches) ---------------------------------------------

NEXT = KCase("01-boot", "selftest_next", "only", 1, "grade/selftest/ktests/selftest_ktest.c", 0, False)


def batched(kernel_dir, misbehave, timeout=10.0, first="selftest"):
    """A KernelUnderTest that boots "selftest" and "selftest_next" together, first the one
    named first, and the verdict for each of the four tests: None for a pass, else the
    message."""
    suites = {"selftest": ["first", "second", "third"], "selftest_next": ["only"]}
    tests = {s: suites[s] for s in sorted(suites, key=lambda s: s != first)}
    for old in (kernel_dir / "runs").glob(f"*-{misbehave}-{first}.*"):  # of an earlier run
        old.unlink()
    k = grading.KernelUnderTest(kernel_dir, seed=1, timeout=timeout, tag=f"-{misbehave}-{first}",
                                append=f"misbehave={misbehave}",
                                batches={s: ("batch-selftest", tests) for s in tests})
    out = {}
    for c in CASES[:3] + [NEXT]:
        try:
            grading.judge_case(k, c, CASES[:3] if c.suite == "selftest" else [NEXT])
            out[c.id] = None
        except pytest.fail.Exception as e:
            out[c.id] = str(e)
    return k, out


def boot_logs(kernel_dir, tag):
    return sorted(p.name.removesuffix(".serial.log") for p in (kernel_dir / "runs").glob(f"*{tag}.serial.log"))


def test_a_batch_keeps_what_passed_and_boots_a_failed_suite_alone(selftest_kernel):
    k, v = batched(selftest_kernel, "fail", first="selftest_next")
    assert v["selftest.first"] is None and v["selftest.third"] is None and v["selftest_next.only"] is None
    assert "expected 2 + 2 == 5" in v["selftest.second"]
    assert "suite-selftest-fail-selftest_next.serial.log" in v["selftest.second"]  # its own boot's log
    assert k.suite("selftest")[0].name == "suite-selftest-fail-selftest_next"
    assert k.suite("selftest_next")[0].name == "batch-selftest-fail-selftest_next"
    # The kernel ran the suites in the order the command line named them.
    batch = (selftest_kernel / "runs" / "batch-selftest-fail-selftest_next.serial.log").read_text()
    assert batch.index("# Subtest: selftest_next") < batch.index("# Subtest: selftest\n")


def test_the_suite_that_ran_first_is_judged_on_the_batch_boot(selftest_kernel):
    # Until it ended, the batch's boot was the boot it would have had alone: no second boot.
    k, v = batched(selftest_kernel, "fail", first="selftest")
    assert "expected 2 + 2 == 5" in v["selftest.second"]
    assert "batch-selftest-fail-selftest.serial.log" in v["selftest.second"]
    assert v["selftest.first"] is None and v["selftest_next.only"] is None
    assert boot_logs(selftest_kernel, "-fail-selftest") == ["batch-selftest-fail-selftest"]


def test_a_suite_that_fails_only_in_its_batch_is_judged_alone(selftest_kernel):
    # selftest_next.only fails when selftest ran before it in the same boot: the batch's boot
    # does not count for it, its own does.
    k, v = batched(selftest_kernel, "after_selftest")
    assert all(msg is None for msg in v.values()), v
    assert k.suite("selftest_next")[0].name == "suite-selftest_next-after_selftest-selftest"
    batch = (selftest_kernel / "runs" / "batch-selftest-after_selftest-selftest.serial.log").read_text()
    assert "not ok 1 only" in batch


def test_a_hang_in_a_batch_is_judged_on_the_suites_own_boot(selftest_kernel):
    k, v = batched(selftest_kernel, "spin", timeout=1, first="selftest_next")
    assert v["selftest.first"] is None
    assert "timed out after 1 s" in v["selftest.second"] and "during this test" in v["selftest.second"]
    assert "suite-selftest-spin-selftest_next.serial.log" in v["selftest.second"]
    assert v["selftest_next.only"] is None
    assert k.suite("selftest_next")[0].name == "batch-selftest-spin-selftest_next"


def test_a_hang_in_the_first_suite_costs_the_next_suite_a_boot_of_its_own(selftest_kernel):
    k, v = batched(selftest_kernel, "spin", timeout=1, first="selftest")
    assert "timed out after 1 s" in v["selftest.second"] and "during this test" in v["selftest.second"]
    assert "batch-selftest-spin-selftest.serial.log" in v["selftest.second"]
    assert v["selftest_next.only"] is None
    assert k.suite("selftest_next")[0].name == "suite-selftest_next-spin-selftest"  # the batch never got there


def test_a_batch_boot_ends_even_if_suites_start_forever(selftest_kernel):
    # Each suite's start gives the boot another timeout, up to one per suite of the batch: a
    # kernel that prints that line forever still ends.
    run = qemu.boot(selftest_kernel, "subtest-forever", timeout=1, lap=(ktap.SUBTEST_MARK, 3),
                    append="ktest=selftest_next misbehave=subtest_forever")
    assert run.end == "timeout", run.describe()
    assert run.text.count("# Subtest: selftest_next") > 3
    assert 3 <= run.ran < 3 + 2 * qemu.POLL_EVERY + 0.5, run.ran


def test_a_boot_asked_only_for_failures_ends_once_it_has_seen_them(selftest_kernel):
    # The planted bugs' judge (conftest.judge(to_fail=True)) wants only failures: once each
    # wanted test it runs has failed, with a valid tag, the boot ends, here before a hang in
    # the next test. The verdict is the one a whole boot gives.
    def judged(misbehave, wanted, batches=None):
        tag = f"-{misbehave}-{len(wanted)}-{'batch' if batches else 'alone'}"
        k = grading.KernelUnderTest(selftest_kernel, seed=1, timeout=30, tag=tag, batches=batches,
                                    append=f"misbehave={misbehave}", wanted_failures=wanted)
        try:
            grading.judge_case(k, CASES[1], CASES[:3])
        except pytest.fail.Exception as e:
            return k.suite("selftest")[0], str(e).replace(tag, "")
        pytest.fail("the second test passed", pytrace=False)

    whole, said = judged("fail", ())
    assert whole.finished and "ok 3 third" in whole.text, whole.describe()
    assert "expected 2 + 2 == 5" in said
    cut, said_cut = judged("fail_then_hang", ["selftest.second"])
    assert cut.end == "stopped", cut.describe()
    assert "ok 3 third" not in cut.text and said_cut == said
    # In a batch too; here the suite before it passed.
    tests = {"selftest_next": ["only"], "selftest": ["first", "second", "third"]}
    batch, said_batch = judged("fail_then_hang", ["selftest.second"],
                               batches={s: ("batch-selftest", tests) for s in tests})
    assert batch.end == "stopped" and said_batch == said.replace(whole.name, batch.name)
    batch_log = (selftest_kernel / "runs" / "batch-selftest-fail_then_hang-1-batch.serial.log").read_text()
    assert "ok 1 only" in batch_log and "not ok 2 second" in batch_log and "third" not in batch_log
    # A wanted test that passes does not end the boot: the rest of it may still fail it.
    k = grading.KernelUnderTest(selftest_kernel, seed=1, timeout=30, tag="-wanted-passes",
                                append="misbehave=fail", wanted_failures=["selftest.first"])
    grading.judge_case(k, CASES[0], CASES[:3])
    assert k.suite("selftest")[0].finished and "ok 3 third" in k.suite("selftest")[0].text


def test_a_kernel_that_stops_while_booting_costs_one_boot_per_batch(labs):
    require_starters()
    kernel_dir = build.kernel("selftest-starter", 1, [LABS / labs[0]])
    tests = {"idt": ["x"], "memmap": ["y"], "long_mode": ["z"]}
    k = grading.KernelUnderTest(kernel_dir, seed=1, timeout=4, tag="-stops",
                                batches={s: ("batch-stops", tests) for s in tests})
    runs = {k.suite(s)[0].name for s in tests}
    assert runs == {"batch-stops-stops"}, runs
    assert not k.suite("idt")[0].started_work


def test_a_boot_that_would_bring_the_layers_up_as_a_hung_one_did_is_not_made(tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    (tmp_path / "kernel.bin").write_bytes(b"a build")
    booted = []

    def boot(kernel_dir, name, append="", mem="128M", timeout=10.0, key=None, lap=None, until=None):
        booted.append(name)
        text = b"teachos: checkpoint 07-threads\n" + (b"KTAP version 1\n" if "started" in name else b"")
        return qemu.Run(name, [], tmp_path / "kernel.elf", timeout, "timeout", serial=text)

    monkeypatch.setattr(qemu, "boot", boot)
    k = grading.KernelUnderTest(tmp_path, seed=1, timeout=10)
    first = k.boot("batch-1", append="ktest=a,b ktest.seed=1")
    again = k.boot("batch-2", append="ktest=c ktest.seed=1")                    # answered by batch-1
    k.boot("scenario-x", append="scenario=x")                                   # another command line
    k.boot("scenario-y", append="scenario=y")                                   # answered by scenario-x
    k.boot("scenario-z", append="scenario=z fault_addr=0x1000")                 # an argument of its own
    k.boot("memory-32M", append="scenario=boot", mem="32M")                     # another memory size
    k.boot("aslr", append="ktest=c ktest.seed=1 aslr.seed=5")                   # read while booting
    k.boot("started", append="ktest=d ktest.seed=2")                            # hung after bring-up
    k.boot("after-started", append="ktest=e ktest.seed=2")
    assert booted == ["batch-1", "scenario-x", "scenario-z", "memory-32M", "aslr", "started",
                      "after-started"], booted
    assert again.name == "batch-1" and first.stand_in_note == ""
    assert "This test's boot was not made: boot batch-1 of the same kernel" in again.describe()
    assert "not made" not in first.describe()
    # Another build of the kernel is booted again.
    (tmp_path / "kernel.bin").write_bytes(b"another build")
    k.boot("rebuilt", append="ktest=c ktest.seed=1")
    assert booted[-1] == "rebuilt"


def test_no_ktap_at_all(selftest_kernel):
    k = grading.KernelUnderTest(selftest_kernel, seed=1, timeout=4)
    run = k.boot("no-ktap")  # no ktest= on the command line: the tour, no test output
    k._suites["selftest"] = (run, ktap.parse(run.text))
    with pytest.raises(pytest.fail.Exception) as e:
        grading.judge_case(k, CASES[0], CASES)
    assert "no test results at all: the kernel never started its tests" in str(e.value)


def test_missing_qemu_is_said_plainly(selftest_kernel, monkeypatch):
    monkeypatch.setattr(qemu, "QEMU", "qemu-system-nonexistent")
    run = qemu.boot(selftest_kernel, "no-qemu")
    assert run.end == "no-qemu" and "QEMU did not start" in run.describe()


# --- the parts, on their own -------------------------------------------------------------------

def test_qemu_crash_is_told_apart_from_the_kernels_exit():
    said = ("qemu-system-x86_64: kvm.c:3183: kvm_buf_set_msrs: Assertion "
            "`ret == cpu->kvm_msr_buf->nmsrs' failed.")
    run = qemu.Run("crash", ["qemu-system-x86_64", "-accel", "kvm"], None, 10, "exit", -6,
                   stderr=said + "\n")
    text = run.describe()
    assert "QEMU itself crashed (SIGABRT)" in text and said in text and "ACCEL=tcg" in text
    run = qemu.Run("crash", ["qemu-system-x86_64", "-accel", "tcg"], None, 10, "exit", -11)
    assert run.describe() == "QEMU itself crashed (SIGSEGV), so the kernel could not finish."


def test_ktap_parser_keeps_console_lines_as_context():
    report = ktap.parse("KTAP version 1\n# ktest seed: 9\n1..1\n    KTAP version 1\n"
                        "    # Subtest: s\n    1..2\nnoise\n    # f.c:3: expected\n"
                        "    not ok 1 a # f.c:3: expected\n    ok 2 b\nnot ok 1 s\n")
    assert report.seed == 9
    a, b = report.case("s", "a"), report.case("s", "b")
    assert not a.ok and a.message == "f.c:3: expected" and a.diagnostics == ["noise", "f.c:3: expected"]
    assert b.ok and report.suites["s"].ok is False and report.suites["s"].plan == 2


def test_ktap_parser_notices_duplicates_and_ignores_garbage():
    report = ktap.parse("garbage \ufffd\n    ok 1 x\nKTAP version 1\n1..1\n    KTAP version 1\n"
                        "    # Subtest: s\n    1..1\n    ok 1 a\n    ok 1 a\nok 1 s\n")
    assert report.case("s", "a").ok and report.suites["s"].duplicates == ["a"]
    assert report.case("s", "x") is None


def test_a_timer_that_stops_is_said_with_its_count():
    # (Lab 07's planted bug "the EOI sent last" shows it on a real kernel: mutants/07-threads.toml.)
    halted = qemu.Run("t", [], None, 10, "halted", timer_irqs=3, timer_quiet=4.2,
                      cpu=qemu.CpuState(0xffffffff80100000, 0x202, True))
    text = halted.describe()
    assert text.startswith("the CPU halted (hlt) to wait for an interrupt, and none came")
    assert "timer interrupts stopped after 3 (IRQ 0 came 3 times, then never again in the last 4 s)" in text
    assert "Is the EOI sent" in text
    spinning = qemu.Run("t", [], None, 10, "timeout", timer_irqs=1, timer_quiet=9,
                        cpu=qemu.CpuState(0xffffffff80100000, 0x2, False))
    text = spinning.describe()
    assert "timer interrupts stopped after 1 (IRQ 0 came 1 time," in text
    assert "interrupts were disabled and not enabled again" in text and "EOI" not in text
    assert "(interrupts disabled)" in text
    ticking = qemu.Run("t", [], None, 10, "timeout", timer_irqs=900, timer_quiet=0.1)
    assert "timer" not in ticking.describe()


def test_exception_chain_starts_at_the_first_exception():
    log = ("     0: v=03 e=0000 i=1 cpl=0 IP=0008:ffffffff80100001 pc=ffffffff80100001 SP=0010:0 "
           "env->regs[R_EAX]=0\n"
           "     1: v=0e e=0002 i=0 cpl=0 IP=0008:ffffffff80100010 pc=ffffffff80100010 SP=0010:0 CR2=0000000000001000\n"
           "     2: v=08 e=0000 i=0 cpl=0 IP=0008:ffffffff80100010 pc=ffffffff80100010 SP=0010:0 "
           "env->regs[R_EAX]=0\nTriple fault\n")
    chain = qemu.last_exception_chain(log)
    assert [e.vector for e in chain] == [14, 8] and chain[0].cr2 == 0x1000


def test_failures_come_in_the_order_a_student_fixes_them():
    notes = ("While booting, the kernel had to skip:\n"
             "    07-threads: thread_init skipped: not implemented: thread_init() ...")

    def failed(lab, test, message):
        return {"lab": lab, "test": test, "status": "failed", "max_points": 2,
                "message": message}
    results = [
        failed("02-paging", "kframes.exhaustion", "expected 0, got 5\n(console log: a.log)"),
        failed("07-threads", "sync.mutex", f"the kernel has no threads\n{notes}\n(console log: b.log)"),
        failed("07-threads", "sleep.sleepy", f"the kernel has no threads\n{notes}\n(console log: c.log)"),
        failed("07-threads", "context.switch", "not implemented: context_switch() at labs/"
               "07-threads/switch.S:20: step 3: push ...\n(console log: d.log)"),
        {"lab": "01-boot", "test": "idt.fine", "status": "passed", "max_points": 2, "message": ""},
    ]
    steps = {"07-threads": {"sync.mutex": 10, "sleep.sleepy": 9}}
    layers = {"02-paging": "solutions", "06-buddy": "labs", "07-threads": "labs"}
    text = "\n".join(t for t, _ in summary.report(results, "07-threads", layers, steps))
    # The boot notes once, at the top; then lab 07 by step; then the earlier lab, said to
    # run on the later labs' code.
    assert text.count("While booting, the kernel had to skip:") == 1 and text.startswith("While")
    order = [text.index(s) for s in ("FAIL 07-threads context.switch", "FAIL 07-threads sleep.sleepy",
                                      "FAIL for the same reason: 1 more test(s): 07:sync.mutex",
                                      "FAIL 02-paging kframes.exhaustion")]
    assert order == sorted(order), text
    assert "(0/2 points, step 3)" in text and "step 9)" in text
    assert "the kernel's frames come from labs/06-buddy/buddy.c" in text
    assert "02-paging itself is the reference solution here" in text
    assert "Start with the first failure below (context.switch, step 3)" in text
    assert "(console log: d.log)" in text


def test_a_steps_failures_come_suite_by_suite_in_source_order():
    # Not by name: a step's unit tests in the order they are written (the handout's), then the
    # random ones of another suite, the black-box tests last.
    def failed(test, place):
        return {"lab": "06-buddy", "test": test, "status": "failed", "max_points": 2,
                "message": f"{test} failed", "place": place}
    results = [failed("frame_counts_match_the_machine[4G]", ["grade/tests/test_06_buddy.py", 40]),
               failed("buddy_churn.random_frees", ["grade/ktests/06-buddy/buddy_churn_test.c", 30]),
               failed("buddy.double_free_panics", ["grade/ktests/06-buddy/buddy_test.c", 300]),
               failed("buddy.add_range_splits", ["grade/ktests/06-buddy/buddy_test.c", 120])]
    steps = {"06-buddy": {r["test"]: 5 for r in results}}
    text = "\n".join(t for t, _ in summary.report(results, "06-buddy", {"06-buddy": "labs"}, steps))
    order = [text.index(f"FAIL 06-buddy {name} ") for name in
             ("buddy.add_range_splits", "buddy.double_free_panics", "buddy_churn.random_frees",
              "frame_counts_match_the_machine[4G]")]
    assert order == sorted(order), text


def test_tests_held_by_a_later_steps_todo_are_not_blamed_on_the_first_failure():
    # Step 2 written with a bug, step 3 a TODO: the tests that reach bump_free's TODO fail for
    # want of step 3, not because of step 2's bug, and the headline says so.
    def failed(test, message):
        return {"lab": "03-bump", "test": test, "status": "failed", "max_points": 2, "message": message}
    todo = "not implemented: bump_free() at labs/03-bump/bump.c:95: step 3: panic if p is outside ..."
    results = [failed("bump.overflow_arithmetic", "expected bump_alloc(&h, 0xffffffffffffffffUL, 1) "
                      "to be NULL"),
               failed("bump.reset_after_free_all", todo),
               failed("bump.misuse_panics", todo),
               failed("bump.random_sequence", "used is 4096, more than the arena")]
    steps = {"03-bump": {"bump.overflow_arithmetic": 2, "bump.reset_after_free_all": 3,
                         "bump.misuse_panics": 3, "bump.random_sequence": 3}}
    text = "\n".join(t for t, _ in summary.report(results, "03-bump", {"03-bump": "labs"}, steps))
    assert ("Start with the first failure below (bump.overflow_arithmetic, step 2): the 1 after it "
            "from later steps may fail only because of it; 2 more reach TODOs of later steps "
            "(step 3: bump_free()).") in text, text
    # Only TODOs, after the first failure: no blame at all.
    text = "\n".join(t for t, _ in summary.report(results[:3], "03-bump", {"03-bump": "labs"}, steps))
    assert ("Start with the first failure below (bump.overflow_arithmetic, step 2): 2 after it "
            "reach TODOs of later steps (step 3: bump_free()).") in text, text


def test_a_failure_is_filed_under_the_step_of_its_cause():
    steps = {"08-user": {"segments.order": 1, "syscall.reach": 2, "loader.argv": 4,
                         "ufault.many": 7, "programs.bad_start": 4}}

    def failed(test, message):
        return {"lab": "08-user", "test": test, "status": "failed", "max_points": 2, "message": message}
    notes = ("While booting, the kernel had to skip:\n    08-user: syscall_init skipped: not "
             "implemented: syscall_init() at labs/08-user/syscall.c:40: step 2: ...")
    stopped = "the kernel panicked: in user_fault (labs/08-user/ufault.c:61)"
    results = [
        # A step 1 bug, in a run whose boot notes name step 2: still step 1.
        failed("segments.order", f"GDT 0x18 is a code segment\n{notes}\n(console log: a.log)"),
        # A step 2 bug that crashed into step 7's unwritten user_fault: still step 2.
        failed("syscall.reach", "#PF at rip 0x202, and not implemented: user_fault() at "
               "labs/08-user/ufault.c:30: step 7: ...\n(console log: b.log)"),
        # Another lab's TODO names no step of this lab's.
        failed("loader.argv", "not implemented: memmap_init() at labs/01-boot/memmap.c:9: step 4: ..."),
        # No result because ufault.many stopped the run: listed under it, at its step.
        failed("programs.bad_start", "no result for this test: the run stopped during test "
               f"ufault.many (the first without a result).\n{stopped}\n(console log: c.log)"),
        failed("ufault.many", f"no result for this test: the run stopped during this test.\n{stopped}\n"
               "(console log: c.log)"),
    ]
    by = {r["test"]: summary.step_of(r, steps) for r in results}
    assert by == {"segments.order": 1, "syscall.reach": 2, "loader.argv": 4,
                  "programs.bad_start": 4, "ufault.many": 7}, by
    layers = {"01-boot": "solutions", "08-user": "labs"}
    text = "\n".join(t for t, _ in summary.report(results, "08-user", layers, steps))
    assert "Start with the first failure below (segments.order, step 1)" in text, text
    assert "FAIL 08-user ufault.many (0/2 points, step 7)" in text, text
    assert "FAIL for the same reason: 1 more test(s): 08:programs.bad_start" in text, text
    assert "FAIL 08-user programs.bad_start" not in text, text


def test_a_fault_in_a_later_steps_function_is_filed_under_that_step():
    # Lab 09: an exec test of step 5 passes with exit.c's starter, and fails when step 6's
    # proc_exit faults as the test's process ends: that is step 6's to fix, not step 5's.
    steps = {"09-process": {"exec.a_failed_exec_leaves_the_caller_as_it_was": 5,
                            "exec.copy_args_copies_argv": 5, "wait.a_zombie_keeps_only_its_slot": 6}}

    def failed(test, message):
        return {"lab": "09-process", "test": test, "status": "failed", "max_points": 3,
                "message": message + "\n(console log: x.log)"}
    fault = ("in thread 'exectest': proc_exit (lab 09, step 6) faulted when exectest (pid 12) "
             "ended, a process without a parent (pr->parent is NULL: the kernel started it): "
             "#PF page fault at rip 0xffffffff80159d20: reading address 0x40 (error 0x0)")
    results = [failed("exec.a_failed_exec_leaves_the_caller_as_it_was", fault),
               failed("wait.a_zombie_keeps_only_its_slot", fault.replace("exectest", "forktest"))]
    by = {r["test"]: summary.step_of(r, steps) for r in results}
    assert by == {"exec.a_failed_exec_leaves_the_caller_as_it_was": 6,
                  "wait.a_zombie_keeps_only_its_slot": 6}, by
    text = "\n".join(t for t, _ in summary.report(results, "09-process", {"09-process": "labs"}, steps))
    assert "FAIL 09-process exec.a_failed_exec_leaves_the_caller_as_it_was (0/3 points, step 6)" in text, text
    assert "Start with the first failure below" not in text, text
    # Only a fault in the test's own lab moves it; a real step 5 failure stays first.
    other = failed("exec.copy_args_copies_argv", fault.replace("lab 09", "lab 08"))
    assert summary.step_of(other, steps) == 5
    text = "\n".join(t for t, _ in summary.report(results + [other], "09-process", {"09-process": "labs"}, steps))
    assert "Start with the first failure below (exec.copy_args_copies_argv, step 5)" in text, text


def test_within_a_step_a_failed_check_comes_before_a_crash():
    # The lab 08 newcomer's bug: uspace_destroy kept a frame. One test of step 3 crashed over
    # it (listed first by name), another said what was wrong; the second must lead.
    def failed(test, message):
        return {"lab": "08-user", "test": test, "status": "failed", "max_points": 2,
                "message": message + "\n(console log: x.log)"}
    crash = ("no result for this test: the run stopped during this test.\nthe kernel panicked:\n"
             "    page fault at rip 0xffffffff80123456 in uspace_walk")
    todo = ("no result for this test: the run stopped during this test.\nthe kernel panicked:\n"
            "    not implemented: uspace_map() at labs/08-user/uspace.c:60: step 3: map it")
    results = [failed("uspace.a_map_that_runs_out_keeps_nothing", crash),
               failed("uspace.destroy_gives_every_frame_back", "3 frames kept after uspace_destroy"),
               failed("uspace.map_then_walk", todo)]
    steps = {"08-user": {t["test"]: 3 for t in results}}
    text = "\n".join(t for t, _ in summary.report(results, "08-user", {"08-user": "labs"}, steps))
    order = [text.index(f"FAIL 08-user uspace.{t}") for t in
             ("destroy_gives_every_frame_back", "map_then_walk", "a_map_that_runs_out_keeps_nothing")]
    assert order == sorted(order), text


def test_a_kernel_stopped_in_an_earlier_labs_starter_says_which_and_how_to_go_on():
    boot = ("no test results at all: the kernel never started its tests.\n"
            "    labs/01-boot/boot.S:50:  ud2\t/* TODO step 1: build the boot page tables */")
    results = [{"lab": "08-user", "test": "segments.rsp0", "status": "failed", "max_points": 1,
                "message": boot}]
    layers = {"01-boot": "labs", "08-user": "labs"}
    have = {"01-boot", "02-paging", "03-bump", "07-threads"}
    assert summary.unfinished_earlier_labs([boot], "08-user", layers) == ["01-boot"]
    note = summary.earlier_labs_note(["01-boot"], "08-user", layers,
                                     "make grade LAB=8 SOLUTIONS=2 MEM=256M", have)
    assert "unfinished code of an earlier lab: labs/01-boot/" in note, note
    assert note.endswith("`make grade LAB=8 MEM=256M SOLUTIONS=1-3,7`."), note
    assert "Finish it first" in summary.earlier_labs_note(["01-boot"], "08-user", layers, None, set())
    assert summary.number_list([7, 1, 2, 3, 5]) == "1-3,5,7" and summary.number_list([1, 2]) == "1,2"
    # Taken from solutions/, a lab is not the student's to finish.
    assert summary.unfinished_earlier_labs([boot], "08-user", {"01-boot": "solutions"}) == []
    text = "\n".join(t for t, _ in summary.report(results, "08-user", layers, {}, "make grade LAB=8"))
    assert text.startswith("The kernel stopped in unfinished code of an earlier lab") and \
        "Start with" not in text, text


def test_commands_the_kernel_suggests_repeat_the_run(tmp_path, monkeypatch):
    from harness import __main__ as harness_main
    from harness.__main__ import with_run_variables
    run = "make qemu LAB=6 SOLUTIONS=1-5 CC=clang QEMUEXTRA='-d int'"
    said = with_run_variables("Try `make grade LAB=6`.", run)
    assert said == "Try `make grade LAB=6 SOLUTIONS=1-5 CC=clang QEMUEXTRA='-d int'`.", said
    assert with_run_variables("no command here", run) == "no command here"
    # but MEM, which make grade does not use (it boots the sizes its tests ask for)
    said = with_run_variables("Try `make grade LAB=6`, or `make qemu LAB=6`.", "make qemu LAB=6 MEM=4G")
    assert said == "Try `make grade LAB=6`, or `make qemu LAB=6 MEM=4G`.", said
    # The kernel's own SOLUTIONS and CC (kernel/build.mk writes them from the layers and the
    # compiler) are written as the student wrote them, when they name the same build.
    tour = "Try `make grade LAB=9 SOLUTIONS=1,2,3,4,5,6,7,8 CC=clang-16`."
    said = with_run_variables(tour, "make qemu LAB=9 SOLUTIONS=1-8 CC=/usr/bin/clang-16")
    assert said == "Try `make grade LAB=9 SOLUTIONS=1-8 CC=/usr/bin/clang-16`.", said
    # SOLUTIONS=all: the solutions this copy has (here, a copy with those of labs 01-09).
    for n in range(1, 10):
        (tmp_path / f"0{n}-lab").mkdir()
    monkeypatch.setattr(harness_main, "SOLUTIONS", tmp_path)
    said = with_run_variables("Try `make grade LAB=9 SOLUTIONS=all`.", "make qemu LAB=9 SOLUTIONS=1-3,4-9")
    assert said == "Try `make grade LAB=9 SOLUTIONS=1-3,4-9`.", said
    said = with_run_variables("Try `make grade LAB=9 SOLUTIONS=1,2,3,4,5,6,7,8,9`.", "make qemu LAB=9 SOLUTIONS=all")
    assert said == "Try `make grade LAB=9 SOLUTIONS=all`.", said
    # Another build than the run's keeps the suggestion's own words.
    said = with_run_variables("Try `make grade LAB=9 SOLUTIONS=1-8`.", "make qemu LAB=9 SOLUTIONS=1-3 CC=gcc")
    assert said == "Try `make grade LAB=9 SOLUTIONS=1-8 CC=gcc`.", said


def test_a_missing_record_leads_with_what_happened():
    from harness import check
    panicked = qemu.Run("p", [], None, 10, "exit", qemu.EXIT_PANIC,
                        b"teachos: checkpoint x\nPANIC: buddy_free: double free of frame 7\n",
                        serial_path="p.log")
    with pytest.raises(pytest.fail.Exception) as e:
        check.unconfirmed(panicked, "the kernel booted", "the scenario's signed record", seen=False)
    text = str(e.value)
    assert text.startswith("the kernel panicked:") and "PANIC: buddy_free: double free" in text
    assert "never came" in text and "earns no points" not in text
    assert not isinstance(e.value, check.Unconfirmed)
    # Unsigned results printed by something else: that, and only that, is said as forgery.
    printed = qemu.Run("f", [], None, 10, "exit", qemu.EXIT_SUCCESS, b"memmap: 123 KiB usable\n",
                       serial_path="f.log")
    with pytest.raises(check.Unconfirmed) as e:
        check.unconfirmed(printed, "the console shows the memory map", "the signed record")
    assert "earns no points" in str(e.value)
    forged = qemu.Run("g", [], None, 10, "exit", qemu.EXIT_SUCCESS,
                      b"# attest: memmap usable_kib=1 regions=1 [mac " + b"0" * 32 + b"]\n",
                      serial_path="g.log", key="k" * 32)
    with pytest.raises(check.Unconfirmed) as e:
        check.unconfirmed(forged, "the kernel booted", "the signed record", seen=False)
    assert "tag is wrong" in str(e.value)


def test_an_earlier_labs_failure_names_what_serves_it_at_this_checkpoint():
    layers = {"03-bump": "solutions", "04-linked-list": "solutions", "05-fixed-block": "labs",
              "06-buddy": "labs"}
    said = summary.runs_through("03-bump", "06-buddy", layers)
    # The heap at checkpoint 06 is the block heap: the list heap under it is not named.
    assert "kmalloc) runs on labs/05-fixed-block/block_heap.c" in said, said
    assert "list_heap.c" not in said and "frames come from labs/06-buddy/buddy.c" in said
    assert summary.runs_through("06-buddy", "06-buddy", layers) == ""


def test_a_second_grading_of_one_build_waits_for_the_first(labs):
    # Both would write the same console logs (runs/): the second waits, saying so, and then
    # grades as usual.
    require_solutions(labs[0])
    out = build.kernel("grading-lock", 1, [SOLUTIONS / labs[0]])
    with open(out / "grading.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a grading under way holds it
        p = subprocess.Popen([PYTHON, "-m", "pytest", "grade/tests", "-q", "-p", "no:xdist",
                              "--kernel", str(out), "--checkpoint", "1"], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        said = p.stderr.readline()
        assert "waiting for another grading of build/grading-lock to end" in said, said
        assert p.poll() is None
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert re.search(r"^total\s+33/33", stdout, re.MULTILINE), stdout[-2000:]


def test_a_changed_header_compiles_again_what_includes_it(tmp_path, labs):
    """A build compiles again each object that includes a header that changed, through ccache
    too. ccache (its base directory the tree's root) names an object in its .d file relative
    to the root; kernel/build.mk must name its targets so, or the .d files' rules are for
    another target and a changed header rebuilds nothing (a struct that grew, and objects that
    disagree on its size)."""
    require_solutions(labs[0])
    tests = tmp_path / "ktests"
    tests.mkdir()
    (tests / "probe_ktest.c").write_text(
        '#include "ktest.h"\n#include "probe.h"\n\nconst long probe_value = PROBE_VALUE;\n\n'
        'KTEST(probe, value, 0)\n{\n\tEXPECT_TRUE(t, probe_value > 0);\n}\n')
    objects, header, obj = [], tests / "probe.h", None
    for value in (1, 2):
        header.write_text(f"#define PROBE_VALUE {value}000001\n")
        if obj:  # edited after the build: a second later, whatever the clock's resolution
            later = obj.stat().st_mtime + 1
            os.utime(header, (later, later))
        out = build.kernel("header-probe", 1, [SOLUTIONS / labs[0]], tests=[tests])
        obj = out / "obj" / (str(tests / "probe_ktest.c").lstrip("/").replace("/", "_") + ".o")
        objects.append(obj.read_bytes())
        target = (obj.with_suffix(".d")).read_text().split(":", 1)[0]
        assert (ROOT / target).resolve() == obj.resolve(), target
    assert objects[0] != objects[1], "probe.h changed, and probe_ktest.c was not compiled again"


def host_memory_kib():
    """The host's RAM and swap together, in KiB: what it could promise a process at most."""
    info = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    return sum(int(info[k].split()[0]) for k in ("MemTotal", "SwapTotal") if k in info)


def test_a_machine_larger_than_the_host_boots(labs):
    """The graders boot machines of up to 16 GiB, more than many a student's laptop has. QEMU
    maps the guest's RAM without reserving it (qemu.qemu_command), so it starts whatever the
    host has, and the host gives only the pages the kernel touches. Here the machine is larger
    than this host's RAM and swap together; mapped as QEMU maps RAM by default, it would not
    start ("cannot set up guest memory"). (Under the kernel's strict overcommit policy,
    vm.overcommit_memory=2, no mapping is left unreserved, and this test fails.)"""
    require_solutions(labs[0])
    kernel = build.kernel(f"check-{labs[0]}-solutions", 1, build.checkpoint_layers(labs, labs[0]))
    gib = host_memory_kib() // (1 << 20) + 2
    run = qemu.boot(kernel, "larger-than-the-host", append="ktest=none", mem=f"{gib}G")
    usable = re.search(r"^kernel: (\d+) KiB usable RAM", run.text, re.MULTILINE)
    assert run.end == "exit" and usable, f"a {gib} GiB machine did not boot:\n{run.stderr}\n{run.text[-1500:]}"
    assert int(usable[1]) > host_memory_kib(), usable[0]
