"""`bench collect`, `table`, `plot` and `report` on real run folders of a tiny sweep.

The labels, order and ablation relations the tables show come from each run's about.json, written from
the method and task classes when the run folder was made; these commands import no method or task.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.collect import collect
from bench.report.frame import metric_columns
from bench.store import Store

from conftest import fast_args

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """clip and its SSL control at two ratios; the full method the control is of and one of its
    ablations at one ratio."""
    results = tmp_path_factory.mktemp("paper") / "results"
    common = ["--tasks", "synthetic", "--seeds", "0,1", "--jobs", "1", "--results", str(results)]
    common += fast_args()
    assert main(["run", "--methods", "clip,clip_ssl", "--pair-ratio", "0.05,0.5", *common]) == 0
    assert main(["run", "--methods", "gentle_clip,gentle_clip_no_sdd", "--pair-ratio", "0.05", *common]) == 0
    return results


def test_table_prints_methods_by_ratio(sweep, capsys):
    assert main(["table", "--results", str(sweep)]) == 0
    out = capsys.readouterr().out
    rows = [line.split(" | ")[0] for line in out.splitlines() if line.startswith("| ")]
    # labels and order as the method classes declare them, recorded in each run's about.json
    assert rows == ["| Method", "| :--", "| CLIP", "| CLIP + SSL", "| Gentle-CLIP", "| Gentle-CLIP (no SDD)"]
    assert "Synthetic (A→B R@1), r = 0.05" in out and "r = 0.5" in out
    assert "differs from CLIP" in out


def test_ablation_table_of_real_runs(sweep, capsys):
    assert main(["table", "--results", str(sweep), "--ablation"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("**Ablation of Gentle-CLIP: primary metric by pair ratio (%)**")
    rows = [line.split(" | ")[0] for line in out.splitlines()[4:8]]
    assert rows == [
        "| Gentle-CLIP",
        "| Gentle-CLIP (no SDD)",
        "| CLIP + SSL",
        "",
    ]  # its ablation, its control
    assert main(["table", "--results", str(sweep), "--ablation", "--methods", "clip"]) == 2
    assert "no runs of an ablation or a control of 'clip'" in capsys.readouterr().err
    assert main(["table", "--results", str(sweep), "--ablation", "--methods", "clip,clip_ssl"]) == 2
    assert "name one method" in capsys.readouterr().err


def test_the_collected_metric_columns_are_the_runs_metrics(sweep):
    """None of collect's other columns (entry orders, costs, provenance) is taken for a metric."""
    df = collect(Store(sweep))
    assert {"method_order", "task_order", "method_label", "current"} <= set(df.columns)
    folder = Store(sweep).all_folders()[0]
    assert sorted(metric_columns(df)) == sorted(k for k in folder.metrics() if not k.startswith("ref_"))


CHECK_IMPORTS = """
import json, sys
from bench.cli import main
code = main(sys.argv[1:])
heavy = ("torch", "torchvision", "methods", "tasks")
print(json.dumps({"code": code, "imported": [m for m in heavy if m in sys.modules]}))
"""


@pytest.mark.parametrize(
    "command",
    [["collect"], ["table"], ["table", "--ablation"], ["plot", "--kind", "ablation"], ["report"]],
    ids=lambda c: "-".join(c),
)
def test_cheap_commands_import_neither_torch_nor_any_method(sweep, tmp_path, command):
    """The report side reads what the runs recorded: no registry look-up, so no torch, no method module."""
    suffix = {"collect": None, "table": ".md", "plot": ".png", "report": ".html"}[command[0]]
    out = ["--out", str(tmp_path / f"out{suffix}")] if suffix else []
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS, *command, "--results", str(sweep), *out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == {"code": 0, "imported": []}
    assert suffix is None or (tmp_path / f"out{suffix}").stat().st_size > 100


def test_table_latex_to_file_with_display_names(sweep, tmp_path, capsys):
    names = tmp_path / "names.yaml"
    names.write_text("clip: Plain CLIP\n")
    out = tmp_path / "table.tex"
    code = main(
        ["table", "--results", str(sweep), "--format", "latex", "--names", str(names), "--out", str(out)]
    )
    assert code == 0
    tex = out.read_text()
    assert "\\toprule" in tex and "Plain CLIP" in tex


def test_plot_and_report_are_written(sweep, tmp_path):
    png, page = tmp_path / "ratio.png", tmp_path / "report.html"
    assert main(["plot", "--results", str(sweep), "--kind", "ratio", "--out", str(png)]) == 0
    assert png.stat().st_size > 5000
    assert main(["report", "--results", str(sweep), "--out", str(page)]) == 0
    html = page.read_text()
    assert "<img" in html and "runs/" in html


def test_no_runs_and_bad_names_file_are_one_line_errors(tmp_path, sweep, capsys):
    assert main(["table", "--results", str(tmp_path / "empty")]) == 2
    assert "no runs under" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    assert main(["table", "--results", str(sweep), "--names", str(bad)]) == 2
    assert "expected a mapping" in capsys.readouterr().err
