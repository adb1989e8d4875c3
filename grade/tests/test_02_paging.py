"""Lab 02 black-box tests: what the kernel prints when a fault stops it, and the frame counts
it reports for machines of several sizes.

The reports are checked against an address and an access chosen afresh for each run, and
against the addresses of symbols in the scenarios (grade/ktests/02-paging/scenarios_ktest.c);
the frame counts against the memory map the kernel printed and the kernel image's symbols.
"""
import random
import re

import pytest

from harness import check

LAB = "02-paging"

EXCEPTION = re.compile(r"^EXCEPTION: vector 14 \(.*?\) error 0x([0-9a-f]+) at rip 0x[0-9a-f]+"
                       r" cr2 0x([0-9a-f]+)\s*$", re.MULTILINE)
PAGE_FAULT = re.compile(r"^PAGE FAULT: address 0x([0-9a-f]{16}), (read|write|execute), "
                        r"(page not present|protection violation), (kernel|user) mode"
                        r"(, reserved bit)?\s*$", re.MULTILINE)
PAGE_FAULT_FORMAT = ("PAGE FAULT: address 0x<16 hex digits>, <read|write|execute>, "
                     "<page not present|protection violation>, <kernel|user> mode, as "
                     "kernel/pagefault.h describes")
PAGE = 4096
OWN_TABLES_LINE = r"^paging: the kernel runs on its own page tables"  # kernel/layers/02-paging/init.c


def page_fault_report(run):
    """(address, access, presence, mode) from the PAGE FAULT line, or fail saying why."""
    m = PAGE_FAULT.search(run.text)
    if not m:
        skipped = re.search(r"^kernel: page-fault report skipped: (.*)$", run.text, re.MULTILINE)
        if skipped:
            check.fail(f"the page-fault report was not printed: {skipped[1]}", run)
        check.search(run, PAGE_FAULT.pattern, f"a page-fault report line ({PAGE_FAULT_FORMAT})")
    return int(m[1], 16), m[2], m[3], m[4]


def expect(what, got, want, run):
    if got != want:
        check.fail(f"the page-fault report says {what} {got!r}, expected {want!r}\n"
                   f"(log: {run.serial_path})", run)


TRAP_RECORD = r"trap vector=14 error=0x([0-9a-f]+) rip=0x[0-9a-f]+ cr2=0x([0-9a-f]+)"
PF_WRITE, PF_PRESENT, PF_INSTR = 0x2, 0x1, 0x10


def cpu_fault(run):
    """(error code, address) of the page fault as the kernel's signed trap record has them."""
    record = check.attested(run, TRAP_RECORD)
    if record is None:
        page_fault_report(run)  # say what is missing in the console first, if anything
        check.unconfirmed(run, "the console shows a page-fault report",
                          "the trap handler's signed record of the fault")
    return int(record[1][1], 16), int(record[1][2], 16)


@pytest.mark.points(3)
def test_touching_an_unmapped_page_is_reported(kernel):
    # A fresh address and access each run (replayed by SEED=N), in PML4 slot 1, which nothing
    # else uses.
    rng = random.Random(f"{kernel.seed}:unmapped_touch")
    address = rng.randrange(0x8000000000, 0x10000000000)
    access = rng.choice(["read", "write"])
    run = kernel.boot("scenario-unmapped_touch", append=f"scenario=unmapped_touch "
                      f"fault_addr={address:#x} fault_access={access}")
    if "went through without a page fault" in run.text:
        check.fail(f"after kunmap_page() the {access} at {address:#x} did not fault: the page is "
                   f"still mapped, or the TLB still holds it (invlpg in vm_unmap)", run)
    if "could not map a page" in run.text:
        check.fail("the scenario could not map its page (kframe_alloc or kmap_page failed)\n"
                   f"(log: {run.serial_path})", run)
    exc = EXCEPTION.search(run.text)
    if exc and int(exc[2], 16) != address:
        check.fail(f"the page fault happened at {int(exc[2], 16):#x}, not at {address:#x}", run)
    got = page_fault_report(run)
    expect("the address", f"{got[0]:#x}", f"{address:#x}", run)
    expect("the access", got[1], access, run)
    expect("the page", got[2], "page not present", run)
    expect("the mode", got[3], "kernel", run)
    error, cr2 = cpu_fault(run)
    if cr2 != address or bool(error & PF_WRITE) != (access == "write") or error & PF_PRESENT:
        check.unconfirmed(run, f"the console reports a {access} of {address:#x} to a page not "
                          "present", f"a signed trap record of it (the CPU said error {error:#x}, "
                          f"cr2 {cr2:#x})")
    if not run.panicked or run.reset:
        check.fail(f"after the report the kernel should panic. Instead: {run.describe()}", run)


@pytest.mark.points(2)
def test_executing_data_is_reported(kernel):
    run = kernel.boot("scenario-execute_data", append="scenario=execute_data")
    if "the code in .data ran" in run.text:
        check.fail("a `ret` in .data was executed: data pages must be no-execute "
                   "(PTE_NO_EXECUTE, with EFER.NXE on)", run)
    got = page_fault_report(run)
    expect("the address", f"{got[0]:#x}", f"{kernel.symbol('scenario_data_code'):#x}", run)
    expect("the access", got[1], "execute", run)
    expect("the page", got[2], "protection violation", run)
    expect("the mode", got[3], "kernel", run)
    error, cr2 = cpu_fault(run)
    if cr2 != kernel.symbol("scenario_data_code") or not error & PF_INSTR:
        check.unconfirmed(run, "the console reports an instruction fetch from .data",
                          f"a signed trap record of it (the CPU said error {error:#x}, cr2 {cr2:#x})")


@pytest.mark.points(3)
def test_kernel_stack_overflow_is_reported(kernel):
    run = kernel.boot("scenario-stack_overflow", append="scenario=stack_overflow")
    if check.attested(run, r"panic kernel stack overflow.*") is not None:
        return
    if re.search(r"^PANIC: kernel stack overflow", run.text, re.MULTILINE):
        check.unconfirmed(run, "the console shows a stack-overflow panic",
                          "the panic's signed record")
    if run.started_work and not re.search(OWN_TABLES_LINE, run.text, re.MULTILINE):
        # On the boot tables there is no guard page: the overflow runs down through the data
        # below the stack, and whatever report follows is about that wreckage.
        check.fail("this test cannot pass before steps 12-14 (labs/02-paging/kvm.c): the guard "
                   "page under the boot stack is left unmapped only in the kernel's own page "
                   "tables, and this kernel still runs on the boot tables (its \"paging:\" lines "
                   "and any \"skipped\" note below say why). "
                   "Until then the overflow runs on through the memory below the stack and wrecks "
                   "what is there, so what the console shows after it is no guide.\n"
                   f"(log: {run.serial_path})", run)
    why = run.describe() or ("the kernel ran on below the bottom of its stack without a fault, "
                             "overwriting whatever lies there")
    check.fail("overflowing the boot stack should end in a panic saying \"kernel stack "
               "overflow\": the page under the stack (__stack_guard) must be unmapped so the "
               "first push below the stack faults, and the double fault that follows is "
               f"reported on its own stack.\nInstead: {why}\n(log: {run.serial_path})", run)


FRAMES_LINE = re.compile(r"^paging: frames: (\d+) of RAM, (\d+) free", re.MULTILINE)


def whole_frames(start, end):
    """Frames wholly inside [start, end)."""
    return max(0, end // PAGE - (start + PAGE - 1) // PAGE)


def frames_in(regions, start, end):
    return sum(whole_frames(max(a, start), min(b, end)) for a, b in regions)


@pytest.mark.parametrize("mem_mib", [32, 1024, 4096], ids=["32M", "1G", "4G"])
@pytest.mark.points(2)
def test_frame_counts_match_the_machine(kernel, mem_mib):
    run = kernel.boot(f"frames-{mem_mib}M", append="scenario=memory", mem=f"{mem_mib}M")
    check.search(run, FRAMES_LINE.pattern,
                 "the kernel's line about frames (\"paging: frames: N of RAM, M free\")")
    record = check.attested(run, check.FRAMES_RECORD)
    if record is None:
        check.unconfirmed(run, "the console shows frame counts", "the kernel's signed record of them")
    total, free, bm_bytes, bm_at = (int(x, 16) if i == 3 else int(x)
                                    for i, x in enumerate(record[1].groups()))
    # The boot loader's own map, as the scenario signed it (not the lab's copy of it).
    usable = [(int(m[1], 16), int(m[1], 16) + int(m[2], 16))
              for _, m in check.records(run, check.MMAP_RECORD) if m[3] == "1"]
    if not usable:
        check.unconfirmed(run, "the kernel booted", "the scenario's signed copy of the memory map",
                          seen=False)
    want_total = sum(whole_frames(a, b) for a, b in usable)
    if total != want_total:
        check.fail(f"with {mem_mib} MiB of RAM the frame allocator counts {total} frames of RAM; "
                   f"the memory map has {want_total} whole usable frames\n(log: {run.serial_path})",
                   run)
    low, high = (mem_mib * 1024 - 2048) // 4, (mem_mib * 1024 - 384) // 4
    if not low <= total <= high:
        check.fail(f"{total} frames of RAM for a machine of {mem_mib} MiB: expected between "
                   f"{low} and {high}", run)
    image = (kernel.symbol("__image_phys_start"), kernel.symbol("__image_phys_end"))
    reserved = [(0, 0x100000), image, (bm_at, bm_at + bm_bytes)]
    # Reserved ranges round outwards to whole frames; count each frame of RAM once.
    taken = set()
    for a, b in reserved:
        for f in range(a // PAGE, (b + PAGE - 1) // PAGE):
            if frames_in(usable, f * PAGE, (f + 1) * PAGE):
                taken.add(f)
    if free != total - len(taken):
        check.fail(f"the frame allocator says {free} frames are free after reserving the low "
                   f"1 MiB, the kernel image [{image[0]:#x}, {image[1]:#x}) and the bitmap "
                   f"[{bm_at:#x}, {bm_at + bm_bytes:#x}); expected {total - len(taken)} "
                   f"({total} minus {len(taken)} reserved)\n(log: {run.serial_path})", run)
    check.search(run, r"^scenario memory: read the last byte of RAM",
                 "the scenario reading the last byte of RAM through the direct map")
    check.finished(run)
