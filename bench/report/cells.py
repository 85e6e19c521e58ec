"""How one cell reads in a given output format: mean ± std (or CI half-width), bold/underline, *, †n, —."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.report.tables import SeedSummary


@dataclass(frozen=True)
class Style:
    """The markup of a format; `{}` in `bold`, `under`, `partial` and `delta` is where the content goes."""

    pm: str
    bold: str
    under: str
    sig: str
    partial: str
    missing: str
    minus: str
    delta: str


def number(x: float, digits: int, style: Style, sign: bool = False) -> str:
    """x with `digits` decimals (and a leading + when `sign`), the format's minus sign for negatives."""
    x = round(x, digits) + 0.0  # no "-0.0"
    return f"{x:{'+' if sign else ''}.{digits}f}".replace("-", style.minus)


def cell_text(cell: SeedSummary, digits: int, style: Style, reference: bool = False) -> str:
    """The cell's text; a reference cell shows its numbers only."""
    if cell.n == 0:
        return style.missing
    text = number(cell.mean, digits, style)
    if cell.n > 1:
        text += style.pm + number(cell.spread, digits, style)
    if reference:
        return text
    if cell.rank:
        text = (style.bold if cell.rank == 1 else style.under).format(text)
    if cell.significant:
        text += style.sig
    if not cell.complete:
        text += style.partial.format(cell.n)
    if not math.isnan(cell.delta):
        text += style.delta.format(number(cell.delta, digits, style, sign=True))
    return text
