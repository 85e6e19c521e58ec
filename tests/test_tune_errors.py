"""Tuning fails before its first trial, in one line that says how to go on: an unknown --metric, a bad
--storage, a study whose setup changed, and a preset used at other task parameters than it was tuned at."""

import json

import pytest

from bench import atomic
from bench.cell.store import Store
from bench.cli.main import main
from bench.tune.study import StudyConfig, open_study

from conftest import fast_args

NAME = "clip-synthetic-r0.1"


def tune(results, *extra: str, steps: str = "30") -> int:
    argv = ["tune", "--method", "clip", "--task", "synthetic", "--results", str(results), *extra]
    return main([*argv, *fast_args(steps=steps, eval_every="10", checkpoint_every="10")])


def one_line(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_an_unknown_metric_is_refused_before_any_trial_with_the_known_names(results, capsys):
    assert tune(results, "--trials", "1", "--metric", "recall_at_one") == 2
    err = one_line(capsys)
    assert err.startswith("error: --metric recall_at_one: task synthetic reports no such validation metric")
    assert "a2b_r1" in err and "b2a_r1" in err
    assert not results.exists()


def test_a_metric_written_with_val_says_to_drop_it(results, capsys):
    assert tune(results, "--trials", "1", "--metric", "val_b2a_r1") == 2
    assert "(write it without val_: --metric b2a_r1)" in one_line(capsys)
    assert not results.exists()


def test_a_reported_metric_other_than_the_primary_one_is_tuned(results):
    assert tune(results, "--trials", "1", "--metric", "b2a_r1") == 0
    (trial,) = open_study(StudyConfig.load(results, NAME)).trials
    folder = Store(results).folder(trial.user_attrs["run_id"])
    assert trial.value == folder.metrics()["val_b2a_r1"]


@pytest.mark.parametrize(
    "url, message",
    [
        ("foo://somewhere/db", "--storage foo://somewhere/db: no database kind 'foo'"),
        ("sqlite:////no/such/folder/studies.db", "cannot open it: (sqlite3.OperationalError)"),
        ("postgresql://me:hunter2@localhost:1/db", "postgresql://me:***@localhost:1/db: cannot open"),
        ("://nothing", "not a database URL"),
    ],
)
def test_a_bad_storage_url_is_one_line(url, message, results, capsys):
    assert tune(results, "--trials", "1", "--storage", url) == 2
    err = one_line(capsys)
    assert message in err and "hunter2" not in err
    assert not results.exists()


def test_a_database_storage_holds_the_study(results, tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert tune(results, "--trials", "1", "--storage", url) == 0
    assert len(open_study(StudyConfig.load(results, NAME)).trials) == 1


def test_a_study_whose_setup_changed_says_what_differs_and_how_to_start_anew(results, capsys):
    assert tune(results, "--trials", "1") == 0
    config = results / "studies" / f"{NAME}.json"
    before = config.read_text()
    capsys.readouterr()
    assert tune(results, "--trials", "1", "--metric", "b2a_r1", steps="40") == 2
    err = one_line(capsys)
    assert f"study {NAME} exists with another setup:" in err
    assert "metric: a2b_r1 → b2a_r1" in err and "task_params.steps: 30 → 40" in err
    assert "task_params.eval_every" not in err  # given as 10 both times
    assert "--study NEW_NAME" in err and f"delete {config} and {results / 'studies' / NAME}.log" in err
    assert config.read_text() == before
    assert len(open_study(StudyConfig.load(results, NAME)).trials) == 1
    assert tune(results, "--trials", "1", "--study", "longer", steps="40") == 0  # the way out it names


def write_preset(results, **fixed) -> None:
    (results / "presets").mkdir(parents=True)
    body = {
        "study": "s",
        "method": "clip",
        "task": "synthetic",
        "method_params": {"temperature": 0.05},
        "task_params": {},
        "fixed_task_params": {"steps": 50, "batch_size": 64, **fixed},
    }
    (results / "presets" / "p.json").write_text(json.dumps(body))


def run(results, *extra: str) -> int:
    base = ["run", "--methods", "clip", "--tasks", "synthetic", "--seeds", "0", "--dry-run"]
    return main([*base, "--results", str(results), "--method-param", "preset=p", *extra])


def test_a_preset_applies_the_task_parameters_it_was_tuned_at(results, capsys):
    write_preset(results)
    assert run(results) == 0
    out = capsys.readouterr().out
    assert "preset: synthetic runs as its study did: steps=50" in out
    assert "1 cells: 1 pending" in out
    assert run(results, "--task-param", "steps=50", "--task-param", "batch_size=64") == 0


def test_a_preset_at_other_task_parameters_is_refused_naming_them(results, capsys):
    write_preset(results)
    assert run(results, "--task-param", "steps=600", "--task-param", "synthetic.batch_size=32") == 2
    err = one_line(capsys)
    assert "preset=p: tuned on synthetic with steps=50, batch_size=64, but this run gives steps=600" in err
    assert "--task-param steps=50 --task-param batch_size=64" in err and "preset_override=true" in err
    assert not (results / "runs").exists()
    assert run(results, "--task-param", "steps=600", "--method-param", "preset_override=true") == 0


def test_preset_override_alone_or_malformed_is_one_line(results, capsys):
    write_preset(results)
    assert main(["run", "--dry-run", "--results", str(results), "--method-param", "preset_override=1"]) == 2
    assert "it goes with --method-param preset=NAME" in one_line(capsys)
    assert run(results, "--method-param", "preset_override=maybe") == 2
    assert "write true or false" in one_line(capsys)


def test_the_saved_preset_records_the_fixed_task_parameters(results):
    assert tune(results, "--trials", "1") == 0
    preset = atomic.read_json(results / "presets" / f"{NAME}.json")
    fixed = preset["fixed_task_params"]
    assert fixed["steps"] == 30 and fixed["n_train"] == 300 and fixed["batch_size"] == 64
    assert not {"val_fraction", "eval_every", "checkpoint_every"} & set(fixed)
