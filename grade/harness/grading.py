"""Grading kernel tests: suites booted together in batches, and the verdict for each test in
words.

A boot costs about a tenth of a second before the first test runs (QEMU starting, the kernel
bringing its layers up), more than most suites take. So the grader boots several suites at
once (`ktest=a,b,c`), and keeps from that boot the suites whose every test passed, with a
valid tag. Any other suite of the batch (a failure, a crash or hang that cut the boot short, a
result that is not the runner's) is booted again alone, and judged on that boot only: what a
test is told never depends on which suites shared its boot. The one exception is the suite
that ran first: up to its end, the batch's boot was the boot it would have had alone, so that
boot judges it, whatever happened. The suites of the newest lab, the one a student is working
on, are dealt first, one to a batch: their failures are then judged without a second boot. A correct kernel
costs one boot per batch; a faulty one, also one boot per suite that did not pass and did not
run first. A kernel that stops before its first test stops so whatever the command line asks:
its batch's boot answers for every suite of the batch.

Every boot gets a fresh key to sign its results with (attest.py); a result without a valid
tag counts for nothing. A kernel that hangs while bringing up its layers hangs on every boot,
so once one boot of it has, the later boots of the same kernel get a shorter timeout: a
hanging submission costs about one boot timeout, not one per suite. A later boot that would
bring the layers up exactly as the hung one did (the same memory, the same command line but
for what to run once they are up) is not made at all: the hung boot answers for it.
"""
from pathlib import Path

from . import attest, ktap, qemu, symbols
from .check import fail
from .paths import rel

HUNG_MARKER = "hung-while-booting"  # in runs/: the kernel build whose boot hung, and which boot
RETRY_TIMEOUT_MIN = 1.0             # seconds: the shortened timeout is timeout / 5, at least this
# The words of a kernel command line that choose what runs once the layers are up (kernel/main.c
# reads them after layers_init): two boots that differ only in them bring the layers up alike.
AFTER_BRING_UP = ("ktest=", "ktest.list", "scenario=")


def bring_up(mem, append):
    """What a boot's bringing up of the layers can depend on: the memory and the rest of the
    command line."""
    return mem, tuple(sorted(w for w in append.split() if not w.startswith(AFTER_BRING_UP)))


class KernelUnderTest:
    def __init__(self, directory, seed, timeout, append="", rerun=None, tag="", batches=None,
                 wanted_failures=()):
        """batches: {suite: (name of its batch, {suite: [its test names]} for every suite of
        the batch)}; a suite not in it boots alone. wanted_failures: kernel tests (suite.name)
        that only their failure is asked of (the selftests' planted bugs, which must fail
        them): a boot ends as soon as each of them that it runs has failed, with a valid tag.
        A failure's verdict and message come from its result and the lines before it, so what
        the rest of the boot would have printed changes neither (short of a second result for
        the same test, which the test runner never prints)."""
        self.dir = Path(directory)
        self.tag = tag  # added to the name of each boot's logs, to tell runs of one kernel apart
        self.rerun = rerun or f"SEED={seed}"  # in words: what replays this run
        self.append = append  # more kernel command line for every suite
        self.elf = self.dir / "kernel.elf"
        self.seed = seed
        self.timeout = timeout
        self._suites = {}
        self.batches = batches or {}
        self._batched = set()  # suites whose batch has booted
        self._hung = {}  # (build, bring_up()) -> the run that hung while bringing the layers up
        self.wanted_failures = [tuple(t.split(".", 1)) for t in wanted_failures]

    def _build_stamp(self):
        st = (self.dir / "kernel.bin").stat()
        return f"{st.st_mtime_ns} {st.st_size}"

    def boot(self, name, append="", mem="128M", timeout=None, lap=None, suites=()):
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
        alike = (stamp, *bring_up(mem, append))
        earlier = self._hung.get(alike) if stamp else None
        if earlier and (earlier.end == "halted" or earlier.timeout >= timeout):
            return earlier.answering_for_a_boot_not_made()
        key = attest.new_key()
        run = qemu.boot(self.dir, name, append=append, mem=mem, timeout=timeout, key=key,
                        lap=lap, until=self._all_failed(suites, key))
        run.timeout_note = note
        if run.end in ("timeout", "halted") and not run.started_work and stamp:
            self._hung[alike] = run
            if not note:
                marker.write_text(f"{stamp}\n{name}\n")
        return run

    def _all_failed(self, suites, key):
        """For qemu.boot's until: whether each wanted failure among these suites' tests has been
        seen (None if there is none)."""
        wanted = [t for t in self.wanted_failures if t[0] in suites]
        if not wanted:
            return None

        def seen(serial):
            if serial.count(b"not ok ") < len(wanted):  # a cheap look first
                return False
            whole = serial[:serial.rfind(b"\n") + 1]  # a tag line still being printed is not there
            report = ktap.parse(whole.decode("utf-8", errors="replace").replace("\r", ""), key)
            return all((c := report.case(*t)) is not None and not c.ok for t in wanted)
        return seen

    def symbol(self, name):
        table = symbols.symbol_table(str(self.elf))
        if name not in table:
            fail(f"the kernel has no symbol {name}: was it built with the grading tests?")
        return table[name]

    def suite(self, name):
        """The boot that a suite's results come from, and its report: the suite's batch when
        the suite passed there, else a boot of the suite alone."""
        if name not in self._suites and name in self.batches and name not in self._batched:
            self._boot_batch(*self.batches[name])
        if name not in self._suites:
            run = self.boot(f"suite-{name}{self.tag}", append=f"ktest={name} ktest.seed={self.seed} {self.append}",
                            suites=(name,))
            self._suites[name] = (run, ktap.parse(run.text, run.key))
        return self._suites[name]

    def _boot_batch(self, batch, tests):
        # Each suite gets the whole timeout: it starts again at each "# Subtest:" line.
        run = self.boot(f"{batch}{self.tag}", lap=(ktap.SUBTEST_MARK, len(tests)),
                        append=f"ktest={','.join(tests)} ktest.seed={self.seed} {self.append}",
                        suites=tuple(tests))
        report = ktap.parse(run.text, run.key)
        self._batched.update(tests)
        if not run.started_work:
            # It stopped (or hung) while booting, before any test: alone, each suite's boot
            # would go the same way, so this boot is every suite's answer.
            self._suites.update((suite, (run, report)) for suite in tests)
            return
        if run.finished and run.status != expected_status(report):
            return  # the exit status contradicts the results: each suite alone says so
        # The kernel runs the suites in the order the command line names them. Until the first
        # one ended, this boot was the boot it would have had alone (only the count of suites
        # on the plan's line differs), so this boot judges it, pass or fail.
        first = next(iter(tests))
        if next(iter(report.suites), None) == first:
            self._suites[first] = (run, report)
        for suite, names in tests.items():
            s = report.suites.get(suite)
            if (s and not s.forged and not s.duplicates
                    and names and all(n in s.cases and s.cases[n].ok for n in names)
                    and all(c.ok for c in s.cases.values())):
                self._suites[suite] = (run, report)


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
        details = case.details()
        text = symbols.symbolize_rips(kernel.elf, case.message or "failed")
        if details:
            shown = symbols.symbolize_rips(kernel.elf, symbols.symbolize_text(kernel.elf, "\n".join(details[-15:])))
            text += "\n" + "\n".join("    " + l for l in shown.splitlines())
        if report.seed is not None and "random" in (kcase.name + "".join(case.diagnostics)):
            text += f"\n(seed {report.seed}: {kernel.rerun} replays it)"
        fail(f"{text}\n{log}")
    # A run that finished must say, by its exit status, what its results say; a crash later in
    # the run does not take away a result already printed.
    expected = expected_status(report)
    if run.finished and run.status != expected:
        fail(f"this test passed, but the kernel then exited with status {run.status} "
             f"({qemu.EXIT_MEANING[run.status]}), which its results contradict: expected "
             f"{expected}.\n{log}")


def expected_status(report):
    """The exit status a finished run owes its results: success only if every result passed."""
    all_ok = bool(report.suites) and all(c.ok for s in report.suites.values() for c in s.cases.values())
    return qemu.EXIT_SUCCESS if all_ok else qemu.EXIT_FAILURE


def batches(cases, size=4):
    """The kernel tests' suites in batches of about size, for KernelUnderTest(batches=...):
    {suite: (batch name, {suite: [test names]} in the order the boot runs them)}.

    The suites are dealt out in turn, newest lab first: each batch starts with a suite of the
    lab being graded (while there are enough of them), which a student's mistakes fail most
    often, and the batch's boot judges the suite that ran first (see _boot_batch), so such a
    failure costs no second boot. Dealing also spreads a lab's suites, which often take alike
    (the threads' tests sleep), over the batches. Four suites a boot save most of what a boot
    costs; larger batches would save little more, and each failing suite that does not run
    first would have more suites before it to boot again (test_mutants.py judges each in its
    batch)."""
    tests = {}
    for c in sorted(cases, key=lambda c: c.lab, reverse=True):  # stable: file order in a lab
        tests.setdefault(c.suite, []).append(c.name)
    suites = list(tests)
    n = max(1, -(-len(suites) // size))
    out = {}
    for i in range(n):
        name = f"batch-{i + 1}-of-{n}"
        members = {s: tests[s] for s in suites[i::n]}
        for s in members:
            out[s] = (name, members)
    return out


def _no_tags_at_all(run):
    if run.key and not any(attest.MAC_LINE.match(l) for l in run.lines):
        return (" (No result in this log carries a tag: if the kernel's own test runner printed "
                "them, it did not receive its key through QEMU's fw_cfg device.)")
    return ""
