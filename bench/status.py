"""Each cell's state: its run folder, together with what the scheduler says about its job.

A cluster job records itself in the run folder's job.json (cluster, job id, log paths). The run folder
tells done and failed-with-an-exception; the scheduler tells queued, running, and the jobs it killed
(a run killed by SLURM leaves status.json at "running" with no process holding the lock).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import atomic
from bench.cluster import scheduler
from bench.cluster.scheduler import Jobs
from bench.store import RunFolder

JOB_FILE = "job.json"
SETTLED = ("done", "failed", "pruned", "interrupted")


@dataclass(frozen=True)
class CellStatus:
    """pending | running | done | failed | pruned | interrupted; why it stopped, and the log to read."""

    state: str
    job_id: str | None = None
    reason: str | None = None
    log: Path | None = None

    @property
    def settled(self) -> bool:
        return self.state in SETTLED


def read_job(folder: RunFolder) -> dict[str, Any]:
    """The cell's job.json ({} when it never went to a cluster)."""
    return atomic.read_json(folder.file(JOB_FILE), default={})


def cell_status(folder: RunFolder, jobs: Jobs | None) -> CellStatus:
    """The state of one cell; `jobs` holds the scheduler's view of its job (None: no scheduler to ask)."""
    status = folder.status()
    recorded = status.get("state")
    job = read_job(folder)
    job_id = job.get("job_id")
    job_log = Path(job["stderr"]) if job.get("stderr") else folder.file("log.txt")
    if jobs is None or job.get("cluster") != jobs.cluster:
        jobs = None
    known = jobs.states.get(job_id) if jobs else None
    if recorded == "done":
        return CellStatus("done", job_id)
    if known in scheduler.ACTIVE:
        return CellStatus("running" if known in scheduler.STARTED else "pending", job_id)
    if recorded == "pruned":
        return CellStatus("pruned", job_id, status.get("error"), folder.file("log.txt"))
    if recorded == "failed":
        return CellStatus("failed", job_id, status.get("error"), folder.file("log.txt"))
    if recorded == "running" and folder.lock.held_elsewhere():
        return CellStatus("running", job_id)
    if known is not None or (jobs and jobs.gone(job_id)):
        return CellStatus("failed", job_id, f"job {job_id}: {scheduler.ending(known)}", job_log)
    if recorded == "running":
        return CellStatus("interrupted", job_id, "no process runs it any more", folder.file("log.txt"))
    return CellStatus("pending", job_id)


def slurm_view(folders: Iterable[RunFolder]) -> Jobs:
    """One scheduler query for the SLURM jobs of these cells."""
    return scheduler.query(job["job_id"] for job in map(read_job, folders) if job.get("cluster") == "slurm")


def report(folders: list[RunFolder]) -> list[tuple[RunFolder, CellStatus]]:
    """Every cell with its state, asking SLURM about the cells that went there."""
    jobs = slurm_view(folders)
    return [(folder, cell_status(folder, jobs)) for folder in folders]


def format_line(folder: RunFolder, status: CellStatus) -> str:
    """State, job id, run id and label; then, indented, the reason and the log to read, if any."""
    line = f"{status.state:<11} {status.job_id or '-':<12} {folder.run_id}  {folder.spec().label()}"
    if status.reason:
        line += f"\n{'':<11} {status.reason} (log: {status.log})"
    return line
