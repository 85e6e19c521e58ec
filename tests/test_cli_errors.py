"""Bad input: one clear line on stderr, exit code 2, nothing written."""

import pytest

from bench.cli import main

from conftest import fast_args

CASES = [
    (["--methods", "clp"], "unknown method 'clp' (did you mean clip"),
    (["--tasks", "synthetc"], "unknown task 'synthetc' (did you mean synthetic"),
    (["--pair-ratio", "1.5"], "pair ratio 1.5 is outside [0, 1]"),
    (["--pair-ratio", "-0.1"], "outside [0, 1]"),
    (["--pair-ratio", "half"], "pair ratio 'half' is not a number"),
    (["--method-param", "temperature"], "--method-param 'temperature' is malformed"),
    (["--method-param", "=3"], "is malformed"),
    (
        ["--method-param", "temprature=0.1"],
        "unknown parameter 'temprature' for method clip (did you mean temperature",
    ),
    (["--task-param", "stepz=3"], "unknown parameter 'stepz' for task synthetic (did you mean steps"),
    (["--task-param", "steps=many"], "parameter steps='many' is not a valid int"),
    (["--task-param", "unpaired=both"], "parameter unpaired='both' is not one of: same, disjoint"),
    (["--seeds", "0,x"], "--seeds: 'x' is not an integer"),
    (["--split-seed", "1.5"], "--split-seed: '1.5' is not an integer"),
    (["--method-param", "gentle.w=1"], "method 'gentle' is not among the selected"),
]


@pytest.mark.parametrize("extra, message", CASES)
def test_bad_input_is_one_line_exit_2_nothing_written(extra, message, results, capsys):
    code = main(["run", "--methods", "clip", "--tasks", "synthetic", "--results", str(results), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert not results.exists()


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
