"""What the ways of running cells share (the sweep in this process, the pool of workers, the ranks of
`run --nproc N`, the cluster launcher): a cell, the exit code of a cell another process holds, and the
threads each of N processes gets. It sits below all of them, so that none imports its caller."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.cell.spec import RunSpec
from bench.cell.store import RunFolder

EXIT_BUSY = 3  # `bench exec` exit code when another process holds the cell's lock


@dataclass(frozen=True)
class Cell:
    """A cell to run: its spec and its run folder."""

    spec: RunSpec
    folder: RunFolder


def threads_per_job(jobs: int) -> int:
    """torch's thread count in each of `jobs` processes sharing this machine's cores (at least 1)."""
    return max(1, (os.cpu_count() or 1) // jobs)
