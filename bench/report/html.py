"""A Table as an HTML fragment (two header rows, legend below), and a minimal self-contained document."""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from itertools import groupby

from bench.report.cells import Style, cell_text
from bench.report.tables import SeedSummary, Table

HTML = Style(
    pm=" ± ",
    bold="<strong>{}</strong>",
    under="<u>{}</u>",
    sig="<sup>*</sup>",
    partial="<sup>†{}</sup>",
    missing="—",
    minus="−",
    delta=' <span class="delta">({})</span>',
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em; color: #222; }
table.results { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
table.results caption { text-align: left; font-weight: 600; padding-bottom: 0.4em; }
table.results th, table.results td { padding: 0.25em 0.7em; text-align: center; white-space: nowrap; }
table.results thead tr:first-child th { border-top: 2px solid #222; }
table.results thead tr:last-child th { border-bottom: 1px solid #222; }
table.results tbody tr:last-child > * { border-bottom: 2px solid #222; }
table.results tbody th { text-align: left; font-weight: normal; }
table.results tr.reference > * { font-style: italic; color: #555; }
table.results tr.reference:first-of-type > *, tr.method + tr.reference > * { border-top: 1px solid #999; }
.runs { font-size: 0.75em; color: #666; margin-left: 0.3em; }
.runs a { color: #36c; text-decoration: none; margin-left: 0.15em; }
.delta { color: #555; }
p.notes { font-size: 0.85em; color: #444; max-width: 60em; }
table.plain { border-collapse: collapse; font-size: 0.9em; }
table.plain th, table.plain td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; }
img.figure { max-width: 100%; display: block; margin: 1em 0; }
"""


def html_document(title: str, body: str) -> str:
    """A complete page with the stylesheet inline; it loads nothing else (not even a favicon)."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<link rel="icon" href="data:,">\n<title>{escape(title)}</title>\n<style>{CSS}</style>\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def html_table(table: Table, links: Callable[[str], str] | None = None) -> str:
    """The table, each method cell followed by numbered links to its run folders when `links` is given."""
    groups = "".join(
        f'<th colspan="{len(list(cols))}">{escape(group)}</th>'
        for group, cols in groupby(table.columns, key=lambda c: c.group)
    )
    labels = "".join(f"<th>{escape(c.label)}</th>" for c in table.columns)
    out = [
        '<table class="results">',
        f"<caption>{escape(table.title)}</caption>",
        f'<thead><tr><th rowspan="2">Method</th>{groups}</tr><tr>{labels}</tr></thead>',
        "<tbody>",
    ]
    for row in table.rows:
        kind = "reference" if row.reference else "method"
        cells = "".join(_td(c, table.digits, row.reference, links) for c in row.cells)
        out.append(f'<tr class="{kind}"><th scope="row">{escape(row.label)}</th>{cells}</tr>')
    out += ["</tbody>", "</table>", f'<p class="notes">{escape(" ".join(table.notes))}</p>']
    return "\n".join(out)


def _td(cell: SeedSummary, digits: int, reference: bool, links: Callable[[str], str] | None) -> str:
    title = f"n = {cell.n}" + ("" if math.isnan(cell.p) else f", p (Holm) = {cell.p:.3g}")
    text = cell_text(cell, digits, HTML, reference)
    folders = [(i, d) for i, d in enumerate(cell.runs, 1) if d]
    if links and folders:
        refs = "".join(f'<a href="{escape(links(d))}" title="{escape(d)}">{i}</a>' for i, d in folders)
        text += f'<span class="runs">[{refs}]</span>'
    return f'<td title="{escape(title)}">{text}</td>'
