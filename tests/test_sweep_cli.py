"""`bench run` end to end: dry run, skip on the second call, exit code on failure, --jobs, collect."""

import subprocess
import sys

import pandas as pd

from bench.cell.store import Store
from bench.cli.main import main

from conftest import fast_args


def bench(*args) -> list[str]:
    return ["run", "--methods", "clip", "--tasks", "synthetic", *args]


def test_dry_run_shows_states_and_runs_nothing(results, capsys):
    args = bench("--pair-ratio", "0.1,1.0", "--seeds", "0,1", "--results", str(results), *fast_args())
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("pending") == 5 and "4 cells: 4 pending" in out
    assert not results.exists()
    assert main(args) == 0
    assert "0.1" in capsys.readouterr().out
    assert main([*args, "--dry-run"]) == 0
    assert "4 cells: 4 done" in capsys.readouterr().out


def test_failed_cell_makes_exit_code_1_and_is_named(results, capsys):
    code = main(bench("--seeds", "0", "--results", str(results), *fast_args(fail="true")))
    captured = capsys.readouterr()
    assert code == 1
    assert "FAILED clip · synthetic" in captured.out and "asked to fail" in captured.out
    assert "1 of 1 runs failed" in captured.err


def test_jobs_match_in_process_and_collect(results, capsys):
    serial = bench("--seeds", "0,1", "--results", str(results / "serial"), "--jobs", "1", *fast_args())
    parallel = bench("--seeds", "0,1", "--results", str(results / "parallel"), "--jobs", "2", *fast_args())
    assert main(serial) == 0 and main(parallel) == 0
    for name in ("serial", "parallel"):
        assert main(["collect", "--results", str(results / name)]) == 0
    a = pd.read_parquet(results / "serial" / "results.parquet").sort_values("seed")
    b = pd.read_parquet(results / "parallel" / "results.parquet").sort_values("seed")
    assert list(b["threads"]) == [1, 1]
    for metric in ("a2b_r1", "b2a_r5", "zs_top1"):
        assert (a[metric].to_numpy() - b[metric].to_numpy()).max() < 0.02
    csv = pd.read_csv(results / "serial" / "results.csv")
    assert len(csv) == 2
    for col in (
        "run_id",
        "method",
        "task",
        "pair_ratio",
        "split_seed",
        "seed",
        "state",
        "p_task_steps",
        "p_method_temperature",
        "a2b_r1",
        "wall_s",
        "git_commit",
        "code_version",
        "torch_version",
    ):
        assert col in csv.columns, col


def test_two_runs_at_once_never_run_a_cell_twice(results):
    args = [
        sys.executable,
        "-m",
        "bench",
        *bench("--seeds", "0,1,2,3", "--results", str(results), *fast_args()),
    ]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        p.wait(timeout=300)
        assert p.returncode == 0
    logs = list((results / "runs").glob("*/log.txt"))
    assert len(logs) == 4
    for log in logs:
        assert log.read_text().count(" start ") == 1, log.read_text()


def test_tasks_whose_data_is_missing_are_named_after_the_others_ran(results, capsys):
    """`--tasks synthetic,rs` offline: synthetic's cell runs, rs (its default hub sources unreachable) is
    one line saying why, and the exit code is non-zero; with rs alone nothing is written."""
    args = ["run", "--methods", "clip", "--tasks", "synthetic,rs", "--seeds", "0", "--pair-ratio", "0.5"]
    args += [
        "--results",
        str(results),
        "--task-param",
        "synthetic.steps=5",
        "--task-param",
        "synthetic.n_train=200",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("error: task rs: ") and "hf:" in err[-2]
    assert err[-1] == "the other tasks ran; 1 task setting(s) left out for their data"
    (folder,) = Store(results).all_folders()
    assert folder.spec().task == "synthetic" and folder.state() == "done"
    alone = ["run", "--methods", "clip", "--tasks", "rs", "--results", str(results.parent / "alone")]
    assert main(alone) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: task rs: ")
    assert not list((results.parent / "alone").glob("runs/*"))


def test_vl_runs_beside_a_task_whose_data_is_missing(results, capsys):
    """`--tasks rs,vl` offline: vl's cell runs (on generated images here), rs is one line saying how to get
    its data, and the exit code is non-zero."""
    args = ["run", "--methods", "clip", "--tasks", "rs,vl", "--seeds", "0", "--pair-ratio", "0.5"]
    args += ["--results", str(results)]
    for k, v in {"source": "synthetic:32", "steps": 3, "batch_size": 8, "captions_per_image": 2}.items():
        args += ["--task-param", f"vl.{k}={v}"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("error: task rs: ") and "hf:" in err[-2]
    assert err[-1] == "the other tasks ran; 1 task setting(s) left out for their data"
    (folder,) = Store(results).all_folders()
    assert folder.spec().task == "vl" and folder.state() == "done"
