"""Addresses to function and file:line, with addr2line on the kernel's ELF file."""
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from .elf import SHN_UNDEF, STT_FILE, STT_SECTION, ElfError, read as read_elf
from .paths import ROOT, rel

_PRETTY = re.compile(r"^(?:\(inlined by\) )?(\S+) at (.+?):(\d+|\?)(?: \(discriminator \d+\))?$")


class Location:
    def __init__(self, address, function, file, line):
        self.address, self.function, self.file, self.line = address, function, file, line

    @property
    def known(self):
        return self.function != "??"

    def where(self):
        return f"{self.file}:{self.line}" if self.file != "??" else "?"

    def source_line(self):
        """The text of the source line, if the file is at hand."""
        try:
            path = Path(self.file) if Path(self.file).is_absolute() else ROOT / self.file
            lines = path.read_text(errors="replace").splitlines()
            return lines[int(self.line) - 1].strip() if self.line.isdigit() else None
        except (OSError, IndexError, ValueError):
            return None

    def __str__(self):
        return f"{self.function} ({self.where()})" if self.known else f"0x{self.address:x} (unknown)"


def _version(elf):
    """What tells two builds at one path apart, for the caches below."""
    try:
        st = os.stat(elf)
        return st.st_mtime_ns, st.st_size
    except OSError:
        return None


@lru_cache(maxsize=64)
def _addr2line(elf, version, addresses):
    """One Location list per address (the innermost inlined function first)."""
    if not addresses:
        return {}
    try:
        out = subprocess.run(["addr2line", "-e", str(elf), "-f", "-i", "-C", "-p", "-a",
                              *[hex(a) for a in addresses]],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    result, current = {}, None
    for line in out.splitlines():
        m = re.match(r"^0x([0-9a-f]+): (.*)$", line)
        if m:
            current = int(m.group(1), 16)
            result[current] = []
            line = m.group(2)
        pm = _PRETTY.match(line.strip())
        if current is not None and pm:
            function, file, lineno = pm.groups()
            result[current].append(Location(current, function, rel(file) if file != "??" else "??", lineno))
    return result


def locate_chain(elf, addresses):
    """Map each address to its Locations: the function it is in, then each function that
    function was inlined into, outwards."""
    table = _addr2line(str(elf), _version(elf), tuple(sorted(set(addresses))))
    return {a: (table.get(a) or [Location(a, "??", "??", "?")]) for a in addresses}


def locate(elf, addresses):
    """Map each address to its Location (of an inlining chain, only the innermost function)."""
    return {a: chain[0] for a, chain in locate_chain(elf, addresses).items()}


def locate_one(elf, address):
    return locate(elf, [address])[address]


def symbol_table(elf):
    """name -> address: what `nm` lists with an address (of two symbols of one name, such as
    two files' static gdt, the later in the symbol table), read from the ELF file itself. A
    make test reads some sixty kernels' tables, and nm took 90 ms for each."""
    return _symbol_table(str(elf), _version(elf))


@lru_cache(maxsize=64)
def _symbol_table(path, version):
    try:
        image = read_elf(path)
    except (OSError, ElfError):
        return {}
    return {s.name: s.value for s in image.symbols[1:]
            if s.name and s.shndx != SHN_UNDEF and s.type not in (STT_SECTION, STT_FILE)}


# A backtrace's line: a panic's "  #3 0x...", or a test's "    # #3 0x..." (a KTAP diagnostic).
BACKTRACE_LINE = re.compile(r"^(\s*(?:# )?)#(\d+) 0x([0-9a-f]+)\s*$")


def symbolize_text(elf, text):
    """Rewrite each backtrace line "#N 0x..." of text as "#N 0x... function (file:line)"."""
    lines = text.splitlines()
    addrs = [int(m.group(3), 16) for m in map(BACKTRACE_LINE.match, lines) if m]
    # Return addresses point after the call: look up the call instruction itself.
    table = locate(elf, [a - 1 for a in addrs]) if addrs else {}
    out = []
    for line in lines:
        m = BACKTRACE_LINE.match(line)
        if m:
            loc = table[int(m.group(3), 16) - 1]
            line = f"{m.group(1)}#{m.group(2)} 0x{m.group(3)} {loc}"
        out.append(line)
    return "\n".join(out)


# Where the kernel says it faulted ("#PF page fault at rip 0xffffffff8014bbda: ..."), in the
# kernel image (a user program's rip is the program's, not in the kernel's ELF file).
FAULT_RIP = re.compile(r"\bat rip (0x(?:ffffffff8[0-9a-f]{7}))\b(?! \(in )")


def symbolize_rips(elf, text):
    """Add where each "at rip 0x..." of text with a kernel address is: "at rip 0x... (in
    function (file:line))", and where the compiler put that function inline, the function
    around it: "(in list_empty (kernel/list.h:39), inlined in thread_wake_one (...))". (A
    fault's rip is the faulting instruction itself.)"""
    rips = [int(m.group(1), 16) for m in FAULT_RIP.finditer(text)]
    if not rips:
        return text
    table = locate_chain(elf, rips)

    def place(m):
        chain = [loc for loc in table[int(m.group(1), 16)] if loc.known]
        return f"{m.group(0)} (in {', inlined in '.join(map(str, chain))})" if chain else m.group(0)
    return FAULT_RIP.sub(place, text)
