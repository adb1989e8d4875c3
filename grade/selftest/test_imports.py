"""What lab code may use (grade/imports/, tools/instructor/objects.py):

* each lab's list is exactly what its solution and its starter use, and names nothing that
  no lab may use;
* the solutions and the starters pass every check of the objects without a single note;
* each way of reaching the signing, the key, the test runner or a fixed address, however the
  source spells it, is refused or flagged, naming the symbol and the file; what lab code
  normally does is not.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_solutions, require_starters
from harness import build
from harness.paths import LABS, ROOT

sys.path.insert(0, str(ROOT / "tools"))
from instructor import objects  # noqa: E402

FIRST = "01-boot"


@pytest.fixture(scope="module")
def reference(labs):
    require_solutions(*labs)
    require_starters()
    return objects.reference_builds(labs)


def test_each_labs_list_is_what_its_solution_and_starter_use(reference, labs):
    policy = objects.Policy(ROOT)
    derived = objects.derived_lists(reference, ROOT, policy)
    assert sorted(derived) == labs
    for lab in labs:
        listed = policy.lab_list(lab)
        assert listed is not None, f"grade/imports/{lab}.txt is missing: run `make imports`"
        assert sorted(listed) == derived[lab], (
            f"grade/imports/{lab}.txt is out of date: run `make imports` and read the diff "
            f"(to add: {sorted(set(derived[lab]) - listed)}, to drop: {sorted(listed - set(derived[lab]))})")
        never = [n for n in listed if policy.never_reason(n)]
        assert not never, f"{lab}'s solution or starter uses what no lab may: {never}"
    assert not [n for n in policy.kernel if policy.never_reason(n)]


def test_solutions_and_starters_pass_every_check(reference):
    for build_dir in reference:
        found = objects.check(build_dir, ROOT)
        assert found == [], "\n".join(map(str, found))
        assert len(objects.lab_objects(build_dir, ROOT)) == len(
            [f for f in LABS.glob("[0-9][0-9]-*/*") if f.suffix in (".c", ".S")])


# --- spellings ------------------------------------------------------------------------------------

ADDR = 0xFFFFFFFF80105000  # inside the kernel image, as any kernel.sym shows such addresses
HIGH = 0xFFFF800000105000  # the same through the direct map

SPELLINGS = [
    # (name, source, "refused"/"review", what the finding must name)
    ("pasted-name", "#define CAT(a, b) a##b\nextern int CAT(attest, _tag)(const char *m, char *t);\n"
     "int f(void) { return CAT(attest, _tag)(\"m\", 0); }\n", "refused", "attest_tag"),
    ("asm-strings", "void f(void) { __asm__ volatile(\"call hmac_\" \"sha256\"); }\n", "refused", "hmac_sha256"),
    ("weakref", "static void w(void) __attribute__((weakref(\"qemu_\" \"exit\")));\n"
     "void f(void) { w(); }\n", "refused", "qemu_exit"),
    ("asm-alias", "__asm__(\".set alias, ktest_\" \"main\");\nvoid alias(void);\n"
     "void f(void) { alias(); }\n", "refused", "ktest_main"),
    ("fw-cfg", "#define F(x) fw_cfg_##x\nlong F(read_file)(const char *n, void *b, long s);\n"
     "long f(char *b) { return F(read_file)(\"k\", b, 8); }\n", "refused", "fw_cfg_read_file"),
    ("defines-runner", "unsigned long ktest_seed(void) { return 1; }\n", "refused", "ktest_seed"),
    ("reads-layout", "extern char KERNEL_LAYOUT_SEED[];\n"
     "unsigned long f(void) { return (unsigned long)KERNEL_LAYOUT_SEED; }\n", "refused", "KERNEL_LAYOUT_SEED"),
    ("own-test", "__attribute__((used, section(\"ktest\" \"_cases\"))) static const void *p = 0;\n",
     "refused", "ktest_cases"),
    ("asm-section", "__asm__(\".pushsection ktest_suites, \\\"a\\\"\\n.quad 0\\n.popsection\");\n",
     "refused", "ktest_suites"),
    ("unlisted", "void kframe_alloc(void);\nvoid f(void) { kframe_alloc(); }\n", "review", "kframe_alloc"),
    ("fixed-call", f"void f(void) {{ ((void (*)(void)){ADDR:#x}UL)(); }}\n", "review", f"{ADDR:#x}"),
    ("fixed-data", f"__attribute__((used)) static void *const t[] = {{(void *){ADDR:#x}UL}};\n",
     "review", f"{ADDR:#x}"),
    ("fixed-asm", f"void f(void) {{ __asm__ volatile(\"call {ADDR:#x}\"); }}\n", "review", f"{ADDR:#x}"),
    ("fixed-32", f"void f(void) {{ __asm__ volatile(\"mov ${ADDR & 0xFFFFFFFF:#x}, %%eax\" ::: \"eax\"); }}\n",
     "review", f"{ADDR & 0xFFFFFFFF:#x}"),
    ("direct-map", f"void f(void) {{ *(volatile char *){HIGH:#x}UL = 1; }}\n", "review", f"{HIGH:#x}"),
    ("past-a-kernel-symbol", "#include \"kprintf.h\"\n"
     "void *f(void) { return (char *)kprintf + 0x5000; }\n", "review", "kprintf+0x5000"),
    ("past-own-code", "static void g(void) { }\n"
     "void *f(void) { return (char *)(unsigned long)g + 0x40000; }\n", "review", "+0x4"),
    ("fw-cfg-port", "void f(void) { __asm__ volatile(\"outw %0, %1\" : : \"a\"((unsigned short)0), "
     "\"Nd\"((unsigned short)(0x500 + 0x10))); }\n", "review", "port 0x510"),
    # What lab code does: no note.
    ("kprintf", "#include \"kprintf.h\"\nvoid f(void) { kprintf(\"hi\\n\"); }\n", None, None),
    ("translations", "#include \"memlayout.h\"\nextern char __stack_top[];\n"
     "unsigned long f(void) { return virt_to_phys(__stack_top); }\n"
     "void *g(void) { return phys_to_virt(virt_to_phys(__stack_top)); }\n"
     "void *h(void *p) { return phys_to_virt(virt_to_phys(p) + PAGE_SIZE); }\n", None, None),
    ("own-data", "static int a[16];\nint *f(int i) { return &a[15] + i; }\n", None, None),
]


@pytest.fixture(scope="module")
def fake_course(tmp_path_factory, labs):
    """A course (its lists and memlayout.h) and a kernel.elf, to check snippets compiled as
    lab 01 files."""
    require_solutions(labs[0])
    kernel = build.kernel(f"check-{labs[0]}-solutions", 1, build.checkpoint_layers(labs, labs[0]))
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "grade" / "imports", root / "grade" / "imports")
    (root / "kernel").mkdir()
    shutil.copy(ROOT / "kernel" / "memlayout.h", root / "kernel")
    (root / "labs" / FIRST).mkdir(parents=True)
    out = root / "build" / "x"
    (out / "obj").mkdir(parents=True)
    shutil.copy(kernel / "kernel.elf", out / "kernel.elf")
    flags = json.loads((kernel / "obj" / "kernel_attest.c.o.json").read_text().rstrip().rstrip(","))
    args = flags["arguments"]
    args = args[1:] if Path(args[0]).name == "ccache" else args  # the harness builds through it
    flags = [a for a in args[1:args.index("-c")]]
    flags = [f"-I{ROOT / a[2:]}" if a.startswith("-I") and not a.startswith("-I/") else a for a in flags]
    return root, out, flags


@pytest.mark.parametrize("name,source,verdict,what", SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_what_an_object_uses_is_found_however_spelled(fake_course, name, source, verdict, what):
    root, out, flags = fake_course
    src = root / "labs" / FIRST / f"{name}.c"
    src.write_text(source)
    obj = out / "obj" / f"labs_{FIRST}_{name}.c.o"
    p = subprocess.run(["gcc", *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    (out / "obj" / f"labs_{FIRST}_{name}.c.o.json").write_text(json.dumps(
        {"directory": str(root), "file": str(src), "arguments": ["gcc", "-c", str(src), "-o", str(obj)]}) + ",\n")
    found = objects.check(out, root, objects.Policy(root), sources=[f"labs/{FIRST}/{name}.c"])
    if verdict is None:
        assert found == [], "\n".join(map(str, found))
        return
    assert found, f"{name}: nothing found"
    assert all(f.source == f"labs/{FIRST}/{name}.c" for f in found)
    hits = [f for f in found if what in f.what or what in f.why]
    assert hits, f"{name}: no finding names {what}: " + "\n".join(map(str, found))
    assert any(f.refuse == (verdict == "refused") for f in hits), "\n".join(map(str, found))
