"""`make site`: the web edition builds, every internal link and anchor resolves, every figure
exists; where Chromium is installed, every page loads without a console error or a missing
resource, and a screenshot of each (wide, and a few at a phone's width) is kept in
build/site-check/ for a person to look at."""
import fcntl
import html.parser
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import PYTHON, RELEASE
from headless import Browser, BrowserError
from harness.paths import ROOT

SITE = ROOT / "build" / "site-check" / "site"
SHOTS = ROOT / "build" / "site-check"


class Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.refs = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.refs.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.refs.append(a["src"])
        if tag == "link" and a.get("href"):
            self.refs.append(a["href"])


@pytest.fixture(scope="module")
def site(request):
    # Built once per run of the tests, by whichever worker gets here first: the others (each
    # test may run in another process) wait for it and reuse it.
    run = getattr(request.config, "workerinput", {}).get("testrunuid") or str(id(request.config))
    stamp = SITE / ".built-by"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with open(SHOTS / "site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.is_file() and stamp.read_text() == run):
            p = subprocess.run([PYTHON, "tools/site/build.py", "--out", str(SITE)], cwd=ROOT,
                               capture_output=True, text=True, timeout=900)
            assert p.returncode == 0, f"make site failed:\n{p.stdout}\n{p.stderr}"
            assert "View it:" in p.stdout
            stamp.write_text(run)
    return SITE


def parse(path, cache={}):
    if path not in cache:
        r = Refs()
        r.feed(path.read_text(errors="replace"))
        cache[path] = r
    return cache[path]


def test_index_and_a_page_per_chapter(site):
    chapters = sorted((ROOT / "handouts").glob("[0-9][0-9]-*.md"))
    assert chapters
    index = (site / "index.html").read_text()
    for md in chapters:
        page = site / (md.stem + ".html")
        assert page.is_file(), f"no page for {md.relative_to(ROOT)}"
        assert page.name in index or md.stem[:2] in index, f"the index does not list {page.name}"
    for other in ("instructors.html", "bench.html", "glossary.html"):
        assert (site / other).is_file(), other
    # a chapter's later files by their subject (no "part 3" under a chapter that shows no part 2),
    # and titles' inline code as code, not backticks
    for parts in re.findall(r'<ul class="parts">(.*?)</ul>', index):
        assert not re.search(r">\s*(Lab \d+, )?part \d", parts, re.I), parts
    assert "`" not in index, "the index shows a backtick: a title's inline code left as Markdown"
    assert "<code>make bench</code>" in index
    # every chapter but the first links back, every chapter but the last forward
    pages = [site / (md.stem + ".html") for md in chapters]
    assert 'rel="next"' in pages[0].read_text() and 'rel="prev"' in pages[-1].read_text()


def test_every_internal_link_and_anchor_resolves(site):
    broken = []
    for page in sorted(site.rglob("*.html")):
        for ref in parse(page).refs:
            u = urlparse(ref)
            if u.scheme in ("http", "https", "mailto"):
                continue
            assert u.scheme == "", f"{page.relative_to(site)} loads {ref}: nothing may come from the network"
            target = (page.parent / unquote(u.path)).resolve() if u.path else page
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {ref} (no such file)")
            elif u.fragment and target.suffix == ".html" and u.fragment not in parse(target).ids:
                broken.append(f"{page.relative_to(site)}: {ref} (no anchor #{u.fragment})")
    assert not broken, "broken links:\n" + "\n".join(broken[:40])


def test_chapters_have_figures_steps_anchors_and_sources(site):
    for md in sorted((ROOT / "handouts").glob("[0-9][0-9]-*.md")):
        text = (site / (md.stem + ".html")).read_text()
        assert 'class="anchor"' in text and 'class="toc"' in text, md.name
        for name in re.findall(r"<!--\s*figure:\s*([\w-]+)\s*-->", md.read_text()):
            if not RELEASE:
                svg = f"where-{md.name[:2]}.svg" if name == "where-we-are" else f"{name}.svg"
                assert f"figures/{svg}" in text, f"{md.name}: figure {name} is not on its page"
        for m in re.finditer(r"(?m)^#+ Step (\d+)", md.read_text()):
            if not RELEASE and (ROOT / "solutions").is_dir():
                assert f"The reference code for step {m.group(1)} " in text or \
                    not _has_solution(md, int(m.group(1))), f"{md.name}: step {m.group(1)} has no folded solution"
    assert re.search(r'href="src/kernel/[\w/]+\.h\.html"', (site / "06-buddy.html").read_text())
    src = (site / "src" / "kernel" / "buddy.h.html").read_text()
    assert 'id="L1"' in src and 'href="#L1"' in src


def test_every_file_a_page_names_is_a_link(site):
    # `user/hello.c`, `kernel/buddy.h:44`: inline code naming a file of the tree becomes a link to
    # its source page (whose lines the link checker above then resolves), whatever folder it is in.
    # Headings and link texts are left alone, as the builder leaves them.
    missed, linked = [], set()
    for md in sorted((ROOT / "handouts").glob("*.md")) + [ROOT / "docs" / "bench.md"]:
        text = re.sub(r"(?ms)^(```|~~~).*?^\1", "", md.read_text())
        text = re.sub(r"(?m)^#.*$", "", text)
        page = (site / (md.stem + ".html")).read_text()
        for m in re.finditer(r"(?<!\[)`((?:[\w.+-]+/)+[\w.+-]*[\w+-])(?::\d+)?`", text):
            path = m.group(1)
            if path.startswith("build/") or not (ROOT / path).is_file():
                continue  # not a file of the tree (build/ holds what runs make)
            if f'href="src/{path}.html' in page:
                linked.add(path.split("/")[0])
            else:
                missed.append(f"{md.relative_to(ROOT)}: `{path}` is not a link to src/{path}.html")
    assert not missed, "\n".join(missed)
    for folder in ("kernel", "labs", "grade", "user"):
        assert folder in linked, f"no handout links a file of {folder}/ (the check above saw none)"


def _has_solution(md, step):
    import sys
    sys.path.insert(0, str(ROOT / "tools" / "site"))
    import runs
    lab = next((d for d in (ROOT / "solutions").glob(md.name[:2] + "-*")), None)
    # a block for steps 10-11 is folded under step 10
    return lab is not None and any(b[2] and min(b[2]) == step for f in lab.iterdir()
                                   for b in runs.solution_blocks(f.read_text()))


def test_a_missing_source_file_is_named(tmp_path):
    # A handout that mentions a file the tree does not have: make site says which, and where.
    import sys
    sys.path.insert(0, str(ROOT / "tools" / "site"))
    import build as site_build
    b = site_build.Builder(tmp_path / "out", with_runs=False)
    page = site_build.Page(ROOT / "handouts" / "02-paging.md", tmp_path / "x.html", "chapter", "02")
    page.depth = ""
    assert b.source_link(page, "kernel/no-such-file.c", None) is None
    assert b.errors == ["handouts/02-paging.md: mentions `kernel/no-such-file.c`, which does not exist in "
                        "this tree (moved or renamed? fix the handout)"]


def test_a_source_page_shows_its_file_as_it_is_now(tmp_path, monkeypatch):
    # The highlighted source pages are kept from one build to the next (build/site-cache/): a
    # page must show its file as it is at this build, the same page whether kept or made anew,
    # and what no build uses any more must go.
    import sys
    sys.path.insert(0, str(ROOT / "tools" / "site"))
    import build as site_build
    monkeypatch.setattr(site_build, "ROOT", tmp_path)
    src = tmp_path / "kernel" / "x.c"
    src.parent.mkdir()

    def page(text, out):
        src.write_text(text)
        b = site_build.Builder(tmp_path / out, with_runs=False)
        b.sources = {"kernel/x.c"}
        b.render_sources()
        return (tmp_path / out / "src" / "kernel" / "x.c.html").read_text()

    first = page("int first_version;\n", "a")
    assert "first_version" in first
    assert page("int first_version;\n", "b") == first  # kept
    second = page("int second_version;\n", "c")
    assert "second_version" in second and "first_version" not in second
    kept = list((tmp_path / "build" / "site-cache").glob("*.html"))
    assert len(kept) == 1 and "second_version" in kept[0].read_text()


def test_a_figure_value_may_take_the_last_or_every_match():
    # The boot prints one heap: line per heap layer; the kernel keeps the last one.
    import sys
    sys.path.insert(0, str(ROOT / "tools" / "site"))
    import figures
    log = "heap: uses the bump (03)\nheap: uses the list (04)\nheap: uses the block (05)\n"
    rx = r"^heap: uses the (?P<h>\w+)"
    assert figures.matched(rx, log, "w", "run") == {"h": "bump"}
    assert figures.matched({"regex": rx, "match": "last"}, log, "w", "run") == {"h": "block"}
    assert figures.matched({"regex": rx, "match": "all", "join": " > "}, log, "w", "run") == \
        {"h": "bump > list > block"}
    with pytest.raises(figures.FigureError, match="printed no line matching"):
        figures.matched(r"^pages:", log, "w", "run")


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_pages_load_in_chromium_without_errors(site):
    if RELEASE:
        pytest.skip("the pages' look is checked in the full course")
    if not chromium():
        pytest.skip("Chromium is not installed (tools/need browser installs it)") if RELEASE else \
            pytest.fail("Chromium is not installed: run `tools/need browser`", pytrace=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    pages = sorted(p for p in site.glob("*.html"))
    jobs = [(p, SHOTS / f"{p.stem}.png", 1280, 2000, "") for p in pages]
    jobs += [(site / n, SHOTS / f"{Path(n).stem}-phone.png", 390, 1600, "")
             for n in ("index.html", "02-paging.html", "06-buddy.html")]
    # a source page as a handout's link opens it: at a line, which is marked
    jobs.append((site / "src" / "kernel" / "buddy.h.html", SHOTS / "src-buddy.h.png", 1280, 900, "L41"))
    problems = []
    with Browser(chromium()) as browser:  # one browser, every page in turn
        for page, shot, w, h, fragment in jobs:
            name = page.relative_to(site)
            try:
                console, missing = browser.load(page, shot, w, h, fragment)
            except BrowserError as e:
                problems.append(f"{name} ({w} px): {e}")
                continue
            problems += [f"{name} ({w} px): console: {c}" for c in console]
            problems += [f"{name}: asked for {m}, which does not exist" for m in missing]
            if not shot.is_file():
                problems.append(f"{name}: no screenshot")
            if fragment:
                marked = browser.evaluate(f"getComputedStyle(document.getElementById('{fragment}'))"
                                          ".backgroundColor")
                if marked in (None, "rgba(0, 0, 0, 0)", "transparent"):
                    problems.append(f"{name}#{fragment}: the line a link points at is not marked ({marked})")
    assert not problems, "\n".join(problems)
    print(f"screenshots of {len(jobs)} pages in {SHOTS.relative_to(ROOT)}/")
