"""How many processes this machine takes at once, checked before a sweep, a study or tuning starts any.

The limit is min(cores, available memory / the memory a worker takes): the cores this process may run on
(sched_getaffinity), the kernel's MemAvailable, and per worker the largest peak resident memory a done
cell of the same tasks recorded in the results folder (status.json cost.peak_mem_mb), at least
WORKER_FLOOR_MB, what a worker holds once it has imported torch and the harness (523 MB measured on
CPython 3.12, torch 2.x, `import bench.cell.execute, tasks.synthetic`). Ranks on CUDA take one GPU each.
$BENCH_MAX_PROCS=N replaces the limit (for a machine whose memory or cores this reads wrong).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from bench.errors import BenchError

OVERRIDE = "BENCH_MAX_PROCS"
WORKER_FLOOR_MB = 600.0


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available_mb() -> float | None:
    """MemAvailable of /proc/meminfo in MB, or None where there is none."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def worker_mb(peaks: Iterable[float]) -> float:
    """The memory a worker takes: the largest of the recorded `peaks` (MB), at least WORKER_FLOOR_MB."""
    return max([WORKER_FLOOR_MB, *(p for p in peaks if isinstance(p, (int, float)))])


def process_limit(per_worker_mb: float = WORKER_FLOOR_MB) -> tuple[int, str]:
    """The processes this machine takes at once, and why (the numbers it comes from)."""
    given = os.environ.get(OVERRIDE)
    if given is not None:
        if not given.isdigit() or int(given) < 1:
            raise BenchError(f"${OVERRIDE}={given!r}: give a positive number of processes")
        return int(given), f"${OVERRIDE}={given}"
    n, why = cores(), f"{cores()} cores"
    memory = available_mb()
    if memory is not None:
        by_memory = max(1, int(memory // per_worker_mb))
        why += f", {memory / 1024:.1f} GB available at {per_worker_mb / 1024:.1f} GB a worker"
        n = min(n, by_memory)
    return n, why


def check_processes(count: int, flag: str, per_worker_mb: float = WORKER_FLOOR_MB) -> None:
    """Refuse `count` processes at once (given by `flag`, e.g. "--jobs 8") above the machine's limit."""
    limit, why = process_limit(per_worker_mb)
    if count > limit:
        raise BenchError(
            f"{flag}: this machine takes {limit} process(es) at once ({why}); give {flag.split()[0]} "
            f"{limit} or fewer, or set {OVERRIDE}={count} to override"
        )


def check_gpus(nproc: int, gpus: int) -> None:
    """Ranks on CUDA take one GPU each: refuse more ranks than there are GPUs."""
    if nproc > gpus:
        raise BenchError(
            f"--nproc {nproc}: each rank on CUDA takes one GPU and torch sees {gpus}; give --nproc {gpus} "
            "or fewer, or --task-param device=cpu for ranks on the CPU"
        )
