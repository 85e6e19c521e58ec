"""Each cell's state: its run folder, together with what the scheduler says about its job.

The run folder tells done and failed-with-an-exception; the scheduler tells queued, running, and the jobs
it killed (a run killed by SLURM leaves status.json at "running" with no process holding the lock).
This module knows no scheduler: the cluster package (bench/cluster/jobfile.py) reads each cell's job
and asks its scheduler, and hands what it learnt here as a `JobView`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.cell import states
from bench.cell.store import RunFolder, or_empty


@dataclass(frozen=True)
class JobView:
    """A cell's cluster job: its id, its own log (stderr), and `phase`, what the scheduler says of it
    (states.JOB_WAITING, JOB_STARTED, JOB_ENDED; None when the scheduler does not say), with, once
    ended, `ending`: how, in words."""

    job_id: str
    log: Path | None = None
    phase: str | None = None
    ending: str | None = None


@dataclass(frozen=True)
class CellStatus:
    """pending | running | done | failed | pruned | interrupted; why it stopped, and the log to read."""

    state: str
    job_id: str | None = None
    reason: str | None = None
    log: Path | None = None

    @property
    def settled(self) -> bool:
        return self.state in states.SETTLED


def cell_status(folder: RunFolder, job: JobView | None) -> CellStatus:
    """The state of one cell; `job`: its cluster job as the cluster package sees it (None: it has none,
    or no scheduler to ask)."""
    recorded = folder.recorded_state()  # None when status.json cannot be read: pending, for `run` to redo
    status = folder.status() if recorded else {}
    job_id = job.job_id if job else None
    state = states.derive(recorded, folder.lock.held_elsewhere, job.phase if job else None)
    run_log = folder.file("log.txt")
    if state in (states.FAILED, states.PRUNED) and recorded == state:
        return CellStatus(state, job_id, status.get("error"), run_log)
    if state == states.FAILED:  # the scheduler ended the job before the run recorded an end
        ending = job.ending or "it ended without finishing the run"
        return CellStatus(state, job_id, f"job {job_id}: {ending}", job.log or run_log)
    if state == states.INTERRUPTED:
        return CellStatus(state, job_id, "no process runs it any more", run_log)
    return CellStatus(state, job_id)


def distinctions(folders: list[RunFolder]) -> dict[str, str]:
    """run id → what tells its cell from the others of the same (method, task, pair ratio, split seed,
    seed): the method and task parameters that differ among them, and the code version if it does
    ("steps=10", "code 1a2b3c4"); cells alone in their group are left out."""
    groups: dict[tuple, list[tuple[str, dict]]] = {}
    for f in folders:
        spec = f.spec()
        config = {**{f"p_method_{k}": v for k, v in spec.method_params.items()}}
        config |= {f"p_task_{k}": v for k, v in spec.task_params.items()}
        config["code_version"] = or_empty(f.about).get("code_version")
        key = (spec.method, spec.task, spec.pair_ratio, spec.split_seed, spec.seed)
        groups.setdefault(key, []).append((f.run_id, config))
    out = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        keys = sorted({k for _, c in members for k in c})
        differ = [k for k in keys if len({repr(c.get(k)) for _, c in members}) > 1]
        for run_id, config in members:
            words = [
                f"code {str(config.get(k))[:7]}"
                if k == "code_version"
                else f"{k.split('_', 2)[2]}={config.get(k)}"
                for k in differ
            ]
            out[run_id] = ", ".join(words)
    return out


def format_line(folder: RunFolder, status: CellStatus, distinct: str = "", label: str | None = None) -> str:
    """State, job id, run id and label (default: its spec.json's; with `distinct`, what tells it from cells
    of the same label); then, indented, the reason and the log to read, if any."""
    label = label or folder.spec().label()
    line = f"{status.state:<11} {status.job_id or '-':<12} {folder.run_id}  {label}"
    if distinct:
        line += f" · {distinct}"
    if status.reason:
        line += f"\n{'':<11} {status.reason} (log: {status.log})"
    return line
