"""The sandbox a submission's sources compile in (tools/instructor/cc), and what replaces it
where it cannot run.

With bubblewrap (Debian's `bubblewrap`), tools/instructor/cc compiles each lab source in a
sandbox that shows it only the course's include directories, the source's own folder and the
compiler: whatever an `#include`, `.include` or `.incbin` names, however the source spells
it, a file outside is simply not there. probe() tells whether bubblewrap runs here: it needs
namespaces, which some containers (Docker's default profile among them) and kernels with
unprivileged user namespaces disabled do not allow.

Where it does not run, `python3 sandbox.py compile ARGS` is the compiler for lab sources (the
fallback). It cannot hide files, so it checks what the compiler read before it shows anything
the compiler printed: first a preprocessor pass lists every file an `#include` reads (-M -MG,
its messages never shown); then the compile itself, with the assembler listing every file
`.include` and `.incbin` read (--MD). A file outside the course, or a message about one, and
the object is deleted and nothing the compiler printed is shown. What the fallback cannot
hide: whether a file exists (`__has_include`), and the compiler's files under /usr.

Both note a file read outside in $TEACHOS_SANDBOX_NOTES (source, path), for the intake.
"""
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CC_WRAPPER = Path(__file__).resolve().parent / "cc"
CPU_SECONDS = 120
WALL_SECONDS = 300
OUTPUT_BYTES = 64 << 20
MEMORY_BYTES = 4 << 30
SYSTEM = "/usr"  # the compiler's own files: visible in the sandbox, so allowed here too

_LOCATION = re.compile(r"^(.+?):(\d+)(?::\d+)?: ")
_probed = {}


def compiler(cc="gcc"):
    """The compiler's absolute path."""
    return shutil.which(cc) or cc


def bwrap_args(cc="gcc"):
    """bubblewrap's options for a compile, but for the course's directories: the system's
    compiler and libraries read-only, a private /tmp, no network, nothing else."""
    args = ["--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LC_ALL", "C",
            "--setenv", "TMPDIR", "/tmp", "--ro-bind", "/usr", "/usr", "--tmpfs", "/tmp",
            "--dev", "/dev"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    home = os.path.dirname(os.path.realpath(compiler(cc)))
    if not home.startswith(SYSTEM + "/"):
        args += ["--ro-bind", home, home]
    return args


def environment(root, boxed, notes, scratch, cc="gcc", cache=None):
    """The variables tools/instructor/cc needs to compile the course copy root's lab files:
    in the sandbox if boxed, else with the fallback; notes and scratch are a file and a folder
    of the grading's own.

    cache: a ccache directory for the course's own sources (kernel/, the tests, the
    solutions given), which are the same in every submission's copy: compiled once for a
    batch, not once per student. A submission's lab files never go through it."""
    Path(scratch).mkdir(parents=True, exist_ok=True)
    env = {"TEACHOS_CC": compiler(cc), "TEACHOS_SANDBOX_ROOT": str(root),
           "TEACHOS_SANDBOX": "bwrap" if boxed else "fallback",
           "TEACHOS_SANDBOX_NOTES": str(notes), "TEACHOS_SANDBOX_SCRATCH": str(scratch),
           "TEACHOS_BWRAP": "\n".join(bwrap_args(cc)), "TEACHOS_CCACHE": ""}
    ccache = shutil.which("ccache")
    if cache and ccache:
        # Each copy is in a temporary directory of its own: the copy's Makefile has ccache hash
        # paths relative to it (CCACHE_BASEDIR, CCACHE_IGNOREOPTIONS).
        env.update(TEACHOS_CCACHE=ccache, CCACHE_DIR=str(cache))
    return env


def probe(cc="gcc"):
    """(True, "bubblewrap X") if a compile can run in the sandbox here, else (False, why)."""
    if cc in _probed:
        return _probed[cc]
    bwrap = shutil.which("bwrap")
    if not bwrap:
        result = (False, "bubblewrap is not installed (apt-get install bubblewrap; tools/need sandbox)")
    else:
        try:
            p = subprocess.run([bwrap, *bwrap_args(cc), "--", compiler(cc), "--version"],
                               capture_output=True, text=True, timeout=60)
            if p.returncode == 0:
                version = subprocess.run([bwrap, "--version"], capture_output=True, text=True,
                                         timeout=60).stdout.strip()
                result = (True, version or "bubblewrap")
            else:
                why = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
                result = (False, f"bubblewrap cannot run here: {why}")
        except (OSError, subprocess.SubprocessError) as e:
            result = (False, f"bubblewrap cannot run here: {e}")
    _probed[cc] = result
    return result


# --- the fallback compiler -----------------------------------------------------------------------

def _parse(argv):
    src = out = None
    incdirs = []
    prev = None
    for a in argv:
        if prev == "-c":
            src = a
        elif prev == "-o":
            out = a
        elif prev in ("-I", "-isystem", "-iquote", "-idirafter"):
            incdirs.append(a)
        if a.startswith("-I") and len(a) > 2:
            incdirs.append(a[2:])
        prev = a
    return src, out, incdirs


def _limits():
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_BYTES, OUTPUT_BYTES))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _run(cmd, env):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", env=env, timeout=WALL_SECONDS, preexec_fn=_limits)
        return p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        return 124, f"compiling it took longer than {WALL_SECONDS} s: stopped\n"


def _deps(path):
    """The files a make-style dependency file lists (None if there is none)."""
    try:
        text = Path(path).read_text(errors="replace").replace("\\\n", " ")
    except OSError:
        return None
    files = []
    for line in text.splitlines():
        _, sep, rest = line.partition(": ")
        for tok in re.findall(r"(?:\\.|\S)+", rest if sep else ""):
            files.append(re.sub(r"\\(.)", r"\1", tok).replace("$$", "$"))
    return files


class _Allowed:
    """What a lab source may read: what the sandbox would show it."""

    def __init__(self, src, out, incdirs, scratch):
        self.obj_dir = Path(out).resolve().parent
        self.dirs, self.files = [Path(SYSTEM), Path(scratch).resolve()], set()
        for d in incdirs + [str(Path(src).parent)]:
            d = Path(d).resolve()
            if not d.is_dir():
                continue
            if self.obj_dir == d or d in self.obj_dir.parents:
                self.files |= {h.resolve() for h in d.glob("*.h") if h.is_file()}
            else:
                self.dirs.append(d)

    def __contains__(self, name):
        p = Path(name)
        if name in ("{standard input}", "<stdin>", "<command-line>", "<built-in>"):
            return True
        p = p.resolve()
        return p in self.files or any(p == d or d in p.parents for d in self.dirs)


def _note(src, path):
    notes = os.environ.get("TEACHOS_SANDBOX_NOTES")
    if notes:
        with open(notes, "a") as f:
            f.write(f"{src}\t{path}\n")


def _refuse(src, out, path):
    _note(src, path)
    Path(out).unlink(missing_ok=True)
    Path(out).with_suffix(".d").unlink(missing_ok=True)
    print(f"{src}: compiling it reads {path}, a file outside the course: refused, and what the "
          f"compiler printed is not shown (grading without its sandbox: "
          f"tools/instructor/sandbox.py)", file=sys.stderr)
    return 1


def fallback_compile(argv):
    cc = os.environ.get("TEACHOS_CC", "gcc")
    src, out, incdirs = _parse(argv)
    if not src or not out:
        print(f"sandbox.py: a compile needs -c SOURCE and -o OBJECT: {' '.join(argv)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="teachos-cc-") as scratch:
        env = {**os.environ, "TMPDIR": scratch, "LC_ALL": "C"}
        allowed = _Allowed(src, out, incdirs, scratch)

        # 1. Every file the preprocessor reads, none of what it prints.
        pre, skip = [], False
        for a in argv:
            if skip:
                skip = False
            elif a in ("-o", "-MF", "-MT", "-MQ"):
                skip = True
            elif a not in ("-c", "-MMD", "-MD", "-MP"):
                pre.append(a)
        deps_file = Path(scratch) / "pre.d"
        status, messages = _run([cc, *pre, "-M", "-MG", "-MF", str(deps_file),
                                 "-fno-diagnostics-show-caret", "-o", os.devnull], env)
        deps = _deps(deps_file) if status == 0 else None
        if deps is None:
            # It stopped before listing what it read: show its messages about this file only.
            own = [l for l in messages.splitlines() if l.startswith(src + ":")]
            print(f"{src}: the preprocessor failed. Grading runs without its sandbox here, so "
                  f"only its messages about {src} itself are shown:", file=sys.stderr)
            print("\n".join(own) or "    (none)", file=sys.stderr)
            return status or 1
        for d in deps:  # (-MG lists a missing header too: it was not read)
            if os.path.exists(d) and d not in allowed:
                return _refuse(src, out, d)

        # 2. The compile, the assembler listing what .include and .incbin read.
        as_deps = Path(scratch) / "as.d"
        extra = [f"-Wa,--MD,{as_deps}"]
        if "clang" in Path(cc).name:
            extra.append("-fno-integrated-as")
        status, messages = _run([cc, *argv, *extra], env)
        # (The list also has the names of .file directives, which are not read: those that
        # name no file are left out.)
        for d in _deps(as_deps) or []:
            if os.path.exists(d) and d not in allowed:
                return _refuse(src, out, d)
        for line in messages.splitlines():
            m = _LOCATION.match(line)
            if m and m.group(1) not in allowed:
                return _refuse(src, out, m.group(1))
        sys.stderr.write(messages)
        return status


def main(argv):
    if len(argv) >= 1 and argv[0] == "compile":
        return fallback_compile(argv[1:])
    if argv == ["probe"]:
        ok, what = probe(os.environ.get("TEACHOS_CC", "gcc"))
        print(("sandbox: " if ok else "no sandbox: ") + what)
        return 0 if ok else 1
    print("usage: sandbox.py compile COMPILER-ARGS... | sandbox.py probe", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
