"""Bad input of `run` beyond the suite of test_bad_input.py: an unwritable results folder, and the
results folder from the environment."""

from bench.cli.main import main

from conftest import fast_args


def test_unwritable_results_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = main(
        ["run", "--methods", "clip", "--tasks", "synthetic", "--results", str(blocker / "sub"), *fast_args()]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: results folder") and "cannot be written" in err
    assert len(err.splitlines()) == 1


def test_results_from_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "env-results"))
    assert main(["run", "--methods", "clip", "--tasks", "synthetic", "--seeds", "0", *fast_args()]) == 0
    assert len(list((tmp_path / "env-results" / "runs").iterdir())) == 1
