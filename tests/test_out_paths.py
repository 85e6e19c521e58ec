"""`--out` of `table`, `plot` and `report`: its folder is created; a path that cannot be written, or a
figure name without an image format, is one line, exit 2, and nothing written."""

from __future__ import annotations

import pytest

from bench.cli.main import main

from conftest import fast_args


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    results = tmp_path_factory.mktemp("out") / "results"
    base = ["run", "--methods", "clip", "--tasks", "synthetic", "--seeds", "0", "--jobs", "1"]
    assert main([*base, "--results", str(results), *fast_args(steps="20")]) == 0
    return results


@pytest.mark.parametrize("command, name", [("table", "t.md"), ("plot", "f.svg"), ("report", "r.html")])
def test_out_creates_its_folder(command, name, results, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / name
    assert main([command, "--results", str(results), "--out", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 0
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize("command, name", [("table", "t.md"), ("plot", "f.png"), ("report", "r.html")])
def test_out_that_cannot_be_written_is_one_line(command, name, results, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "sub" / name
    assert main([command, "--results", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"error: --out {out}: cannot write there (") and "choose another path" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_out_that_is_a_folder_is_one_line(results, tmp_path, capsys):
    assert main(["table", "--results", str(results), "--out", str(tmp_path)]) == 2
    assert "is a folder; give a file name in it" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["figure.txt", "figure"])
def test_a_figure_name_without_an_image_format_is_refused_before_the_work(name, tmp_path, capsys):
    out = tmp_path / "figs" / name
    missing = tmp_path / "no-results"  # the name is checked before the results are read
    assert main(["plot", "--results", str(missing), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "a figure needs the suffix of an image format" in err
    assert ".png" in err and ".pdf" in err and ".svg" in err
    assert list(tmp_path.iterdir()) == []
