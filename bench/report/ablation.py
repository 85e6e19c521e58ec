"""The ablation table: a method against its ablations (and controls), with the change from the full method.

Which runs are ablations comes with the runs: a run of an ablation records the full method in
`method_ablation_of`, a control (a method that tells apart where the full method's gains come from)
in `method_control_of`. Same rules as tables.py, with the full method as the baseline of the tests, and
each other row carrying its change from the full method's mean in the same column (`SeedSummary.delta`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from bench.errors import BenchError
from bench.report.frame import entries, in_order, prepare
from bench.report.layout import columns_for, pick
from bench.report.names import names
from bench.report.tables import Table, build


def ablated(runs: pd.DataFrame) -> list[str]:
    """The methods of prepared `runs` that have runs of an ablation, by order."""
    of = entries(runs, "method")
    full = set(of["ablation_of"].dropna())
    return [m for m in of.index if m in full]


def ablation_rows(runs: pd.DataFrame, full: str | None = None) -> list[str]:
    """The rows of the ablation table of prepared `runs`: `full`, its ablations, then its controls, each
    by order. `full` defaults to the first by order of the methods that have ablations in the runs."""
    present = set(runs["method"])
    if full is None:
        candidates = ablated(runs)
        if not candidates:
            raise BenchError(
                "no ablation in the results: no run's method is an ablation of a method with runs; "
                "nothing to ablate"
            )
        full = candidates[0]
    elif full not in present:
        raise BenchError(f"no runs of {full!r} in the results: nothing to ablate")
    of = entries(runs, "method")
    ablations = [m for m in of.index if of.at[m, "ablation_of"] == full]
    controls = [m for m in of.index if of.at[m, "control_of"] == full and m not in ablations]
    if not ablations and not controls:
        with_some = ", ".join(ablated(runs)) or "none"
        raise BenchError(
            f"no runs of an ablation or a control of {full!r} in the results; methods with ablations: "
            f"{with_some}"
        )
    return [full, *ablations, *controls]


def ablation_table(
    df: pd.DataFrame,
    metric: str | None = None,
    tasks: Sequence[str] | None = None,
    ratios: Sequence[float] | None = None,
    display: Mapping[str, str] | None = None,
    *,
    full: str | None = None,
    percent: bool = True,
    digits: int = 1,
    alpha: float = 0.05,
    spread: str = "std",
) -> Table:
    """`full`, its ablations and its controls that have runs, one column per (task, metric, ratio).

    full None: the method that has ablations in the results (the first by order if several). metric None
    means each task's primary metric. Tasks and pair ratios default to those where `full` has runs (any
    state). A control says how much of the full method's gain a simpler method already brings (e.g. its
    self-supervised term alone)."""
    runs = prepare(df)
    rows = ablation_rows(runs, full)
    full, shown = rows[0], names(display, runs)
    tasks = pick(tasks, runs.loc[runs["method"] == full, "task"], "task", lambda t: in_order(runs, "task", t))
    runs = runs[runs["task"].isin(tasks)]
    # the columns are the full method's: elsewhere no row has a change from it
    cols = columns_for(runs[runs["method"] == full], tasks, metric, ratios, "ratio", shown)
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
        percent=percent,
        digits=digits,
        alpha=alpha,
        spread=spread,
    )
