"""`tune --cluster slurm`: a study's workers as one job array, through `run`'s launcher (profile,
preflight, code snapshot); each array task runs `study.optimize` for its share of the trials."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError


@dataclass(frozen=True)
class TuneWorker:
    """One worker of the study whose config is at `config` (absolute); `cwd`: the submitting directory."""

    config: str
    trials: int
    index: int
    cwd: str
    threads: int | None = None

    def __call__(self) -> None:
        import torch

        from bench.tune.study import StudyConfig, work

        os.chdir(self.cwd)
        if self.threads:
            torch.set_num_threads(self.threads)
        work(StudyConfig.from_file(Path(self.config)), self.trials, self.index)


def submit_workers(cfg, shares: list[int], profile: str | None, cluster_params: list[str]) -> None:
    """Submit one array task per share and wait for them all; a failed task is a BenchError."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    from bench.cell.store import Store
    from bench.cluster.launch import Launcher
    from bench.cluster.snapshot import take
    from bench.tune.study import trial_spec

    launcher = Launcher.prepare("slurm", profile, cluster_params, [trial_spec(cfg, {})])
    store = Store(Path(cfg.results))
    chosen = launcher.profile(cfg.method)
    executor = launcher.executor(store, chosen, f"tune-{cfg.name}", take(store.root))
    config, here = str(cfg.path.resolve()), os.getcwd()
    workers = [TuneWorker(config, n, i, here, chosen.cpus_per_task) for i, n in enumerate(shares)]
    jobs = executor.submit_array(workers)
    print(f"slurm: {len(jobs)} tuning worker(s) of study {cfg.name} → job {jobs[0].job_id.split('_')[0]}")
    for job in jobs:
        try:
            job.result()
        except (FailedJobError, UncompletedJobError) as err:
            last = (str(err).strip().splitlines() or [type(err).__name__])[-1]
            raise BenchError(f"tuning worker {job.job_id} failed: {last} (log: {job.paths.stderr})") from None
