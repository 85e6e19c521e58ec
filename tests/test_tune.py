"""Tuning: local workers sharing one journal, resume, pruning, presets, and the validation split."""

import json

import optuna
import pytest
import torch

from bench import atomic
from bench.cell.store import Store
from bench.cli.main import main
from bench.engine.split import make_split
from bench.tune.study import StudyConfig, open_study
from tasks.synthetic import Synthetic

from conftest import fast_args

NAME = "clip-synthetic-r0.1"


def tune(results, *extra: str) -> int:
    argv = ["tune", "--method", "clip", "--task", "synthetic", "--results", str(results), *extra]
    return main([*argv, *fast_args(steps="30", eval_every="10", checkpoint_every="10")])


def trials(results, name=NAME):
    return open_study(StudyConfig.load(results, name)).trials


def test_validation_split_is_held_out_before_the_pairs():
    plain = make_split(100, 0.1, 3)
    split = make_split(100, 0.1, 3, val_fraction=0.2)
    assert plain.to_json() == make_split(100, 0.1, 3, val_fraction=0.0).to_json()
    assert len(split.val) == 20 and len(split.paired) == 8
    train = torch.cat([split.paired, split.unpaired_a])
    assert sorted(torch.cat([train, split.val]).tolist()) == list(range(100))
    assert torch.equal(make_split(100, 0.1, 3, val_fraction=0.2).val, split.val)
    assert not torch.equal(make_split(100, 0.1, 4, val_fraction=0.2).val, split.val)


def test_two_local_workers_share_a_study_that_resumes_and_gives_a_preset(results, capsys):
    assert tune(results, "--trials", "3", "--cluster", "local", "--workers", "2") == 0
    assert sorted(t.number for t in trials(results)) == [0, 1, 2]
    assert len(atomic.read_json(results / "studies" / f"{NAME}.json")["space"]) == 1
    assert tune(results, "--trials", "1") == 0
    resumed = trials(results)
    assert sorted(t.number for t in resumed) == list(range(4))
    store = Store(results)
    states = {f.run_id: f.state() for f in store.all_folders()}
    for t in resumed:
        assert states[t.user_attrs["run_id"]] == ("pruned" if t.state.name == "PRUNED" else "done")
        if t.state.name == "COMPLETE":
            assert t.value == store.folder(t.user_attrs["run_id"]).metrics()["val_a2b_r1"]
    assert main(["status", "--results", str(results)]) == 0
    assert main(["tune", "--show", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "best: trial" in out and "importances" in out
    assert (results / "studies" / NAME / "optimization_history.png").is_file()

    preset = atomic.read_json(results / "presets" / f"{NAME}.json")
    args = ["run", "--methods", "clip", "--tasks", "synthetic", "--seeds", "0", "--jobs", "1"]
    assert preset["fixed_task_params"]["steps"] == 30 and "val_fraction" not in preset["fixed_task_params"]
    assert main([*args, "--results", str(results), "--method-param", f"preset={NAME}"]) == 0
    runs = [f.spec() for f in store.all_folders() if f.spec().task_params["val_fraction"] == 0]
    assert [s.method_params["temperature"] for s in runs] == [preset["method_params"]["temperature"]]
    assert [s.task_params["steps"] for s in runs] == [30]  # the preset's study's setup
    assert main(["collect", "--results", str(results)]) == 0
    assert main(["table", "--results", str(results), "--format", "csv"]) == 0
    value = store.folder(runs[0].run_id()).metrics()["a2b_r1"]
    assert f"{100 * value:.1f}" in capsys.readouterr().out  # the table shows the run, not a trial


def garbage(self, model, data, paired):
    return {"a2b_r1": float(torch.rand(1)), "b2a_r1": -1.0}


def test_selection_reads_only_the_validation_split(tmp_path, monkeypatch):
    assert tune(tmp_path / "honest", "--trials", "2") == 0
    monkeypatch.setattr(Synthetic, "evaluate", garbage)
    assert tune(tmp_path / "garbage", "--trials", "2") == 0
    honest, bad = trials(tmp_path / "honest"), trials(tmp_path / "garbage")
    assert [(t.params, t.value, t.state) for t in honest] == [(t.params, t.value, t.state) for t in bad]
    run_id = next(t.user_attrs["run_id"] for t in bad if t.value is not None)
    metrics = Store(tmp_path / "garbage").folder(run_id).metrics()
    assert metrics["b2a_r1"] == -1.0 and "val_b2a_r1" in metrics


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_a_pruned_trial_leaves_a_clean_pruned_folder(results, monkeypatch, capsys):
    monkeypatch.setattr(optuna.pruners, "MedianPruner", lambda **kw: AlwaysPrune())
    assert tune(results, "--trials", "1") == 0
    (trial,) = trials(results)
    assert trial.state.name == "PRUNED"
    folder = Store(results).folder(trial.user_attrs["run_id"])
    assert folder.state() == "pruned" and not folder.file("metrics.json").exists()
    assert "at step 10" in folder.status()["error"]
    assert "none completed; no preset" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--trials", "0"], "--trials 0: give a positive number"),
        (["--trials", "2", "--params", "temprature"], "--params temprature: unknown for clip"),
        (["--trials", "2", "--params", "weight_decay"], "without a search range"),
        (["--trials", "2", "--workers", "2"], "with --cluster local"),
        (["--trials", "2", "--task-param", "val_fraction=0"], "needs a validation split"),
    ],
)
def test_bad_input_is_one_line_exit_2(extra, message, results, capsys):
    assert tune(results, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not results.exists()


def test_an_unknown_metric_names_the_validation_metrics(results, capsys):
    assert tune(results, "--trials", "1", "--metric", "a2b_r2") == 2
    err = capsys.readouterr().err
    assert "--metric a2b_r2: task synthetic reports no such validation metric; its metrics: a2b_r1" in err
    assert not results.exists()


def test_unknown_method_and_budget(results, capsys):
    base = ["tune", "--task", "synthetic", "--trials", "1", "--results", str(results)]
    assert main([*base, "--method", "clp"]) == 2
    assert main([*base, "--methods", "clip,s_clip"]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'clp'" in err and "--budget equal" in err


def test_preset_keeps_explicit_values(tmp_path):
    from bench.tune.preset import apply_preset

    (tmp_path / "presets").mkdir()
    body = {
        "method": "clip",
        "task": "synthetic",
        "method_params": {"temperature": 0.05},
        "task_params": {"lr": 0.002},
    }
    (tmp_path / "presets" / "p.json").write_text(json.dumps(body))
    method_raw, task_raw = {"preset": "p", "clip.temperature": "0.1"}, {}
    apply_preset(method_raw, task_raw, ["synthetic"], tmp_path)
    assert method_raw == {"clip.temperature": "0.1"} and task_raw == {"synthetic.lr": "0.002"}
