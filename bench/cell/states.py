"""The one vocabulary of run states; every reader and writer of a run's state uses these names.

Recorded in a run folder's status.json by the process that runs (or submits) the cell:
- `queued`: submitted to a cluster, not started yet;
- `running`: a process runs it now (it holds the folder's lock);
- `requeued`: a cluster job stopped at its time limit or on preemption and was put back in the queue;
- `done`: finished, metrics.json written;
- `failed`: the run raised, or the scheduler killed it;
- `pruned`: stopped early by a tuning study (its checkpoint kept: a later `run` resumes it).
Derived when a folder is read (`derive`, the one rule for every reader):
- `pending`: nothing runs it and nothing has started it, or its job waits in a cluster's queue;
- `interrupted`: recorded `running` or `requeued`, but no process holds the lock and no job waits.
A cell is never shown as `queued` or `requeued`: those say what was done to it, not what it is now.

`busy` is not a state of a cell but an outcome of trying to run one: another process holds its lock.
"""

from __future__ import annotations

from collections.abc import Callable

PENDING = "pending"
QUEUED = "queued"
RUNNING = "running"
REQUEUED = "requeued"
DONE = "done"
FAILED = "failed"
PRUNED = "pruned"
INTERRUPTED = "interrupted"

BUSY = "busy"

ALL = (PENDING, QUEUED, RUNNING, REQUEUED, DONE, FAILED, PRUNED, INTERRUPTED)
SETTLED = (DONE, FAILED, PRUNED, INTERRUPTED)  # derived states where nothing is running or waiting to run

# What a scheduler says of a cell's job (bench/cluster/ translates its scheduler's words into these).
JOB_WAITING = "waiting"  # in the queue (requeued ones too), not started
JOB_STARTED = "started"  # on a node
JOB_ENDED = "ended"  # left the queue: the run folder says whether it finished


def derive(recorded: str | None, held: Callable[[], bool], job: str | None = None) -> str:
    """A cell's state now, from its recorded state, `held()` (does a live process hold its lock? asked
    only when it matters) and `job` (what the scheduler says of its job; None: no job, or no answer)."""
    if recorded == DONE:
        return DONE
    if job == JOB_STARTED:
        return RUNNING
    if job == JOB_WAITING:
        return PENDING  # a failure recorded before it was a failure of an older job
    if recorded in (FAILED, PRUNED):
        return recorded
    if held():
        return RUNNING
    if job == JOB_ENDED:
        return FAILED  # the job is over and the run never recorded an end: the scheduler killed it
    return INTERRUPTED if recorded in (RUNNING, REQUEUED) else PENDING
