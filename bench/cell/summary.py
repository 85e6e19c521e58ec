"""The summary printed at the end of a sweep: the primary metric in percent (the unit of `table`), mean ±
std over seeds (n), one row per method and variant, named and ordered as `table` names and orders them:
the method's label, then its variant in brackets as bench/report/frame.py `row_label` writes it (a study's
`tuned` and `defaults`, or the parameters that differ), methods by their order. One run has no spread:
its cell is 'value (1)'."""

from __future__ import annotations

import pandas as pd

from bench.cell.states import DONE
from bench.report.frame import row_label, with_variants

UNIT = "%"
DIGITS = 1  # as `table` shows them


def summary_table(df: pd.DataFrame) -> str:
    """A title line naming the unit, then rows: method label, with its variant where a method has several
    configurations; columns: (task · metric, pair ratio); cells 'mean ± std (n)' in percent over done
    runs ('mean (1)' for one)."""
    done = df[df["state"] == DONE]
    if done.empty:
        return "(no finished runs)"
    done = with_variants(done)
    method_label = _column(done, "method_label", done["method"])
    task_label = _column(done, "task_label", done["task"])
    order = _column(done, "method_order", pd.Series(0, index=done.index))
    cells: dict[tuple, dict[str, str]] = {}
    for (_task, metric), part in done.groupby(["task", "primary_metric"]):
        if metric not in part:  # no run of the task recorded it: nothing to show, never a KeyError
            continue
        for (method, key, variant, ratio), runs in part.groupby(
            ["method", "variant_key", "variant", "pair_ratio"]
        ):
            values = runs[metric].astype(float) * 100
            first = runs.index[0]
            row = (order[first], method, key, row_label(method_label[first], variant))
            spread = f" ± {values.std(ddof=1):.{DIGITS}f}" if len(values) > 1 else ""
            column = f"{task_label[first]} {metric} ({UNIT}) r={ratio:g}"
            cells.setdefault(row, {})[column] = f"{values.mean():.{DIGITS}f}{spread} ({len(values)})"
    rows = sorted(cells)
    table = pd.DataFrame([cells[r] for r in rows], index=[r[-1] for r in rows])
    table.index.name = "method"
    title = (
        f"primary metric in {UNIT}, mean ± std over seeds (n runs; one run: no ±), as `python -m bench "
        "table` shows it"
    )
    return title + "\n" + table.fillna("—").to_string()


def _column(df: pd.DataFrame, name: str, default: pd.Series) -> pd.Series:
    """The column `name` of `df` where it has a value, else `default`."""
    return df[name].where(df[name].notna(), default) if name in df.columns else default
