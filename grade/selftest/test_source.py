"""The sources themselves: labs/ generated from solutions/, formatting, no leftovers, the
clang build, the handouts covering every step."""
import importlib.util
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import PYTHON, require_solutions, require_starters
from harness import build, qemu
from harness.paths import LABS, ROOT, SOLUTIONS



def test_labs_are_generated_from_solutions():
    require_starters()
    p = subprocess.run([PYTHON, "tools/mklab.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_solutions_leave_no_todo():
    leftovers = []
    for f in (p for p in SOLUTIONS.rglob("*") if p.is_file()):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r"\bTODO\b", line) and "/// STARTER:" not in line:
                leftovers.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not leftovers, "TODOs in the solutions:\n" + "\n".join(leftovers)


def test_every_starter_has_todos():
    require_starters()
    for lab in build.lab_dirs():
        text = "".join(f.read_text() for f in (LABS / lab).iterdir())
        assert "TODO" in text, f"labs/{lab} has nothing left to do"


def _c_sources():
    dirs = ["kernel", "solutions", "grade/harness", "grade/ktests", "grade/selftest/ktests", "tools", "user"]
    return sorted(str(p.relative_to(ROOT)) for d in dirs for p in (ROOT / d).rglob("*.[ch]"))


def test_c_formatting():
    p = subprocess.run(["clang-format", "--dry-run", "--Werror", *_c_sources()], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, "run `make format`:\n" + p.stderr[-4000:]


def test_python_is_clean():
    p = subprocess.run([PYTHON, "-m", "pyflakes", "grade", "tools"], cwd=ROOT, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_no_kernel_or_host_source_asks_for_the_checkpoint():
    """A source is the same at every checkpoint: the compiler does not tell the kernel's and
    the host programs' sources the checkpoint's number (kernel/build.mk gives -DCHECKPOINT to
    the bench's guest sources only, and an #if on it would quietly read 0). What a layer adds
    comes from its folder (kernel/layers/NN-name/, registered with LAYER); a test that must
    know asks the kernel (layer_top(), layer_present(); docs/adding-a-checkpoint.md)."""
    uses = []
    for d in ("kernel", "labs", "solutions", "grade/ktests"):
        for f in sorted((ROOT / d).rglob("*")):
            if f.suffix in (".c", ".h", ".S"):
                for n, line in enumerate(f.read_text().splitlines(), 1):
                    if re.search(r"\bCHECKPOINT\b", line):
                        uses.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not uses, ("these ask for the checkpoint's number, which the compiler does not give "
                      "them; let the layer's folder provide what differs (a LAYER entry, or a "
                      "header found with __has_include and named in kernel/build.mk's "
                      "PROBED_HEADERS), or ask the kernel (layer_top()):\n" + "\n".join(uses))


def test_each_header_asked_for_with_has_include_is_probed():
    """Every layer's folder is on the include path at every checkpoint (kernel/build.mk), so
    __has_include would find a layer's header even in a kernel without that layer, unless
    build.mk lists it in PROBED_HEADERS: then its folder joins the path at its checkpoint."""
    probed = re.search(r"^PROBED_HEADERS :=(.*)$", (ROOT / "kernel" / "build.mk").read_text(), re.M)
    assert probed, "kernel/build.mk has no PROBED_HEADERS line"
    listed = set(probed.group(1).split())
    layer_headers = {p.name for p in (ROOT / "kernel" / "layers").glob("*/*.h")}
    unlisted = []
    for d in ("kernel", "labs", "solutions", "grade/ktests"):
        for f in sorted((ROOT / d).rglob("*.[chS]")):
            for name in re.findall(r'__has_include\("([^"]+)"\)', f.read_text()):
                if name in layer_headers and name not in listed:
                    unlisted.append(f"{f.relative_to(ROOT)}: __has_include(\"{name}\")")
    assert not unlisted, ("these ask whether a layer's header is there, which is always so unless "
                          "kernel/build.mk's PROBED_HEADERS names it:\n" + "\n".join(unlisted))
    assert all(name in layer_headers for name in listed), \
        f"PROBED_HEADERS names headers no layer has: {sorted(listed - layer_headers)}"


# kernel/build.mk's include path (INCLUDE_DIRS), in order: the folder of every layer with a
# header other than local.h is on it at every checkpoint, so the compiler would find layer
# 07's headers in a kernel of checkpoint 03.
INCLUDE_PATH = ["kernel/libc", "kernel",
                *sorted({str(h.parent.relative_to(ROOT)) for h in (ROOT / "kernel" / "layers").glob("*/*.h")
                         if h.name != "local.h"}), "grade/ktests/include"]
QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def _layer_of(path):
    """The layer a file is compiled with (kernel/layers/NN-..., labs/NN-..., solutions/NN-...,
    grade/ktests/NN-...: NN, from checkpoint NN on; 00-kernel's tests: 0), or None for a file
    of the core (kernel/, kernel/libc, grade/ktests/include), which every checkpoint has."""
    m = re.match(r"(?:kernel/layers|labs|solutions|grade/ktests)/(\d\d)-", path)
    return int(m.group(1)) if m else None


def _needs(path, memo, chain=()):
    """(the highest layer whose headers the file includes, directly or through other headers,
    and the chain of includes that reaches it; problems found on the way). A header a file
    asks for with __has_include (kernel/heap.h's kmalloc_fast.h) is that file's choice, not a
    need: build.mk's PROBED_HEADERS puts its folder on the include path only from its layer on."""
    if path in memo:
        return memo[path]
    memo[path] = (0, (), [])  # an include cycle ends here
    text = (ROOT / path).read_text()
    probed = set(re.findall(r'__has_include\("([^"]+)"\)', text))
    need, why, problems = 0, (), []
    for name in QUOTED_INCLUDE.findall(text):
        if name in probed:
            continue
        here = str((Path(path).parent / name))
        found = here if (ROOT / here).is_file() else next(
            (f"{d}/{name}" for d in INCLUDE_PATH if (ROOT / d / name).is_file()), None)
        if found is None:
            continue  # the compiler's own headers, or a file written by the build
        layer = _layer_of(found) if found.startswith("kernel/layers/") else None
        if Path(found).name == "local.h" and found != here:
            problems.append(f"{path} includes {found}, which is for the files of its own folder")
        n, sub, more = _needs(found, memo)
        problems += more
        if layer is not None and layer > n:
            n, sub = layer, ()
        if n > need:
            need, why = n, (found, *sub)
    memo[path] = (need, why, problems)
    return memo[path]


def test_each_file_includes_only_the_headers_of_its_layer_and_earlier_ones():
    """The compiler no longer keeps a file of layer 03 from including a header of layer 07 (the
    include path is the same at every checkpoint, kernel/build.mk): this test does. A core file
    may include no layer's header (it would not build at the checkpoints before that layer);
    a layer's file, the headers of its layer and earlier ones."""
    memo, bad = {}, set()
    files = [str(p.relative_to(ROOT)) for d in ("kernel", "labs", "solutions", "grade/ktests")
             for p in sorted((ROOT / d).rglob("*")) if p.suffix in (".c", ".h", ".S")
             and not str(p.relative_to(ROOT)).startswith("kernel/host/")]
    for f in files:
        need, why, problems = _needs(f, memo)
        bad.update(problems)
        layer = _layer_of(f)
        if layer is None and f.endswith(".h") and not f.startswith("kernel/layers/"):
            continue  # a core header: what it needs counts where it is included
        if need > (layer or 0):
            bad.add(f"{f} ({'the core' if layer is None else f'layer {layer:02d}'}) includes a header "
                    f"of layer {need:02d}: {' -> '.join((f, *why))}")
    assert not bad, "\n".join(sorted(bad))


def macro_parameters_named_as_fields(text):
    """(macro, parameter) for each function-like macro of text with a parameter that its body
    uses as a variable (`next = ...`, `next->x`) and also as the name of a member it reads
    (`->next`, `.next`): the preprocessor replaces those too, so the macro compiles only when
    the caller's variable happens to be spelled as the parameter. (A parameter that names a
    member, as list_entry's `member`, is only ever used after `.` or `->` or passed on.)"""
    bad = []
    text = text.replace("\\\n", " ")
    for m in re.finditer(r"^\s*#\s*define\s+(\w+)\(([^)]*)\)(.*)$", text, re.MULTILINE):
        body = m.group(3)
        for p in (w.strip() for w in m.group(2).split(",")):
            if not p or p == "...":
                continue
            name = re.escape(p)
            as_member = re.search(rf"(?:\.|->)\s*{name}\b", body)
            as_variable = re.search(rf"(?<![\w.>])\s*\(?{name}\)?\s*(?:->|\.|=(?!=))", body)
            if as_member and as_variable:
                bad.append((m.group(1), p))
    return bad


def test_no_macro_parameter_is_named_as_a_field_it_reads():
    bad = [f"{f.relative_to(ROOT)}: {name}({p})" for f in sorted(ROOT.glob("**/*.h"))
           if "build" not in f.relative_to(ROOT).parts[:1]
           for name, p in macro_parameters_named_as_fields(f.read_text())]
    assert not bad, ("macros whose parameter is also a member they read (a caller's variable "
                     "of any other name breaks them; rename the parameter):\n" + "\n".join(bad))
    # As list.h had it: list_for_each_entry_safe(c, n, ...) did not compile.
    old = ("#define list_for_each_entry_safe(pos, next, head, member) \\\n"
           "\tfor (pos = x, next = list_entry(pos->member.next, __typeof__(*pos), member);;)\n")
    assert macro_parameters_named_as_fields(old) == [("list_for_each_entry_safe", "next")]


def todo_messages(path, text):
    """The message each TODO(...) / TODO_ASM(...) of a starter's file stops the kernel with:
    "not implemented: <function>() at <file>:<line>: <what>" (kernel/todo.h)."""
    out, function = [], "?"
    for n, line in enumerate(text.splitlines(), 1):
        d = re.match(r"^[A-Za-z_][\w\s\*]*?\b(\w+)\(", line)
        if d and not line.startswith((" ", "\t", "#")):
            function = d.group(1)
        m = re.search(r"\bTODO(?:_ASM)?\((?:\s*(\w+)\s*,)?\s*(\"(?:[^\"\\\\]|\\\\.)*\"(?:\s*\"(?:[^\"\\\\]|\\\\.)*\")*)", line)
        if m:
            what = "".join(re.findall(r'"((?:[^"\\\\]|\\\\.)*)"', m.group(2)))
            out.append((n, f"not implemented: {m.group(1) or function}() at {path}:{n}: {what}"))
    return out


def test_every_todo_message_fits_the_kernels_buffer():
    """A TODO's message is what a student reads to know what to write: none may be cut off."""
    require_starters()
    cap = int(re.search(r"#define KTRY_MSG_MAX\s+(\d+)", (ROOT / "kernel/ktry.h").read_text())[1])
    long = [f"{path.relative_to(ROOT)}:{n}: {len(msg)} characters" for path in sorted(LABS.glob("*/*"))
            for n, msg in todo_messages(path.relative_to(ROOT), path.read_text())
            if len(msg) >= cap]
    assert not long, f"TODO messages longer than KTRY_MSG_MAX - 1 ({cap - 1}):\n" + "\n".join(long)
    found = todo_messages("labs/08-user/aslr.c", (LABS / "08-user" / "aslr.c").read_text())
    assert any("aslr_choose() at labs/08-user/aslr.c:" in m and m.endswith("stack_bottom")
               for _, m in found), found


def test_no_kernel_file_is_over_500_lines():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in sorted((ROOT / "kernel").rglob("*"))
            if p.suffix in (".c", ".h", ".S") and (n := len(p.read_text().splitlines())) > 500]
    assert not long, "split these where the job changes:\n" + "\n".join(long)


def test_clang_builds_and_boots_the_last_checkpoint(labs):
    require_solutions(*labs)
    last = labs[-1]
    out = build.kernel(f"check-{last}-clang", int(last[:2]), build.checkpoint_layers(labs, last),
                       cc="clang")
    run = qemu.boot(out, "clang-tour", timeout=20)
    assert run.finished, run.describe()
    assert "The tour of checkpoint" in run.text


@pytest.mark.parametrize("lab", build.lab_dirs())
def test_handout_covers_every_step(lab):
    handout = ROOT / "handouts" / f"{lab}.md"
    assert handout.is_file(), f"no handout {handout.relative_to(ROOT)}"
    # A chapter may be split into parts: handouts/01-boot.md, handouts/01-boot-2-exceptions.md, ...
    text = "\n".join(p.read_text() for p in [handout, *sorted(handout.parent.glob(f"{lab}-*.md"))])
    steps = set()
    for f in (LABS / lab).iterdir():
        steps |= {int(n) for n in re.findall(r"\bsteps? (\d+)", f.read_text())}
        steps |= {int(b) for a, b in re.findall(r"\bsteps (\d+)-(\d+)", f.read_text())}
    missing = [s for s in sorted(steps) if not re.search(rf"(?im)^#+ .*\bstep {s}\b", text)]
    assert not missing, f"{handout.name} has no section heading for step(s) {missing}"
    for word in ("## Questions", "## Extensions"):
        assert word in text, f"{handout.name} has no '{word}' section"
    for ref in re.findall(r"`((?:kernel|labs|grade)/[\w./-]+)`", text):
        assert (ROOT / ref).exists(), f"{handout.name} mentions {ref}, which does not exist"


def test_every_test_has_its_step():
    """grade/steps.toml (tools/steps.py) knows the step of every test of the labs it covers:
    a new or renamed test must be measured, or make grade cannot put its failures in order."""
    spec = importlib.util.spec_from_file_location("steps", ROOT / "tools" / "steps.py")
    steps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(steps)
    tables = tomllib.loads((ROOT / "grade" / "steps.toml").read_text())
    assert tables, "grade/steps.toml is empty: run tools/steps.py"
    require_solutions(*tables)  # the steps are read from the solutions' markers
    bad = steps.check(tables)
    assert not bad, "\n".join(bad)



WORKED_EXAMPLE_DRIVER = r"""
#include <stdint.h>
#include <stdio.h>
#include "list_heap.h"
#include "measure.h"

static uint8_t arena[256] __attribute__((aligned(4096)));

/* The free list as the comment writes it, the arena taken to start at 0x1000. */
static void show(const struct list_heap *h)
{
	for (const struct list_region *r = h->head; r; r = r->next)
		printf("%s[0x%lx, %zu)", r == h->head ? "" : " -> ",
		       (unsigned long)((uintptr_t)r - (uintptr_t)arena + 0x1000), r->size);
	printf("\n");
}

int main(void)
{
	struct list_heap h;

	list_heap_init(&h, arena, sizeof(arena));
	show(&h);
	void *a = list_heap_alloc(&h, 20, 8);
	show(&h);
	void *b = list_heap_alloc(&h, 64, 64);
	show(&h);
	list_heap_free(&h, a);
	show(&h);
	list_heap_free(&h, b);
	show(&h);
	return 0;
}
"""


def test_the_worked_example_of_the_linked_list_heap_is_what_it_does(tmp_path):
    """Question 1 of lab 04 sends the student to the worked example at the top of
    list_heap.c to check an answer: its lists must be what the reference code makes."""
    require_solutions("04-linked-list")
    source = SOLUTIONS / "04-linked-list" / "list_heap.c"
    said = [m.group(1).replace(" bytes", "") for m in
            re.finditer(r"^ \*.*?list: (\[0x.*?\))(?:\s{2,}.*)?$", source.read_text(), re.M)]
    (tmp_path / "example.c").write_text(WORKED_EXAMPLE_DRIVER)
    exe = tmp_path / "example"
    subprocess.run(["gcc", "-O1", "-I", str(ROOT / "kernel"), "-I", str(ROOT / "tools" / "heapmeasure"),
                    "-o", str(exe), str(tmp_path / "example.c"), str(source)], check=True)
    done = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert said == done, f"the worked example at the top of {source.relative_to(ROOT)} says\n" + \
        "\n".join(said) + "\nbut the code makes\n" + "\n".join(done)
