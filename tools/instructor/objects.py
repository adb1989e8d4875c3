"""What a submission's compiled lab sources use, read from their object files rather than from
their text, so that it holds however a source spells a name.

For each lab source the build compiled (from the build's compile_commands.json), its object
file says:

    imports    the symbols it uses from elsewhere (undefined symbols, weak ones included)
    defines    the global symbols it provides
    sections   where its code and data go
    addresses  constants and offsets that point into the kernel image

and these are checked against the course's lists in grade/imports/ (README.md there):

    never.txt      names no lab may use or define (the result signing, fw_cfg, the test
                   runner, leaving QEMU, the layout's gaps): the source is refused, its lab's
                   starter is graded in its place
    sections.txt   the sections a lab object may have; another one (ktest_cases, the test
                   runner's table, say) is refused likewise
    kernel.txt     the kernel API any lab may use
    NN-name.txt    what lab NN-name may use besides: the imports of its reference solution
                   and of its starter (`make imports` writes them, `make test` checks them)

An import on none of these lists is flagged for review, naming the symbol and the source, as
is a fixed address inside the kernel image (in code, in data, or as an offset from a symbol
that reaches past its end): graded kernels are linked at a layout of their own
(KERNEL_LAYOUT_SEED, kernel/kernel.ld), so such an address taken from one's own kernel.sym
points elsewhere there.
"""
import fnmatch
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import course
from harness import elf  # noqa: E402 (course puts grade/ on the path)

LISTS = Path("grade") / "imports"
SLACK = 64  # bytes an offset may reach past the end of its symbol (x86 addressing quirks)
WINDOW = 64 << 20  # how far past its start an address counts as inside the kernel image

_HEX = re.compile(r"0x([0-9a-f]+)")
_RIP_TARGET = re.compile(r"#\s*([0-9a-f]+)\s*<")
_BRANCH = re.compile(r"^\s*(call|jmp|j[a-z]{1,4}|loop\w*)\s+([0-9a-f]+)\s*<")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s*(.*)$")


@dataclass
class Finding:
    source: str      # labs/01-boot/idt.c
    what: str        # the symbol, section or address
    why: str
    refuse: bool     # refused (the starter is graded instead), else flagged for review

    def __str__(self):
        return f"{self.source}: {self.why}"


class Policy:
    """The lists of grade/imports/ of a course."""

    def __init__(self, root=course.ROOT):
        self.dir = Path(root) / LISTS
        self.never = []  # (pattern, reason)
        reason = "not for lab code"
        for line in self._lines("never.txt"):
            if line.startswith("[") and line.endswith("]"):
                reason = line[1:-1]
            else:
                self.never.append((line, reason))
        self.sections = self._lines("sections.txt")
        self.kernel = set(self._lines("kernel.txt"))

    def _lines(self, name):
        path = self.dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: the lists of what lab code may use")
        return [l.strip() for l in path.read_text().splitlines()
                if l.strip() and not l.lstrip().startswith("#")]

    def lab_list(self, lab):
        """The names lab (01-boot) may use besides kernel.txt; None if it has no list."""
        path = self.dir / f"{lab}.txt"
        return set(self._lines(f"{lab}.txt")) if path.is_file() else None

    def never_reason(self, name):
        for pattern, reason in self.never:
            if fnmatch.fnmatchcase(name, pattern):
                return reason
        return None

    def section_allowed(self, name):
        return any(fnmatch.fnmatchcase(name, p) for p in self.sections)


def lab_objects(build_dir, root):
    """{source path relative to root ("labs/01-boot/idt.c"): object file} of every lab source
    (labs/ or solutions/) the build in build_dir compiled, failed builds included: from the
    compile command kernel/build.mk writes beside each object (obj/*.o.json)."""
    root = Path(root).resolve()
    found = {}
    for fragment in sorted((Path(build_dir) / "obj").glob("*.o.json")):
        try:
            entry = json.loads(fragment.read_text().strip().rstrip(","))
            src, args = Path(entry["file"]), entry["arguments"]
            obj = Path(args[args.index("-o") + 1])
        except (OSError, ValueError, KeyError, IndexError):
            continue
        try:
            rel = src.resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        if rel.split("/", 1)[0] not in ("labs", "solutions"):
            continue
        obj = obj if obj.is_absolute() else Path(entry["directory"]) / obj
        if obj.is_file():
            found[rel] = obj
    return found


def lab_of(source):
    """labs/01-boot/idt.c -> 01-boot"""
    return source.split("/")[1]


def imports(obj):
    """The names an object file uses from elsewhere."""
    return sorted({s.name for s in obj.symbols if s.undefined and s.visible and s.name})


def defines(obj):
    return sorted({s.name for s in obj.symbols if not s.undefined and s.visible and s.name})


class Layout:
    """The kernel's image windows, from kernel/memlayout.h, and its symbols' sizes."""

    def __init__(self, root, kernel_elf=None):
        text = (Path(root) / "kernel" / "memlayout.h").read_text()

        def const(name):
            m = re.search(rf"#define\s+{name}\s+_UL\((0x[0-9a-fA-F]+)\)", text)
            if not m:
                raise ValueError(f"kernel/memlayout.h has no {name}")
            return int(m.group(1), 16)

        phys, vma, direct = const("KERNEL_PHYS_BASE"), const("KERNEL_VMA"), const("DIRECT_MAP_BASE")
        # What code adds to an address to see it through another mapping (boot_gdt +
        # DIRECT_MAP_BASE, a symbol - KERNEL_VMA for its physical address, ...).
        self.translations = sorted({(s * a - t * b) % (1 << 64) for a, b in ((vma, direct), (direct, vma))
                                    for s in (0, 1, -1) for t in (0, 1, -1)})
        self.windows = [(vma + phys, vma + WINDOW, "the kernel image"),
                        (direct + phys, direct + WINDOW, "the kernel image through the direct map")]
        self.sizes = {}
        if kernel_elf and Path(kernel_elf).is_file():
            for s in elf.read(kernel_elf).symbols:
                if s.visible and not s.undefined:
                    self.sizes[s.name] = s.size

    def inside(self, value, bits=64):
        """What fixed address value is (an immediate of bits bits, sign-extended), or None."""
        if bits == 32 and 0x80000000 <= value < 1 << 32:
            value |= 0xFFFFFFFF00000000
        value &= (1 << 64) - 1
        for low, high, what in self.windows:
            if low <= value < high:
                return what
        return None

    def within(self, offset, size):
        """Whether offset from a symbol of size bytes stays on it, in any of the mappings."""
        for base in self.translations:
            o = (offset - base) % (1 << 64)
            o = o - (1 << 64) if o >> 63 else o
            if -SLACK <= o <= size + SLACK:
                return True
        return False


def check(build_dir, root, policy=None, sources=None):
    """The findings about the lab objects of the build in build_dir (a course copy at root),
    or only about those compiled from sources (paths relative to root)."""
    policy = policy or Policy(root)
    objects = lab_objects(build_dir, root)
    if sources is not None:
        objects = {k: v for k, v in objects.items() if k in set(sources)}
    layout = Layout(root, Path(build_dir) / "kernel.elf")
    findings = []
    parsed = {}
    for source, path in sorted(objects.items()):
        try:
            parsed[source] = elf.read(path)
        except (OSError, elf.ElfError) as e:
            findings.append(Finding(source, str(path), f"its object file could not be read: {e}", True))
    lab_lists = {}
    for source, obj in parsed.items():
        lab = lab_of(source)
        if lab not in lab_lists:
            lab_lists[lab] = policy.lab_list(lab)
        own = {d for s, o in parsed.items() if lab_of(s) == lab for d in defines(o)}
        findings += _names(source, obj, policy, lab_lists[lab], own)
        findings += _sections(source, obj, policy)
        findings += _addresses(source, obj, layout)
    findings += _code(parsed, objects, layout)
    return findings


def _names(source, obj, policy, lab_list, own):
    found = []
    for name in defines(obj):
        reason = policy.never_reason(name)
        if reason:
            found.append(Finding(source, name, f"defines {name} ({reason}): lab code may not", True))
    for name in imports(obj):
        reason = policy.never_reason(name)
        if reason:
            found.append(Finding(source, name, f"uses {name} ({reason}): lab code may not", True))
        elif name in own or name in policy.kernel:
            continue
        elif lab_list is None:
            found.append(Finding(source, name, f"uses {name}, and its lab has no list of what it "
                                 f"may use ({LISTS}/{lab_of(source)}.txt)", False))
        elif name not in lab_list:
            found.append(Finding(source, name, f"uses {name}, which is not among what "
                                 f"{lab_of(source)} is meant to use ({LISTS}/{lab_of(source)}.txt, "
                                 f"{LISTS}/kernel.txt)", False))
    return found


def _sections(source, obj, policy):
    return [Finding(source, s.name, f"puts code or data in section {s.name}, which lab code may "
                    f"not (only {LISTS}/sections.txt): the kernel's tables, such as the test "
                    f"runner's, are sections", True)
            for s in obj.sections if s.alloc and s.name and not policy.section_allowed(s.name)]


def _addresses(source, obj, layout):
    """Fixed addresses in data, and relocations that reach outside their symbol."""
    found = []
    for sec in obj.sections:
        if not sec.alloc:
            continue
        relocs = obj.relocations.get(sec.index, [])
        covered = set()
        for r in relocs:
            covered.update(range(r.offset, r.offset + 8))
            why = _relocation(r, obj, layout)
            if why:
                found.append(Finding(source, why[0], why[1], False))
        if sec.type == elf.SHT_PROGBITS and not sec.code:
            data = sec.data
            for off in range(0, max(0, len(data) - 7)):
                if off in covered:
                    continue
                value = int.from_bytes(data[off:off + 8], "little")
                where = layout.inside(value) if value >> 63 else None
                if where:
                    found.append(Finding(source, f"{value:#x}", f"holds the fixed address {value:#x} "
                                         f"({where}) in {sec.name}: {_FIXED}", False))
    return _unique(found)


_FIXED = ("graded kernels have a layout of their own, so an address read from one's own "
          "kernel.sym points elsewhere there")


def _relocation(r, obj, layout):
    sym = r.symbol
    adjust = 4 if r.type in elf.PC_RELATIVE else 0
    if sym.shndx == elf.SHN_ABS or (not sym.name and sym.type != elf.STT_SECTION):
        value = sym.value + r.addend + adjust
        where = layout.inside(value)
        if where:
            return f"{value & ((1 << 64) - 1):#x}", (f"reaches the fixed address "
                                                      f"{value & ((1 << 64) - 1):#x} ({where}): {_FIXED}")
        return None
    if sym.undefined:
        size = layout.sizes.get(sym.name)
        if size is None:
            return None
        offset = r.addend + adjust
        if layout.within(offset, size):
            return None
        return (f"{sym.name}{offset:+#x}",
                f"refers to {sym.name}{offset:+#x}, past the {size} bytes of {sym.name}: an "
                f"address at a fixed distance from a kernel symbol; {_FIXED}")
    if sym.shndx < len(obj.sections):
        sec = obj.sections[sym.shndx]
        if layout.within(sym.value + r.addend + adjust, sec.size):
            return None
        name = sym.name or sec.name
        return (f"{name}{r.addend + adjust:+#x}",
                f"refers to {name}{r.addend + adjust:+#x}, outside its own section {sec.name} "
                f"({sec.size} bytes): an address at a fixed distance from its own code; {_FIXED}")
    return None


def _code(parsed, objects, layout):
    """Constants and targets in the lab objects' code, from one objdump of all of them."""
    paths = {str(objects[s]): s for s in parsed}
    if not paths:
        return []
    try:
        out = subprocess.run(["objdump", "-d", "-w", "--no-show-raw-insn", *paths],
                             capture_output=True, text=True, errors="replace", timeout=300).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found, source, section, size = [], None, None, 0
    for line in out.splitlines():
        if line.endswith("file format elf64-x86-64"):
            source = paths.get(line.split(":", 1)[0].strip())
            continue
        if line.startswith("Disassembly of section "):
            name = line[len("Disassembly of section "):].rstrip(":")
            sec = parsed[source].section(name) if source else None
            section, size = name, (sec.size if sec else 0)
            continue
        m = _INSN.match(line)
        if not source or not m:
            continue
        insn = m.group(2)
        text = insn.split("#", 1)[0]
        for h in _HEX.finditer(text):
            value = int(h.group(1), 16)
            where = layout.inside(value, 64 if len(h.group(1)) > 8 else 32)
            if where:
                found.append(Finding(source, f"{value:#x}", f"uses the fixed address {value:#x} "
                                     f"({where}) in its code: {_FIXED}", False))
        for value, why in _ports(text):
            found.append(Finding(source, value, why, False))
        target = _RIP_TARGET.search(insn) or _BRANCH.match(insn)
        if target:
            t = int(target.group(target.lastindex), 16)
            if t > size + SLACK:
                found.append(Finding(source, f"{section}+{t:#x}",
                                     f"reaches {section}+{t:#x}, past the end of its own {section} "
                                     f"({size} bytes): an address at a fixed distance from its own "
                                     f"code; {_FIXED}", False))
    return _unique(found)


# I/O ports lab code has no business with, and what they are.
PORTS = {0x510: "QEMU's fw_cfg device, which holds the signing key",
         0x511: "QEMU's fw_cfg device, which holds the signing key",
         0xF4: "QEMU's exit device, which ends the boot"}


def _ports(text):
    m = re.match(r"^\s*(?:mov\w*\s+\$0x([0-9a-f]+),%(?:e?dx|dx)|(?:out|in)\w*\s+(?:%\w+,)?\$0x([0-9a-f]+))",
                 text)
    if m:
        port = int(m.group(1) or m.group(2), 16)
        if port in PORTS:
            yield f"port {port:#x}", f"uses I/O port {port:#x} ({PORTS[port]})"


def _unique(findings):
    seen, out = set(), []
    for f in findings:
        key = (f.source, f.what, f.why)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


# --- the lists of grade/imports/ ------------------------------------------------------------------

LIST_HEADER = """\
# What labs/{lab}/ may use from the rest of the kernel besides kernel.txt: what its
# solution and its starter use, written by `make imports` and checked by `make test`. A
# lab source that uses anything else is flagged for review (tools/instructor/objects.py).
"""


def derived_lists(build_dirs, root=course.ROOT, policy=None):
    """{lab: names} that the lab objects of the builds in build_dirs import from outside their
    own lab, kernel.txt aside: what each lab's list must hold."""
    policy = policy or Policy(root)
    used, own = {}, {}
    for build_dir in build_dirs:
        for source, path in lab_objects(build_dir, root).items():
            obj = elf.read(path)
            used.setdefault(lab_of(source), set()).update(imports(obj))
            own.setdefault(lab_of(source), set()).update(defines(obj))
    return {lab: sorted(names - own[lab] - policy.kernel) for lab, names in sorted(used.items())}


def reference_builds(labs=None):
    """Kernels of every lab's solution and of every lab's starter, built as `make test` builds
    them; their build directories."""
    from harness import build
    from harness.paths import LABS
    labs = labs or build.lab_dirs()
    last = int(labs[-1][:2])
    return [build.kernel(f"check-{labs[-1]}-solutions", last, build.checkpoint_layers(labs, labs[-1])),
            build.kernel("imports-starters", last, [LABS / lab for lab in labs])]


def write_lists(root=course.ROOT):
    labs = course.lab_dirs(root)
    missing = [lab for lab in labs if not (Path(root) / "solutions" / lab).is_dir()]
    if missing:
        raise SystemExit(f"imports: the lists come from every lab's solution; this copy lacks "
                         f"solutions/{', solutions/'.join(missing)}")
    lists = derived_lists(reference_builds(labs), root)
    for lab, names in lists.items():
        path = Path(root) / LISTS / f"{lab}.txt"
        path.write_text(LIST_HEADER.format(lab=lab) + "".join(n + "\n" for n in names))
        print(f"imports: {path.relative_to(root)}: {len(names)} names")
    return lists


if __name__ == "__main__":
    import sys
    if sys.argv[1:] != ["--write-lists"]:
        sys.exit("usage: PYTHONPATH=tools python3 -m instructor.objects --write-lists (make imports)")
    write_lists()
