"""Execute one run in its folder: lock, status, train, metrics, cost and provenance.

The contract: the folder ends `done` with metrics.json, or `failed` with the error and its
traceback; a run already done is skipped; a cell whose lock another process holds is left
alone ("busy"). Nothing depends on the process that launched the run staying alive.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import traceback
from collections.abc import Callable

import torch

from bench.engine.train import train
from bench.memory import PeakMemory
from bench.provenance import provenance
from bench.store import RunFolder


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def execute(
    folder: RunFolder,
    force: bool = False,
    device: torch.device | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> str:
    """Run the cell in `folder`; return its final state: done, failed, or busy (locked elsewhere)."""
    device = device or default_device()
    if not folder.lock.acquire():
        return "busy"
    try:
        if force:
            folder.clear_results()
        elif folder.status().get("state") == "done":
            return "done"
        spec = folder.spec()
        started = now()
        folder.write_status(state="running", pid=os.getpid(), host=provenance()["host"], started_at=started)
        folder.log(f"== {started} start {spec.label()} on {device} (pid {os.getpid()})")
        tic = time.perf_counter()
        try:
            with PeakMemory(device) as memory:
                result = train(spec, folder, device, on_step)
        except BaseException as err:
            folder.log(traceback.format_exc())
            folder.write_status(
                state="failed",
                error=f"{type(err).__name__}: {err}",
                traceback=traceback.format_exc(),
                started_at=started,
                failed_at=now(),
            )
            if isinstance(err, Exception):
                return "failed"
            raise
        wall = time.perf_counter() - tic
        folder.write_json("metrics.json", result.metrics)
        cost = {
            **result.cost,
            "wall_s": wall,
            "peak_mem_mb": memory.peak_mb,
            "device": device.type,
            "gpu_hours": wall / 3600 if device.type == "cuda" else 0.0,
            "threads": torch.get_num_threads(),
        }
        folder.write_status(
            state="done", started_at=started, finished_at=now(), cost=cost, provenance=provenance()
        )
        folder.log(
            f"== {now()} done in {wall:.1f} s: " + " ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
        )
        return "done"
    finally:
        folder.lock.release()
