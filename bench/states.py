"""The one vocabulary of run states; every reader and writer of a run's state uses these names.

Recorded in a run folder's status.json by the process that runs (or submits) the cell:
- `queued`: submitted to a cluster, not started yet;
- `running`: a process runs it now (it holds the folder's lock);
- `requeued`: a cluster job stopped at its time limit or on preemption and was put back in the queue;
- `done`: finished, metrics.json written;
- `failed`: the run raised, or the scheduler killed it;
- `pruned`: stopped early by a tuning study (its checkpoint kept: a later `run` resumes it).
Derived when a folder is read:
- `pending`: nothing has run it yet (no status, or only a request);
- `interrupted`: recorded `running` (or `requeued`) but no process holds the lock and no job waits.

`busy` is not a state of a cell but an outcome of trying to run one: another process holds its lock.
"""

from __future__ import annotations

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
FINAL = (DONE, FAILED, PRUNED)  # a recorded state that no process will change on its own
SETTLED = (DONE, FAILED, PRUNED, INTERRUPTED)  # nothing is running or waiting to run
UNFINISHED = (PENDING, QUEUED, RUNNING, REQUEUED, FAILED, PRUNED, INTERRUPTED)  # `run` redoes these
