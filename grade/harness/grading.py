"""Grading kernel tests: one boot per suite, and the verdict for each test in words.

Every boot gets a fresh key to sign its results with (attest.py); a result without a valid
tag counts for nothing. A kernel that hangs while bringing up its layers hangs on every boot,
so once one boot of it has, the later boots of the same kernel get a shorter timeout: a
hanging submission costs about one boot timeout, not one per suite.
"""
from pathlib import Path

from . import attest, ktap, qemu, symbols
from .check import fail
from .paths import rel

HUNG_MARKER = "hung-while-booting"  # in runs/: the kernel build whose boot hung, and which boot
RETRY_TIMEOUT_MIN = 1.0             # seconds: the shortened timeout is timeout / 5, at least this


class KernelUnderTest:
    def __init__(self, directory, seed, timeout, append="", rerun=None, tag=""):
        self.dir = Path(directory)
        self.tag = tag  # added to the name of each boot's logs, to tell runs of one kernel apart
        self.rerun = rerun or f"SEED={seed}"  # in words: what replays this run
        self.append = append  # more kernel command line for every suite
        self.elf = self.dir / "kernel.elf"
        self.seed = seed
        self.timeout = timeout
        self._suites = {}

    def _build_stamp(self):
        st = (self.dir / "kernel.bin").stat()
        return f"{st.st_mtime_ns} {st.st_size}"

    def boot(self, name, append="", mem="128M", timeout=None):
        timeout = timeout or self.timeout
        marker, note = self.dir / "runs" / HUNG_MARKER, ""
        try:
            stamp = self._build_stamp()
            hung = marker.read_text().split("\n") if marker.is_file() else []
        except OSError:
            stamp, hung = None, []
        short = max(RETRY_TIMEOUT_MIN, timeout / 5)
        if len(hung) >= 2 and hung[0] == stamp and short < timeout:
            timeout = short
            note = (f" (Only {short:g} s for this boot: an earlier boot of the same kernel, "
                    f"{hung[1]}, already hung while bringing up its layers.)")
        run = qemu.boot(self.dir, name, append=append, mem=mem, timeout=timeout,
                        key=attest.new_key())
        run.timeout_note = note
        if run.end in ("timeout", "halted") and not run.started_work and stamp and not note:
            marker.write_text(f"{stamp}\n{name}\n")
        return run

    def symbol(self, name):
        table = symbols.symbol_table(str(self.elf))
        if name not in table:
            fail(f"the kernel has no symbol {name}: was it built with the grading tests?")
        return table[name]

    def suite(self, name):
        """Boot once for a whole suite and keep the result for each of its tests."""
        if name not in self._suites:
            run = self.boot(f"suite-{name}{self.tag}", append=f"ktest={name} ktest.seed={self.seed} {self.append}")
            self._suites[name] = (run, ktap.parse(run.text, run.key))
        return self._suites[name]


def judge_case(kernel, kcase, ordered):
    """Pass, or fail saying what happened to this kernel test."""
    run, report = kernel.suite(kcase.suite)
    log = f"(console log: {rel(run.serial_path)})"
    if run.boot_notes():
        log = run.boot_notes() + "\n" + log
    case = report.case(kcase.suite, kcase.name)
    suite = report.suites.get(kcase.suite)
    if case is None:
        if suite and kcase.name in suite.forged:
            fail(f"the console shows a result for this test, but not one the test runner "
                 f"printed: it lacks the runner's authentication tag. The grader gives the "
                 f"runner a fresh key for every boot and counts only results signed with it, "
                 f"so KTAP lines printed by anything else (lab code, say) earn no points."
                 f"{_no_tags_at_all(run)}\n{run.describe() or 'The kernel finished.'}\n{log}",
                 forged=True)
        if not report.seen_header:
            fail(f"no test results at all: the kernel never started its tests.\n{run.describe()}\n{log}")
        missing = [c for c in ordered if report.case(c.suite, c.name) is None]
        culprit = missing[0] if missing else kcase
        what = run.describe()
        if what:
            here = "this test" if culprit == kcase else f"test {culprit.id} (the first without a result)"
            fail(f"no result for this test: the run stopped during {here}.\n{what}\n{log}")
        fail(f"no result for this test although the kernel finished: it did not run "
             f"{kcase.id}. Is it still registered with KTEST?\n{log}")
    if suite and kcase.name in suite.duplicates:
        fail(f"the console shows two results for {kcase.id}: something besides the test "
             f"runner printed a KTAP line.\n{log}")
    if not case.ok:
        details = [d for d in case.diagnostics if d.strip() and d.strip() != case.message]
        text = case.message or "failed"
        if details:
            text += "\n" + "\n".join("    " + l for l in symbols.symbolize_text(kernel.elf, "\n".join(details[-15:])).splitlines())
        if report.seed is not None and "random" in (kcase.name + "".join(case.diagnostics)):
            text += f"\n(seed {report.seed}: {kernel.rerun} replays it)"
        fail(f"{text}\n{log}")
    # A run that finished must say, by its exit status, what its results say; a crash later in
    # the suite does not take away a result already printed.
    all_ok = suite is not None and all(c.ok for c in suite.cases.values())
    expected = qemu.EXIT_SUCCESS if all_ok else qemu.EXIT_FAILURE
    if run.finished and run.status != expected:
        fail(f"this test passed, but the kernel then exited with status {run.status} "
             f"({qemu.EXIT_MEANING[run.status]}), which its results contradict: expected "
             f"{expected}.\n{log}")


def _no_tags_at_all(run):
    if run.key and not any(attest.MAC_LINE.match(l) for l in run.lines):
        return (" (No result in this log carries a tag: if the kernel's own test runner printed "
                "them, it did not receive its key through QEMU's fw_cfg device.)")
    return ""
