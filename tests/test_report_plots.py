"""Figures: written to files, their axes, scales and series checked on the Figure objects.

The methods are made up: their labels, order and ablation relations come with their runs."""

import math

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb

from bench.errors import BenchError
from bench.report import plot

# method → (label, order, ablation_of), as collect reads them from about.json
ENTRIES = {
    "base": ("Base", 10.0, None),
    "rival": ("Rival", 50.0, None),
    "ours": ("Ours", 60.0, None),
    "ours_no_a": ("Ours (no A)", 60.01, "ours"),
    "ours_no_b": ("Ours (no B)", 60.02, "ours"),
    "ours_no_c": ("Ours (no C)", 60.03, "ours"),
}


def run(method, ratio, seed, value, task="toy", wall=10.0, gpu=0.0):
    done = value is not None
    label, order, ablation_of = ENTRIES[method]
    return {
        "run_id": f"{task}-{method}-{ratio}-{seed}",
        "method": method,
        "task": task,
        "pair_ratio": ratio,
        "split_seed": 0,
        "seed": seed,
        "state": "done" if done else "failed",
        "primary_metric": "a2b_r1",
        "run_dir": f"runs/{task}-{method}-{ratio}",
        "a2b_r1": value if done else math.nan,
        "wall_s": wall,
        "gpu_hours": gpu,
        "method_label": label,
        "method_order": order,
        "method_ablation_of": ablation_of,
        "method_control_of": None,
        "task_label": task,
        "task_order": 1.0,
    }


def sweep(methods, ratios, seeds=3, missing=(), **kw):
    """Runs of every method at every ratio, valued 0.1·(method index + 1) + ratio/10 + seed/100.

    `missing`: (method, ratio, seed) of runs that failed."""
    return pd.DataFrame(
        [
            run(m, r, s, None if (m, r, s) in missing else 0.1 * (i + 1) + r / 10 + s / 100, **kw)
            for i, m in enumerate(methods)
            for r in ratios
            for s in range(seeds)
        ]
    )


def data_lines(ax):
    return [line for line in ax.get_lines() if len(line.get_xdata())]


def test_ratio_plot_one_line_per_method_log_x(tmp_path):
    df = sweep(["rival", "base", "ours"], [0.01, 0.1, 0.5], missing={("base", 0.1, 2)})
    out = tmp_path / "fig" / "ratio.png"
    fig = plot(df, "ratio", out)
    assert out.stat().st_size > 5000
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "pair ratio" and ax.get_ylabel() == "A→B R@1 (%)"
    assert ax.get_title() == "toy"
    lines = data_lines(ax)
    assert len(lines) == 3
    assert all(tuple(line.get_xdata()) == (0.01, 0.1, 0.5) for line in lines)
    # drawn by order (Base, Rival, Ours), each the mean over seeds in percent; Base lacks a seed at 0.1
    means = [[21.1, 21.5, 26.0], [11.1, 12.0, 16.0], [31.1, 32.0, 36.0]]
    assert [list(line.get_ydata()) for line in lines] == [pytest.approx(m) for m in means]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Base", "Rival", "Ours", "fewer seeds"]
    hollow = [
        c for c in ax.collections if len(c.get_offsets()) and c.get_facecolors()[0][:3].tolist() == [1, 1, 1]
    ]
    assert len(hollow) == 1 and hollow[0].get_offsets().tolist() == [[0.1, pytest.approx(21.5)]]


def test_ratio_plot_linear_within_a_decade_and_symlog_with_zero(tmp_path):
    fig = plot(sweep(["base"], [0.2, 0.5, 1.0]), "ratio", tmp_path / "a.svg")
    assert fig.axes[0].get_xscale() == "linear"
    assert (tmp_path / "a.svg").read_text().lstrip().startswith("<?xml")
    assert plot(sweep(["base"], [0.0, 0.01, 0.1]), "ratio").axes[0].get_xscale() == "symlog"


def test_one_panel_per_task_and_display_names():
    df = pd.concat([sweep(["base"], [0.1, 0.5], task="t1"), sweep(["base"], [0.1, 0.5], task="t2")])
    fig = plot(df, "ratio", display={"t1": "Task one", "base": "Baseline"})
    assert [ax.get_title() for ax in fig.axes] == ["Task one", "t2"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Baseline"]


def test_ablation_bars(tmp_path):
    methods = ["ours", "ours_no_a", "ours_no_b", "ours_no_c", "base"]
    # one hatched bar (a seed failed), and no bar of ours_no_c at 0.01 (every seed failed)
    missing = {("ours_no_b", 0.1, 0), *(("ours_no_c", 0.01, s) for s in range(3))}
    fig = plot(sweep(methods, [0.01, 0.1], missing=missing), "ablation", tmp_path / "ablation.pdf")
    assert (tmp_path / "ablation.pdf").read_bytes()[:4] == b"%PDF"
    (ax,) = fig.axes
    assert len(ax.patches) == 4 * 2 - 1  # base is not part of the ablation
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.1"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "Ours",
        "Ours (no A)",
        "Ours (no B)",
        "Ours (no C)",
        "fewer seeds",
    ]
    heights = [round(b.get_height(), 6) for b in ax.containers[0]]
    assert heights == [pytest.approx(11.1), pytest.approx(12.0)]
    hatched = [b for c in ax.containers for b in c if b.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_height() == pytest.approx(30 + 1 + 1.5)


def test_ablation_bars_of_a_chosen_method_and_colours_kept_across_figures():
    """Two methods with ablations: the first by order is the default, `methods=[one]` picks that one's."""
    df = pd.concat(
        [
            sweep(["ours", "ours_no_a", "base"], [0.1]),
            sweep(["rival"], [0.1]).assign(method_order=70.0),
            sweep(["rival"], [0.1]).assign(
                method="rival_no_z",
                method_label="Rival (no Z)",
                method_order=70.01,
                method_ablation_of="rival",
            ),
        ]
    )
    legend = lambda fig: [t.get_text() for t in fig.legends[0].get_texts()]  # noqa: E731
    assert legend(plot(df, "ablation")) == ["Ours", "Ours (no A)"]
    chosen = plot(df, "ablation", methods=["rival"])
    assert legend(chosen) == ["Rival", "Rival (no Z)"]
    colour = {h.get_label(): h.get_facecolor() for h in chosen.legends[0].legend_handles}
    lines = {h.get_label(): h.get_color() for h in plot(df, "ratio").legends[0].legend_handles}
    assert list(lines) == ["Base", "Ours", "Ours (no A)", "Rival", "Rival (no Z)"]
    assert colour["Rival"][:3] == pytest.approx(to_rgb(lines["Rival"]))
    with pytest.raises(BenchError, match="no runs of an ablation or a control of 'base'"):
        plot(df, "ablation", methods=["base"])


def test_cost_plot_every_run_and_gpu_hours(tmp_path):
    df = pd.concat(
        [
            sweep(["base"], [0.1], wall=30.0, gpu=0.01),
            sweep(["ours"], [0.1], wall=300.0, gpu=0.5, missing={("ours", 0.1, 1)}),
        ]
    )
    fig = plot(df, "cost", tmp_path / "cost.png")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "GPU-hours" and ax.get_xscale() == "log"
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5
    assert plot(df, "cost", cost="wall_s").axes[0].get_xlabel() == "wall time (s)"


def test_panels_only_for_tasks_with_data():
    df = pd.concat([sweep(["ours", "ours_no_a"], [0.1], task="t1"), sweep(["base"], [0.1], task="t2")])
    assert [ax.get_title() for ax in plot(df, "ablation").axes] == ["t1"]


def test_plot_mistakes():
    df = sweep(["base"], [0.1])
    with pytest.raises(BenchError, match="has the metric and gpu_hours"):
        plot(df.assign(gpu_hours=math.nan), "cost", cost="gpu_hours")
    with pytest.raises(BenchError, match=r"cannot write a figure to .*fig: its name must end in .*\.png"):
        plot(df, "ratio", "fig")
    with pytest.raises(BenchError, match="unknown plot kind"):
        plot(df, "pie")
    with pytest.raises(BenchError, match="no metric"):
        plot(df, "ratio", metric="zs_top1")


def test_a_long_legend_is_laid_out_in_columns_inside_the_figure(tmp_path):
    """A study's 25 method rows once ran off the bottom of a 3.8-inch figure: the legend is split into
    columns, and every entry is drawn inside the saved figure."""
    many = {f"m{i:02d}": (f"Method {i:02d}", float(i), None) for i in range(25)}
    ENTRIES.update(many)
    try:
        fig = plot(sweep(list(many), [0.1, 0.5], seeds=1), "ratio", out=tmp_path / "r.png")
    finally:
        for k in many:
            del ENTRIES[k]
    legend = fig.legends[0]
    assert len(legend.get_texts()) == 25 and legend._ncols == 3
    FigureCanvasAgg(fig).draw()
    box = fig.bbox
    for text in legend.get_texts():
        e = text.get_window_extent(fig.canvas.get_renderer())
        assert box.y0 <= e.y0 and e.y1 <= box.y1 and box.x0 <= e.x0 and e.x1 <= box.x1, text.get_text()
