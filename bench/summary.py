"""The summary printed at the end of a sweep: the primary metric, mean ± std over seeds (n)."""

from __future__ import annotations

import pandas as pd


def summary_table(df: pd.DataFrame) -> str:
    """Rows: method; columns: (task · metric, pair ratio); cells 'mean ± std (n)' over done runs."""
    done = df[df["state"] == "done"]
    if done.empty:
        return "(no finished runs)"
    cells = {}
    for (task, metric), part in done.groupby(["task", "primary_metric"]):
        for (method, ratio), runs in part.groupby(["method", "pair_ratio"]):
            values = runs[metric].astype(float)
            std = values.std(ddof=1) if len(values) > 1 else 0.0
            cells.setdefault(method, {})[f"{task} {metric} r={ratio:g}"] = (
                f"{values.mean():.3f} ± {std:.3f} ({len(values)})"
            )
    table = pd.DataFrame(cells).T.sort_index()
    table.index.name = "method"
    return table.fillna("—").to_string()
