"""`run --cluster slurm` and `status` against the real loopback cluster (slurm/cluster.sh).

Skipped with a reason when no cluster runs. Held jobs (`sbatch --hold`) keep cells queued while a test
edits the working tree, asks for the status or presses Ctrl-C; the time-limit test is the slow one.
"""

import argparse
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from bench.cell.spec import ROOT
from bench.cell.status import cell_status
from bench.cell.store import Store
from bench.cell.sweep import plan
from bench.cli.main import main
from bench.cli.run import run_on_cluster
from bench.cluster import jobfile
from bench.cluster.launch import Launcher

from _slurm import sacct_states, slurm_cluster  # noqa: F401
from conftest import fast_args
from helpers import default_sigint, run, spec

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]

PROFILE = ROOT / "slurm" / "profiles" / "local-ci.yaml"
HOLD = ["--cluster-param", 'sbatch_extra=["--hold"]']  # queued until `scontrol release`


def bench(results: Path, *args: str) -> list[str]:
    grid = ["run", "--methods", "clip", "--tasks", "synthetic", "--results", str(results)]
    return [*grid, "--cluster", "slurm", "--profile", str(PROFILE), *args]


def wait_for(test, seconds: float, what: str, why=lambda: "") -> None:
    """Poll `test` until it holds; past `seconds`, fail with `what` and what `why()` tells of the state."""
    end = time.time() + seconds
    while not test():
        assert time.time() < end, f"{what}: not seen within {seconds} s\n{why()}"
        time.sleep(0.5)


def elapsed_s(job: str) -> int:
    """How long a running job has run, in seconds (squeue's [days-][hours:]minutes:seconds)."""
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%M"], capture_output=True, text=True, check=True)
    days, _, clock = out.stdout.strip().rpartition("-")
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds + 86400 * int(days or 0)


def job_report(folder, job: str) -> str:
    """What SLURM and the run folder say of a job, for a failure message: its queue state and reason, its
    accounting records, the node's state, the run's status, the end of its log and of the job's output."""

    def command(*argv: str) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (done.stdout + done.stderr).strip()

    def tail(path: Path, lines: int = 15) -> str:
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else "(none)"
        )

    parts = {
        "squeue": command("squeue", "-h", "-j", job, "-o", "%i %T %r %M"),
        "sacct": command(
            "sacct", "-n", "-X", "-D", "-P", "-j", job, "-o", "JobID,State,Reason,ExitCode,Elapsed"
        ),
        "sinfo": command("sinfo", "-h", "-N", "-o", "%N %T %E"),
        "status.json": json.dumps(folder.status()) if folder.file("status.json").is_file() else "(none)",
        "log.txt": tail(folder.file("log.txt")),
    }
    for path in sorted(folder.path.parent.parent.glob(f"jobs/**/{job.split('_')[0]}*")):
        if path.is_file():
            parts[str(path.name)] = tail(path)
    return "\n".join(f"--- {name}:\n{text}" for name, text in parts.items())


def settle(results: Path, seconds: float = 180) -> dict[str, str]:
    """Wait until every cell under `results` has settled (done, failed, pruned or interrupted), as
    `status` sees it; run_id → state."""
    end = time.time() + seconds
    while True:
        folders = Store(results).all_folders()
        jobs = jobfile.views(folders)
        statuses = {folder.run_id: cell_status(folder, jobs.get(folder.run_id)) for folder in folders}
        states = {run_id: status.state for run_id, status in statuses.items()}
        if all(status.settled for status in statuses.values()):
            return states
        assert time.time() < end, f"cells not settled within {seconds} s: {states}"
        time.sleep(1)


def job_ids(results: Path) -> list[str]:
    return sorted(job_ids_by_run(results).values())


def job_ids_by_run(results: Path) -> dict[str, str]:
    return {folder.run_id: jobfile.read(folder)["job_id"] for folder in Store(results).all_folders()}


def squeue_states(job_ids: list[str]) -> list[str | None]:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, check=True)
    states = dict(line.split() for line in out.stdout.splitlines())
    return [states.get(job) for job in job_ids]


def test_a_sweep_is_one_array_and_a_failing_cell_fails_alone(tmp_path, capsys):
    specs = [spec(seed=seed) for seed in range(3)] + [spec(seed=3, fail="true")]
    store = Store(tmp_path / "results")
    launcher = Launcher.prepare("slurm", str(PROFILE), [], specs)
    store.ensure_writable()
    cells = plan(store, specs)
    args = argparse.Namespace(cluster="slurm", force=False, detach=False)
    assert run_on_cluster(launcher, store, cells, args) == 1
    out = capsys.readouterr().out
    ids = [jobfile.read(cell.folder)["job_id"] for cell in cells]
    array = ids[0].split("_")[0]
    assert ids == [f"{array}_{i}" for i in range(4)], "one job array, one task per cell"
    assert [cell.folder.state() for cell in cells] == ["done", "done", "done", "failed"]
    # the summary (%), labelled as `table` labels it: the three finished seeds, and the failing setting apart
    assert re.search(r"CLIP \(fail=false\) +\d+\.\d ± \d+\.\d \(3\)", out), out
    assert re.search(r"CLIP \(fail=true\) +—", out), out
    assert (
        "FAILED clip · synthetic · r=0.1 · split 0 · seed 3: RuntimeError: synthetic task asked to fail"
        in out
    )
    assert main(["collect", "--results", str(store.root)]) == 0
    table = pd.read_parquet(store.root / "results.parquet")
    assert sorted(table["state"]) == ["done", "done", "done", "failed"]
    assert set(table["threads"].dropna()) == {1}, "a job uses the CPUs it asked for"


def test_detach_status_collect_and_queued_jobs_run_the_snapshot(tmp_path, capsys):
    repo, results = tmp_path / "repo", tmp_path / "results"
    for top in ("bench", "methods", "tasks"):
        shutil.copytree(ROOT / top, repo / top, ignore=shutil.ignore_patterns("__pycache__"))
    command = [
        sys.executable,
        "-m",
        "bench",
        *bench(results, "--seeds", "0,1,2", *HOLD, "--detach", *fast_args()),
    ]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"follow with: python -m bench status --results {results}" in done.stdout
    # the working tree changes while the jobs wait: from now on, importing it fails
    (repo / "bench" / "__init__.py").write_text(
        "raise RuntimeError('a job imported the edited working tree')\n"
    )

    assert main(["status", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    ids = job_ids(results)
    assert "3 cells: 3 pending" in out and all(job in out for job in ids), out
    subprocess.run(["scontrol", "release", ids[0].split("_")[0]], check=True)
    end = time.time() + 60  # two tasks at a time (max_concurrent: 2): the third waits, then is cancelled
    while squeue_states(ids) != ["RUNNING", "RUNNING", "PENDING"]:
        assert time.time() < end, squeue_states(ids)
        time.sleep(0.2)
    subprocess.run(["scancel", ids[2]], check=True)
    assert sorted(settle(results).values()) == ["done", "done", "failed"]

    assert main(["status", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "3 cells: 2 done, 1 failed" in out
    assert f"job {ids[2]}: cancelled (CANCELLED) (log: {results / 'jobs'}" in out, out
    assert main(["collect", "--results", str(results)]) == 0
    table = pd.read_parquet(results / "results.parquet")
    assert sorted(table["state"]) == ["done", "done", "pending"]
    snapshot = Path(json.loads((results / "runs" / table["run_id"][0] / "job.json").read_text())["snapshot"])
    assert snapshot.parent == results / "snapshots" and (snapshot / "snapshot.json").is_file()


def start_following(results: Path, stdin) -> subprocess.Popen:
    """A `run` that follows two held jobs, returned once both are submitted."""
    command = [sys.executable, "-m", "bench", *bench(results, "--seeds", "0,1", *HOLD, *fast_args())]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    end = time.time() + 120
    while len(list(results.glob("runs/*/job.json"))) < 2:
        assert proc.poll() is None and time.time() < end, "the jobs were not submitted"
        time.sleep(0.2)
    time.sleep(1)  # into the follow loop
    return proc


def test_ctrl_c_without_a_terminal_leaves_the_jobs_queued(tmp_path):
    results = tmp_path / "results"
    proc = start_following(results, subprocess.DEVNULL)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    ids = job_ids(results)
    try:
        assert proc.returncode == 130, err
        assert "stdin is not a terminal: not asking whether to cancel the jobs" in err
        assert f"2 job(s) left running; follow them with: python -m bench status --results {results}" in err
        assert squeue_states(ids) == ["PENDING", "PENDING"]
    finally:
        subprocess.run(["scancel", *ids], check=False)


def test_ctrl_c_at_a_terminal_cancels_on_yes(tmp_path):
    results = tmp_path / "results"
    terminal, stdin = pty.openpty()
    proc = start_following(results, stdin)
    proc.send_signal(signal.SIGINT)
    os.write(terminal, b"y\n")
    out, err = proc.communicate(timeout=60)
    os.close(terminal)
    os.close(stdin)
    assert proc.returncode == 130, err
    assert "cancel the 2 unfinished job(s)? [y/N]" in out and "cancelled 2 job(s)" in err
    assert squeue_states(job_ids(results)) == [None, None]
    assert settle(results, 60) == dict.fromkeys(job_ids_by_run(results), "failed")
    status = [sys.executable, "-m", "bench", "status", "--results", str(results)]
    out = subprocess.run(status, capture_output=True, text=True, check=True).stdout
    for job in job_ids(results):  # held tasks cancelled together: SLURM records only their array
        assert f"job {job}: cancelled (CANCELLED)" in out, out


SLURM_BAD = [
    (["--cluster-param", "gpus_per_node=1"], "partition 'debug' has no GPUs (CPU-only cluster)"),
    (["--cluster-param", "mem_gb=4096"], "no node of partition 'debug' has 1 CPU, 4096.0 GB"),
    (["--cluster-param", "partition=gpu"], "no partition 'gpu' on this cluster"),
]


@pytest.mark.parametrize("extra, message", SLURM_BAD)
def test_a_request_the_cluster_cannot_satisfy_is_refused(extra, message, results, capsys):
    assert main(bench(results, *fast_args(), *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not results.exists()


def test_a_controller_that_does_not_answer_is_refused(results, tmp_path, monkeypatch, capsys):
    conf = Path(os.environ["SLURM_CONF"]).read_text().replace("SlurmctldPort=", "SlurmctldPort=1")
    (tmp_path / "slurm.conf").write_text(conf + "MessageTimeout=1\n")  # fail at once, not after retries
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "slurm.conf"))
    assert main(bench(results, *fast_args())) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: --cluster slurm: the SLURM controller does not answer: ")
    assert not results.exists()


@pytest.mark.slow
def test_a_run_past_its_time_limit_requeues_and_resumes_to_the_same_metrics(tmp_path):
    """SLURM acts on time limits every 30 s and may send the warning signal up to 60 s earlier than asked
    (sbatch(1), --signal): a job with a 1-minute limit and a 30 s warning can be signalled at its first
    check, before its first checkpoint, a race that a loaded machine can lose on every requeue. So the job
    starts with the profile's 10 minutes; the test holds it still (SIGSTOP) from its first checkpoint,
    then shortens its limit to end 60 to 120 s later, so that the warning falls while it is held (SLURM
    sends SIGCONT with the signal) however fast the machine; once the job is requeued the test lifts the
    limit, so that one requeue is enough."""
    results = tmp_path / "results"
    long = {"steps": "2000", "checkpoint_every": "100"}
    assert main(bench(results, "--seeds", "0", "--detach", *fast_args(**long))) == 0
    [folder] = Store(results).all_folders()
    job = jobfile.read(folder)["job_id"]
    report = lambda: job_report(folder, job)  # noqa: E731
    wait_for(lambda: folder.file("checkpoint.pt").exists(), 240, "the first checkpoint", report)
    os.kill(folder.status()["pid"], signal.SIGSTOP)
    limit = elapsed_s(job) // 60 + 2  # minutes: the limit falls 60 to 120 s from now
    subprocess.run(["scontrol", "update", f"JobId={job}", f"TimeLimit={limit}"], check=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:  # meanwhile, the same run uninterrupted
        reference = Store(tmp_path / "reference")
        assert run(reference, [spec(**long)]) == {folder.run_id: "done"}
    finally:
        torch.set_num_threads(threads)
    wait_for(lambda: "REQUEUED" in sacct_states(job), 180, "the requeue", report)
    subprocess.run(["scontrol", "update", f"JobId={job}", "TimeLimit=10"], check=True)
    assert settle(results, 120) == {folder.run_id: "done"}
    assert folder.metrics() == reference.folder(folder.run_id).metrics()
    log = folder.file("log.txt").read_text()
    assert int(re.search(r"resumed from the checkpoint at step (\d+)", log).group(1)) >= 100, log
    wait_for(  # under load SLURM may signal once more before the new limit lands: any requeues, then done
        lambda: (states := sacct_states(job))[-1:] == ["COMPLETED"] and set(states[:-1]) == {"REQUEUED"},
        120,
        f"REQUEUED…, COMPLETED ({sacct_states(job)})",
    )
