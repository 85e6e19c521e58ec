"""A cell's cluster job: its `job.json` (cluster, job id, log paths, snapshot; written at submission), and
what the job's scheduler says of it now, as the `JobView` that bench/cell/status.py reads.

Only this package reads or writes job.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench import atomic
from bench.cell import states
from bench.cell.status import JobView
from bench.cell.store import RunFolder
from bench.cluster import scheduler

JOB_FILE = "job.json"


def read(folder: RunFolder) -> dict[str, Any]:
    """The cell's job.json ({} when it never went to a cluster)."""
    return atomic.read_json(folder.file(JOB_FILE), default={})


def write(folder: RunFolder, cluster: str, job: Any, snapshot: Path | None, submitted_at: str) -> None:
    """Record the submitit `job` that runs the cell (its id and log paths) in the cell's job.json."""
    atomic.write_json(
        folder.file(JOB_FILE),
        {
            "cluster": cluster,
            "job_id": job.job_id,
            "array_id": job.job_id.split("_")[0],
            "submitted_at": submitted_at,
            "stdout": str(job.paths.stdout),
            "stderr": str(job.paths.stderr),
            "snapshot": str(snapshot) if snapshot else None,
        },
    )


def view(record: dict[str, Any], state: str | None = None, gone: bool = False) -> JobView:
    """The view of the job in a job.json `record`, given the scheduler's word for it (SLURM's: PENDING,
    RUNNING, TIMEOUT, ...; None: not known) and `gone`: the scheduler says it left the queue."""
    stderr = record.get("stderr")
    phase = scheduler.phase(state, gone)
    ending = scheduler.ending(state) if phase == states.JOB_ENDED else None
    return JobView(str(record["job_id"]), Path(stderr) if stderr else None, phase, ending)


def views(folders: Iterable[RunFolder]) -> dict[str, JobView]:
    """run_id → its job, for the cells that went to a cluster, asking SLURM once about all SLURM jobs.
    Jobs of the other clusters (local, debug) belonged to a process that may be gone: id and log only."""
    records = {folder.run_id: read(folder) for folder in folders}
    records = {run_id: record for run_id, record in records.items() if record.get("job_id")}
    slurm = [str(r["job_id"]) for r in records.values() if r.get("cluster") == "slurm"]
    jobs = scheduler.query(slurm)
    found = {}
    for run_id, record in records.items():
        job_id = str(record["job_id"])
        if record.get("cluster") == "slurm":
            found[run_id] = view(record, jobs.states.get(job_id), jobs.gone(job_id))
        else:
            found[run_id] = view(record)
    return found
