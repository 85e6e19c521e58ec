"""The summary printed at the end of a sweep: the primary metric in percent (the unit of `table`), mean ±
std over seeds (n)."""

from __future__ import annotations

import pandas as pd

UNIT = "%"
DIGITS = 1  # as `table` shows them


def summary_table(df: pd.DataFrame) -> str:
    """A title line naming the unit, then rows: method; columns: (task · metric, pair ratio); cells
    'mean ± std (n)' in percent over done runs."""
    done = df[df["state"] == "done"]
    if done.empty:
        return "(no finished runs)"
    cells = {}
    for (task, metric), part in done.groupby(["task", "primary_metric"]):
        if metric not in part:  # no run of the task recorded it: nothing to show, never a KeyError
            continue
        for (method, ratio), runs in part.groupby(["method", "pair_ratio"]):
            values = runs[metric].astype(float) * 100
            std = values.std(ddof=1) if len(values) > 1 else 0.0
            cells.setdefault(method, {})[f"{task} {metric} ({UNIT}) r={ratio:g}"] = (
                f"{values.mean():.{DIGITS}f} ± {std:.{DIGITS}f} ({len(values)})"
            )
    table = pd.DataFrame(cells).T.sort_index()
    table.index.name = "method"
    title = f"primary metric in {UNIT}, mean ± std over seeds (n runs), as `python -m bench table` shows it"
    return title + "\n" + table.fillna("—").to_string()
