"""What SLURM says about jobs: `squeue` for the ones still queued or running, `sacct` for the ended ones.

squeue answers from the controller at once; sacct lags a little (the controller reports to slurmdbd
asynchronously) but remembers jobs after they end, with the reason they ended (TIMEOUT, OUT_OF_MEMORY,
CANCELLED, NODE_FAIL, ...). Either may be missing or down: then less is known, never an error.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

from bench.cell import states

ACTIVE = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "SUSPENDED",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SIGNALING",
    "STAGE_OUT",
}
STARTED = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"}
ENDINGS = {
    "TIMEOUT": "killed at its time limit",
    "OUT_OF_MEMORY": "killed for using more memory than it asked for",
    "CANCELLED": "cancelled",
    "NODE_FAIL": "its node failed",
    "PREEMPTED": "preempted and not requeued",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "not started before its deadline",
    "FAILED": "the job itself failed (see its log)",
    "COMPLETED": "the job ended without finishing the run",
}


@dataclass(frozen=True)
class Jobs:
    """SLURM job id → state; `covers`: the asked ids of which one missing from `states` has left the
    scheduler (squeue answered), as opposed to merely being unknown."""

    states: dict[str, str] = field(default_factory=dict)
    covers: frozenset[str] = frozenset()

    def gone(self, job_id: str) -> bool:
        return job_id not in self.states and job_id in self.covers


def phase(state: str | None, gone: bool = False) -> str | None:
    """The scheduler's word for a job as bench/cell/states.py says it: waiting, started or ended; None when
    nothing is known (no state, and not known to have left the queue)."""
    if state in STARTED:
        return states.JOB_STARTED
    if state in ACTIVE:
        return states.JOB_WAITING
    if state is not None or gone:
        return states.JOB_ENDED
    return None


def ending(state: str | None) -> str:
    """Why a job that is no longer active ended, in words, with the scheduler's name for it."""
    if state is None:
        return "it left the queue without finishing the run, and SLURM keeps no record of how it ended"
    return f"{ENDINGS.get(state, 'ended')} ({state})"


def query(job_ids: Iterable[str], timeout_s: float = 10.0) -> Jobs:
    """The states of these SLURM job ids ('123' or array tasks '123_4'), as far as SLURM answers."""
    asked = frozenset(job_ids)
    if not asked:
        return Jobs()
    arrays = sorted({job.split("_")[0] for job in asked})
    queued = _table(["squeue", "--me", "-h", "-r", "-o", "%i|%T"], timeout_s)
    ended = _table(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(arrays)], timeout_s) or {}
    known = {}
    for job in asked:
        # an array task that never started may only have its array's record ("12", or "12_[3-5]")
        state = (queued or {}).get(job) or ended.get(job) or ended.get(job.split("_")[0])
        if state:
            known[job] = state
    return Jobs(known, asked if queued is not None else frozenset())


def _table(command: list[str], timeout_s: float) -> dict[str, str] | None:
    """'id|STATE' lines → {id: STATE}, array ranges expanded ('12_[0-2%2]' → 12_0, 12_1, 12_2) and the first
    word of the state kept ('CANCELLED by 0' → CANCELLED); None when the command fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    rows = (line.split("|", 1) for line in done.stdout.splitlines() if "|" in line)
    return {task: state.split()[0] for job, state in rows if state.strip() for task in _tasks(job)}


def _tasks(job: str) -> list[str]:
    match = re.fullmatch(r"(\d+)_\[([\d,-]+)(?:%\d+)?\]", job)
    if not match:
        return [job]
    array, ranges = match.groups()
    tasks = []
    for part in ranges.split(","):
        low, _, high = part.partition("-")
        tasks += [f"{array}_{i}" for i in range(int(low), int(high or low) + 1)]
    return tasks
