"""The sandbox a submission's lab files compile in (tools/instructor/cc, sandbox.py), and its
fallback where bubblewrap cannot run:

* however a source spells it (asm() strings, pasted tokens in a .S file, a name the
  preprocessor builds, a path through '..'), a file outside the course is not read, and no
  byte of it appears in what the compiler prints; the file is named in the notes for the
  intake;
* the course's own headers and files are there, and ordinary compile errors are shown;
* where bubblewrap cannot run, probe() says why, and the fallback holds the same line;
* the autograder's setup installs bubblewrap and says whether it runs.
"""
import os
import secrets
import shutil
import subprocess
import sys

import pytest

from harness.paths import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from instructor import sandbox  # noqa: E402

CC = ROOT / "tools" / "instructor" / "cc"
MODES = ["bwrap", "fallback"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course copy as grading makes one (kernel/, the tests' headers, a lab folder, a build
    directory with a header generated in it), a file outside it holding a canary, and the flags
    kernel/build.mk compiles with."""
    base = tmp_path_factory.mktemp("sandbox")
    root = base / "course"
    shutil.copytree(ROOT / "kernel", root / "kernel")
    shutil.copytree(ROOT / "grade" / "ktests" / "include", root / "grade" / "ktests" / "include")
    (root / "labs" / "01-boot").mkdir(parents=True)
    (root / "solutions" / "01-boot").mkdir(parents=True)
    out = root / "build" / "01-boot-l-cc"
    (out / "obj").mkdir(parents=True)
    (out / "generated.h").write_text('#pragma once\n#define CHECKPOINT_NAME "01-boot"\n')
    (out / "obj" / "hidden_secret_ktest.c.o").write_text("an object of a hidden test\n")
    token = secrets.token_hex(8)
    outside = base / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text(f"canary {token} one\ncanary {token} two\n")
    (root / "solutions" / "01-boot" / "idt.c").write_text(f"/* canary {token} */\n")
    include = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True,
                             text=True).stdout.strip()
    flags = ["-std=gnu11", "-O2", "-ffreestanding", "-fno-pic", "-mcmodel=kernel", "-mno-red-zone",
             "-Wall", "-Werror", "-nostdinc", "-isystem", include, "-Ikernel/libc", "-Ikernel",
             "-Igrade/ktests/include", f"-I{out}", "-DCHECKPOINT=1"]
    return {"root": root, "out": out, "outside": outside, "token": token, "flags": flags}


def compile_lab(course, mode, name, text, tmp_path):
    """Compile labs/01-boot/<name> as grading does; (exit status, what it printed, notes)."""
    root = course["root"]
    (root / "labs" / "01-boot" / name).write_text(text)
    obj = course["out"] / "obj" / f"labs_01-boot_{name}.o"
    obj.unlink(missing_ok=True)
    notes = tmp_path / f"notes-{mode}-{name}"
    env = {**os.environ, **sandbox.environment(root, mode == "bwrap", notes, tmp_path / "scratch")}
    p = subprocess.run([str(CC), *course["flags"], "-MMD", "-MP", "-c", f"labs/01-boot/{name}",
                        "-o", str(obj.relative_to(root))], cwd=root, env=env,
                       capture_output=True, text=True, timeout=300)
    got = notes.read_text().splitlines() if notes.is_file() else []
    return p.returncode, p.stdout + p.stderr, [tuple(n.split("\t")) for n in got], obj


@pytest.fixture(scope="module")
def modes():
    ok, why = sandbox.probe("gcc")
    assert ok, f"bubblewrap should run on the course's own machines: {why}"
    return MODES


READERS = [
    ("asm-strings.c", '__asm__(".section .rodata\\n.inc" "bin \\"@OUT@\\"\\n.previous");\n'),
    ("pasted.S", "#define CAT(a, b) a##b\n\t.section .rodata\n\tCAT(.inc, bin) \"@OUT@\"\n"),
    ("built-name.c", '#define P(a, b) a##b\n#define S(x) #x\n#define X(x) S(x)\n'
                     '__asm__("." X(P(incl, ude)) " \\"@OUT@\\"");\n'),
    ("pasted-include.S", "#define CAT(a, b) a##b\n\tCAT(.incl, ude) \"@OUT@\"\n"),
    ("computed-include.c", "#define S(x) #x\n#define X(x) S(x)\n#include X(@OUT@)\n"),
    ("dotdot.c", '__asm__(".section .rodata\\n.inc" "bin \\"@UP@\\"\\n.previous");\n'),
    ("solution.c", '__asm__(".section .rodata\\n.inc" "bin \\"solutions/01-boot/idt.c\\"\\n.previous");\n'),
    ("hidden-object.c", '__asm__(".section .rodata\\n.inc" "bin \\"@OBJ@\\"\\n.previous");\n'),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,text", READERS, ids=[r[0] for r in READERS])
def test_a_file_outside_the_course_is_not_read(course, modes, mode, name, text, tmp_path):
    up = "../" * 16 + str(course["outside"]).lstrip("/")
    hidden_obj = course["out"] / "obj" / "hidden_secret_ktest.c.o"
    text = text.replace("@OUT@", str(course["outside"])).replace("@UP@", up) \
        .replace("@OBJ@", str(hidden_obj))
    status, printed, notes, obj = compile_lab(course, mode, name, text, tmp_path)
    assert status != 0 and not obj.exists(), printed
    assert course["token"] not in printed and "hidden test" not in printed, printed
    assert notes and all(n[0] == f"labs/01-boot/{name}" for n in notes), (notes, printed)
    if mode == "fallback":
        assert "a file outside the course: refused" in printed, printed


@pytest.mark.parametrize("mode", MODES)
def test_the_course_is_there_and_errors_are_shown(course, modes, mode, tmp_path):
    status, printed, notes, obj = compile_lab(
        course, mode, "fine.c", '#include "kprintf.h"\n#include "generated.h"\n'
        '__asm__(".section .rodata\\n.incbin \\"kernel/attest.c\\"\\n.previous");\n'
        'void f(void) { kprintf("%s\\n", CHECKPOINT_NAME); }\n', tmp_path)
    assert status == 0 and obj.is_file() and obj.with_suffix(".d").is_file(), printed
    assert "kernel/kprintf.h" in obj.with_suffix(".d").read_text()
    status, printed, notes, obj = compile_lab(course, mode, "broken.c",
                                              "int f(void) { return missing_name; }\n", tmp_path)
    assert status != 0 and "missing_name" in printed and "broken.c:1" in printed, printed
    assert notes == []
    status, printed, notes, obj = compile_lab(course, mode, "typo.c", '#include "kprintf.hh"\n', tmp_path)
    assert status != 0 and "kprintf.hh" in printed, printed


def test_the_course_own_sources_are_not_sandboxed(course, tmp_path):
    """Only labs/ goes through the sandbox: the course's files compile as they always do."""
    root = course["root"]
    env = {**os.environ, **sandbox.environment(root, True, tmp_path / "notes", tmp_path / "scratch")}
    p = subprocess.run([str(CC), "--version"], env=env, capture_output=True, text=True)
    assert p.returncode == 0 and "gcc" in p.stdout.lower()
    p = subprocess.run([str(CC), *course["flags"], "-c", "kernel/kprintf.c", "-o",
                        str(tmp_path / "kprintf.o")], cwd=root, env=env, capture_output=True, text=True)
    assert p.returncode == 0 and (tmp_path / "kprintf.o").is_file(), p.stderr


def test_when_bubblewrap_cannot_run_probe_says_why(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setattr(sandbox, "_probed", {})
    ok, why = sandbox.probe("gcc")
    assert not ok and "uid map: Permission denied" in why
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr(sandbox, "_probed", {})
    ok, why = sandbox.probe("gcc")
    assert not ok and "not installed" in why and "bubblewrap" in why


def test_autograder_setup_installs_and_checks_bubblewrap(tmp_path):
    """setup.sh as Gradescope runs it once when it builds the image (its apt-get recorded
    instead of run): it installs bubblewrap with the rest, checks that the sandbox runs and
    says so; where it cannot run, setup still succeeds and says grading will fall back."""
    source = tmp_path / "autograder" / "source"
    shutil.copytree(ROOT / "tools", source / "course" / "tools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "tools" / "autograder" / "setup.sh", source / "setup.sh")
    (source / "run_autograder").write_text("#!/bin/sh\n")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'apt.log'}\n")
    (fake / "apt-get").chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path / "autograder"),
           "PATH": f"{fake}:{os.environ['PATH']}"}
    p = subprocess.run(["bash", str(source / "setup.sh")], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    installs = [l.split() for l in (tmp_path / "apt.log").read_text().splitlines() if l.startswith("install")]
    assert any("bubblewrap" in l for l in installs), installs
    assert "sandbox: bubblewrap" in p.stdout, p.stdout

    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    p = subprocess.run(["bash", str(source / "setup.sh")], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no sandbox" in p.stdout and "new namespace" in p.stdout, p.stdout
    assert "fallback" in p.stdout, p.stdout

