"""`bench table`, `plot` and `report` on real run folders of a tiny sweep."""

import pytest

from bench.cli import main

from conftest import fast_args


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    results = tmp_path_factory.mktemp("paper") / "results"
    args = ["run", "--methods", "clip,clip_ssl", "--tasks", "synthetic", "--pair-ratio", "0.05,0.5"]
    assert main([*args, "--seeds", "0,1", "--jobs", "1", "--results", str(results), *fast_args()]) == 0
    return results


def test_table_prints_methods_by_ratio(sweep, capsys):
    assert main(["table", "--results", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "| CLIP |" in out and "| CLIP + SSL |" in out
    assert "r = 0.05" in out and "r = 0.5" in out


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
