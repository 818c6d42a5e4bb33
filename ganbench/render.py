"""A leaderboard as a list of blocks (headings, paragraphs, tables, figures), rendered to Markdown, to one
self-contained HTML page (figures inlined as base64, no external files or requests) and to LaTeX tables."""
from __future__ import annotations

import base64
import html as html_mod
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

CODE = re.compile(r"`([^`]+)`")
BOLD = re.compile(r"\*\*([^*]+)\*\*")


@dataclass(frozen=True)
class Seeds:
    """A table row's detail, shown when the row is expanded on the HTML page: one row per seed (its values), and
    each seed's sample grid (label, PNG file)."""

    table: pd.DataFrame
    samples: tuple[tuple[str, Path], ...] = ()


@dataclass(frozen=True)
class Block:
    """One piece of a report: kind is "title", "section", "text", "table" or "figure". A table may carry the full
    table it summarises (`full`: the HTML page and LaTeX show it, Markdown the summary) and, per value of its second
    column, the seeds behind the row (`seeds`: the HTML page expands a row to them). `only` names the one format a
    block is for ("markdown", "html", "latex"; empty: all)."""

    kind: str
    text: str = ""
    table: pd.DataFrame | None = None
    path: Path | None = None
    label: str = ""  # a table's LaTeX label suffix / a section's anchor
    full: pd.DataFrame | None = None
    seeds: dict[str, Seeds] | None = None
    only: str = ""

    @staticmethod
    def title(text: str) -> Block:
        return Block("title", text)

    @staticmethod
    def section(text: str) -> Block:
        return Block("section", text, label=slug(text))

    @staticmethod
    def para(text: str, only: str = "") -> Block:
        return Block("text", text, only=only)

    @staticmethod
    def data(table: pd.DataFrame, caption: str = "", label: str = "", full: pd.DataFrame | None = None,
             seeds: dict[str, Seeds] | None = None) -> Block:
        return Block("table", caption, table=table, label=label, full=full, seeds=seeds)

    @staticmethod
    def figure(path: Path, caption: str = "") -> Block:
        return Block("figure", caption, path=Path(path))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def markdown(blocks: list[Block]) -> str:
    """GitHub Markdown: tables as pipe tables, figures as links relative to the report's folder."""
    out = []
    for b in blocks:
        if b.only not in ("", "markdown"):
            continue
        if b.kind == "title":
            out.append(f"# {b.text}\n")
        elif b.kind == "section":
            out.append(f"\n## {b.text}\n")
        elif b.kind == "text":
            out.append(b.text + "\n")
        elif b.kind == "table":
            out.append(b.table.to_markdown(index=False) + "\n")
        elif b.kind == "figure":
            out.append(f"![{b.text or b.path.stem}]({b.path.parent.name}/{b.path.name})\n")
    return "\n".join(out)


def _inline_html(text: str) -> str:
    text = html_mod.escape(text, quote=False)
    text = CODE.sub(r"<code>\1</code>", text)
    return BOLD.sub(r"<strong>\1</strong>", text)


STYLE = r"""
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
.board{overflow-x:auto}.filter{margin:.5em 0;padding:.2em .4em;width:18em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.85em}th,td{padding:.25em .6em;border-bottom:1px solid #eee;
text-align:right;white-space:nowrap;vertical-align:top}th{border-bottom:2px solid #999;background:#fafafa;position:sticky;
top:0}table.sortable th{cursor:pointer}th[data-sort=asc]::after{content:" \25B4"}th[data-sort=desc]::after{content:" \25BE"}
td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}tr.row:hover td{background:#f5f8ff}
tr.detail>td{background:#fbfbfb;text-align:left;white-space:normal}button.expand{border:0;background:none;cursor:pointer}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}figure{margin:1em 0}figure img{max-width:100%;
border:1px solid #eee}figure.seed{display:inline-block;margin:.3em}figure.seed img{max-width:320px}
figcaption{font-size:.8em;color:#666}details{margin:.5em 0 1.5em}nav a{margin-right:1em}
"""
# Sorting (click a header; numbers by their leading value, empty cells last), filtering (the box above a table) and
# expanding a row to its seeds. With #selftest in the URL the page exercises all three once loaded and records what
# it saw on <body>, so that a headless browser can check the page (tests/e2e/test_html_browser.py).
SCRIPT = """
function gbNum(t) { var m = t.replace(/\\u2212/g, '-').replace(/,/g, '').match(/^[+-]?(\\d+\\.?\\d*|\\.\\d+)(e[+-]?\\d+)?/i);
  return m ? parseFloat(m[0]) : NaN; }
function gbPairs(tbody) { var out = [], trs = tbody.children;
  for (var i = 0; i < trs.length; i++) { if (!trs[i].classList.contains('row')) continue;
    var pair = [trs[i]]; if (trs[i + 1] && trs[i + 1].classList.contains('detail')) pair.push(trs[i + 1]); out.push(pair); }
  return out; }
function gbSort(th) { var head = th.parentNode, idx = Array.prototype.indexOf.call(head.children, th);
  var asc = th.dataset.sort !== 'asc', tbody = th.closest('table').tBodies[0];
  Array.prototype.forEach.call(head.children, function (h) { delete h.dataset.sort; });
  th.dataset.sort = asc ? 'asc' : 'desc';
  var pairs = gbPairs(tbody);
  pairs.sort(function (a, b) { var x = a[0].children[idx].textContent.trim(), y = b[0].children[idx].textContent.trim();
    if (x === '' || y === '') return (x === '') - (y === '');
    var nx = gbNum(x), ny = gbNum(y), c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return asc ? c : -c; });
  pairs.forEach(function (p) { p.forEach(function (r) { tbody.appendChild(r); }); }); }
function gbFilter(input) { var q = input.value.toLowerCase(), tbody = input.parentNode.querySelector('tbody');
  gbPairs(tbody).forEach(function (p) { var show = p[0].textContent.toLowerCase().indexOf(q) >= 0; p[0].hidden = !show;
    if (p[1]) { var open = p[0].querySelector('button.expand[aria-expanded=true]'); p[1].hidden = !(show && open); } }); }
function gbToggle(btn) { var open = btn.getAttribute('aria-expanded') !== 'true';
  btn.setAttribute('aria-expanded', open ? 'true' : 'false'); btn.textContent = open ? '\\u25BE' : '\\u25B8';
  btn.closest('tr').nextElementSibling.hidden = !open; }
document.addEventListener('click', function (e) { var b = e.target.closest('button.expand'); if (b) { gbToggle(b); return; }
  var th = e.target.closest('table.sortable th'); if (th && !th.classList.contains('x')) gbSort(th); });
document.addEventListener('input', function (e) { if (e.target.classList.contains('filter')) gbFilter(e.target); });
function gbSelfTest(d) { var btn = document.querySelector('button.expand'); if (!btn) return;
  var table = btn.closest('table'), heads = table.tHead.rows[0].children, col = -1;
  for (var i = 0; i < heads.length; i++) if (heads[i].textContent.trim() === 'method') col = i;
  var first = function () { return gbPairs(table.tBodies[0])[0][0].children[col].textContent.trim(); };
  heads[col].click(); d.sortedAsc = first(); heads[col].click(); d.sortedDesc = first();
  var top = table.querySelector('button.expand'); top.click();
  var detail = top.closest('tr').nextElementSibling;
  d.expanded = detail.hidden ? '0' : '1'; d.seedRows = detail.querySelector('table').tBodies[0].rows.length;
  var box = table.parentNode.querySelector('input.filter'); box.value = d.sortedDesc;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  d.visibleRows = gbPairs(table.tBodies[0]).filter(function (p) { return !p[0].hidden; }).length; }
window.addEventListener('load', function () {
  var d = document.body.dataset, imgs = Array.prototype.slice.call(document.images);
  d.figures = imgs.length;
  d.figuresDecoded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  d.tables = document.querySelectorAll('table').length;
  if (location.hash === '#selftest') gbSelfTest(d);
});
"""


def _png(path: Path, caption: str, cls: str = "") -> str:
    """A PNG file inlined as a data: URI, with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = html_mod.escape(caption)
    klass = f' class="{cls}"' if cls else ""
    return f'<figure{klass}><img alt="{cap}" src="data:image/png;base64,{data}"><figcaption>{cap}</figcaption></figure>'


def _seeds_html(seeds: Seeds) -> str:
    """A row's detail: its seeds' values and their sample grids."""
    grids = "".join(_png(path, label, "seed") for label, path in seeds.samples if path.exists())
    return seeds.table.to_html(index=False, border=0, na_rep="", escape=True) + grids


def _table_html(table: pd.DataFrame, seeds: dict[str, Seeds] | None = None) -> str:
    """A sortable, filterable table; with `seeds`, each row whose second column names one expands to it."""
    cols = [str(c) for c in table.columns]
    head = ('<th class="x"></th>' if seeds is not None else "") + "".join(f"<th>{html_mod.escape(c)}</th>" for c in cols)
    rows = []
    for values in table.fillna("").astype(str).itertuples(index=False):
        cells = "".join(f"<td>{html_mod.escape(v)}</td>" for v in values)
        detail = seeds.get(values[1]) if seeds is not None and len(values) > 1 else None
        button = ('<td class="x"><button type="button" class="expand" aria-expanded="false" title="seeds">'
                  "\u25B8</button></td>") if detail is not None else ('<td class="x"></td>' if seeds is not None else "")
        rows.append(f'<tr class="row">{button}{cells}</tr>')
        if detail is not None:
            rows.append(f'<tr class="detail" hidden><td colspan="{len(cols) + 1}">{_seeds_html(detail)}</td></tr>')
    return ('<div class="board"><input type="search" class="filter" placeholder="filter rows" aria-label="filter rows">'
            f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _block_html(b: Block) -> str:
    if b.kind == "section":
        return f'<h2 id="{b.label}">{_inline_html(b.text)}</h2>'
    if b.kind == "text":
        return f"<p>{_inline_html(b.text)}</p>"
    if b.kind == "table":
        out = _table_html(b.table, b.seeds)
        if b.full is not None:
            out += f"<details><summary>Every column</summary>{_table_html(b.full)}</details>"
        return out
    if b.kind == "figure" and b.path.exists():
        return _png(b.path, b.text or b.path.stem)
    return ""


def html(blocks: list[Block]) -> str:
    """One HTML page holding everything: styles and script inline, figures as data: URIs; it opens from a file
    anywhere, and its tables sort, filter and expand to their seeds without any request."""
    blocks = [b for b in blocks if b.only in ("", "html")]
    title = next((b.text for b in blocks if b.kind == "title"), "ganbench")
    sections = [b for b in blocks if b.kind == "section"]
    body = []
    for b in blocks:
        if b.kind == "title":
            body.append(f"<h1>{_inline_html(b.text)}</h1>")
            if sections:
                body.append("<nav>" + "".join(f'<a href="#{section.label}">{html_mod.escape(section.text)}</a>'
                                              for section in sections) + "</nav>")
        else:
            body.append(_block_html(b))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html_mod.escape(title)}</title><style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
LATEX_SYMBOLS = {"±": r"$\pm$", "▲": r"$\blacktriangle$", "▼": r"$\blacktriangledown$", "△": r"$\triangle$",
                 "▽": r"$\triangledown$", "Δ": r"$\Delta$",
                 "≤": r"$\leq$", "≥": r"$\geq$", "×": r"$\times$", "–": "--", "—": "---", "…": r"\dots{}",
                 "ψ": r"$\psi$", "β": r"$\beta$", "λ": r"$\lambda$", "→": r"$\to$", "·": r"$\cdot$",
                 "−": "-", "≈": r"$\approx$"}


def latex_escape(text: str) -> str:
    """Plain text as LaTeX: special characters escaped, the leaderboard's symbols in math mode, `code` in
    \\texttt."""
    parts = CODE.split(str(text))
    out = []
    for i, part in enumerate(parts):
        escaped = "".join(LATEX_SPECIAL.get(c, LATEX_SYMBOLS.get(c, c)) for c in part)
        out.append(rf"\texttt{{{escaped}}}" if i % 2 else escaped)
    return "".join(out)


def latex(blocks: list[Block], name: str) -> str:
    r"""Each table as a booktabs table float with its caption and a label tab:<name>-<label>, ready to \input into
    a paper; headings become comments. Needs \usepackage{booktabs,amssymb}."""
    out = [f"% ganbench leaderboard {name}: \\input this file; needs \\usepackage{{booktabs,amssymb}}", ""]
    for b in blocks:
        if b.only not in ("", "latex"):
            continue
        if b.kind in ("title", "section"):
            out.append(f"% {b.text}")
        elif b.kind == "table":
            t = (b.full if b.full is not None else b.table).fillna("")
            align = "l" * min(2, len(t.columns)) + "r" * max(0, len(t.columns) - 2)
            out += [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{align}}}", r"\toprule",
                    " & ".join(latex_escape(c) for c in t.columns) + r" \\", r"\midrule"]
            out += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in t.astype(str).itertuples(index=False)]
            out += [r"\bottomrule", r"\end{tabular}"]
            if b.text:
                out.append(rf"\caption{{{latex_escape(b.text)}}}")
            out += [rf"\label{{tab:{slug(name)}-{b.label or 'table'}}}", r"\end{table}", ""]
    return "\n".join(out) + "\n"


FORMATS = {"markdown": ("leaderboard.md", lambda blocks, name: markdown(blocks)),
           "html": ("leaderboard.html", lambda blocks, name: html(blocks)),
           "latex": ("leaderboard.tex", latex)}
