#!/usr/bin/env python3
"""`make site`: the handouts as a static web edition, in build/site/.

    tools/site/build.py [--out build/site] [--no-runs]

Every handouts/NN-*.md is a page of the series (files with the same NN are one chapter, in
the order of their names: 01-boot.md, 01-boot-2-exceptions.md, ...), plus handouts/*.md that
are not chapters (the instructors' guide, the glossary) and docs/bench.md. The index is the
course's table of contents, from the README's table of checkpoints.

What the builder adds to the Markdown:
- every `kernel/...`, `labs/...`, `user/...` (any path of the tree, TREE_DIRS, with an optional
  :line) in inline code becomes a link to a rendered page of that file, at that line; a path
  that does not exist is an error naming the handout (solutions/ in a students' copy, which has
  none, stays text, and so does a pattern such as `user/NAME.c`);
- under each "Step N" heading, where the copy has solutions/, that step's reference code,
  folded;
- each glossary term links to handouts/glossary.md at its first use in a page;
- a fenced block under `<!-- figure: NAME -->` is shown as the SVG drawn from
  handouts/figures/NAME.* (tools/site/figures.py), the text kept below it, folded;
- a "where we are" figure at the top of every chapter (handouts/figures/layers.toml).
Nothing is loaded from the network when the pages are viewed.
"""
import argparse
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures  # noqa: E402
import runs  # noqa: E402

ROOT = runs.ROOT
HERE = Path(__file__).resolve().parent
HANDOUTS = ROOT / "handouts"
RELEASE = (ROOT / ".release").is_file()
TREE_DIRS = ("kernel", "labs", "solutions", "user", "grade", "tools", "docs", "handouts", ".ci", ".github")
SOURCE_REF = re.compile(r"^((?:%s)/[\w./+-]*[\w+-])(?::(\d+))?$" % "|".join(re.escape(d) for d in TREE_DIRS))
# A path that names no file but a pattern (`user/NAME.c`, `labs/NN-name/lab.c`) stays text.
PLACEHOLDER = re.compile(r"(?<![A-Za-z])(NN|NAME)(?![A-Za-z])")
TOP_FILES = ("Makefile", "README.md")
FIGURE = re.compile(r"^<!--\s*figure:\s*([\w-]+)\s*-->$")
RUN = re.compile(r"^<!--\s*run:.*-->$")
STEP = re.compile(r"^Step (\d+)\b")


class SiteError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Pages

class Page:
    def __init__(self, src, out, kind, chapter=None):
        self.src, self.out, self.kind, self.chapter = src, out, kind, chapter
        self.title = ""
        self.prev = self.next = None

    @property
    def rel(self):
        return str(self.src.relative_to(ROOT))


def chapters():
    """{NN: [files of chapter NN, in reading order]}: handouts/NN-*.md."""
    groups = {}
    for p in sorted(HANDOUTS.glob("[0-9][0-9]-*.md")):
        groups.setdefault(p.name[:2], []).append(p)
    for nn, files in groups.items():
        files.sort(key=lambda p: (len(p.stem.split("-")) > 2 and not p.stem[3:].isalpha(), p.name))
        main = min(files, key=lambda p: len(p.name))
        files.remove(main)
        groups[nn] = [main] + files
    return dict(sorted(groups.items()))


def title_of(md):
    for line in md.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def readme_table():
    """{NN: (what you write, what the kernel gets)} from the README's table of checkpoints."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        m = re.match(r"^\|\s*(\d\d) ([^|]+)\|([^|]+)\|([^|]+)\|", line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip(), m.group(4).strip())
    return rows


# ---------------------------------------------------------------------------------------------
# The pandoc AST

# pandoc is slow to start (about 0.4 s), so one run reads every page and one writes them all:
# read.lua and write.lua do for each page what `pandoc -f gfm` and `pandoc -t html5` would.

def pandoc(args, text):
    p = subprocess.run(["pandoc", *args], input=text, capture_output=True, text=True)
    if p.returncode:
        raise SiteError(f"pandoc: {p.stderr}")
    return json.loads(p.stdout)


def pandoc_read(files):
    """(the pandoc API version, [each file's blocks]): each file read as GitHub Markdown."""
    doc = pandoc(["-f", str(HERE / "read.lua"), "-t", "json", *map(str, files)], "")
    return doc["pandoc-api-version"], [div["c"][1] for div in doc["blocks"]]


def pandoc_write(api, pages):
    """[each page's HTML] from [(blocks, {template variable: value})], by template.html."""
    divs = [{"t": "Div", "c": [["", [], list(variables.items())], blocks]} for blocks, variables in pages]
    doc = pandoc(["-f", "json", "-t", "json", "--lua-filter", str(HERE / "write.lua"),
                  "--template", str(HERE / "template.html"), "--highlight-style", "tango",
                  "--toc", "--toc-depth=3"],
                 json.dumps({"pandoc-api-version": api, "meta": {}, "blocks": divs}))
    return [raw_block["c"][1] for raw_block in doc["blocks"]]


def stringify(inlines):
    out = []
    for i in inlines:
        t, c = i["t"], i.get("c")
        if t == "Str":
            out.append(c)
        elif t in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
        elif t == "Code":
            out.append(c[1])
        elif t in ("Emph", "Strong", "Strikeout", "SmallCaps", "Underline"):
            out.append(stringify(c))
        elif t in ("Link", "Span"):
            out.append(stringify(c[1]))
        elif t == "Quoted":
            out.append(stringify(c[1]))
    return "".join(out)


def raw(html_text):
    return {"t": "RawBlock", "c": ["html", html_text]}


class Builder:
    def __init__(self, out, with_runs=True):
        self.out = out
        self.with_runs = with_runs
        self.errors = []
        self.sources = set()        # repository files to render as pages
        self.glossary = {}          # term -> anchor
        self.figures = figures.Figures(out / "figures", with_runs=with_runs)

    # -- links to the tree ------------------------------------------------------------------

    def source_link(self, page, path, line):
        """The URL of the rendered source page, or None (with an error noted) if missing."""
        f = ROOT / path
        if not f.exists():
            if RELEASE and path.startswith("solutions/"):
                return None
            self.errors.append(f"{page.rel}: mentions `{path}`, which does not exist in this tree "
                               f"(moved or renamed? fix the handout)")
            return None
        if f.is_dir():
            return None
        if line:
            n = len(f.read_text(errors="replace").splitlines())
            if int(line) > n:
                self.errors.append(f"{page.rel}: mentions `{path}:{line}`, but {path} has {n} lines")
                return None
        self.sources.add(path)
        return f"{page.depth}src/{path}.html" + (f"#L{line}" if line else "")

    def fix_link(self, page, url):
        """Links between handouts go to their pages; links into the tree to source pages."""
        if re.match(r"^[a-z]+:", url) or url.startswith("#"):
            return url
        target, _, anchor = url.partition("#")
        resolved = (page.src.parent / target).resolve()
        try:
            rel = str(resolved.relative_to(ROOT))
        except ValueError:
            self.errors.append(f"{page.rel}: links outside the repository: {url}")
            return url
        if rel in self.page_for:
            return self.page_for[rel].out.name + ("#" + anchor if anchor else "")
        if not resolved.exists():
            self.errors.append(f"{page.rel}: links to {url}, which does not exist")
            return url
        if resolved.is_file():
            self.sources.add(rel)
            return f"src/{rel}.html" + ("#" + anchor if anchor else "")
        return url

    # -- the walk ---------------------------------------------------------------------------

    def inlines(self, page, items, seen_terms, in_link=False):
        out = []
        for it in items:
            t = it["t"]
            if t == "Code":
                m = SOURCE_REF.match(it["c"][1])
                if m and not in_link and not PLACEHOLDER.search(m.group(1)):
                    url = self.source_link(page, m.group(1), m.group(2))
                    if url:
                        out.append({"t": "Link", "c": [["", ["src"], []], [it], [url, ""]]})
                        continue
            elif t == "Link":
                it["c"][2][0] = self.fix_link(page, it["c"][2][0])
                it["c"][1] = self.inlines(page, it["c"][1], seen_terms, in_link=True)
            elif t in ("Emph", "Strong", "Strikeout", "Underline", "SmallCaps"):
                it["c"] = self.inlines(page, it["c"], seen_terms, in_link)
            elif t == "Str" and not in_link and page.kind == "chapter":
                word = it["c"].rstrip(".,;:)!?")
                lead = word.lstrip("(")
                if lead in self.glossary and lead not in seen_terms:
                    seen_terms.add(lead)
                    pre = it["c"][:len(it["c"]) - len(it["c"].lstrip("("))]
                    post = it["c"][len(pre) + len(lead):]
                    link = {"t": "Link", "c": [["", ["gloss"], []], [{"t": "Str", "c": lead}],
                                               [f"glossary.html#{self.glossary[lead]}", "glossary"]]}
                    out += ([{"t": "Str", "c": pre}] if pre else []) + [link] + \
                        ([{"t": "Str", "c": post}] if post else [])
                    continue
            out.append(it)
        return out

    def blocks(self, page, items, seen_terms):
        out, i = [], 0
        while i < len(items):
            b = items[i]
            t = b["t"]
            if t == "RawBlock" and b["c"][0] == "html":
                text = b["c"][1].strip()
                m = FIGURE.match(text)
                if m and i + 1 < len(items) and items[i + 1]["t"] == "CodeBlock":
                    out += self.figure_blocks(page, m.group(1), items[i + 1])
                    i += 2
                    continue
                if RUN.match(text) or FIGURE.match(text):
                    i += 1  # markers are for the tools, not the reader
                    continue
            if t == "Para" and stringify(b["c"]).startswith("Hint:"):
                b["c"] = self.inlines(page, b["c"], seen_terms)
                out += [raw('<details class="hint"><summary>hint</summary>'), b, raw("</details>")]
                i += 1
                continue
            if t in ("Para", "Plain"):
                b["c"] = self.inlines(page, b["c"], seen_terms)
            elif t == "Header":
                b["c"][2] = self.inlines(page, b["c"][2], set(), in_link=True)
            elif t in ("BulletList",):
                b["c"] = [self.blocks(page, item, seen_terms) for item in b["c"]]
            elif t == "OrderedList":
                b["c"][1] = [self.blocks(page, item, seen_terms) for item in b["c"][1]]
            elif t in ("BlockQuote", "Div"):
                if t == "BlockQuote":
                    b["c"] = self.blocks(page, b["c"], seen_terms)
                else:
                    b["c"][1] = self.blocks(page, b["c"][1], seen_terms)
            elif t == "Table":
                self.table(page, b, seen_terms)
            elif t == "CodeBlock":
                b["c"][0][1].append("wide") if max((len(l) for l in b["c"][1].splitlines()), default=0) > 100 else None
            out.append(b)
            i += 1
        return out

    def table(self, page, b, seen_terms):
        # Table: attr, caption, colspecs, head, bodies, foot; cells hold blocks.
        def cells(rows):
            for row in rows:
                for cell in row["c"][1] if isinstance(row, dict) else row[1]:
                    cell_blocks = cell["c"][4] if isinstance(cell, dict) else cell[4]
                    cell_blocks[:] = self.blocks(page, cell_blocks, seen_terms)
        head = b["c"][3]
        cells(head[1])
        for body in b["c"][4]:
            cells(body[2])
            cells(body[3])

    def figure_blocks(self, page, name, code):
        if name == "where-we-are":
            page.has_where = True
            where = self.where_we_are(page)
            return [where, raw('<details class="astext"><summary>the same figure as text</summary>'), code,
                    raw("</details>")] if where else [code]
        try:
            svg = self.figures.draw(name)
        except figures.FigureError as e:
            self.errors.append(f"{page.rel}: figure {name}: {e}")
            return [code]
        if svg is None:  # a figure from a run this copy cannot make
            return [code]
        caption = self.figures.caption(name)
        return [raw(f'<figure class="fig" id="fig-{name}"><img src="{page.depth}figures/{svg}" '
                    f'alt="{html.escape(caption or name)}">'
                    + (f"<figcaption>{html.escape(caption)}</figcaption>" if caption else "")
                    + "</figure>\n<details class=\"astext\"><summary>the same figure as text</summary>"),
                code, raw("</details>")]

    def solutions_for(self, nn):
        """{step: [(file, first line, body)]} of chapter NN's lab, if this copy has it."""
        labdir = next((d for d in sorted(runs.SOLUTIONS.glob(f"{nn}-*")) if d.is_dir()), None) \
            if runs.SOLUTIONS.is_dir() else None
        steps = {}
        if not labdir:
            return steps, None
        for f in sorted(labdir.iterdir()):
            for first, last, nums, body in runs.solution_blocks(f.read_text()):
                if nums:
                    steps.setdefault(min(nums), []).append((f, first, body))
        return steps, labdir

    def fold_solutions(self, page, blocks):
        steps, labdir = self.solutions_for(page.chapter)
        if not steps:
            return blocks
        out, pending = [], None

        def flush():
            nonlocal pending
            if pending is None:
                return
            level, n = pending
            pending = None
            parts = steps.get(n)
            if not parts:
                return
            out.append(raw(f'<details class="solution"><summary>The reference code for step {n} '
                           f"(solutions/{labdir.name}/)</summary>"))
            for f, first, body in parts:
                rel = str(f.relative_to(ROOT))
                self.sources.add(rel)
                out.append(raw(f'<p class="where"><a href="{page.depth}src/{rel}.html#L{first + 1}">'
                               f"{html.escape(rel)}:{first + 1}</a></p>"))
                lang = "gnuassembler" if f.suffix == ".S" else "c"
                out.append({"t": "CodeBlock", "c": [["", [lang], []], body.rstrip("\n")]})
            out.append(raw("</details>"))

        for b in blocks:
            if b["t"] == "Header":
                if pending and b["c"][0] <= pending[0]:
                    flush()
                m = STEP.match(stringify(b["c"][2]))
                if m:
                    flush()
                    pending = (b["c"][0], int(m.group(1)))
            out.append(b)
        flush()
        return out

    # -- one page ---------------------------------------------------------------------------

    def page_blocks(self, page, blocks):
        """The page's blocks, with what the builder adds to them (the top of this file says what)."""
        seen = set()
        blocks = self.blocks(page, blocks, seen)
        if page.kind == "chapter":
            blocks = self.fold_solutions(page, blocks)
            if page.first_of_chapter and not getattr(page, "has_where", False):
                where = self.where_we_are(page)
                if where:
                    # after the title and the opening paragraph
                    k = next((i for i, b in enumerate(blocks) if b["t"] == "Header" and b["c"][0] == 1), -1)
                    k += 2 if k + 1 < len(blocks) and blocks[k + 1]["t"] == "Para" else 1
                    blocks[k:k] = [where]
        return blocks

    @staticmethod
    def variables(page):
        """template.html's variables for the page: HTML, not Markdown."""
        nav = {"prev": page.prev and page.prev.out.name, "prevtitle": page.prev and inline_md(page.prev.title),
               "next": page.next and page.next.out.name, "nexttitle": page.next and inline_md(page.next.title)}
        return {"pagetitle": html.escape(plain(page.title)), "course": "teachos", "root": page.depth,
                "source": page.rel, **{key: val for key, val in nav.items() if val}}

    def where_we_are(self, page):
        try:
            svg = self.figures.where_we_are(page.chapter)
        except figures.FigureError as e:
            self.errors.append(f"{page.rel}: the 'where we are' figure: {e}")
            return None
        if not svg:
            return None
        return raw(f'<figure class="fig where"><img src="{page.depth}figures/{svg}" '
                   f'alt="where this chapter sits among the layers of the kernel">'
                   f"<figcaption>Where we are: the layers up to this chapter, and which one hands "
                   f"memory to which.</figcaption></figure>")

    # -- source pages -----------------------------------------------------------------------

    def render_sources(self):
        import pygments
        from pygments.formatters import HtmlFormatter
        css = HtmlFormatter(style="tango").get_style_defs(".code")
        (self.out / "src").mkdir(parents=True, exist_ok=True)
        (self.out / "src" / "code.css").write_text(css)
        # Highlighting the ~180 files took 1.3 s of a 4.8 s build here, and most builds highlight
        # the same files again (`make test` builds the site each run): each page's body is kept in
        # build/site-cache/ under a digest of the file's name and text, of Pygments' version
        # and of this builder's own code, so that a change to any of them highlights anew. What
        # this build did not use goes (a build beside this one that wanted it highlights again).
        cache = ROOT / "build" / "site-cache"
        version = hashlib.sha256(Path(__file__).read_bytes() + pygments.__version__.encode()).digest()
        used = set()
        for rel in sorted(self.sources):
            f = ROOT / rel
            text = f.read_text(errors="replace")
            kept = cache / (hashlib.sha256(version + f.name.encode() + b"\0" + text.encode()).hexdigest() + ".html")
            used.add(kept.name)
            try:
                body = kept.read_text()
            except OSError:
                body = self.highlight(f, text)
                try:  # whole or not at all, for a build writing the same page beside this one
                    cache.mkdir(parents=True, exist_ok=True)
                    tmp = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
                    tmp.write_text(body)
                    os.replace(tmp, kept)
                except OSError:
                    pass  # an unwritable build/: the page is made, only not kept
            out = self.out / "src" / (rel + ".html")
            out.parent.mkdir(parents=True, exist_ok=True)
            depth = "../" * (rel.count("/") + 1)
            out.write_text(SOURCE_PAGE.format(title=html.escape(rel), root=depth, body=body,
                                              css=f"{depth}src/code.css"))
        for old in cache.glob("*.html"):
            if old.name not in used:
                old.unlink(missing_ok=True)

    @staticmethod
    def highlight(f, text):
        """The highlighted body of a source page: the file f, whose text is text."""
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_for_filename, TextLexer, GasLexer, CLexer
        if f.suffix == ".S":
            lexer = GasLexer()
        elif f.suffix in (".c", ".h"):
            lexer = CLexer()
        else:
            try:
                lexer = get_lexer_for_filename(f.name)
            except Exception:
                lexer = TextLexer()
        # each line in a <span id="L40">, its number a link to it: style.css marks the line
        # a link points at (span[id]:target), which an empty <a id> before it could not show
        body = highlight(text, lexer, HtmlFormatter(style="tango", linenos="inline", linespans="L",
                                                    anchorlinenos=True, cssclass="code", wrapcode=True))
        body = re.sub(r'(id|name)="L-(\d+)"', r'\1="L\2"', body).replace('href="#L-', 'href="#L')
        # the newline after each line, not in it: a marked line can then be as wide as the page
        body = re.sub(r'\n</span>(?=<span id="L\d+">|</code>)', '</span>\n', body)
        return body

    # -- everything -------------------------------------------------------------------------

    def build(self):
        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        for f in ("style.css", "site.js"):
            shutil.copy(HERE / f, self.out / f)
        self.glossary = self.read_glossary()

        pages = []
        groups = chapters()
        for nn, files in groups.items():
            for k, f in enumerate(files):
                p = Page(f, self.out / (f.stem + ".html"), "chapter", nn)
                p.first_of_chapter = k == 0
                pages.append(p)
        extra = [p for p in sorted(HANDOUTS.glob("*.md")) if not re.match(r"\d\d-", p.name)]
        extra.append(ROOT / "docs" / "bench.md")
        for f in extra:
            pages.append(Page(f, self.out / (f.stem + ".html"), "page"))
        for p in pages:
            p.depth = ""
            p.title = title_of(p.src.read_text()) or p.src.stem
        self.page_for = {p.rel: p for p in pages}
        chaps = [p for p in pages if p.kind == "chapter"]
        for a, b in zip(chaps, chaps[1:]):
            a.next, b.prev = b, a
        api, parsed = pandoc_read([p.src for p in pages])
        bodies = [(self.page_blocks(p, blocks), self.variables(p)) for p, blocks in zip(pages, parsed)]
        for p, text in zip(pages, pandoc_write(api, bodies)):
            p.out.write_text(with_anchors(text))
        self.render_index(groups, pages)
        self.render_sources()
        self.errors += self.figures.errors
        return pages

    def read_glossary(self):
        g = HANDOUTS / "glossary.md"
        terms = {}
        if g.is_file():
            for line in g.read_text().splitlines():
                m = re.match(r"^### (.+?)\s*$", line)
                if m:
                    term = m.group(1)
                    anchor = re.sub(r"[^\w\- ]", "", term.lower()).replace(" ", "-")
                    for alias in term.split(", "):
                        if " " not in alias:
                            terms[alias] = anchor
        return terms

    def render_index(self, groups, pages):
        table = readme_table()
        rows = []
        for nn, files in groups.items():
            main = self.page_for[str(files[0].relative_to(ROOT))]
            name, write, gets = table.get(nn, (main.title, "", ""))
            parts = "".join(f'<li><a href="{href}">{text}</a></li>'
                            for href, text in self.parts([self.page_for[str(f.relative_to(ROOT))]
                                                          for f in files[1:]]))
            rows.append(f'<tr><td class="nn">{nn}</td><td><a href="{main.out.name}"><strong>'
                        f"{html.escape(name)}</strong></a><br><span class=\"t\">{inline_md(main.title)}</span>"
                        + (f"<ul class=\"parts\">{parts}</ul>" if parts else "")
                        + f"</td><td>{inline_md(write)}</td><td>{inline_md(gets)}</td></tr>")
        others = "".join(f'<li><a href="{p.out.name}">{inline_md(p.title)}</a></li>'
                         for p in pages if p.kind == "page")
        intro = readme_intro()
        (self.out / "index.html").write_text(INDEX.format(rows="\n".join(rows), others=others, intro=intro))


    @staticmethod
    def parts(later):
        """[(href, HTML)]: a chapter's later files, each by its subject ("Lab 08, part 3: user
        programs in the kernel, ..." -> "user programs in the kernel, ..."). Not by part
        number: chapters number their parts differently (01's files are parts 2-4 with parts
        of their own inside, 08's first file holds parts 1-2 and its second is part 3), and the
        index should not show a part 3 without a part 2."""
        return [(page.out.name, inline_md(re.sub(r"^Lab \d+, part \d+: ", "", page.title))) for page in later]


def with_anchors(page):
    """Each heading of the page with a # that links to it."""
    return re.sub(r'<(h[1-4]) id="([^"]+)"([^>]*)>(.*?)</\1>',
                  lambda m: f'<{m.group(1)} id="{m.group(2)}"{m.group(3)}>{m.group(4)}'
                            f'<a class="anchor" href="#{m.group(2)}" aria-label="link to this section">#</a>'
                            f"</{m.group(1)}>", page, flags=re.S)


def plain(text):
    """A title as text: `make bench` -> make bench."""
    return re.sub(r"`([^`]+)`", r"\1", text)


def inline_md(text):
    text = html.escape(text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def readme_intro():
    lines = (ROOT / "README.md").read_text().split("\n\n")
    paras = [p for p in lines[1:2] if p and not p.startswith(("#", "-", "|", "```"))]
    return "".join(f"<p>{inline_md(p)}</p>" for p in paras)


INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>teachos: a teaching x86_64 kernel, chapter by chapter</title>
<link rel="stylesheet" href="style.css"></head>
<body class="index"><main>
<h1>teachos: a teaching x86_64 kernel, chapter by chapter</h1>
{intro}
<p>Each chapter is one checkpoint: read it, fill in the TODOs of <code>labs/NN-name/</code>, and
<code>make grade LAB=N</code> tells you what works. Reading without doing the labs works too:
every chapter shows what a real run prints, and where your copy has them, the reference code
of each step is folded under it.</p>
<h2 id="chapters">Chapters</h2>
<table class="toc"><thead><tr><th></th><th>chapter</th><th>you write</th><th>the kernel gets</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2 id="more">More</h2>
<ul>{others}<li><a href="src/index.html">the sources the chapters refer to</a></li></ul>
</main><script src="site.js"></script></body></html>
"""

SOURCE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{root}style.css"><link rel="stylesheet" href="{css}"></head>
<body class="source"><header class="top"><a href="{root}index.html">teachos</a> / <code>{title}</code></header>
<main>{body}</main></body></html>
"""


def source_index(out, sources):
    items = "".join(f'<li><a href="{s}.html"><code>{html.escape(s)}</code></a></li>' for s in sorted(sources))
    (out / "src" / "index.html").write_text(SOURCE_PAGE.format(title="sources", root="../", css="code.css",
                                                               body=f"<h1>Sources</h1><ul>{items}</ul>"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    ap.add_argument("--no-runs", action="store_true",
                    help="draw no figure that needs a kernel run (quicker; those figures are left out)")
    args = ap.parse_args()
    b = Builder(args.out.resolve(), with_runs=not args.no_runs)
    try:
        pages = b.build()
        source_index(b.out, b.sources)
    except (SiteError, figures.FigureError) as e:
        print(f"make site: {e}", file=sys.stderr)
        return 1
    if b.errors:
        for e in b.errors:
            print(f"make site: {e}", file=sys.stderr)
        print(f"make site: {len(b.errors)} problem(s); the site in {args.out} is incomplete.", file=sys.stderr)
        return 1
    rel = args.out.resolve().relative_to(ROOT) if args.out.resolve().is_relative_to(ROOT) else args.out
    print(f"make site: {len(pages)} pages, {len(b.sources)} source files, {b.figures.count} figures in {rel}/")
    print(f"View it: open {args.out.resolve()}/index.html in a browser, or serve it with")
    print(f"    python3 -m http.server -d {rel} 8000    and open http://localhost:8000/")
    shown = sorted({s.split("/")[1] for s in b.sources if s.startswith("solutions/")})
    if shown:
        print(f"Note: this copy has solutions/, and the site shows them: {', '.join(shown)}.\n"
              f"    To publish, build the site of a students' copy (make release): see \"Publishing the "
              f"handouts\" in handouts/instructors.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
