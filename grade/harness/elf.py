"""Just enough of ELF64 (little-endian, x86_64) to read what a compiled lab source holds: its
sections, its symbols and its relocations. Reads object files (ET_REL) and the linked kernel:
the instructor's tools read the lab objects of a submission with it (tools/instructor/
objects.py), and the grader the kernel's symbol table (symbols.py)."""
import struct
from dataclasses import dataclass, field

SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
SHT_PROGBITS, SHT_SYMTAB, SHT_RELA, SHT_NOBITS = 1, 2, 4, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE = 0, 1, 2, 3, 4
# x86_64 relocation types that compute (symbol + addend - place): PC32, PLT32, GOTPCREL...
PC_RELATIVE = {2, 4, 9, 24, 26, 41, 42}


class ElfError(ValueError):
    pass


@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    data: bytes = b""

    @property
    def alloc(self):
        return bool(self.flags & SHF_ALLOC)

    @property
    def code(self):
        return bool(self.flags & SHF_EXECINSTR)


@dataclass
class Symbol:
    name: str
    value: int
    size: int
    bind: int
    type: int
    shndx: int

    @property
    def undefined(self):
        return self.shndx == SHN_UNDEF

    @property
    def visible(self):
        """Global or weak: what other objects link against."""
        return self.bind in (STB_GLOBAL, STB_WEAK)


@dataclass
class Relocation:
    offset: int
    type: int
    symbol: Symbol
    addend: int


@dataclass
class Elf:
    sections: list = field(default_factory=list)
    symbols: list = field(default_factory=list)
    relocations: dict = field(default_factory=dict)  # section index -> [Relocation]

    def section(self, name):
        return next((s for s in self.sections if s.name == name), None)


def read(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError(f"{path}: not a 64-bit little-endian ELF file")
    try:
        return _parse(data)
    except (struct.error, IndexError) as e:
        raise ElfError(f"{path}: a damaged ELF file ({e})") from None


def _parse(data):
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    elf = Elf()
    for i in range(shnum):
        name, typ, flags, addr, offset, size, link, info = struct.unpack_from(
            "<IIQQQQII", data, shoff + i * shentsize)
        body = data[offset:offset + size] if typ != SHT_NOBITS else b""
        elf.sections.append(Section(i, "", typ, flags, addr, offset, size, link, info, body))
    names = elf.sections[shstrndx].data if shnum else b""
    for s in elf.sections:
        s.name = _string(names, _name_offsets(data, shoff, shentsize, s.index))
    symtab = next((s for s in elf.sections if s.type == SHT_SYMTAB), None)
    if symtab:
        strings = elf.sections[symtab.link].data
        for off in range(0, len(symtab.data), 24):
            st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from(
                "<IBBHQQ", symtab.data, off)
            typ = st_info & 0xF
            name = _string(strings, st_name)
            if typ == STT_SECTION and st_shndx < len(elf.sections):
                name = elf.sections[st_shndx].name
            elf.symbols.append(Symbol(name, st_value, st_size, st_info >> 4, typ, st_shndx))
    for s in elf.sections:
        if s.type == SHT_RELA and s.link == (symtab.index if symtab else -1):
            relocs = []
            for off in range(0, len(s.data), 24):
                r_offset, r_info, r_addend = struct.unpack_from("<QQq", s.data, off)
                relocs.append(Relocation(r_offset, r_info & 0xFFFFFFFF, elf.symbols[r_info >> 32],
                                         r_addend))
            elf.relocations[s.info] = relocs
    return elf


def _name_offsets(data, shoff, shentsize, index):
    return struct.unpack_from("<I", data, shoff + index * shentsize)[0]


def _string(table, offset):
    end = table.find(b"\0", offset)
    return table[offset:end if end >= 0 else len(table)].decode("utf-8", errors="replace")
