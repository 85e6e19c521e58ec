"""`bench collect`, `table`, `plot` and `report` on real run folders of a tiny sweep.

The labels, order and ablation relations the tables show come from each run's about.json, written from
the method and task classes when the run folder was made; these commands import no method or task.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cell.collect import collect
from bench.cell.store import Store
from bench.cli.main import main
from bench.report.frame import metric_columns

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
    # two seeds: no significance test, so no mark, and the legend says why
    assert "No test against CLIP in any cell (no mark): fewer than 3 paired seeds." in out
    assert "\\*" not in out.split("\n\n")[1] and "differs from CLIP" not in out


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
from bench.cli.main import main
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


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """clip at r = 0.05, seeds 0 and 1, swept at steps=20 and tried again at steps=40 in the same folder."""
    results = tmp_path_factory.mktemp("variants") / "results"
    common = ["--methods", "clip", "--tasks", "synthetic", "--pair-ratio", "0.05", "--seeds", "0,1"]
    common += ["--jobs", "1", "--results", str(results)]
    for steps in ("20", "40"):
        assert main(["run", *common, *fast_args(steps=steps)]) == 0
    return results


def table_rows(out: str) -> list[str]:
    return [line.split(" | ")[0] for line in out.splitlines() if line.startswith("| ")][2:]


def test_variants_of_a_cell_are_rows_and_where_picks_one(variants, capsys):
    assert main(["table", "--results", str(variants)]) == 0
    out = capsys.readouterr().out
    assert table_rows(out) == ["| CLIP (steps=20)", "| CLIP (steps=40)"]
    assert main(["table", "--results", str(variants), "--where", "steps=40", "--format", "csv"]) == 0
    csv = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(csv) == 2 and csv[1].startswith("clip,CLIP,False,synthetic,0.05,a2b_r1,")
    assert ",2,2," in csv[1]  # n = n_expected = 2: the two seeds of one variant, not four
    assert main(["table", "--results", str(variants), "--where", "steps=7"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: --where steps=7: no run has steps = 7; present: 20, 40")
        and err.count("\n") == 1
    )
    assert main(["plot", "--results", str(variants), "--where", "nope=1"]) == 2
    assert "no parameter 'nope'" in capsys.readouterr().err


def test_an_older_code_version_is_left_out_with_a_note(variants, tmp_path, capsys):
    copy = tmp_path / "results"
    shutil.copytree(variants, copy)
    folder = next(f for f in Store(copy).all_folders() if f.spec().task_params["steps"] == 20)
    about = json.loads(folder.file("about.json").read_text())
    folder.file("about.json").write_text(json.dumps(about | {"code_version": "0ld" + about["code_version"]}))
    assert main(["table", "--results", str(copy), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "note: 1 run(s) of an older code version left out; pass --all-versions" in captured.err
    assert main(["table", "--results", str(copy), "--all-versions"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and any("code 0ld" in r for r in table_rows(captured.out))


def test_status_tells_apart_cells_of_the_same_method_task_ratio_and_seeds(variants, capsys):
    assert main(["status", "--results", str(variants)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("done")]
    assert len(lines) == 4
    assert sum(line.endswith(" · steps=20") for line in lines) == 2
    assert sum(line.endswith(" · steps=40") for line in lines) == 2


def test_collect_has_each_metrics_protocol_and_the_table_says_it(sweep, capsys):
    table = collect(Store(sweep))
    record = json.loads(table.loc[0, "protocol_a2b_r1"])
    assert record["protocol"] == "paired_rows" and record["split"] == "test" and record["gallery"] > 0
    assert json.loads(table.loc[0, "protocol_align_cknna"])["protocol"] == "alignment"
    assert "protocol_a2b_r1" not in metric_columns(table)
    assert main(["table", "--results", str(sweep)]) == 0
    protocol = "paired\\_rows: direction=a2b, gallery=100, positives=row i of the other side, queries=100"
    assert f"Synthetic, A→B R@1: {protocol}, set=test, split=test." in capsys.readouterr().out


def test_a_bad_published_file_or_a_metric_the_task_lacks_is_one_line(sweep, tmp_path, capsys):
    bad = tmp_path / "published.csv"
    bad.write_text(
        "method,task,dataset,split,protocol,metric,value,unit,source\nX,synthetic,test,test,sideways,a2b_r1,1,percent,S\n"
    )
    assert main(["table", "--results", str(sweep), "--published", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: published rows {bad}, row 2: unknown protocol 'sideways'; one of " + ", ".join(
        ["all_captions", "one_caption", "same_text", "paired_rows", "zero_shot", "alignment", "reference"]
    )
    assert main(["table", "--results", str(sweep), "--metric", "one_a2b_r1"]) == 2
    assert "no metric 'one_a2b_r1' in the results" in capsys.readouterr().err
