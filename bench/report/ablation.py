"""The ablation table: Gentle-CLIP against its three ablations (and controls), change from the full method.

Same rules as tables.py, with the full method as the baseline of the tests, and each other row carrying
its change from the full method's mean in the same column (`Cell.delta`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from bench.errors import BenchError
from bench.report.frame import prepare
from bench.report.layout import columns_for, pick
from bench.report.names import names
from bench.report.tables import Table, build

ABLATIONS = ("gentle_clip_no_sdd", "gentle_clip_no_mmd", "gentle_clip_no_ssl")


def ablation_table(
    df: pd.DataFrame,
    metric: str | None = None,
    tasks: Sequence[str] | None = None,
    ratios: Sequence[float] | None = None,
    display: Mapping[str, str] | None = None,
    *,
    full: str = "gentle_clip",
    ablations: Sequence[str] = ABLATIONS,
    controls: Sequence[str] = ("clip_ssl",),
    percent: bool = True,
    digits: int = 1,
    alpha: float = 0.05,
) -> Table:
    """`full` and those of `ablations` and `controls` that have runs, one column per (task, metric, ratio).

    metric None means each task's primary metric. Tasks default to those where `full` has runs.
    The `clip_ssl` control tells how much of a gain the self-supervised term alone brings (method.md)."""
    runs = prepare(df)
    if full not in set(runs["method"]):
        raise BenchError(f"no runs of {full!r} in the results: nothing to ablate")
    present = set(runs["method"])
    tasks = pick(tasks, runs.loc[runs["method"] == full, "task"], "task", sorted)
    runs = runs[runs["task"].isin(tasks)]
    shown = names(display)
    cols, notes = columns_for(runs, tasks, metric, ratios, "ratio", shown)
    rows = [full, *(m for m in (*ablations, *controls) if m in present)]
    what = "primary metric" if metric is None else shown.get(metric, metric)
    return build(
        runs,
        cols,
        rows,
        shown,
        title=f"Ablation of {shown.get(full, full)}: {what} by pair ratio" + (" (%)" if percent else ""),
        baseline=full,
        delta_from=full,
        references=False,
        notes=notes,
        percent=percent,
        digits=digits,
        alpha=alpha,
    )
