"""Submit a sweep's cells as cluster jobs through submitit: `run --cluster slurm | local | debug`.

`Launcher.prepare` checks everything before anything is written: the profile, its per-method overrides
and the run's own (--cluster-param), and for slurm the cluster itself (bench/cluster/preflight.py).
`submit` freezes the code (bench/cluster/snapshot.py), marks each cell queued, submits one job array per
distinct resource request, and records each cell's job in its job.json (bench/cluster/jobfile.py). Cells
done already (unless forced), and cells queued or running elsewhere, are not submitted again.

slurm queues the jobs; local runs each cell at once in its own process (no scheduler, no queue);
debug runs them one after another in this process when followed, like the in-process run.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import submitit
import yaml
from submitit.core.utils import FailedJobError

from bench import registry
from bench.cell import states
from bench.cell.cells import Cell
from bench.cell.execute import now
from bench.cell.spec import RunSpec
from bench.cell.store import RunFolder, Store
from bench.cluster import jobfile
from bench.cluster.job import CellJob
from bench.cluster.preflight import preflight
from bench.cluster.profile import Profile, load_profile
from bench.cluster.snapshot import setup_lines, take
from bench.errors import BenchError
from bench.params import parse_assignments


@dataclass
class Batch:
    """One job array: the resources its jobs ask for and its cells, with their jobs once submitted."""

    profile: Profile
    cells: list[Cell]
    jobs: list[submitit.Job] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return sorted({cell.spec.method for cell in self.cells})


class Launcher:
    """The cluster, the profile and the run's overrides of a sweep to submit."""

    def __init__(self, cluster: str, base: Profile, overrides: dict):
        self.cluster, self.base, self.overrides = cluster, base, overrides

    @classmethod
    def prepare(cls, cluster: str, profile: str | None, params: list[str], specs: list[RunSpec]) -> Launcher:
        """Check the profile, the overrides and (slurm) the cluster for these cells; BenchError if wrong."""
        base = load_profile(profile) if profile else Profile()
        base.check_methods(registry.methods().names())
        raw = parse_assignments(params, "--cluster-param")
        overrides = {key: _value(key, text) for key, text in raw.items()}
        base.override(overrides, "--cluster-param")
        launcher = cls(cluster, base, overrides)
        if cluster == "slurm":
            requests = {_request(p): p for p in map(launcher.profile, {s.method for s in specs})}
            for request in requests.values():
                preflight(request)
        return launcher

    def profile(self, method: str) -> Profile:
        """What one job of `method` asks for: the profile, its methods.<method> keys, the run's overrides."""
        return self.base.for_method(method).override(self.overrides, "--cluster-param")

    def batches(self, cells: Iterable[Cell]) -> list[Batch]:
        """The cells grouped into one batch per distinct resource request."""
        groups: dict[str, Batch] = {}
        for cell in cells:
            profile = self.profile(cell.spec.method)
            groups.setdefault(_request(profile), Batch(profile, [])).cells.append(cell)
        return list(groups.values())

    def describe(self, specs: list[RunSpec]) -> list[str]:
        """One line per job array these cells would make (for --dry-run)."""
        methods: dict[str, list[str]] = {}
        for spec in specs:
            methods.setdefault(_request(self.profile(spec.method)), []).append(spec.method)
        return [
            f"{self.cluster}: one job array of {len(names)} ({', '.join(sorted(set(names)))}): {request}"
            for request, names in methods.items()
        ]

    def submit(self, store: Store, cells: list[Cell], force: bool) -> list[Batch]:
        """Submit the cells that need it; the batches submitted, each with its jobs."""
        todo = self._todo(cells, force)
        snapshot = take(store.root) if todo and self.cluster != "debug" else None
        submitted: list[Batch] = []
        for batch in self.batches(todo):
            previous = {c.folder.run_id: _claim(c.folder) for c in batch.cells}
            for cell in batch.cells:
                if previous[cell.folder.run_id] is None:
                    print(f"running in another process: {cell.spec.label()}")
            batch.cells = [c for c in batch.cells if previous[c.folder.run_id] is not None]
            if not batch.cells:
                continue
            jobs = self._job_calls(batch, force)
            try:
                name = "bench-" + "+".join(batch.methods)
                batch.jobs = self.executor(store, batch.profile, name, snapshot).submit_array(jobs)
            except (FailedJobError, subprocess.SubprocessError, OSError) as err:
                for cell in batch.cells:
                    _restore(cell.folder, previous[cell.folder.run_id])
                done = ", ".join(b.jobs[0].job_id.split("_")[0] for b in submitted)
                after = f" after submitting job array(s) {done}" if done else ""
                last = (str(err).strip().splitlines() or [type(err).__name__])[-1]
                raise BenchError(f"--cluster {self.cluster}: submission failed{after}: {last}") from None
            for cell, job in zip(batch.cells, batch.jobs, strict=True):
                jobfile.write(cell.folder, self.cluster, job, snapshot, now())
            submitted.append(batch)
            ids = ", ".join(sorted({job.job_id.split("_")[0] for job in batch.jobs}))
            where = "to run here, one after another" if self.cluster == "debug" else f"→ job {ids}"
            print(f"{self.cluster}: {len(batch.cells)} cell(s) of {', '.join(batch.methods)} {where}")
        return submitted

    def _todo(self, cells: list[Cell], force: bool) -> list[Cell]:
        """The cells to submit: not done (unless forced), not queued or running in a SLURM job already."""
        jobs = jobfile.views(c.folder for c in cells)
        todo = []
        for cell in cells:
            job = jobs.get(cell.folder.run_id)
            if job and job.phase in (states.JOB_WAITING, states.JOB_STARTED):
                print(f"already queued or running as job {job.job_id}: {cell.spec.label()}")
            elif force or cell.folder.status().get("state") != states.DONE:
                todo.append(cell)
        return todo

    def _job_calls(self, batch: Batch, force: bool) -> list[CellJob]:
        here = os.getcwd()
        on_cluster = self.cluster != "debug"  # debug runs in this process, on its device and threads
        gpus = batch.profile.gpus_per_node if on_cluster else None
        threads = batch.profile.cpus_per_task if on_cluster else None
        return [CellJob(str(c.folder.path.resolve()), here, force, gpus, threads) for c in batch.cells]

    def executor(
        self, store: Store, profile: Profile, name: str, snapshot: Path | None
    ) -> submitit.AutoExecutor:
        """A submitit executor for jobs asking for `profile`, set up to run the code `snapshot`."""
        executor = submitit.AutoExecutor(
            folder=store.root.resolve() / "jobs" / "%j",
            cluster=self.cluster,  # always named: AutoExecutor picks slurm whenever srun is on PATH
            local_max_num_timeout=profile.requeue_max,
            **profile.executor_kwargs(),
        )
        lines = setup_lines(snapshot) if snapshot else []
        params = {**profile.submitit_params(), "slurm_setup": [*profile.setup, *lines], "local_setup": lines}
        executor.update_parameters(**params, name=name)
        return executor


def _value(key: str, text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise BenchError(f"--cluster-param {key}={text}: the value is not valid YAML") from None


def _request(profile: Profile) -> str:
    """The resource request of a profile as text: profiles asking for the same share one job array."""
    return json.dumps({**profile.submitit_params(), "requeue_max": profile.requeue_max}, sort_keys=True)


def _claim(folder: RunFolder) -> dict | None:
    """Mark the cell queued, under its lock; its previous status (to restore), or None when another
    process is running it."""
    if not folder.lock.acquire():
        return None
    try:
        previous = folder.status()
        folder.write_status(state=states.QUEUED, queued_at=now())
        return previous
    finally:
        folder.lock.release()


def _restore(folder: RunFolder, previous: dict) -> None:
    if previous:
        folder.write_status(**previous)
    else:
        folder.file("status.json").unlink(missing_ok=True)
