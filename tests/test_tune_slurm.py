"""Tuning on the loopback SLURM cluster: the workers are one job array sharing the study's journal."""

import pytest

from bench.cell.spec import ROOT
from bench.cell.store import Store
from bench.cli.main import main
from bench.tune.study import StudyConfig, open_study

from _slurm import slurm_cluster  # noqa: F401
from conftest import fast_args

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]

PROFILE = ROOT / "slurm" / "profiles" / "local-ci.yaml"


def test_two_workers_are_one_array_sharing_the_study(results, capsys):
    argv = ["tune", "--method", "clip", "--task", "synthetic", "--trials", "2", "--results", str(results)]
    extra = ["--cluster", "slurm", "--workers", "2", "--profile", str(PROFILE)]
    assert main([*argv, *extra, *fast_args(steps="30", eval_every="10")]) == 0
    out = capsys.readouterr().out
    array = out.split("→ job ")[1].split()[0]
    # one submitit folder per array task, each with the worker's result (sacct may lag behind)
    assert sorted(p.name for p in (results / "jobs").glob(f"{array}_*")) == [f"{array}_0", f"{array}_1"]
    assert all(any((results / "jobs" / f"{array}_{i}").glob("*_result.pkl")) for i in (0, 1))
    trials = open_study(StudyConfig.load(results, "clip-synthetic-r0.1")).trials
    assert sorted(t.number for t in trials) == [0, 1]
    states = {f.run_id: f.state() for f in Store(results).all_folders()}
    assert all(states[t.user_attrs["run_id"]] in ("done", "pruned") for t in trials)
