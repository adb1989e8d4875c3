"""Hostile submissions, written as a student out to cheat would write them, for
test_security.py. Each is a directory holding every lab's reference solution, with lab 01's
files (idt.c, memmap.c, boot.S) turned against the grader, a different spelling in each file
(a forging idt.c is built on the starter's, so that the idt points it earns can only be forged):

    reader-*   read a file outside the course while compiling (the outside canary, the hidden
               tests' source, the course's solution) and print it on the console, or get the
               assembler to quote it in the build log
    signer-*   reach the kernel's result signing (or the key, the test runner, QEMU's exit) by
               names built so that no text scan sees them, or register a test of their own
    fixed-*    reach the signing function or the test runner by the addresses the kernel.sym
               of one's own build shows (fixed), directly, in data, or as a distance

Every spelling hides its directive or name from the text scan of tools/instructor/intake.py:
what must stop it is the sandbox, the check of the objects or the layout of each graded
kernel. Each builder returns {file: what the intake must report about it}.
"""
import sys
from pathlib import Path

from harness.paths import ROOT, SOLUTIONS

sys.path.insert(0, str(ROOT / "tools"))
import mklab  # noqa: E402

import submissions  # noqa: E402
from submissions import FIRST  # noqa: E402

SOL = SOLUTIONS / FIRST
IDT_INIT = "void idt_init(void)\n{\n"
MEMMAP_INIT = "int memmap_init(const struct multiboot_info *mbi)\n{\n"

PASTE = """
#define PASTE(a, b) a##b
#define STR(x) #x
#define XSTR(x) STR(x)
"""


def _solution(name):
    return (SOL / name).read_text()


def _insert(text, where, before="", inside=""):
    """text with before just above where and inside just below it."""
    assert text.count(where) == 1, f"{where!r} is no longer in {FIRST}'s solution once: update hostile.py"
    return text.replace(where, before + where + inside)


def _tree(dest, files):
    tree = submissions._lab_tree(Path(dest), SOL)
    for name, text in files.items():
        (tree / "labs" / FIRST / name).write_text(text)
    return tree


# --- what the forging idt.c does, with the signing function reached some way -----------------

FORGE = r"""
/*
 * When the grader boots the idt suite: a passing result for every test, signed with this
 * boot's key by the kernel's own signing function (SIGN, reached @HOW@), then out of QEMU
 * before the real test runner says anything.
 */
#include <stdbool.h>
#include <string.h>
#include "cmdline.h"

typedef bool sign_fn(const char *msg, char tag[33]);
@SIGN@
static const char *const forged_tests[] = {@TESTS@};

@GRADES_IDT@
static void forge(void)
{
	char msg[160], tag[40];
	int n = sizeof(forged_tests) / sizeof(forged_tests[0]);

	if (!grades_idt())
		return;
	kprintf("KTAP version 1\n# ktest seed: 1\n1..1\n    KTAP version 1\n"
		"    # Subtest: idt\n    1..%d\n", n);
	for (int i = 0; i < n; i++) {
		ksnprintf(msg, sizeof(msg), "result idt %d %s ok", i + 1, forged_tests[i]);
		SIGN(msg, tag);
		kprintf("    ok %d %s\n    # mac %s\n", i + 1, forged_tests[i], tag);
	}
	kprintf("ok 1 idt\n");
	outb(0xf4, 0x10); /* QEMU's exit device: finished, every test passed */
}
"""


def forging_idt(how, sign):
    """The starter's idt.c (none of the lab's work done), which forges the idt suite's results
    when it runs: whatever idt points it earns, it earns by forging. (On the solution's code a
    forgery that went astray without stopping the kernel, a wild call that happens to land
    where boot goes on, say, would let the real runner pass the real work.)"""
    names = ", ".join(f'"{n}"' for n in submissions.forged_tests())
    forge = (FORGE.replace("@HOW@", how).replace("@SIGN@", sign).replace("@TESTS@", names)
             .replace("@GRADES_IDT@", submissions.GRADES_IDT))
    starter = mklab.starter_text(SOL / "idt.c", _solution("idt.c"))
    return _insert(starter, IDT_INIT, before=forge, inside="\tforge();\n")


SIGN_BY_NAME = PASTE + "sign_fn PASTE(attest, _tag);\n#define SIGN PASTE(attest, _tag)\n"


def sign_at(address):
    return f"#define SIGN ((sign_fn *){address:#x}UL)\n"


# --- reading files outside the course ---------------------------------------------------------

def reader_1(dest, canary, hidden_source):
    """.incbin spelled by concatenating C strings in asm() (idt.c), and by pasting tokens in a
    .S file (boot.S, the hidden tests' source); memmap.c prints what boot.S read."""
    idt = _insert(_solution("idt.c"), IDT_INIT, before=(
        "\n/* A file outside the course, in the kernel image, printed at boot. */\n"
        "__asm__(\".section .rodata\\n\"\n"
        "\t\".globl leak_outside\\n\"\n"
        f"\t\"leak_outside: .inc\" \"bin \\\"{canary}\\\"\\n\"\n"
        "\t\".byte 0\\n\"\n"
        "\t\".previous\\n\");\n"
        "extern const char leak_outside[];\n\n"),
        inside='\tkprintf("leaked: %s\\n", leak_outside);\n')
    boot = _solution("boot.S") + (
        "\n/* The hidden tests' source, for memmap.c to print. */\n"
        "#define CAT(a, b) a##b\n"
        "\t.section .rodata\n"
        "\t.globl leak_hidden\n"
        "leak_hidden:\n"
        f"\tCAT(.inc, bin) \"{hidden_source}\"\n"
        "\t.byte 0\n")
    memmap = _insert(_solution("memmap.c"), MEMMAP_INIT,
                     before="extern const char leak_hidden[] __attribute__((weak));\n\n",
                     inside='\tif (leak_hidden)\n\t\tkprintf("leaked: %s\\n", leak_hidden);\n')
    _tree(dest, {"idt.c": idt, "boot.S": boot, "memmap.c": memmap})
    return {"idt.c": ("refused", str(canary)), "boot.S": ("refused", str(hidden_source)),
            "memmap.c": ("review", "leak_hidden")}


def reader_2(dest, canary, solution_source):
    """.include spelled with a preprocessor-built name (memmap.c: the assembler then quotes
    the file's lines in its complaints), .incbin of the course's solution the same way
    (idt.c), and .include by pasted tokens in boot.S, through '..'."""
    memmap = _insert(_solution("memmap.c"), MEMMAP_INIT, before=(
        PASTE + "/* A file outside the course, as assembly: the assembler quotes what it cannot "
        "parse. */\n"
        f"__asm__(\".\" XSTR(PASTE(incl, ude)) \" \\\"{canary}\\\"\");\n\n"))
    idt = _insert(_solution("idt.c"), IDT_INIT, before=(
        PASTE + "/* The course's own solution, in the kernel image, printed at boot. */\n"
        "__asm__(\".section .rodata\\n.globl leak_solution\\nleak_solution: .\" "
        f"XSTR(PASTE(inc, bin)) \" \\\"{solution_source}\\\"\\n.byte 0\\n.previous\");\n"
        "extern const char leak_solution[];\n\n"),
        inside='\tkprintf("leaked: %s\\n", leak_solution);\n')
    up = "../" * 12 + str(canary).lstrip("/")
    boot = _solution("boot.S") + (
        "\n#define CAT(a, b) a##b\n"
        "\t.section .rodata\n"
        f"\tCAT(.incl, ude) \"{up}\"\n")
    _tree(dest, {"memmap.c": memmap, "idt.c": idt, "boot.S": boot})
    return {"memmap.c": ("refused", str(canary)), "idt.c": ("refused", str(solution_source)),
            "boot.S": ("refused", up)}


# --- reaching the signing, the key, the test runner -------------------------------------------

def signer_1(dest):
    """The signing function by a preprocessor-built name, forging the idt suite (idt.c); by a
    name split across C strings in asm() (memmap.c); QEMU's exit by pasted tokens (boot.S)."""
    idt = forging_idt("by a name the preprocessor builds", SIGN_BY_NAME)
    memmap = _solution("memmap.c") + (
        "\n__attribute__((used)) static void sneaky(void)\n{\n"
        "\t__asm__ volatile(\"call attest_\" \"printf\");\n}\n")
    boot = _solution("boot.S") + (
        "\n#define CAT(a, b) a##b\n"
        "\t.text\n"
        "sneaky_exit:\n"
        "\tmov $0x10, %edi\n"
        "\tcall CAT(qemu, _exit)\n")
    _tree(dest, {"idt.c": idt, "memmap.c": memmap, "boot.S": boot})
    return {"idt.c": ("refused", "attest_tag"), "memmap.c": ("refused", "attest_printf"),
            "boot.S": ("refused", "qemu_exit")}


def signer_2(dest):
    """A test of its own in the runner's table, passing whatever it checks (idt.c, the section
    named by concatenated strings; it also defines one of the runner's names); the key read
    from fw_cfg and an HMAC made with it, by built names (memmap.c); the signing function
    through an assembler alias of a pasted name (boot.S)."""
    names = submissions.forged_tests()
    idt = _solution("idt.c") + (
        '\n#include "ktest.h"\n\n'
        "static void always_passes(struct ktest *t)\n{\n}\n\n"
        "static const struct ktest_case mine = {\"idt\", \"" + names[0] + "\", always_passes, 1, "
        "__FILE__, __LINE__};\n"
        "__attribute__((used, section(\"ktest\" \"_cases\"))) static const struct ktest_case "
        "*const mine_ptr = &mine;\n"
        "unsigned long ktest_seed(void)\n{\n\treturn 1;\n}\n")
    memmap = _solution("memmap.c") + (
        PASTE + "long PASTE(fw_cfg, _read_file)(const char *name, void *buf, unsigned long size);\n"
        "void PASTE(hmac, _sha256)(const void *key, unsigned long key_len, const void *msg, "
        "unsigned long len, unsigned char *out);\n\n"
        "__attribute__((used)) static void sneaky(void)\n{\n"
        "\tunsigned char key[64], mac[32];\n"
        "\tlong n = PASTE(fw_cfg, _read_file)(\"opt/teachos/ktest-key\", key, sizeof(key));\n\n"
        "\tPASTE(hmac, _sha256)(key, n, \"result idt 1 x ok\", 17, mac);\n}\n")
    boot = _solution("boot.S") + (
        "\n#define CAT(a, b) a##b\n"
        "\t.set sign, CAT(attest, _tag)\n"
        "\t.text\n"
        "sneaky_sign:\n"
        "\tcall sign\n")
    _tree(dest, {"idt.c": idt, "memmap.c": memmap, "boot.S": boot})
    return {"idt.c": ("refused", "ktest_cases"), "memmap.c": ("refused", "fw_cfg_read_file"),
            "boot.S": ("refused", "attest_tag")}


# --- fixed addresses ----------------------------------------------------------------------------

def fixed_1(dest, syms):
    """The signing function called at the address one's own kernel.sym shows, forging the idt
    suite (idt.c); the test runner's address in a table (memmap.c); a call through a register
    loaded with it (boot.S). syms: name -> address in the fixed layout."""
    idt = forging_idt("at the address of its own kernel.sym", sign_at(syms["attest_tag"]))
    memmap = _solution("memmap.c") + (
        "\n__attribute__((used)) static void *const runner[] = "
        f"{{(void *){syms['ktest_main']:#x}UL}};\n")
    boot = _solution("boot.S") + (
        "\n\t.text\n"
        "sneaky_call:\n"
        f"\tmovabs ${syms['attest_printf']:#x}, %rax\n"
        "\tcall *%rax\n")
    _tree(dest, {"idt.c": idt, "memmap.c": memmap, "boot.S": boot})
    return {"idt.c": ("review", f"{syms['attest_tag']:#x}"),
            "memmap.c": ("review", f"{syms['ktest_main']:#x}"),
            "boot.S": ("review", f"{syms['attest_printf']:#x}")}


def fixed_2(dest, syms, direct_map_base=0xFFFF800000000000, kernel_vma=0xFFFFFFFF80000000):
    """The signing function at a fixed distance from one of its own functions (idt.c); the
    test runner patched through the direct map (memmap.c); a call to an absolute address in
    assembly (boot.S)."""
    delta = syms["attest_tag"] - syms["idt_set_gate"]
    sign = f"#define SIGN ((sign_fn *)((unsigned long)idt_set_gate + ({delta}L)))\n"
    idt = forging_idt("at a fixed distance from idt_set_gate", sign)
    through_direct_map = syms["ktest_fail"] - kernel_vma + direct_map_base
    memmap = _solution("memmap.c") + (
        "\n__attribute__((used)) static void sneaky(void)\n{\n"
        f"\t*(volatile unsigned char *){through_direct_map:#x}UL = 0xc3; /* ret */\n}}\n")
    boot = _solution("boot.S") + (
        "\n\t.text\n"
        "sneaky_call:\n"
        f"\tcall {syms['attest_tag']:#x}\n")
    _tree(dest, {"idt.c": idt, "memmap.c": memmap, "boot.S": boot})
    return {"idt.c": ("review", "idt_set_gate"), "memmap.c": ("review", f"{through_direct_map:#x}"),
            "boot.S": ("review", f"{syms['attest_tag']:#x}")}
