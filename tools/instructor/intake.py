"""What a submission holds, read without trusting it.

A submission is a student's copy of the course: a directory, a git bundle (`git bundle create
alice.bundle --all`), a tarball (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz) or a .zip. It may
have everything at its top or under one folder (teachos/labs/...). Only its lab files are
taken: labs/NN-name/*.c and *.S that the course's labs/ also has. Nothing is extracted or
checked out, and nothing of it is ever run; the rest is reported:

    extra     files in labs/ the course does not have (not used)
    missing   lab files the submission lacks (the course's starter is used instead)
    refused   entries not taken: absolute paths or '..' anywhere in an archive, links and
              special files, files over MAX_FILE bytes, and sources that would make the
              compiler read files outside the course (#include "/..." or "../", .incbin);
              and, once compiled (grade_one.py), sources that tried to read a file outside
              the course or whose object file uses what no lab may (objects.py)
    ignored   files outside labs/ that differ from the course's (grading uses the course's)
    review    lab sources that mention the kernel's result signing or print KTAP text, and
              (objects.py) whose object uses what its lab is not meant to or a fixed kernel
              address: not penalized, but worth a look (see "Forged results" in the guide)

The text checks here are the first line only: a source can spell a name so that no text scan
sees it. What holds is what the compiler reads (the sandbox, sandbox.py) and what its object
file uses (objects.py).
"""
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import course

MAX_FILE = 1 << 20           # bytes of one lab file
MAX_ENTRIES = 200_000        # entries of an archive
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")
BUNDLE_SUFFIXES = (".bundle", ".git-bundle")
# Compared with the course to report changes that grading ignores.
OUTSIDE_LABS = ("Makefile", "kernel/", "grade/")

# Preprocessor directives that read another file: #include, #include_next, #import, also as
# the digraph %: (after line splicing, which the preprocessor does first).
_INCLUDE = re.compile(rb"^[ \t]*(?:#|%:)[ \t]*(include|include_next|import)\b[ \t]*(.*)$", re.MULTILINE)
_ASM_FILE = re.compile(rb"\.(incbin|include)\b[ \t]*\\?[\"']?([^\"'\s\\]*)")
_REVIEW = [(re.compile(p), why) for p, why in [
    (rb"\battest_\w+|\bhmac_sha256\b|\bsha256_\w+", "calls the kernel's result signing"),
    (rb"\bfw_cfg\w*|\b0x51[01]\b|\b129[67]\b", "touches QEMU's fw_cfg device, which holds the key"),
    (rb"KTAP version|# Subtest|#\s*mac\b|# attest", "prints KTAP or signature text"),
    (rb"\bktest_main\b|__start_ktest|\bktest_cases\b|\bqemu_exit\b", "reaches into the test runner"),
]]


@dataclass
class Intake:
    source: str
    kind: str = ""                                   # directory, git bundle, tarball, zip
    files: dict = field(default_factory=dict)        # "labs/01-boot/idt.c" -> bytes, to use
    extra: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    refused: list = field(default_factory=list)      # (path, why)
    ignored: list = field(default_factory=list)
    review: list = field(default_factory=list)       # (path, line or None, why)
    error: str = ""                                  # the submission could not be read at all
    sandbox: str = ""                                # how its lab files were compiled
    layout_seed: int = None                          # the graded kernel's KERNEL_LAYOUT_SEED

    def report(self, for_student=False):
        """The intake in words, for the instructor's logs, or (without the notes for review)
        for the student's results."""
        lines = [f"submission: {self.source} ({self.kind or 'unreadable'})"]
        if self.error:
            lines.append(f"could not read it: {self.error}")
        lines.append(f"lab files taken: {len(self.files)}")
        if self.sandbox:
            lines.append(f"compiled: {self.sandbox}")
        if self.layout_seed is not None and not for_student:
            lines.append(f"layout: the graded kernel was linked with KERNEL_LAYOUT_SEED={self.layout_seed}")
        for title, items in (("missing (the course's starter was used)", self.missing),
                             ("extra (not used)", self.extra),
                             ("ignored: changed outside labs/ (grading uses the course's own)", self.ignored)):
            if items:
                lines.append(f"{title}:")
                lines += [f"    {p}" for p in items]
        if self.refused:
            lines.append("refused (not used):")
            lines += [f"    {p}: {why}" for p, why in self.refused]
        if self.review and not for_student:
            lines.append("for review (not penalized):")
            lines += [f"    {where(p, n)}: {why}" for p, n, why in self.review]
        return "\n".join(lines)

    def as_dict(self):
        return {"source": self.source, "kind": self.kind, "files": sorted(self.files),
                "extra": self.extra, "missing": self.missing,
                "refused": [list(r) for r in self.refused], "ignored": self.ignored,
                "review": [list(r) for r in self.review], "error": self.error,
                "sandbox": self.sandbox, "layout_seed": self.layout_seed}

    def refuse(self, path, why):
        """Take back a lab file found unfit after reading it (when compiled): it is not used,
        and its lab's starter is graded in its place."""
        self.files.pop(path, None)
        if (path, why) not in self.refused:
            self.refused.append((path, why))
        if path not in self.missing:
            self.missing = sorted(self.missing + [path])


def where(path, line):
    """path:line, or the path alone for what has no line (found in the object file)."""
    return f"{path}:{line}" if line else path


@dataclass
class Entry:
    """One thing in a submission: its path as stored, what it is, and how to read it."""
    path: str
    kind: str        # file, dir, link, other
    size: int = 0
    read: object = None


def read(path, course_root=course.ROOT, lab=None):
    """The Intake of the submission at path, compared with the course at course_root. With
    lab (a lab directory's name), the files of later labs are not part of the kernel being
    graded, so none of them counts as missing."""
    path = Path(path)
    intake = Intake(str(path))
    scratch = Path(tempfile.mkdtemp(prefix="teachos-intake-"))
    try:
        if path.is_dir():
            intake.kind, entries = "directory", _directory_entries(path)
        elif path.name.endswith(BUNDLE_SUFFIXES):
            intake.kind, entries = "git bundle", _bundle_entries(path, scratch / "bundle.git")
        elif path.name.endswith(".zip"):
            intake.kind, entries = "zip", _zip_entries(path)
        elif path.name.endswith(ARCHIVE_SUFFIXES):
            intake.kind, entries = "tarball", _tar_entries(path)
        elif path.is_file() and tarfile.is_tarfile(path):
            intake.kind, entries = "tarball", _tar_entries(path)
        else:
            raise ValueError("not a directory, a git bundle (.bundle) or an archive "
                             f"({', '.join(ARCHIVE_SUFFIXES)})")
        _classify(intake, entries, course_root)
    except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile, subprocess.SubprocessError) as e:
        intake.error = str(e) or type(e).__name__
        intake.files = {}
        intake.missing = sorted(course.lab_files(course_root))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if lab:
        intake.missing = [m for m in intake.missing if Path(m).parts[1][:2] <= lab[:2]]
    return intake


def name_of(path):
    """A student's name from a submission's file or directory name: alice.tar.gz -> alice."""
    name = Path(path).name
    for suffix in sorted(ARCHIVE_SUFFIXES + BUNDLE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
            break
    name = re.sub(r"[^\w.@+-]", "_", name).lstrip(".")
    return name or "submission"


# --- reading each kind of submission, without extracting anything ------------------------------

def _directory_entries(root):
    # Only the parts that matter, at the top or one folder down: never a whole home directory.
    entries = []
    tops = [root] + sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    for top in tops:
        prefix = "" if top == root else top.name + "/"
        for part in ("labs", "kernel", "grade", "Makefile"):
            start = top / part
            if not start.exists() and not start.is_symlink():
                continue
            for p in [start] + (sorted(start.rglob("*")) if start.is_dir() and not start.is_symlink() else []):
                st = p.lstat()
                rel = prefix + p.relative_to(top).as_posix()
                if stat.S_ISLNK(st.st_mode):
                    entries.append(Entry(rel, "link"))
                elif stat.S_ISDIR(st.st_mode):
                    entries.append(Entry(rel, "dir"))
                elif stat.S_ISREG(st.st_mode):
                    entries.append(Entry(rel, "file", st.st_size, lambda p=p: p.read_bytes()))
                else:
                    entries.append(Entry(rel, "other"))
    return entries


def _tar_entries(path):
    tf = tarfile.open(path, "r:*")
    entries = []
    for i, m in enumerate(tf):
        if i >= MAX_ENTRIES:
            raise ValueError(f"more than {MAX_ENTRIES} entries")
        kind = ("file" if m.isreg() else "dir" if m.isdir() else
                "link" if m.issym() or m.islnk() else "other")
        entries.append(Entry(m.name, kind, m.size,
                             (lambda m=m: tf.extractfile(m).read()) if kind == "file" else None))
    return entries


def _zip_entries(path):
    zf = zipfile.ZipFile(path)
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ValueError(f"more than {MAX_ENTRIES} entries")
    entries = []
    for info in infos:
        # The file type is in the top bits of a Unix mode, which zips made on Unix keep above
        # the permission bits; Python's zipfile.writestr leaves the type out (0o600 alone), and
        # zips from other systems keep no mode at all: either is a regular file.
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        kind = {0: "file", stat.S_IFREG: "file", stat.S_IFDIR: "dir",
                stat.S_IFLNK: "link"}.get(stat.S_IFMT(mode), "other")
        if info.is_dir():
            kind = "dir"
        entries.append(Entry(info.filename, kind, info.file_size,
                             (lambda info=info: zf.read(info)) if kind == "file" else None))
    return entries


def _git(*args, **kw):
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": "/nonexistent",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", *args], capture_output=True, env=env, timeout=300, **kw)


def _bundle_entries(path, repo):
    """The tree of the bundle's HEAD (else main, master, or its first branch), fetched into the
    bare repository repo: nothing is checked out, no hook of the submission's can exist or run."""
    heads = _git("bundle", "list-heads", str(path.resolve()))
    if heads.returncode != 0:
        raise ValueError("not a git bundle git can read: " + heads.stderr.decode(errors="replace").strip())
    refs = dict(reversed(l.split(" ", 1)) for l in heads.stdout.decode().splitlines() if " " in l)
    ref = next((r for r in ("HEAD", "refs/heads/main", "refs/heads/master") if r in refs),
               next(iter(sorted(refs)), None))
    if ref is None:
        raise ValueError("the bundle has no branch")
    _git("init", "-q", "--bare", str(repo), check=True)
    fetch = _git("-C", str(repo), "fetch", "-q", "--no-tags", str(path.resolve()),
                 f"{ref}:refs/submission")
    if fetch.returncode != 0:
        raise ValueError("git could not read the bundle: " + fetch.stderr.decode(errors="replace").strip())
    tree = _git("-C", str(repo), "ls-tree", "-r", "-t", "-l", "-z", "--full-tree", "refs/submission",
                check=True).stdout.decode("utf-8", errors="replace")
    entries = []
    for item in filter(None, tree.split("\0")):
        meta, name = item.split("\t", 1)
        mode, typ, sha, size = meta.split()
        kind = ("dir" if typ == "tree" else "link" if mode == "120000" else
                "file" if typ == "blob" else "other")
        entries.append(Entry(name, kind, int(size) if size.isdigit() else 0,
                             (lambda sha=sha: _git("-C", str(repo), "cat-file", "blob", sha,
                                                   check=True).stdout) if kind == "file" else None))
    return entries


# --- sorting the entries out ---------------------------------------------------------------------

def _safe_path(name):
    """The entry's path relative to the submission, or (None, why) if it tries to leave it."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return None, "an absolute path"
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".")]
    if ".." in parts:
        return None, "a path with '..' in it"
    return "/".join(parts), None


def _strip_wrapper(paths):
    """The folder everything is under ("teachos/"), if labs/ is not at the top, else ""."""
    if any(p == "labs" or p.startswith("labs/") for p in paths):
        return ""
    tops = {p.split("/", 1)[0] for p in paths if "/" in p}
    with_labs = [t for t in tops if any(p.startswith(f"{t}/labs/") for p in paths)]
    return with_labs[0] + "/" if len(with_labs) == 1 else ""


def _classify(intake, entries, course_root):
    expected = course.lab_files(course_root)
    safe = []
    for e in entries:
        rel, why = _safe_path(e.path)
        if why:
            intake.refused.append((e.path, why))
        else:
            safe.append((rel, e))
    wrapper = _strip_wrapper([rel for rel, _ in safe])
    for rel, e in safe:
        if wrapper:
            if not rel.startswith(wrapper):
                continue
            rel = rel[len(wrapper):]
        if e.kind == "dir" or not rel:
            continue
        if rel == "labs" or rel.startswith("labs/"):
            _take_lab_file(intake, rel, e, expected)
        elif e.kind == "file" and rel.startswith(OUTSIDE_LABS):
            ours = Path(course_root) / rel
            if ours.is_file() and e.size == ours.stat().st_size and e.size <= MAX_FILE:
                if e.read() == ours.read_bytes():
                    continue
            if ours.is_file():
                intake.ignored.append(rel)
    intake.missing = sorted(set(expected) - set(intake.files))
    intake.extra.sort()
    intake.ignored.sort()


def _take_lab_file(intake, rel, e, expected):
    if e.kind == "link":
        intake.refused.append((rel, "a link, not a file: links are never followed"))
        return
    if e.kind != "file":
        intake.refused.append((rel, "not a regular file"))
        return
    if rel not in expected:
        intake.extra.append(rel)
        return
    if e.size > MAX_FILE:
        intake.refused.append((rel, f"larger than {MAX_FILE} bytes"))
        return
    data = e.read()
    if len(data) > MAX_FILE:
        intake.refused.append((rel, f"larger than {MAX_FILE} bytes"))
        return
    why = _reads_outside(data)
    if why:
        intake.refused.append((rel, why))
        return
    intake.files[rel] = data
    for n, why in _review(data):
        intake.review.append((rel, n, why))


def _reads_outside(data):
    """Why compiling this source would read a file outside the course, or None."""
    text = re.sub(rb"\\\r?\n", b"", data)  # the preprocessor splices lines first
    for m in _INCLUDE.finditer(text):
        target = m.group(2).strip()
        if not target[:1] in (b'"', b"<"):
            return (f"#{m.group(1).decode()} of a computed name ({target.decode(errors='replace')[:60]}): "
                    "only \"name.h\" or <name.h> are accepted")
        name = target[1:].split(b'"' if target[:1] == b'"' else b">", 1)[0]
        if name.startswith(b"/") or b".." in name.split(b"/"):
            return (f"#{m.group(1).decode()} {target.decode(errors='replace')[:80]}: a path outside "
                    "the course's include directories")
    for m in _ASM_FILE.finditer(text):
        if m.group(1) == b"incbin":
            return ".incbin: a lab has no file to include in the kernel image"
        name = m.group(2)
        if name.startswith(b"/") or b".." in name.split(b"/"):
            return f".include {name.decode(errors='replace')[:80]}: a path outside the course"
    return None


def _review(data):
    found = []
    for pattern, why in _REVIEW:
        m = pattern.search(data)
        if m:
            found.append((data.count(b"\n", 0, m.start()) + 1, f"{why} ({m.group(0).decode(errors='replace')})"))
    return sorted(found)
