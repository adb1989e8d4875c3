"""The figures of the web edition, drawn from small descriptions in handouts/figures/.

A chapter asks for a figure with a marker above the ASCII drawing it replaces on the web:

    <!-- figure: buddy-split -->
    ```
    ...the same picture in ASCII, for readers of the Markdown...
    ```

and handouts/figures/ holds its description, one of:

- NAME.dot: a Graphviz graph, drawn as it is;
- NAME.toml: a description with a `caption`, a `kind`, and where its numbers come from:

      caption = "The buddy's free blocks per order, at boot and after two requests"
      kind = "dot" | "bars" | "ranges"
      run = "make qemu LAB=6 SOLUTIONS=all"     # a real run (tools/site/runs.py)
      [values]                                  # regexes with named groups, matched in
      order0 = 'free blocks per order 0..10: +\\[(?P<boot>[0-9 ]+)\\]'   # the run's output
      heaps = {regex = '^heap: kmalloc uses the (?P<heap>[\\w ]+)', match = "all", join = ", then "}

  A plain regex takes its first match in the output; `match = "last"` takes the last (the
  state the run ended in), `match = "all"` every one, each group's values joined with `join`.

  kind "dot": `template`, Graphviz source in which {name} is a value;
  kind "bars": `series = [{label = "...", values = "{boot}"}, ...]`, one row of bars per
      series (the value is a list of numbers), `categories` naming the bars;
  kind "ranges": `extent`, and `blocks = [{label, start, size}, ...]`: a strip of memory
      with the blocks drawn to scale; numbers may be written as expressions of the values
      ("{c_off} + {c_size}"). A block may have a `style` (used, free, pad, node, other) and
      `text` written in it; `ticks = [{at, label}]` mark addresses above the strip (below it
      with tick_side = "below"); `arrows = [{from, to, label}]` are drawn over the strip, from
      one address to another, or `{source = "head", to}` from a name (a list's pointers:
      list-heap.toml). No run is needed when every number is written out.

A figure whose run prints no line a regex expects fails the build, naming the line it
expected: the format of the output has changed, and the figure with it.

handouts/figures/layers.toml describes the layers of the kernel; every chapter opens with a
figure drawn from it ("where we are").
"""
import ast
import html
import operator
import re
import subprocess
import tomllib
from pathlib import Path

import runs

ROOT = runs.ROOT
SRC = ROOT / "handouts" / "figures"

ACCENT, INK, MUTED, PAPER, LINE = "#1f5fa8", "#1d232b", "#6b7480", "#f4f6f9", "#c9d1db"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"


class FigureError(Exception):
    pass


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.FloorDiv: operator.floordiv, ast.Div: operator.floordiv, ast.Pow: operator.pow}


def evaluate(expr, values):
    """An arithmetic expression over the values ("{c_off} + {c_size}"), as an int."""
    text = fill(expr, values) if isinstance(expr, str) else str(expr)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        raise FigureError(f"cannot compute {expr!r} (= {text!r}): only numbers and + - * / **")
    try:
        return ev(ast.parse(text, mode="eval"))
    except SyntaxError:
        raise FigureError(f"cannot compute {expr!r} (= {text!r})")


def fill(template, values):
    def one(m):
        if m.group(1) not in values:
            raise FigureError(f"{{{m.group(1)}}} is not one of the values ({', '.join(sorted(values))})")
        return values[m.group(1)]
    return re.sub(r"\{(\w+)\}", one, template)


def dot_svg(source, name):
    p = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True)
    if p.returncode:
        raise FigureError(f"Graphviz could not draw {name}:\n{p.stderr}")
    svg = p.stdout
    return svg[svg.index("<svg"):]


def matched(rx, text, where, run):
    """The named groups of a value's regex in a run's output: a plain regex takes its first
    match; {regex = '...', match = "last"} the last; match = "all" joins each group's values
    over every match with `join` (default ", ")."""
    spec = rx if isinstance(rx, dict) else {"regex": rx}
    which = spec.get("match", "first")
    if which not in ("first", "last", "all"):
        raise FigureError(f"{where}: match = {which!r} (first, last or all)")
    found = list(re.finditer(spec["regex"], text, re.M))
    if not found:
        raise FigureError(f"the run `{run}` printed no line matching {spec['regex']!r} ({where}): "
                          f"has that output changed?")
    if which != "all":
        m = found[0] if which == "first" else found[-1]
        return {k: v for k, v in m.groupdict().items() if v is not None}
    names = found[0].groupdict().keys()
    return {k: spec.get("join", ", ").join(m[k] for m in found if m[k] is not None) for k in names}


class Figures:
    def __init__(self, out, with_runs=True):
        self.out = Path(out)
        self.with_runs = with_runs
        self.errors = []
        self.count = 0
        self._captions = {}
        self._drawn = {}

    def caption(self, name):
        return self._captions.get(name, "")

    def draw(self, name):
        """Draw handouts/figures/NAME.*; the SVG's file name, or None if this copy cannot draw
        it (a figure from a run that needs solutions it lacks)."""
        if name in self._drawn:
            return self._drawn[name]
        self.out.mkdir(parents=True, exist_ok=True)
        dot, desc = SRC / f"{name}.dot", SRC / f"{name}.toml"
        if dot.is_file():
            svg = dot_svg(dot.read_text(), name)
            m = re.search(r"^//\s*caption:\s*(.+)$", dot.read_text(), re.M)
            self._captions[name] = m.group(1).strip() if m else ""
        elif desc.is_file():
            d = tomllib.loads(desc.read_text())
            self._captions[name] = d.get("caption", "")
            values = {}
            if "run" in d:
                if not self.with_runs:
                    self._drawn[name] = None
                    return None
                try:
                    spec = runs.parse(d["run"])
                    text = runs.output(spec)
                except runs.MissingSolutions:
                    self._drawn[name] = None
                    return None
                except runs.RunError as e:
                    raise FigureError(str(e))
                for key, rx in d.get("values", {}).items():
                    values.update(matched(rx, text, f"values.{key} in handouts/figures/{name}.toml", d["run"]))
            kind = d.get("kind", "dot")
            if kind == "dot":
                svg = dot_svg(fill(d["template"], values), name)
            elif kind == "bars":
                svg = bars(d, values)
            elif kind == "ranges":
                svg = ranges(d, values)
            else:
                raise FigureError(f"handouts/figures/{name}.toml: no kind {kind!r} (dot, bars or ranges)")
        else:
            raise FigureError(f"no handouts/figures/{name}.dot or .toml describes it")
        (self.out / f"{name}.svg").write_text(svg)
        self.count += 1
        self._drawn[name] = f"{name}.svg"
        return f"{name}.svg"

    def where_we_are(self, nn):
        """The layers up to chapter nn, which hand memory to which: 'where-NN.svg'."""
        f = SRC / "layers.toml"
        if not f.is_file():
            return None
        layers = tomllib.loads(f.read_text()).get("layer", [])
        if not any(l["nn"] == nn for l in layers):
            raise FigureError(f"handouts/figures/layers.toml has no layer {nn}")
        n = int(nn)
        shown = [l for l in layers if int(l["nn"]) <= n + 1]
        lines = ["digraph where {", "rankdir=BT; nodesep=0.25; ranksep=0.3; bgcolor=\"transparent\";",
                 f'node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11, '
                 f'color="{LINE}", fillcolor="white", fontcolor="{INK}", margin="0.12,0.06"];',
                 f'edge [color="{MUTED}", fontname="{FONT}", fontsize=9, fontcolor="{MUTED}", arrowsize=0.6];']
        for l in shown:
            k = int(l["nn"])
            label = (f'<<b>{html.escape(l["nn"])} {html.escape(l["name"])}</b><br/>'
                     f'<font point-size="9">{html.escape(l["gives"])}</font>>')
            if k == n:
                style = f'fillcolor="{ACCENT}", fontcolor="white", color="{ACCENT}", penwidth=1.5'
            elif k > n:
                style = f'style="rounded,dashed", fontcolor="{MUTED}", label=<<b>next: {html.escape(l["name"])}</b>' \
                        f'<br/><font point-size="9">{html.escape(l["gives"])}</font>>'
                lines.append(f'"{l["nn"]}" [{style}];')
                continue
            else:
                style = f'fillcolor="{PAPER}"'
            lines.append(f'"{l["nn"]}" [label={label}, {style}];')
        ids = {l["nn"] for l in shown}
        for l in shown:
            for src, what in l.get("from", {}).items():
                if src in ids:
                    dashed = ", style=dashed" if int(l["nn"]) > n else ""
                    lines.append(f'"{src}" -> "{l["nn"]}" [label=" {html.escape(what)}"{dashed}];')
        lines.append("}")
        svg = dot_svg("\n".join(lines), f"where-{nn}")
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"where-{nn}.svg").write_text(svg)
        self.count += 1
        return f"where-{nn}.svg"


def _svg(width, height, body):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12">{body}</svg>\n')


def _t(x, y, text, size=12, anchor="start", fill=INK, weight="normal", mono=False):
    fam = f' font-family="{MONO}"' if mono else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}"{fam}>{html.escape(str(text))}</text>')


def bars(d, values):
    """One row of bars per series, the same categories in each, each bar labelled."""
    series = []
    for s in d["series"]:
        nums = [int(x) for x in fill(s["values"], values).split()]
        series.append((fill(s["label"], values), nums))
    cats = d.get("categories") or [str(i) for i in range(len(series[0][1]))]
    top = max(max(v) for _, v in series) or 1
    label_w, cell, row_h, bar_h = 210, 34, 58, 34
    width = label_w + cell * len(cats) + 10
    height = 30 + row_h * len(series) + 24
    body = [_t(label_w, 16, d.get("axis", ""), 11, fill=MUTED)]
    for r, (label, nums) in enumerate(series):
        y0 = 30 + r * row_h
        body.append(_t(label_w - 10, y0 + bar_h - 4, label, 12, "end"))
        body.append(f'<line x1="{label_w}" y1="{y0 + bar_h}" x2="{label_w + cell * len(cats)}" '
                    f'y2="{y0 + bar_h}" stroke="{LINE}"/>')
        for i, v in enumerate(nums):
            # a square-root scale: a count of 1 stays visible beside a count of 3000
            h = bar_h * (v / top) ** 0.5 if v else 0
            x = label_w + i * cell + 5
            if v:
                body.append(f'<rect x="{x}" y="{y0 + bar_h - h:.1f}" width="{cell - 10}" height="{h:.1f}" '
                            f'fill="{ACCENT}" rx="2"/>')
            body.append(_t(x + (cell - 10) / 2, y0 + bar_h - h - 3, v, 10, "middle",
                           fill=INK if v else MUTED))
    for i, c in enumerate(cats):
        body.append(_t(label_w + i * cell + cell / 2, 30 + row_h * len(series) + 6, c, 11, "middle", fill=MUTED))
    return _svg(width, height, "".join(body))


def ranges(d, values):
    """A strip of memory, blocks drawn to scale, with text in them and labels under them;
    ticks with addresses above the strip (or below it: tick_side = "below"), and arrows from
    one place of the strip (or from a name) to another, drawn over it."""
    extent = evaluate(d["extent"], values)
    start0 = evaluate(d.get("origin", 0), values)
    blocks = [(fill(b.get("label", ""), values), evaluate(b["start"], values), evaluate(b["size"], values),
               b.get("style", "used"), fill(b.get("text", ""), values)) for b in d["blocks"]]
    arrows = d.get("arrows", [])
    below = d.get("tick_side", "above") == "below"
    if d.get("tick_side", "above") not in ("above", "below"):
        raise FigureError(f"tick_side = {d['tick_side']!r} (above or below)")
    arc_h = 52 if arrows else 0
    width, left, strip_h = 760, 20, 46
    strip_y = 34 + arc_h - (10 if below and arrows else 0)
    bottom = strip_y + strip_h
    scale = (width - 2 * left) / (extent - start0)

    def at(expr):
        return left + (evaluate(expr, values) - start0) * scale

    body = [f'<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker></defs>' if arrows else "",
            f'<rect x="{left}" y="{strip_y}" width="{width - 2 * left}" height="{strip_h}" fill="white" '
            f'stroke="{LINE}"/>']
    colors = {"used": ACCENT, "pad": "#d9e2ec", "free": "white", "other": "#8aa9cc", "node": "#f2c14e"}
    labels_y = bottom + (22 if below and d.get("ticks") else 0)
    labelled = 0
    for label, start, size, style, text in blocks:
        x = left + (start - start0) * scale
        w = max(size * scale, 2)
        body.append(f'<rect x="{x:.1f}" y="{strip_y}" width="{w:.1f}" height="{strip_h}" '
                    f'fill="{colors.get(style, ACCENT)}" stroke="{LINE if style == "free" else "white"}" '
                    f'stroke-width="0.5"/>')
        lines = text.split("\n") if text else []
        for k, line in enumerate(lines):
            y = strip_y + strip_h / 2 + (k - (len(lines) - 1) / 2) * 14 + 4
            body.append(_t(x + w / 2, y, line, 11, "middle", fill="white" if style in ("used", "other") else INK))
        if label:
            ly = labels_y + 16 + (labelled % 2) * 14
            labelled += 1
            body.append(f'<line x1="{x + w / 2:.1f}" y1="{bottom}" x2="{x + w / 2:.1f}" y2="{ly - 10}" '
                        f'stroke="{MUTED}" stroke-width="0.6"/>')
            half = len(label) * 3.2  # about half the label's width at 11 px
            body.append(_t(min(max(x + w / 2, half + 2), width - half - 2), ly, label, 11, "middle"))
    for tick in d.get("ticks", []):
        x = at(tick["at"])
        y0, y1, ty = (bottom, bottom + 4, bottom + 15) if below else (strip_y - 4, strip_y, strip_y - 8)
        body.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" stroke="{MUTED}"/>')
        body.append(_t(x, ty, fill(tick["label"], values), 10, "middle", fill=MUTED, mono=True))
    for a in arrows:
        x2, top = at(a["to"]), strip_y - arc_h + 18
        if "from" in a:  # an arc over the strip, from one place of it to another
            x1 = at(a["from"])
            body.append(f'<path d="M{x1:.1f},{strip_y} C{x1:.1f},{top} {x2:.1f},{top} {x2:.1f},{strip_y - 1}" '
                        f'fill="none" stroke="{INK}" stroke-width="1.2" marker-end="url(#head)"/>')
            if a.get("label"):
                body.append(_t((x1 + x2) / 2, strip_y - 0.75 * (strip_y - top) - 5, fill(a["label"], values), 11,
                               "middle", mono=True))
        else:  # from a name written above the strip, at its left
            name = fill(a["source"], values)
            x1 = x2 - 34
            body.append(_t(x1 - 3, top + 4, name, 11, "end", mono=True))
            body.append(f'<path d="M{x1:.1f},{top} C{x2:.1f},{top} {x2:.1f},{top} {x2:.1f},{strip_y - 1}" '
                        f'fill="none" stroke="{INK}" stroke-width="1.2" marker-end="url(#head)"/>')
    if d.get("title"):
        body.append(_t(left, 14, fill(d["title"], values), 12, weight="bold"))
    height = labels_y + (50 if labelled else 8)
    return _svg(width, height, "".join(body))
