"""Lab 01 black-box tests: what the kernel prints when nothing inside it can judge.

The exception reports are checked against the addresses of labels in the scenarios
(grade/ktests/01-boot/scenarios_ktest.c) and against a fault address chosen afresh for each
run; the memory map against the RAM QEMU was given. Console lines prove nothing by
themselves (lab code could print them), so each report must also agree with the record the
kernel itself signs for the boot: the trap handler's record of what the CPU reported, the
boot scenario's record of boot_memmap (see grade/harness/attest.py).
"""
import random
import re

import pytest

from harness import check

LAB = "01-boot"

REPORT = re.compile(r"^EXCEPTION: vector (\d+) \((.*?)\) error 0x([0-9a-f]+) at rip 0x([0-9a-f]+)"
                    r"(?: cr2 0x([0-9a-f]+))?\s*$", re.MULTILINE)
REPORT_FORMAT = ("EXCEPTION: vector <n> (<name>) error 0x<error> at rip 0x<rip> [cr2 0x<address>], "
                 "as kernel/idt.h describes")
TRAP_RECORD = r"trap vector=(\d+) error=0x([0-9a-f]+) rip=0x([0-9a-f]+) cr2=0x([0-9a-f]+)"
# What trap_name() (kernel/trap.c) calls the vectors the scenarios raise.
TRAP_NAMES = {0: "#DE divide error", 3: "#BP breakpoint", 14: "#PF page fault"}


def exception_report(run):
    """(vector, error, rip, cr2) of the report exception_report() printed, and the same four
    as the CPU gave them to the trap handler, from its signed record."""
    m = REPORT.search(run.text)
    if not m:
        if "not implemented: exception_report" in run.text:
            check.fail("exception_report() is not written yet (labs/01-boot/idt.c, step 9).")
        check.search(run, REPORT.pattern, f"an exception report line ({REPORT_FORMAT})")
    record = check.attested(run, TRAP_RECORD)
    if record is None:
        check.unconfirmed(run, "the console shows an exception report",
                          "the signed record of the exception that kernel/trap.c prints once "
                          "exception_report() returns")
    index, r = record
    reports = list(REPORT.finditer("\n".join(run.lines[:index])))
    if not reports:
        check.fail(f"the CPU raised vector {r[1]}, but exception_report() printed no report line "
                   f"for it ({REPORT_FORMAT}).\n(log: {run.serial_path})", run)
    m = reports[-1]  # the line printed for this exception, right before the record
    report = int(m[1]), int(m[3], 16), int(m[4], 16), int(m[5], 16) if m[5] else None
    vector = int(r[1])
    if vector in TRAP_NAMES and m[2] != TRAP_NAMES[vector]:
        check.fail(f"the report names vector {vector} ({m[2]}), expected ({TRAP_NAMES[vector]}): "
                   f"print trap_name(tf->vector)\n(log: {run.serial_path})", run)
    if vector != 14 and m[5]:
        check.fail(f"the report of vector {vector} has a 'cr2 0x{m[5]}' part: cr2 belongs to a "
                   f"page fault's report only (vector 14), as kernel/idt.h says"
                   f"\n(log: {run.serial_path})", run)
    return report, (int(r[1]), int(r[2], 16), int(r[3], 16), int(r[4], 16))


def expect_report_matches_cpu(report, cpu, run):
    """The report is what the CPU said (the expectations before this one came from the test)."""
    fields = ["vector", "error code", "rip"] + (["cr2"] if cpu[0] == 14 else [])
    for what, got, want in zip(fields, report, cpu):
        if got != want:
            check.fail(f"the report's {what} is {got:#x}, but the CPU reported {want:#x}"
                       f"\n(log: {run.serial_path})", run)


def expect_equal(what, got, want, run):
    if got != want:
        check.fail(f"the report's {what} is {got:#x}, expected {want:#x}"
                   + (f" ({check.where(run, want)})" if what == "rip" else "")
                   + f"\n(log: {run.serial_path})", run)


@pytest.mark.points(2)
def test_breakpoint_is_reported_and_execution_continues(kernel):
    run = kernel.boot("scenario-breakpoint", append="scenario=breakpoint")
    report, cpu = exception_report(run)
    vector, error, rip, _ = report
    expect_equal("vector", vector, 3, run)
    # int3 is a trap: the saved rip is the instruction after it.
    expect_equal("rip", rip, kernel.symbol("scenario_breakpoint_next"), run)
    expect_report_matches_cpu(report, cpu, run)
    if check.attested(run, "scenario breakpoint returned") is None:
        if "scenario breakpoint: returned" in run.text:
            check.unconfirmed(run, "the console says the scenario returned",
                              "the scenario runner's signed record that it did")
        check.fail("after reporting the int3 the kernel should carry on, but it did not.\n"
                   + run.describe(), run)


@pytest.mark.points(2)
def test_divide_error_is_reported_at_the_faulting_instruction(kernel):
    run = kernel.boot("scenario-divide_error", append="scenario=divide_error")
    report, cpu = exception_report(run)
    vector, error, rip, _ = report
    expect_equal("vector", vector, 0, run)
    # A fault: the saved rip is the faulting instruction itself.
    expect_equal("rip", rip, kernel.symbol("scenario_divide_site"), run)
    expect_report_matches_cpu(report, cpu, run)
    if not run.panicked:
        check.fail("a divide error cannot be resumed: after the report the kernel should "
                   f"panic. Instead: {run.describe() or 'it carried on'}", run)


@pytest.mark.points(3)
def test_page_fault_report_has_the_address(kernel):
    # A fresh address each run (replayed by SEED=N), in a part of the address space no
    # checkpoint maps.
    address = random.Random(f"{kernel.seed}:page_fault").randrange(0x10000000000, 0x7f0000000000) & ~0x7
    run = kernel.boot("scenario-page_fault", append=f"scenario=page_fault fault_addr={address:#x}")
    report, cpu = exception_report(run)
    vector, error, rip, cr2 = report
    expect_equal("vector", vector, 14, run)
    if cr2 is None:
        check.fail("the page-fault report has no 'cr2 0x...' part: read CR2 (read_cr2()) and "
                   "print it for vector 14", run)
    expect_equal("cr2", cr2, address, run)
    expect_equal("error code (write to a page not present)", error & 0x3, 0x2, run)
    expect_report_matches_cpu(report, cpu, run)


MEMMAP_RECORD = r"memmap usable_kib=(\d+) regions=(\d+)"
REGION_RECORD = r"memmap region (\d+) base=0x([0-9a-f]+) len=0x([0-9a-f]+) type=(\d+)"
STUDENT_TOTAL = re.compile(r"^memmap: (\d+) KiB usable", re.MULTILINE)


@pytest.mark.parametrize("mem_mib", [32, 128, 1024], ids=["32M", "128M", "1G"])
@pytest.mark.points(2)
def test_usable_ram_matches_the_machine(kernel, mem_mib):
    run = kernel.boot(f"memory-{mem_mib}M", append="scenario=boot", mem=f"{mem_mib}M")
    if "not implemented: memmap_init" in run.text:
        check.fail("memmap_init() is not written yet (labs/01-boot/memmap.c, steps 10-11).")
    record = check.attested(run, MEMMAP_RECORD)
    if record is None:
        check.search(run, r"^kernel: \d+ KiB usable RAM", "the kernel's line about usable RAM")
        check.unconfirmed(run, "the console shows the memory map",
                          "the boot scenario's signed record of boot_memmap")
    total, count = int(record[1][1]), int(record[1][2])
    # The machine's RAM less what is never RAM on a PC: at least the 384 KiB of video memory
    # and ROMs between 640 KiB and 1 MiB; at most 2 MiB in all with the firmware's areas.
    low, high = mem_mib * 1024 - 2048, mem_mib * 1024 - 384
    if not low <= total <= high:
        check.fail(f"with {mem_mib} MiB of RAM, boot_memmap.usable_bytes says {total} KiB; "
                   f"expected between {low} and {high} KiB. Are all usable regions counted, "
                   f"each once?\n(log: {run.serial_path})", run)
    printed = check.search(run, STUDENT_TOTAL.pattern,
                           "memmap_init's own total line (\"memmap: <n> KiB usable\")")
    if int(printed[1]) != total:
        check.fail(f"memmap_init printed {printed[1]} KiB usable but boot_memmap.usable_bytes "
                   f"holds {total} KiB", run)
    regions = re.findall(r"^memmap: \[0x([0-9a-f]+)-0x([0-9a-f]+)\] \S", run.text, re.MULTILINE)
    if len(regions) != count:
        check.fail(f"memmap_init printed {len(regions)} region lines for {count} regions in "
                   f"boot_memmap", run)
    # Each line shows its region as boot_memmap holds it: first byte and last byte.
    held = [(int(m[2], 16), int(m[3], 16)) for _, m in check.records(run, REGION_RECORD)]
    for i, ((first, last), (base, length)) in enumerate(zip(regions, held)):
        if (int(first, 16), int(last, 16)) != (base, base + length - 1):
            check.fail(f"memmap_init printed region {i} as [0x{first}-0x{last}], but boot_memmap "
                       f"holds [0x{base:x}, +0x{length:x}): the line shows its first and its last "
                       f"byte, 0x{base:x}-0x{base + length - 1:x}\n(log: {run.serial_path})", run)
