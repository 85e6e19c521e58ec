"""A Table as Markdown, LaTeX (booktabs), CSV or HTML text.

Markdown: one header row "group, label"; bold **x**, underline <u>x</u>, \\* significant, †n incomplete.
LaTeX: a `table` float with booktabs rules, the legend as caption; `standalone=True` makes a full document
that pdflatex compiles with the base and recommended TeX Live packages only. CSV: one line per (row,
column) with the numbers at full precision. HTML: see html.py.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable

from bench.errors import BenchError
from bench.report.cells import Style, cell_text
from bench.report.tables import Table

FORMATS = ("md", "latex", "csv", "html")

MARKDOWN = Style(
    pm=" ± ",
    bold="**{}**",
    under="<u>{}</u>",
    sig="\\*",
    partial=" †{}",
    missing="—",
    minus="−",
    delta=" ({})",
)


def render(
    table: Table, fmt: str, *, standalone: bool = False, links: Callable[[str], str] | None = None
) -> str:
    """`table` in `fmt` (md, latex, csv, html). standalone: a complete LaTeX or HTML document.
    links: run folder → href, for the HTML cells' links to their runs (no links when None)."""
    if fmt == "md":
        return markdown(table)
    if fmt == "latex":
        from bench.report.latex import latex

        return latex(table, standalone=standalone)
    if fmt == "csv":
        return to_csv(table)
    if fmt == "html":
        from bench.report.html import html_document, html_table

        return (
            html_document(table.title, html_table(table, links)) if standalone else html_table(table, links)
        )
    raise BenchError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")


def md_escape(text: str) -> str:
    for ch in "\\*_|`":
        text = text.replace(ch, "\\" + ch)
    return text


def markdown(table: Table) -> str:
    """GitHub-flavoured Markdown: a bold title line, the table, then the legend."""
    head = ["Method", *(f"{c.group}, {c.label}" for c in table.columns)]
    lines = [f"**{md_escape(table.title)}**", ""]
    lines.append("| " + " | ".join(md_escape(h) for h in head) + " |")
    lines.append("| :-- |" + " --: |" * len(table.columns))
    for row in table.rows:
        label = f"*{md_escape(row.label)}*" if row.reference else md_escape(row.label)
        cells = [cell_text(c, table.digits, MARKDOWN, row.reference) for c in row.cells]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    lines.append("")
    lines += [md_escape(n) for n in table.notes]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """One line per (row, column): identity, mean, std, n, complete, rank, p (Holm), delta, runs, the
    half-width of the 95 % t interval of the mean (ci95) and the row's variant."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        ["row", "label", "reference", "task", "pair_ratio", "metric", "mean", "std", "n", "n_expected"]
        + ["complete", "rank", "p_holm", "significant", "delta", "runs", "ci95", "variant"]
    )
    for row in table.rows:
        for col, c, full in zip(table.columns, row.cells, table.n_expected, strict=True):
            nums = ["" if math.isnan(x) else repr(float(x)) for x in (c.mean, c.std)]
            extra = ["" if math.isnan(x) else repr(float(x)) for x in (c.p, c.delta, c.ci)]
            w.writerow(
                [row.name, row.label, row.reference, col.task, col.pair_ratio, col.metric, *nums, c.n]
                + [full, c.complete, c.rank, extra[0], c.significant, extra[1], ";".join(c.runs)]
                + [extra[2], row.variant]
            )
    return out.getvalue()
