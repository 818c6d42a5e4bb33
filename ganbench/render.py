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
class Block:
    """One piece of a report: kind is "title", "section", "text", "table" or "figure"."""

    kind: str
    text: str = ""
    table: pd.DataFrame | None = None
    path: Path | None = None
    label: str = ""  # a table's LaTeX label suffix / a section's anchor

    @staticmethod
    def title(text: str) -> Block:
        return Block("title", text)

    @staticmethod
    def section(text: str) -> Block:
        return Block("section", text, label=slug(text))

    @staticmethod
    def para(text: str) -> Block:
        return Block("text", text)

    @staticmethod
    def data(table: pd.DataFrame, caption: str = "", label: str = "") -> Block:
        return Block("table", caption, table=table, label=label)

    @staticmethod
    def figure(path: Path, caption: str = "") -> Block:
        return Block("figure", caption, path=Path(path))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def markdown(blocks: list[Block]) -> str:
    """GitHub Markdown: tables as pipe tables, figures as links relative to the report's folder."""
    out = []
    for b in blocks:
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


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}th,td{padding:.25em .6em;border-bottom:1px solid #eee;
text-align:right;white-space:nowrap}th{border-bottom:2px solid #999;background:#fafafa;position:sticky;top:0}
td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}tr:hover td{background:#f5f8ff}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}figure{display:inline-block;margin:.5em}
figure img{max-width:560px;border:1px solid #eee}figcaption{font-size:.8em;color:#666;text-align:center}
nav a{margin-right:1em}
"""
# Once the page has loaded, counts the figures the browser could decode: a headless browser can check the page.
CHECK = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  document.body.dataset.figures = imgs.length;
  document.body.dataset.figuresDecoded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.dataset.tables = document.querySelectorAll('table').length;
});
"""


def html(blocks: list[Block]) -> str:
    """One HTML page holding everything: styles inline, figures as data: URIs; it opens from a file anywhere."""
    title = next((b.text for b in blocks if b.kind == "title"), "ganbench")
    sections = [b for b in blocks if b.kind == "section"]
    body = []
    for b in blocks:
        if b.kind == "title":
            body.append(f"<h1>{_inline_html(b.text)}</h1>")
            if sections:
                body.append("<nav>" + "".join(f'<a href="#{section.label}">{html_mod.escape(section.text)}</a>'
                                              for section in sections) + "</nav>")
        elif b.kind == "section":
            body.append(f'<h2 id="{b.label}">{_inline_html(b.text)}</h2>')
        elif b.kind == "text":
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif b.kind == "table":
            body.append(b.table.to_html(index=False, border=0, na_rep="", escape=True))
        elif b.kind == "figure" and b.path.exists():
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            cap = html_mod.escape(b.text or b.path.stem)
            body.append(f'<figure><img alt="{cap}" src="data:image/png;base64,{data}"><figcaption>{cap}</figcaption>'
                        "</figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html_mod.escape(title)}</title><style>{STYLE}</style><script>{CHECK}</script></head>\n<body>\n"
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
        if b.kind in ("title", "section"):
            out.append(f"% {b.text}")
        elif b.kind == "table":
            t = b.table.fillna("")
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
