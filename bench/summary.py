"""The summary printed at the end of a sweep: the primary metric in percent (the unit of `table`), mean ±
std over seeds (n), one row per method and variant (the runs of a method whose parameters differ, such as
a study's tuned and default runs, are kept apart as `table` keeps them: bench/report/frame.py)."""

from __future__ import annotations

import pandas as pd

from bench.report.frame import with_variants
from bench.states import DONE

UNIT = "%"
DIGITS = 1  # as `table` shows them


def summary_table(df: pd.DataFrame) -> str:
    """A title line naming the unit, then rows: method, or "method [variant]" where a method has several
    configurations; columns: (task · metric, pair ratio); cells 'mean ± std (n)' in percent over done
    runs."""
    done = df[df["state"] == DONE]
    if done.empty:
        return "(no finished runs)"
    done = with_variants(done)
    cells = {}
    for (task, metric), part in done.groupby(["task", "primary_metric"]):
        if metric not in part:  # no run of the task recorded it: nothing to show, never a KeyError
            continue
        for (method, variant, ratio), runs in part.groupby(["method", "variant", "pair_ratio"]):
            values = runs[metric].astype(float) * 100
            std = values.std(ddof=1) if len(values) > 1 else 0.0
            name = f"{method} [{variant}]" if variant else method
            cells.setdefault(name, {})[f"{task} {metric} ({UNIT}) r={ratio:g}"] = (
                f"{values.mean():.{DIGITS}f} ± {std:.{DIGITS}f} ({len(values)})"
            )
    table = pd.DataFrame(cells).T.sort_index()
    table.index.name = "method"
    title = f"primary metric in {UNIT}, mean ± std over seeds (n runs), as `python -m bench table` shows it"
    return title + "\n" + table.fillna("—").to_string()
