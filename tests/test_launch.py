"""`run --cluster local|debug`, `status`, and bad cluster input, without SLURM (some need no cluster at all).

The SLURM side is in test_launch_slurm.py; each cell's state, from its folder and its job, in test_status.py.
"""

import os
import shutil

import pandas as pd
import pytest
import torch

from bench.cell.codeversion import tree_version
from bench.cell.store import Store
from bench.cell.sweep import plan
from bench.cli.main import main
from bench.cluster.job import CellJob
from bench.cluster.snapshot import MANIFEST, take

from conftest import fast_args
from helpers import run, spec

METRICS = ["a2b_r1", "a2b_r5", "b2a_r1", "zs_top1", "zs_mpcr"]


def bench(results, *args) -> list[str]:
    return ["run", "--methods", "clip", "--tasks", "synthetic", "--results", str(results), *args]


def test_local_and_debug_clusters_match_the_in_process_run(results, capsys):
    grid = ["--seeds", "0,1", *fast_args()]
    for name, extra in [("here", []), ("local", ["--cluster", "local"]), ("debug", ["--cluster", "debug"])]:
        assert main(bench(results / name, *grid, *extra)) == 0, name
        assert main(["collect", "--results", str(results / name)]) == 0
    out = capsys.readouterr().out
    assert "local: 2 cell(s) of clip" in out
    frames = {
        n: pd.read_parquet(results / n / "results.parquet").sort_values("seed")
        for n in ("here", "local", "debug")
    }
    assert list(frames["local"]["threads"]) == [1, 1], "a local job uses the CPUs of its profile (1)"
    for name in ("local", "debug"):
        assert list(frames[name]["state"]) == ["done", "done"]
        assert list(frames[name]["run_id"]) == list(frames["here"]["run_id"])
        assert frames[name][METRICS].equals(frames["here"][METRICS]), name
    job = (results / "local" / "runs" / frames["local"]["run_id"].iloc[0] / "job.json").read_text()
    assert '"cluster": "local"' in job and "snapshots" in job


def test_dry_run_shows_one_job_array_per_resource_request(results, tmp_path, capsys):
    profile = tmp_path / "profile.yaml"
    profile.write_text("time_min: 20\nmethods:\n  gentle_clip:\n    time_min: 30\n")
    cluster = ["--cluster", "local", "--profile", str(profile), "--cluster-param", "cpus_per_task=2"]
    args = ["--methods", "clip,gentle_clip", "--seeds", "0,1", "--dry-run", *cluster, *fast_args()]
    assert main(bench(results, *args)) == 0  # the second --methods wins
    arrays = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("local: one job array")
    ]
    assert len(arrays) == 2, arrays
    clip, gentle = sorted(arrays)
    assert "of 2 (clip)" in clip and '"timeout_min": 20' in clip and '"cpus_per_task": 2' in clip
    assert "of 2 (gentle_clip)" in gentle and '"timeout_min": 30' in gentle and '"cpus_per_task": 2' in gentle
    assert not results.exists()


@pytest.fixture
def profiles(tmp_path):
    files = {
        "malformed.yaml": "partition: [debug\n",
        "unknown.yaml": "partiton: debug\n",
        "list.yaml": "- partition\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


BAD = [
    (["--cluster", "slurm", "--profile", "{p}/missing.yaml"], "missing.yaml: no such file"),
    (["--cluster", "local", "--profile", "{p}/malformed.yaml"], "malformed YAML at line 2"),
    (
        ["--cluster", "slurm", "--profile", "{p}/unknown.yaml"],
        "unknown key 'partiton' (did you mean partition",
    ),
    (["--cluster", "slurm", "--profile", "{p}/list.yaml"], "expected a mapping of keys to values"),
    (
        ["--cluster", "local", "--cluster-param", "time_min=0"],
        "--cluster-param: time_min must be an integer >= 1",
    ),
    (
        ["--cluster", "local", "--cluster-param", "gpus_per_nod=1"],
        "unknown key 'gpus_per_nod' (did you mean gpus_per_node",
    ),
    (["--cluster", "local", "--cluster-param", "time_min"], "--cluster-param 'time_min' is malformed"),
    (
        ["--cluster", "local", "--cluster-param", "setup=[a"],
        "--cluster-param setup=[a: the value is not valid",
    ),
    (["--profile", "{p}/unknown.yaml"], "--profile needs --cluster slurm, local or debug"),
    (["--detach"], "--detach needs --cluster"),
    (["--cluster", "debug", "--detach"], "--cluster debug runs the cells in this process"),
    (["--cluster", "local", "--jobs", "2"], "with --cluster local each cell is a job"),
]


@pytest.mark.parametrize("extra, message", BAD)
def test_bad_cluster_input_is_one_line_exit_2_nothing_written(extra, message, profiles, results, capsys):
    args = [a.replace("{p}", str(profiles)) for a in extra]
    code = main(bench(results, *fast_args(), *args))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert not results.exists()


def test_no_sbatch_on_path_is_refused_before_anything_is_written(results, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code = main(bench(results, *fast_args(), "--cluster", "slurm"))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "error: --cluster slurm: sbatch is not on PATH (no SLURM client on this machine)"
    assert not results.exists()


def test_status_without_a_cluster_reports_what_the_folders_say(results, tmp_path, monkeypatch, capsys):
    store = Store(results)
    run(store, [spec(seed=0), spec(seed=1, fail="true")])
    monkeypatch.setenv("PATH", str(tmp_path))  # no squeue, no sacct
    assert main(["status", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "2 cells: 1 done, 1 failed" in out
    assert "RuntimeError: synthetic task asked to fail (fail=true)" in out
    assert f"(log: {results / 'runs'}" in out and "log.txt)" in out


def test_status_of_an_empty_results_folder_is_an_error(results, capsys):
    assert main(["status", "--results", str(results)]) == 2
    assert "no runs under" in capsys.readouterr().err


@pytest.fixture
def folder(tmp_path):
    [cell] = plan(Store(tmp_path / "results"), [spec()])
    return cell.folder


def test_cell_job_device_threads_and_requeue(folder, monkeypatch):
    threads = torch.get_num_threads()
    try:
        assert CellJob(str(folder.path), os.getcwd(), gpus=0, threads=1)() == "done"
        cost = folder.status()["cost"]
        assert (cost["device"], cost["threads"]) == ("cpu", 1)
        state = CellJob(str(folder.path), os.getcwd(), force=True, gpus=1)()
        if torch.cuda.is_available():
            assert state == "done" and folder.status()["cost"]["device"] == "cuda"
        else:  # a GPU job never falls back to the CPU quietly
            assert state == "failed"
            assert "asked for 1 GPU(s) but torch" in folder.status()["error"]
    finally:
        torch.set_num_threads(threads)
    job = CellJob(str(folder.path), os.getcwd(), force=True)
    assert job.checkpoint().function == CellJob(str(folder.path), os.getcwd(), force=False)

    def requeued(*args, **kwargs):
        raise SystemExit(-1)  # what submitit does after checkpoint() and the requeue

    monkeypatch.setattr("bench.cluster.job.execute", requeued)
    with pytest.raises(SystemExit):
        job()
    assert folder.status()["state"] == "requeued"
    assert folder.state() == "interrupted", "with no scheduler to say the job waits, nothing will resume it"


def test_snapshot_is_content_addressed_and_importable(tmp_path):
    first = take(tmp_path)
    assert take(tmp_path) == first, "unchanged code shares its snapshot"
    assert first.parent == tmp_path.resolve() / "snapshots"
    assert [p.name for p in first.parent.iterdir()] == [first.name], "no staging folder left behind"
    assert tree_version(first) == tree_version()
    assert (first / "bench" / "cluster" / "job.py").is_file() and not list(first.rglob("__pycache__"))
    assert '"code_version": "' + tree_version() in (first / MANIFEST).read_text()
    shutil.rmtree(first)
