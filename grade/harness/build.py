"""Building kernels and host test programs from Python, for the project's own tests: the
same kernel/build.mk and kernel/host.mk that `make` uses, one build at a time per directory.

The project's tests build many kernels that differ in one file (a checkpoint on the solutions,
the same with one planted bug, ...). Where ccache is installed (`tools/need test` installs it)
every compilation goes through it, with its cache in build/ccache: an object whose source,
headers and flags were compiled before, for any kernel, is taken from there instead of
compiled again. Only the files a kernel does not share with one built before are compiled.
"""
import fcntl
import json
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from .paths import BUILD, KTESTS, LABS, ROOT, SOLUTIONS
from .qemu import with_malloc_tunables


class BuildError(Exception):
    pass


def lab_dirs(root=None):
    """The labs, as directory names ("01-boot", ...): those of root, or else those of labs/
    and solutions/ together (a students' copy may have the solutions of only some labs)."""
    bases = [Path(root)] if root else [b for b in (SOLUTIONS, LABS) if b.is_dir()]
    return sorted({p.name for b in bases for p in b.iterdir() if p.is_dir() and p.name[:2].isdigit()})


LAB_NAME = re.compile(r"^(\d\d)-([\w-]+)$")


def resolve_lab(spec, labs):
    """A lab named as make's LAB= accepts it (3, 03, 03-bump or bump), or ValueError."""
    spec = str(spec).strip()
    for lab in labs:
        num, name = LAB_NAME.match(lab).groups()
        if spec in (lab, num, str(int(num)), name):
            return lab
    raise ValueError(f"no lab {spec!r}; the labs are {', '.join(labs)}")


def solution_labs(spec, labs):
    """The labs of SOLUTIONS= as make reads it, as directory names in the labs' order: all,
    none, or a list of labs and ranges of numbers (1,2,3 or 1-6 or 1-3,5); ValueError names
    the item that is none of those."""
    spec = str(spec).strip()
    if not spec or spec == "none":
        return []
    if spec == "all":
        return list(labs)
    chosen = set()
    for item in (s.strip() for s in spec.split(",")):
        span = re.fullmatch(r"(\d+)-(\d+)", item)
        if span and int(span[1]) > int(span[2]):
            raise ValueError(f"the range {item} runs backwards; the labs are {', '.join(labs)}")
        if span:
            chosen.update(resolve_lab(n, labs) for n in range(int(span[1]), int(span[2]) + 1))
        elif item:
            chosen.add(resolve_lab(item, labs))
    return [lab for lab in labs if lab in chosen]


@contextmanager
def locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def ccache_env(alone=False):
    """The environment for builds through ccache: its cache under build/ (unless CCACHE_DIR
    says otherwise), and paths inside the repository hashed as relative ones, wherever the
    repository is (see the Makefile's CCACHE_IGNOREOPTIONS); and malloc's tunables for programs
    started many times (qemu.MALLOC_TUNABLES): the tests link hundreds of kernels.

    alone: the compilations share no object with another kernel's (a planted bug's file,
    every file of the clang kernel). On a miss, ccache would run the preprocessor only to look
    for the same text compiled under other flags, which it cannot find: its depend mode skips
    that and takes the headers from the compiler's -MMD list instead (a cold `make test` runs
    the preprocessor some 400 times less; clang's costs as much as a small compilation)."""
    env = with_malloc_tunables(os.environ)
    env.setdefault("CCACHE_DIR", str(BUILD / "ccache"))
    env["CCACHE_BASEDIR"] = str(ROOT)
    env["CCACHE_IGNOREOPTIONS"] = "-fmacro-prefix-map=* -fdebug-prefix-map=*"  # as the Makefile says
    if alone:
        env["CCACHE_DEPEND"] = "1"
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # of a `make test` around us
        env.pop(var, None)
    return env


def compiler(cc):
    """The command that compiles with cc: through ccache where it is installed and cc is a
    compiler itself (gcc..., clang...), named as the Makefile names it (build.mk leaves a
    plain `ccache` out of compile_commands.json); CCACHE= turns it off."""
    ccache = os.environ.get("CCACHE", "ccache" if shutil.which("ccache") else "")
    itself = Path(cc).name.startswith(("gcc", "clang")) and shutil.which(cc)
    return f"{ccache} {cc}" if ccache and itself else cc


def _make(args, lock, alone=False):
    with locked(lock):
        p = subprocess.run(["make", "--no-print-directory", "-s", f"-j{os.cpu_count() or 2}", *args], cwd=ROOT,
                           capture_output=True, text=True, env=ccache_env(alone))
    if p.returncode != 0:
        raise BuildError((p.stdout + p.stderr).strip())
    return p


def kernel(name, checkpoint, layers, tests=None, extra_srcs=(), cc="gcc", kcflags="", layout_seed=None):
    """Build a kernel into build/<name>; layers are directories, in order 01..checkpoint.
    tests defaults to the test directories of 00-kernel and of each layer's lab. layout_seed:
    link it at the layout drawn from that KERNEL_LAYOUT_SEED (None: the fixed layout)."""
    out = BUILD / name
    layers = [str(l) for l in layers]
    if tests is None:
        tests = [KTESTS / "00-kernel"] + [KTESTS / Path(l).name for l in layers
                                          if (KTESTS / Path(l).name).is_dir()]
    _make(["-f", "kernel/build.mk", f"OUT={out}", f"CC={compiler(cc)}", f"CHECKPOINT={checkpoint}",
           f"CHECKPOINT_NAME={Path(layers[-1]).name if layers else checkpoint}",
           f"LAYERS={' '.join(layers)}", f"TESTS={' '.join(str(t) for t in tests)}",
           f"EXTRA_SRCS={' '.join(str(s) for s in extra_srcs)}", f"KCFLAGS={kcflags}",
           f"KERNEL_LAYOUT_SEED={'' if layout_seed is None else layout_seed}",
           f"{out}/kernel.bin"], out, alone=cc != "gcc")  # not the disassembly: no test reads it
    return out


def variant(base, name, replace, layout_seed=None):
    """A kernel like the one built in base (a directory kernel() built) with some of its
    source files replaced, in build/<name>: replace maps a source as base was built from it
    to the file that takes its place. Each replacement is compiled with the arguments base's
    source was compiled with, and the kernel linked with base's own link arguments (build.mk
    keeps them in link.args), the replaced objects swapped: no make, whose reading of build.mk
    costs more than the one compilation a planted bug needs. layout_seed: linked at the layout
    drawn from it, as kernel(layout_seed=...) links (None: base's layout); with nothing
    replaced, that is base's kernel at another layout, for the price of one link."""
    base, out = Path(base).resolve(), BUILD / name  # _build_commands names base's files in full
    (out / "obj").mkdir(parents=True, exist_ok=True)
    commands, link = _build_commands(base)
    swap = {str(base / "kernel.elf"): str(out / "kernel.elf"), str(base / "kernel.map"): str(out / "kernel.map")}
    with locked(out):
        for source, new in replace.items():
            args = commands.get(os.path.abspath(source))
            if args is None:
                raise BuildError(f"{base} was not built from {source}")
            args = args[:-1] if args[-1] == "-DCLANGD" else args  # what only clangd is told
            obj = out / "obj" / (Path(new).name + ".o")
            c, o = args.index("-c") + 1, args.index("-o") + 1
            swap[_in_full(args[o])] = str(obj)
            args = (compiler(args[0]).split() + args[1:c] + [str(new)] + args[c + 1:o] + [str(obj)]
                    + args[o + 1:] + ["-MMD", "-MF", f"{obj}.d"])  # the headers, for ccache_env(alone)
            _run(args, alone=True)
        link = [swap.get(a, a) for a in link if not a.startswith(f"--defsym={LAYOUT_SEED}=")]
        if layout_seed is not None:
            link.insert(0, f"--defsym={LAYOUT_SEED}={int(layout_seed)}")
        (out / "link.args").write_text("\n".join(link) + "\n")
        _run(["ld", f"@{out / 'link.args'}"])
        _run(["objcopy", "-O", "binary", str(out / "kernel.elf"), str(out / "kernel.bin")])
        # What the grade reads of a build besides the kernel: what it is made of.
        shutil.copyfile(base / "build_info.c", out / "build_info.c")
    return out


LAYOUT_SEED = "KERNEL_LAYOUT_SEED"  # the linker's symbol kernel/kernel.ld draws a layout from


_commands = {}


def _build_commands(base):
    """({source: its compiler's arguments}, the link's arguments) of the kernel built in base,
    read again only when base is built again (a test process makes many variants of one base,
    and any change to an object or its flags links kernel.elf anew)."""
    with locked(base):
        st = (base / "kernel.elf").stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if _commands.get(base, (None,))[0] != stamp:
            commands = {}
            for fragment in (base / "obj").glob("*.o.json"):  # each object's compile_commands.json line
                entry = json.loads(fragment.read_text().strip().rstrip(","))
                commands[entry["file"]] = entry["arguments"]
            link = [_in_full(a) for a in (base / "link.args").read_text().split()]
            _commands[base] = (stamp, commands, link)
        return _commands[base][1:]


def _in_full(arg):
    """A path of a build's arguments, relative to the tree's root (kernel/build.mk names what
    it builds inside the tree so), as an absolute path; any other argument as it is."""
    if arg.startswith("-") or os.path.isabs(arg) or not arg.endswith((".o", ".elf", ".map", ".ld")):
        return arg
    return str(ROOT / arg)


def _run(args, alone=False):
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=ccache_env(alone))
    if p.returncode != 0:
        raise BuildError((p.stdout + p.stderr).strip())


def checkpoint_layers(labs, upto, starter=None, source_for=None):
    """The layer directories of checkpoint `upto` (a lab name): solutions for each lab, except
    `starter` from labs/, and any lab in source_for (name -> directory) from there."""
    source_for = source_for or {}
    layers = []
    for lab in labs:
        if lab in source_for:
            layers.append(Path(source_for[lab]))
        else:
            layers.append((LABS if lab == starter else SOLUTIONS) / lab)
        if lab == upto:
            break
    return layers


def host_tests(name, layers, tests):
    out = BUILD / "host" / name
    _make(["-f", "kernel/host.mk", f"OUT={out}", f"CC={compiler('gcc')}",
           f"LAYERS={' '.join(str(l) for l in layers)}", f"TESTS={' '.join(str(t) for t in tests)}"],
          out)
    return out / "tests"
