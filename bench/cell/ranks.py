"""`run --nproc N`: each cell trained by N ranks (processes) of this machine, one cell after another.

A cell's ranks are N `python -m bench exec FOLDER --threads T` processes (T = cores / N) with the
environment `torchrun --standalone --nproc_per_node N` gives its workers: RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT; gloo on the CPU, nccl on GPUs
(bench/engine/distributed.py). By hand, `python -m torch.distributed.run --standalone --nproc_per_node N
-m bench exec FOLDER` runs the same; the sweep starts the ranks itself to read each rank's exit code
(torchrun exits 1 for every failure, a busy cell included). Their output goes to the cell's worker.txt.

Rank 0's exit code is the cell's (bench exec: 0 done, EXIT_BUSY busy, 1 otherwise). A rank that ends with
an error ends the cell: the others get STOP_GRACE_S to end on their own, then SIGTERM, then SIGKILL, and a
cell that rank 0 did not settle itself is recorded failed with the rank and its exit code.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from bench.cell import states as S
from bench.cell.cells import EXIT_BUSY, Cell, threads_per_job
from bench.cell.pool import STOP_GRACE_S, record_failure
from bench.cell.spec import ROOT
from bench.cell.store import or_empty
from bench.cell.worker import signal_name


def free_port() -> int:
    """A TCP port of 127.0.0.1 free now, for rank 0's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranked(cell: Cell, nproc: int, force: bool) -> str:
    """Run one cell on `nproc` ranks; its final state (done, failed, pruned, busy)."""
    before = or_empty(cell.folder.status)
    output = cell.folder.file("worker.txt")
    procs = start_ranks(cell, nproc, force, output)
    try:
        codes = wait_ranks(procs)
    finally:
        stop_ranks(procs)
    if codes[0] == 0:
        return S.DONE
    if codes[0] == EXIT_BUSY:
        return S.BUSY
    state = or_empty(cell.folder.status).get("state")
    if state in (S.FAILED, S.PRUNED) and or_empty(cell.folder.status) != before:
        return state  # rank 0 recorded it
    rank = next(r for r, c in enumerate(codes) if c not in (0, None))
    how = f"killed by {signal_name(-codes[rank])}" if codes[rank] < 0 else f"exit code {codes[rank]}"
    return record_failure(cell, f"rank {rank} of {nproc} ended ({how}); its output: {output}", before)


def start_ranks(cell: Cell, nproc: int, force: bool, output) -> list[subprocess.Popen]:
    """The cell's `nproc` rank processes, their output appended to `output`."""
    threads = threads_per_job(nproc)
    common = {
        "WORLD_SIZE": str(nproc),
        "LOCAL_WORLD_SIZE": str(nproc),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "OMP_NUM_THREADS": str(threads),
    }
    cmd = [sys.executable, "-m", "bench", "exec", str(cell.folder.path.resolve()), "--threads", str(threads)]
    cmd += ["--force"] if force else []
    procs = []
    with open(output, "ab") as out:
        for rank in range(nproc):
            env = {**os.environ, **common, "RANK": str(rank), "LOCAL_RANK": str(rank)}
            procs.append(
                subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            )
    return procs


def wait_ranks(procs: list[subprocess.Popen]) -> list[int | None]:
    """Each rank's exit code once all have ended, or STOP_GRACE_S after one ended with an error (None: still
    running then)."""
    failed_at = None
    while True:
        codes = [p.poll() for p in procs]
        if all(c is not None for c in codes):
            return codes
        if failed_at is None and any(c not in (0, None) for c in codes):
            failed_at = time.monotonic()
        if failed_at is not None and time.monotonic() - failed_at > STOP_GRACE_S:
            return codes
        time.sleep(0.1)


def stop_ranks(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each rank still running, SIGKILL after STOP_GRACE_S."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
