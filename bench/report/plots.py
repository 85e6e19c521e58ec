"""Figures with seaborn, one panel per task: `ratio`, `ablation` and `cost`.

- ratio: the metric against the pair ratio, one line per method (per variant, labelled as in the tables;
  mean over seeds, band ± 1 std); the x axis is logarithmic when the positive ratios span a decade or
  more (symlog when r = 0 is present too).
  Points with fewer seeds than the figure's fullest point are drawn hollow.
- ablation: bars of the full method, its ablations and controls per pair ratio (mean, error bar ± 1 std),
  as the ablation table picks them (ablation.py); bars with fewer seeds than the fullest bar are hatched.
- cost: every done run as a point, the metric against its wall time (or GPU-hours), log x when the costs
  span a decade; nothing is averaged.
Methods and tasks are listed by their order and shown by their labels in the results (frame.py); a method
keeps its colour across the figures of one results table. Metrics are shown in percent. `plot` returns the
matplotlib Figure and writes it when `out` is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from bench import atomic
from bench.cell.states import DONE
from bench.errors import BenchError
from bench.report.ablation import ablation_rows
from bench.report.frame import in_order, prepare, primary_metric, row_label, variant_rows
from bench.report.layout import pick
from bench.report.names import names

KINDS = ("ratio", "ablation", "cost")
LEGEND_ROWS = 12  # legend entries per column
LEGEND_ROW_IN = 0.3  # the height of a legend entry, in inches


def plot(
    df: pd.DataFrame,
    kind: str = "ratio",
    out: str | Path | None = None,
    metric: str | None = None,
    *,
    tasks: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    display: Mapping[str, str] | None = None,
    cost: str | None = None,
):
    """The `kind` figure of the collected runs `df`; written to `out` (format from its suffix) when given.

    metric None means each task's primary metric. methods: the lines or points (ratio, cost; default all)
    or the bars (ablation; default the rows of the ablation table: the method with ablations in the
    results, its ablations and controls; one method: that method's). cost: the `cost` kind's x column,
    "wall_s" or "gpu_hours"; None picks gpu_hours when any run used a GPU."""
    if kind not in KINDS:
        raise BenchError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
    runs = prepare(df)
    shown = names(display, runs)
    tasks = pick(tasks, runs["task"], "task", lambda present: in_order(runs, "task", present))
    if kind == "ablation" and (methods is None or len(methods) == 1):
        methods = ablation_rows(runs, methods[0] if methods else None)
    methods = pick(methods, runs["method"], "method", lambda present: in_order(runs, "method", present))
    cost = cost or _cost_column(runs)
    data = _long(runs, tasks, methods, metric, shown)
    if kind == "cost":
        data = data[data[cost].notna()]
    if data.empty:
        what = f"the metric and {cost}" if kind == "cost" else "the metric"
        raise BenchError(f"nothing to plot: no done run of the chosen tasks and methods has {what}")
    tasks = [t for t in tasks if t in set(data["task"])]
    sns, Figure = _seaborn()
    entries = len(set(data["method"]))  # a long legend goes into columns and a taller figure, never cut off
    columns = math.ceil(entries / LEGEND_ROWS)
    height = max(3.8, LEGEND_ROW_IN * math.ceil(entries / columns) + 0.6)
    fig = Figure(figsize=(4.8 * len(tasks) + 2.4 * columns, height), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    order = [row_label(shown.get(m, m), v) for m, v in variant_rows(runs, methods)]
    every = [
        row_label(shown.get(m, m), v) for m, v in variant_rows(runs, in_order(runs, "method", runs["method"]))
    ]
    colours = sns.color_palette("tab10" if len(every) <= 10 else "husl", len(every))
    palette = dict(zip(every, colours, strict=True))  # a method keeps its colour across figures
    draw = {"ratio": _ratio, "ablation": _ablation, "cost": _cost}[kind]
    extra = []
    for ax, task in zip(axes, tasks, strict=True):
        extra = draw(sns, ax, data[data["task"] == task], order, palette, cost) or extra
        ax.set_title(shown.get(task, task))
    handles = [_key(kind, palette[label], label) for label in order if label in set(data["method"])]
    fig.legend(handles=handles + extra, loc="outside right upper", frameon=False, ncols=columns)
    if out is not None:
        fmt, formats = Path(out).suffix.lstrip(".").lower(), fig.canvas.get_supported_filetypes()
        if fmt not in formats:
            raise BenchError(
                f"cannot write a figure to {out}: its name must end in a figure format "
                f"({', '.join('.' + f for f in sorted(formats))})"
            )
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic.write_with(Path(out), lambda tmp: fig.savefig(tmp, dpi=150, format=fmt))
    return fig


def _seaborn():
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import seaborn as sns
    from matplotlib.figure import Figure

    return sns, Figure


def _long(runs, tasks, methods, metric, shown) -> pd.DataFrame:
    """Done runs with a value: task, method label, pair_ratio, value (%), cost columns, and the cell's n."""
    done = runs[(runs["state"] == DONE) & runs["task"].isin(tasks) & runs["method"].isin(methods)]
    parts = []
    for task in tasks:
        m = metric or primary_metric(runs, task)
        sel = done[done["task"] == task]
        if m not in sel.columns:
            raise BenchError(f"no metric {m!r} in the results")
        sel = sel[sel[m].notna()]
        part = pd.DataFrame(
            {
                "task": task,
                "method": [
                    row_label(shown.get(m, m), v) for m, v in zip(sel["method"], sel["variant"], strict=True)
                ],
                "pair_ratio": sel["pair_ratio"].astype(float),
                "value": sel[m].astype(float) * 100,
                "metric": shown.get(m, m),
            }
        )
        for c in ("wall_s", "gpu_hours"):
            part[c] = sel[c].astype(float) if c in sel.columns else math.nan
        parts.append(part)
    data = pd.concat(parts, ignore_index=True)
    data["n"] = data.groupby(["task", "method", "pair_ratio"])["value"].transform("size")
    return data


def _ratio(sns, ax, d, order, palette, _cost):
    sns.lineplot(
        data=d,
        x="pair_ratio",
        y="value",
        hue="method",
        hue_order=[o for o in order if o in set(d["method"])],
        palette=palette,
        errorbar="sd",
        marker="o",
        ax=ax,
        legend=False,
    )
    ratios = sorted(d["pair_ratio"].unique())
    positive = [r for r in ratios if r > 0]
    if positive and positive[-1] / positive[0] >= 10:
        if positive[0] == ratios[0]:
            ax.set_xscale("log")
        else:
            ax.set_xscale("symlog", linthresh=positive[0])
    ax.set_xticks(ratios, [f"{r:g}" for r in ratios])
    ax.set_xlabel("pair ratio")
    ax.set_ylabel(f"{d['metric'].iloc[0]} (%)")
    means = d.groupby(["method", "pair_ratio"], as_index=False).agg(value=("value", "mean"), n=("n", "first"))
    partial = means[means["n"] < d["n"].max()]
    if partial.empty:
        return []
    for method, g in partial.groupby("method"):
        ax.scatter(
            g["pair_ratio"], g["value"], s=40, facecolors="white", edgecolors=[palette[method]], zorder=4
        )
    from matplotlib.lines import Line2D

    hollow = Line2D([], [], ls="", marker="o", mfc="white", mec="grey", label="fewer seeds")
    return [hollow]


def _ablation(sns, ax, d, order, palette, _cost):
    d = d.assign(ratio=d["pair_ratio"].map(lambda r: f"{r:g}"))
    hue_order = [o for o in order if o in set(d["method"])]
    x_order = [f"{r:g}" for r in sorted(d["pair_ratio"].unique())]
    sns.barplot(
        data=d,
        x="ratio",
        y="value",
        hue="method",
        hue_order=hue_order,
        order=x_order,
        palette=palette,
        errorbar="sd",
        saturation=1,
        ax=ax,
        legend=False,
    )
    n = d.groupby(["method", "ratio"])["n"].first()
    full = d["n"].max()
    hatched = False
    for method, bars in zip(hue_order, ax.containers, strict=True):
        for bar in bars:  # only the ratios the method has runs at; category i is centred on x = i
            x = x_order[round(bar.get_x() + bar.get_width() / 2)]
            if n.get((method, x), full) < full:
                bar.set_hatch("//")
                hatched = True
    ax.set_xlabel("pair ratio")
    ax.set_ylabel(f"{d['metric'].iloc[0]} (%)")
    if not hatched:
        return []
    from matplotlib.patches import Patch

    return [Patch(facecolor="white", edgecolor="grey", hatch="//", label="fewer seeds")]


def _cost(sns, ax, d, order, palette, cost):
    sns.scatterplot(
        data=d,
        x=cost,
        y="value",
        hue="method",
        hue_order=[o for o in order if o in set(d["method"])],
        palette=palette,
        ax=ax,
        legend=False,
    )
    positive = d.loc[d[cost] > 0, cost]
    if len(positive) and positive.max() / positive.min() >= 10:
        ax.set_xscale("log")
    ax.set_xlabel({"wall_s": "wall time (s)", "gpu_hours": "GPU-hours"}.get(cost, cost))
    ax.set_ylabel(f"{d['metric'].iloc[0]} (%)")
    return []


def _cost_column(runs: pd.DataFrame) -> str:
    gpu = runs["gpu_hours"] if "gpu_hours" in runs.columns else pd.Series(dtype=float)
    return "gpu_hours" if (gpu.fillna(0) > 0).any() else "wall_s"


def _key(kind: str, color, label: str):
    """The legend entry of one method: a line, a dot or a bar swatch in its colour."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if kind == "ablation":
        return Patch(facecolor=color, label=label)
    return Line2D([], [], color=color, marker="o", ls="-" if kind == "ratio" else "", label=label)
