"""Figures: written to files, their axes, scales and series checked on the Figure objects."""

import math

import pandas as pd
import pytest

from bench.errors import BenchError
from bench.report import plot


def run(method, ratio, seed, value, task="toy", wall=10.0, gpu=0.0):
    done = value is not None
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
    df = sweep(["clip", "s_clip", "gentle_clip"], [0.01, 0.1, 0.5], missing={("s_clip", 0.1, 2)})
    out = tmp_path / "fig" / "ratio.png"
    fig = plot(df, "ratio", out)
    assert out.stat().st_size > 5000
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "pair ratio" and ax.get_ylabel() == "A→B R@1 (%)"
    assert ax.get_title() == "toy"
    lines = data_lines(ax)
    assert len(lines) == 3
    clip = [line for line in lines if tuple(line.get_xdata()) == (0.01, 0.1, 0.5)]
    assert pytest.approx(list(clip[0].get_ydata())) == [11.1, 12.0, 16.0]  # mean over seeds, in percent
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "CLIP",
        "S-CLIP",
        "Gentle-CLIP",
        "fewer seeds",
    ]
    hollow = [
        c for c in ax.collections if len(c.get_offsets()) and c.get_facecolors()[0][:3].tolist() == [1, 1, 1]
    ]
    assert len(hollow) == 1 and hollow[0].get_offsets().tolist() == [[0.1, pytest.approx(21.5)]]


def test_ratio_plot_linear_within_a_decade_and_symlog_with_zero(tmp_path):
    fig = plot(sweep(["clip"], [0.2, 0.5, 1.0]), "ratio", tmp_path / "a.svg")
    assert fig.axes[0].get_xscale() == "linear"
    assert (tmp_path / "a.svg").read_text().lstrip().startswith("<?xml")
    assert plot(sweep(["clip"], [0.0, 0.01, 0.1]), "ratio").axes[0].get_xscale() == "symlog"


def test_one_panel_per_task_and_display_names():
    df = pd.concat([sweep(["clip"], [0.1, 0.5], task="t1"), sweep(["clip"], [0.1, 0.5], task="t2")])
    fig = plot(df, "ratio", display={"t1": "Task one", "clip": "Baseline"})
    assert [ax.get_title() for ax in fig.axes] == ["Task one", "t2"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Baseline"]


def test_ablation_bars(tmp_path):
    methods = ["gentle_clip", "gentle_clip_no_sdd", "gentle_clip_no_mmd", "gentle_clip_no_ssl", "clip"]
    df = sweep(methods, [0.01, 0.1], missing={("gentle_clip_no_mmd", 0.1, 0)})
    fig = plot(df, "ablation", tmp_path / "ablation.pdf")
    assert (tmp_path / "ablation.pdf").read_bytes()[:4] == b"%PDF"
    (ax,) = fig.axes
    assert len(ax.patches) == 4 * 2  # clip is not part of the ablation
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.1"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "Gentle-CLIP",
        "Gentle-CLIP (no SDD)",
        "Gentle-CLIP (no MMD)",
        "Gentle-CLIP (no SSL)",
        "fewer seeds",
    ]
    heights = [round(b.get_height(), 6) for b in ax.containers[0]]
    assert heights == [pytest.approx(11.1), pytest.approx(12.0)]
    hatched = [b for c in ax.containers for b in c if b.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_height() == pytest.approx(30 + 1 + 1.5)


def test_cost_plot_every_run_and_gpu_hours(tmp_path):
    df = pd.concat(
        [
            sweep(["clip"], [0.1], wall=30.0, gpu=0.01),
            sweep(["gentle_clip"], [0.1], wall=300.0, gpu=0.5, missing={("gentle_clip", 0.1, 1)}),
        ]
    )
    fig = plot(df, "cost", tmp_path / "cost.png")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "GPU-hours" and ax.get_xscale() == "log"
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5
    assert plot(df, "cost", cost="wall_s").axes[0].get_xlabel() == "wall time (s)"


def test_panels_only_for_tasks_with_data():
    df = pd.concat(
        [sweep(["gentle_clip", "gentle_clip_no_sdd"], [0.1], task="t1"), sweep(["clip"], [0.1], task="t2")]
    )
    assert [ax.get_title() for ax in plot(df, "ablation").axes] == ["t1"]


def test_plot_mistakes():
    df = sweep(["clip"], [0.1])
    with pytest.raises(BenchError, match="has the metric and gpu_hours"):
        plot(df.assign(gpu_hours=math.nan), "cost", cost="gpu_hours")
    with pytest.raises(BenchError, match="unknown plot kind"):
        plot(df, "pie")
    with pytest.raises(BenchError, match="no metric"):
        plot(df, "ratio", metric="zs_top1")
