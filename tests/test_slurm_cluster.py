"""submitit against the real loopback cluster (slurm/cluster.sh): arrays, failures, time limits, requeue.

Skipped with a reason when no cluster runs. About 160 s, most of it waiting for SLURM to enforce a
2-minute time limit (it checks limits every 30 s); the two long jobs run side by side.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
import submitit
from submitit.core.utils import FailedJobError, UncompletedJobError

from bench.cluster.preflight import preflight
from bench.cluster.profile import Profile, load_profile
from bench.errors import BenchError

from _slurm import sacct_states, slurm_cluster  # noqa: F401

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the jobs cannot import this test module

PROFILE = Path(__file__).resolve().parents[1] / "slurm" / "profiles" / "local-ci.yaml"


def executor(folder: Path, profile: Profile) -> submitit.AutoExecutor:
    ex = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm", **profile.executor_kwargs())
    ex.update_parameters(**profile.submitit_params())
    return ex


def wait_until(test, seconds: float, what: str):
    end = time.time() + seconds
    while not (value := test()):
        assert time.time() < end, f"{what} not seen within {seconds} s"
        time.sleep(1)
    return value


def timed_square(x: int) -> tuple[int, float, float]:
    start = time.time()
    time.sleep(2)
    return x * x, start, time.time()


def boom() -> None:
    raise ValueError("intentional failure")


def stubborn_sleep() -> None:
    """Ignore submitit's checkpoint signal, as a program that cannot checkpoint would; outlive the limit."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # submitit's checkpoint signal (SUBMITIT_PREEMPT_SIGNAL)
    time.sleep(600)


class Resumable:
    """Counts steps until stopped; after the requeue it reports the steps of the first run and finishes."""

    def __init__(self) -> None:
        self.runs = 0
        self.steps = 0

    def __call__(self) -> tuple[int, int]:
        self.runs += 1
        while self.runs == 1:  # the first run only ends by the checkpoint signal
            time.sleep(0.5)
            self.steps += 1
        return self.runs, self.steps

    def checkpoint(self) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self)


def test_preflight_against_the_cluster():
    profile = load_profile(PROFILE)
    preflight(profile)
    with pytest.raises(BenchError, match=r"partition 'debug' has no GPUs \(CPU-only cluster\)"):
        preflight(profile.override({"gpus_per_node": 1}, "test"))
    with pytest.raises(BenchError, match=r"no node of partition 'debug' has 1 CPU, 4096.0 GB"):
        preflight(profile.override({"mem_gb": 4096}, "test"))


def test_preflight_when_the_controller_is_down(tmp_path, monkeypatch):
    dead = (
        Path(os.environ["SLURM_CONF"]).read_text().replace("SlurmctldPort=", "SlurmctldPort=1")
    )  # 6817 -> 16817
    (tmp_path / "slurm.conf").write_text(dead)
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "slurm.conf"))
    with pytest.raises(BenchError, match=r"^--cluster slurm: the SLURM controller (did not|does not) answer"):
        preflight(load_profile(PROFILE), timeout_s=2)


def test_array_of_four_runs_two_at_a_time(tmp_path):
    jobs = executor(tmp_path, load_profile(PROFILE)).map_array(timed_square, [1, 2, 3, 4])
    assert [job.job_id.split("_")[1] for job in jobs] == ["0", "1", "2", "3"]
    results = [job.result() for job in jobs]
    assert [r[0] for r in results] == [1, 4, 9, 16]
    starts = sorted(start for _, start, _ in results)
    ends = sorted(end for _, _, end in results)
    assert starts[1] < ends[0], "two one-CPU tasks should run at the same time on the 2-CPU node"


def test_raising_job_fails_with_its_traceback(tmp_path):
    job = executor(tmp_path, load_profile(PROFILE)).submit(boom)
    with pytest.raises(FailedJobError, match=r"(?s)Traceback.*in boom.*ValueError: intentional failure"):
        job.result()


@pytest.fixture(scope="module")
def long_jobs(tmp_path_factory):
    """A job that outlives its 2-minute limit and one that checkpoints and requeues, submitted together.
    The shortest limit that the profile's 30 s warning allows: SLURM may send it up to 60 s early, and
    a job told as it starts dies before submitit can catch the signal."""
    profile = load_profile(PROFILE).override({"time_min": 2}, "test")  # signal_delay_s: 30 from the profile
    folder = tmp_path_factory.mktemp("long")
    return executor(folder, profile).submit(stubborn_sleep), executor(folder, profile).submit(Resumable())


@pytest.mark.slow
def test_job_past_its_time_limit_is_timeout(long_jobs, monkeypatch):
    job, _ = long_jobs
    wait_until(lambda: "TIMEOUT" in sacct_states(job.job_id), 240, "TIMEOUT in sacct")
    assert wait_until(lambda: job.watcher.get_state(job.job_id, mode="force") == "TIMEOUT", 30, "TIMEOUT")
    monkeypatch.setattr(submitit.core.core.Job, "_results_timeout_s", 2)  # no result file will come
    with pytest.raises(UncompletedJobError):
        job.result()


@pytest.mark.slow
def test_timed_out_job_requeues_and_resumes(long_jobs):
    _, job = long_jobs
    runs, steps = job.result()
    assert runs == 2 and steps > 0, "the second run should start from the first run's checkpoint"
    assert wait_until(lambda: sacct_states(job.job_id)[-1:] == ["COMPLETED"], 30, "COMPLETED in sacct")
    assert sacct_states(job.job_id) == ["REQUEUED", "COMPLETED"]
