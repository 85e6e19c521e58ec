"""A Table as LaTeX: a `table` float with a booktabs `tabular`, the title and legend as its caption."""

from __future__ import annotations

from itertools import groupby

from bench.report.cells import Style, cell_text
from bench.report.tables import Table

LATEX = Style(
    pm=" $\\pm$ ",
    bold="\\textbf{{{}}}",
    under="\\underline{{{}}}",
    sig="$^{*}$",
    partial="$^{{\\dagger {}}}$",
    missing="--",
    minus="$-$",
    delta=" ({})",
)

_ESCAPES = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "<": "\\textless{}",
    ">": "\\textgreater{}",
    "→": "$\\rightarrow$",
    "±": "$\\pm$",
    "—": "---",
    "–": "--",
    "−": "$-$",
    "†": "$\\dagger$",
    "×": "$\\times$",
}

PREAMBLE = r"""\documentclass{article}
\usepackage[utf8]{inputenc}
\usepackage{booktabs}
\usepackage[a4paper,landscape,margin=1.5cm]{geometry}
\begin{document}
"""


def escape(text: str) -> str:
    """Plain text made safe for LaTeX, with the few symbols the tables use mapped to their commands."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def latex(table: Table, standalone: bool = False) -> str:
    """The table float; with `standalone`, a whole article document around it."""
    n = len(table.columns)
    groups, rule, start = [], [], 2
    for group, members in groupby(table.columns, key=lambda c: c.group):
        k = len(list(members))
        groups.append(f"\\multicolumn{{{k}}}{{c}}{{{escape(group)}}}")
        rule.append(f"\\cmidrule(lr){{{start}-{start + k - 1}}}")
        start += k
    lines = [
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{escape(table.title)}. {escape(' '.join(table.notes))}}}",
        f"\\begin{{tabular}}{{l{'c' * n}}}",
        "\\toprule",
        " & " + " & ".join(groups) + " \\\\",
        " ".join(rule),
        "Method & " + " & ".join(escape(c.label) for c in table.columns) + " \\\\",
        "\\midrule",
    ]
    for i, row in enumerate(table.rows):
        if row.reference and not table.rows[i - 1].reference:
            lines.append("\\midrule")
        label = f"\\textit{{{escape(row.label)}}}" if row.reference else escape(row.label)
        cells = [cell_text(c, table.digits, LATEX, row.reference) for c in row.cells]
        lines.append(" & ".join([label, *cells]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    body = "\n".join(lines) + "\n"
    return PREAMBLE + body + "\\end{document}\n" if standalone else body
