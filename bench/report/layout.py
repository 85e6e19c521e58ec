"""Which rows and columns a table has: the chosen tasks, methods, pair ratios and metrics, in order."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.cell.states import DONE
from bench.errors import BenchError
from bench.report.frame import metric_columns, primary_metric
from bench.suggest import closest


@dataclass(frozen=True)
class Column:
    """One column: the runs of `task` at `pair_ratio`, read on `metric`; `group` spans columns in headers."""

    task: str
    pair_ratio: float
    metric: str
    group: str
    label: str


def pick(requested, present: pd.Series, kind: str, order) -> list[str]:
    """`requested` names, each checked to occur in `present`; all of `present` in `order` when None."""
    available = order(present.dropna().unique())
    if requested is None:
        return available
    for name in requested:
        if name not in available:
            raise BenchError(
                f"no runs of {kind} {name!r} in the results{closest(name, available)}; present: "
                f"{', '.join(available)}"
            )
    return list(requested)


def columns_for(runs, tasks, metric, ratios, kind, shown) -> list[Column]:
    """The columns of `tasks` (see make_table for `metric` and `kind`).

    Pair ratios are those any run of the task has (any state), restricted to `ratios`. A metric asked for
    that a task's done runs never report is a BenchError naming the metrics the task has."""
    unknown = sorted(set(ratios or ()) - set(runs["pair_ratio"]))
    if unknown:
        present = ", ".join(f"{r:g}" for r in sorted(runs["pair_ratio"].unique()))
        raise BenchError(f"no runs at pair ratio {', '.join(f'{r:g}' for r in unknown)}; present: {present}")
    cols = []
    for task in tasks:
        of_task = runs[runs["task"] == task]
        done = of_task[of_task["state"] == DONE]
        task_ratios = sorted(
            float(r) for r in of_task["pair_ratio"].unique() if ratios is None or r in ratios
        )
        if metric is None and kind == "ratio":
            metrics = [primary_metric(of_task, task)]
        else:
            wanted = (
                metric_columns(runs) if metric is None else [metric] if isinstance(metric, str) else metric
            )
            for m in wanted:
                if m not in runs.columns:
                    raise BenchError(f"no metric {m!r} in the results{closest(m, metric_columns(runs))}")
            undefined = [m for m in wanted if not done.empty and done[m].isna().all()]
            if undefined and metric is not None:
                has = [m for m in metric_columns(done) if done[m].notna().any()]
                raise BenchError(
                    f"--metric {', '.join(undefined)}: task {task} does not compute it under its protocols; "
                    f"its metrics: {', '.join(has) or 'none'} (or leave the task out with --tasks)"
                )
            metrics = [m for m in wanted if m not in undefined]
        tname = shown.get(task, task)
        if kind == "ratio":
            cols += [
                Column(task, r, m, f"{tname} ({shown.get(m, m)})", f"r = {r:g}")
                for m in metrics
                for r in task_ratios
            ]
        else:
            cols += [
                Column(task, r, m, f"{tname} (r = {r:g})", shown.get(m, m))
                for r in task_ratios
                for m in metrics
            ]
    if not cols:
        raise BenchError("nothing to tabulate: no pair ratio or metric of the chosen tasks has results")
    return cols
