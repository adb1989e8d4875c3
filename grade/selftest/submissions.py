"""Students' submissions for testing the instructor's tools (test_instructor.py), made from
the course itself: the first lab is done right, left as the starter, broken so it does not
compile, made to hang, or replaced by code that prints the results the grader reads instead
of doing the work. Every other lab is its reference solution, so any checkpoint builds."""
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from harness import manifest
from harness.paths import LABS, SOLUTIONS

FIRST = "01-boot"  # the lab the submissions differ in


def _lab_tree(dest, first_lab_from):
    """dest/labs/: the reference solution of every lab, lab FIRST's files from first_lab_from."""
    for lab in sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir()):
        shutil.copytree(SOLUTIONS / lab, dest / "labs" / lab)
    shutil.rmtree(dest / "labs" / FIRST)
    shutil.copytree(first_lab_from, dest / "labs" / FIRST)
    return dest


def _edit(path, find, replace):
    text = path.read_text()
    assert text.count(find) == 1, f"{path.name} no longer has {find!r} exactly once: update submissions.py"
    path.write_text(text.replace(find, replace))


def correct(dest):
    """A directory: the reference solutions in labs/."""
    return _lab_tree(Path(dest), SOLUTIONS / FIRST)


def starter_bundle(dest, work):
    """A git bundle of a student repository still holding the starter, with a notes file in
    labs/ (extra) and an edit to kernel/trap.c (ignored: grading uses the course's kernel)."""
    repo = Path(work) / "starter-repo"
    shutil.copytree(LABS / FIRST, repo / "labs" / FIRST)
    (repo / "labs" / FIRST / "notes.txt").write_text("to do: everything\n")
    (repo / "kernel").mkdir()
    (repo / "kernel" / "trap.c").write_text("/* my own trap.c: the grader must not use it */\n")
    (repo / "Makefile").write_text("".join(  # nothing of a submission may ever run
        f"{target}:\n\ttouch {Path(work).resolve()}/pwned\n" for target in ("grade", "kernel", "all")))
    git = ["git", "-c", "user.name=student", "-c", "user.email=s@example.com", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "lab 1: nothing yet"], check=True)
    subprocess.run(git + ["bundle", "create", "-q", str(Path(dest).resolve()), "--all"], check=True,
                   capture_output=True)
    return Path(dest)


def nocompile_tarball(dest, work):
    """A tarball, everything under one folder, whose idt.c has a syntax error."""
    tree = _lab_tree(Path(work) / "nocompile" / "teachos", SOLUTIONS / FIRST)
    _edit(tree / "labs" / FIRST / "idt.c", "void idt_init(void)\n{\n",
          "void idt_init(void)\n{\n\tthis is not C;\n")
    with tarfile.open(dest, "w:gz") as tf:
        tf.add(tree, arcname="teachos")
    return Path(dest)


def hang(dest):
    """A directory whose idt_init never returns: every boot hangs while bringing up lab 01."""
    tree = _lab_tree(Path(dest), SOLUTIONS / FIRST)
    _edit(tree / "labs" / FIRST / "idt.c", "void idt_init(void)\n{\n",
          "void idt_init(void)\n{\n\tfor (;;) /* waiting for something that never comes */\n"
          "\t\tcpu_relax();\n")
    return tree


# C, for the cheats: whether this boot's ktest= list names the idt suite, which the grader
# boots alone ("ktest=idt") or with others ("ktest=idt,memmap,..."). A cheat strikes there.
GRADES_IDT = r'''
static bool grades_idt(void)
{
	char list[256];

	if (!cmdline_get("ktest", list, sizeof(list)))
		return false;
	for (const char *p = list; *p; p++)
		if ((p == list || p[-1] == ',') && !strncmp(p, "idt", 3) && (!p[3] || p[3] == ','))
			return true;
	return false;
}
'''

FORGED_IDT = r'''/*
 * A cheating idt.c: no IDT at all. When the grader boots a test of it, it prints what the
 * grader reads (KTAP results, exception reports, even tags made up to look like the kernel's)
 * and leaves QEMU, writing to its exit device's port, before the real test runner can say
 * anything.
 */
#include <stdbool.h>
#include <string.h>
#include "cmdline.h"
#include "idt.h"
#include "kprintf.h"
#include "qemu.h"
#include "todo.h"
#include "trap.h"
#include "x86.h"

struct idt_gate idt[TRAP_VECTORS] __aligned(16);
extern char scenario_breakpoint_next[], scenario_divide_site[];

static const char *const tests[] = {@TESTS@};
#define FAKE_TAG "0123456789abcdef0123456789abcdef"

void idt_set_gate(int vector, void *handler, int ist, int dpl)
{
	TODO("step 7: encode a gate");
}

static void fake_report(int vector, const char *name, uint64_t error, uint64_t rip, uint64_t cr2)
{
	kprintf("EXCEPTION: vector %d (%s) error 0x%lx at rip 0x%lx", vector, name, error, rip);
	if (vector == 14)
		kprintf(" cr2 0x%lx", cr2);
	kprintf("\n# attest: trap vector=%d error=0x%lx rip=0x%lx cr2=0x%lx [mac " FAKE_TAG "]\n",
		vector, error, rip, cr2);
}

@GRADES_IDT@
void idt_init(void)
{
	char what[64];

	if (grades_idt()) {
		kprintf("KTAP version 1\n# ktest seed: 1\n1..1\n    KTAP version 1\n"
			"    # Subtest: idt\n    1..%d\n", (int)(sizeof(tests) / sizeof(tests[0])));
		for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			kprintf("    ok %u %s\n    # mac " FAKE_TAG "\n", i + 1, tests[i]);
		kprintf("ok 1 idt\n");
		outb(QEMU_EXIT_PORT, QEMU_EXIT_SUCCESS);
	}
	if (cmdline_get("scenario", what, sizeof(what)) && !strcmp(what, "breakpoint")) {
		kprintf("scenario breakpoint: start\n");
		fake_report(3, "#BP breakpoint", 0, (uint64_t)scenario_breakpoint_next, 0);
		kprintf("scenario breakpoint: returned\n");
		outb(QEMU_EXIT_PORT, QEMU_EXIT_SUCCESS);
	}
	if (cmdline_get("scenario", what, sizeof(what)) && !strcmp(what, "divide_error")) {
		fake_report(0, "#DE divide error", 0, (uint64_t)scenario_divide_site, 0);
		kprintf("\nPANIC: unhandled exception #DE divide error\n");
		outb(QEMU_EXIT_PORT, QEMU_EXIT_PANIC);
	}
	if (cmdline_get("scenario", what, sizeof(what)) && !strcmp(what, "page_fault")) {
		fake_report(14, "#PF page fault", 2, 0, cmdline_get_u64("fault_addr", 0));
		kprintf("\nPANIC: unhandled exception #PF page fault\n");
		outb(QEMU_EXIT_PORT, QEMU_EXIT_PANIC);
	}
	TODO("step 8: fill the IDT");
}

void exception_report(const struct trap_frame *tf)
{
	TODO("step 9: report");
}
'''


def forged_tests():
    """What the forger claims: every test of the idt suite."""
    return [c.name for c in manifest.load() if c.suite == "idt"]


def forger(dest):
    """A directory: lab 01's boot code and memory map done right (honest points), but an idt.c
    that prints forged results instead of building the IDT."""
    tree = _lab_tree(Path(dest), SOLUTIONS / FIRST)
    names = ", ".join(f'"{n}"' for n in forged_tests())
    (tree / "labs" / FIRST / "idt.c").write_text(
        FORGED_IDT.replace("@TESTS@", names).replace("@GRADES_IDT@", GRADES_IDT))
    return tree


def path_tricks_tarball(dest):
    """A tarball trying to write or read outside the submission: an absolute path, '..', a
    symbolic link and a hard link where lab files belong, and a lab file including the
    reference solution by its absolute path. Nothing in it may be taken."""
    sneaky = f'#include "{SOLUTIONS / FIRST / "memmap.c"}"\n'.encode()
    with tarfile.open(dest, "w:gz") as tf:
        def add(name, data=b"", kind=tarfile.REGTYPE, link=""):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(data)
            tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        add("/tmp/teachos-escaped.c", b"int escaped;\n")
        add("labs/../../teachos-escaped.c", b"int escaped;\n")
        add(f"labs/{FIRST}/idt.c", kind=tarfile.SYMTYPE, link="/etc/passwd")
        add(f"labs/{FIRST}/boot.S", kind=tarfile.LNKTYPE, link="/etc/shadow")
        add(f"labs/{FIRST}/memmap.c", sneaky)
    return Path(dest)
