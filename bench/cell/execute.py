"""Execute one run in its folder: lock, status, the task and the method, train, metrics, cost, provenance.

The contract: the folder ends `done` with metrics.json, `failed` with the error and its
traceback, or `pruned` when an `on_eval` callback stopped it (a tuning study); a run already done
is skipped; a cell whose lock another process holds is left alone (`busy`); one whose status.json or
metrics.json cannot be read has its results cleared and runs anew; one whose folder is deleted before or
while it runs is `failed`, with nothing recorded. Nothing depends on the process that launched the run
staying alive.

A process that runs several cells of one task (a sweep worker) loads the task's data once: the
last loaded (task, data) is kept, keyed by the task's name and full parameters.

A done run's status.json also records what it was evaluated on (`data`: the task's TaskData.about, each
evaluation set's source, split, size and overlap with the train pool), the unit of every metric
(`metric_units`: every metric is a fraction in [0, 1]; `table`, `plot` and the summary show percent) and,
for a method that fits, the features it was given (`fit_features`: {"a": name, "b": name}).

A cell may run on several ranks (`run --nproc N`, a SLURM job of several tasks): rank 0 does all of the
above and the others only train beside it (`_follow`), reading the run folder but never writing it.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from bench import registry
from bench.cell import states
from bench.cell.faults import fault_line, is_fault
from bench.cell.memory import PeakMemory
from bench.cell.provenance import provenance
from bench.cell.spec import RunSpec, task_key
from bench.cell.store import RunFolder
from bench.device import default_device
from bench.engine.distributed import Dist
from bench.engine.precision import resolve_device
from bench.engine.train import OnEval, train
from tasks.base import Task, TaskData

METRIC_UNIT = "fraction"

_loaded: dict[str, tuple[Task, TaskData]] = {}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def load_task(spec: RunSpec) -> tuple[Task, TaskData, float]:
    """The task of `spec` and its data, and the seconds it took (0 when this process had them already)."""
    key = task_key(spec)
    if key in _loaded:
        return (*_loaded[key], 0.0)
    tic = time.perf_counter()
    task = registry.tasks().get(spec.task).create(spec.task_params)
    data = task.load()
    _loaded.clear()
    _loaded[key] = (task, data)
    return task, data, time.perf_counter() - tic


def execute(
    folder: RunFolder,
    force: bool = False,
    device: torch.device | None = None,
    on_eval: OnEval | None = None,
) -> str:
    """Run the cell in `folder`; return its final state: done, failed, pruned, or busy (locked elsewhere).

    One of several ranks (bench/engine/distributed.py, from the environment) runs it with the others: rank 0
    as above, then every rank learns its decision (run it, or its state) and trains; only rank 0 writes."""
    dist = Dist.from_env(device or default_device())
    if not dist.is_main:
        return _follow(folder, dist)
    if not folder.path.is_dir():
        return dist.broadcast(states.FAILED)  # its folder was deleted before it started: nowhere to run it
    if not folder.lock.acquire():
        return dist.broadcast(states.BUSY)
    try:
        settled = dist.broadcast(_settled(folder, force))
        return settled or _run(folder, dist.device, on_eval)
    except OSError as err:
        if folder.path.is_dir() and not is_fault(err):
            raise
        if folder.path.is_dir():  # a full disk, say, before its status could be written
            print(f"cell {folder.path}: failed, not recorded: {fault_line(err)}", file=sys.stderr)
        return states.FAILED  # or its folder was deleted while it ran: nowhere to record it
    finally:
        folder.lock.release()


def _settled(folder: RunFolder, force: bool) -> str | None:
    """`done` when the cell is done and stays so; else None, its results cleared when forced or unreadable."""
    broken = [e for e in folder.unreadable() if e.path.name in ("status.json", "metrics.json")]
    if force or broken:  # an unreadable status or metrics: what the cell did is unknown, so redo it all
        folder.clear_results()
        for err in broken:
            folder.log(f"== {now()} {err}: its results are cleared and it runs anew")
        return None
    return states.DONE if folder.status().get("state") == states.DONE else None


class ReadOnlyFolder:
    """The run folder as a rank other than 0 sees it: it reads files (the checkpoint to resume from) and
    writes nothing (rank 0 logs and saves)."""

    def __init__(self, folder: RunFolder):
        self.folder = folder

    def log(self, line: str) -> None:
        pass

    def write_json(self, name: str, obj: Any) -> None:
        pass

    def file(self, name: str) -> Path:
        return self.folder.file(name)


def _follow(folder: RunFolder, dist: Dist) -> str:
    """A rank other than 0: rank 0's decision, and when it runs the cell, the same training beside it.
    An error here ends this rank's process, and its launcher (bench/cell/ranks.py, torchrun) ends the
    others."""
    settled = dist.broadcast(None)
    if settled:
        return settled
    spec = folder.spec()
    task, data, _ = load_task(spec)
    method = registry.methods().get(spec.method).create(spec.method_params)
    device = resolve_device(spec.task_params.get("device", "auto"), dist.device)
    result = train(spec, task, method, data, ReadOnlyFolder(folder), device)
    return states.PRUNED if result.stopped else states.DONE


def _run(folder: RunFolder, device: torch.device, on_eval: OnEval | None) -> str:
    spec = folder.spec()
    device = resolve_device(spec.task_params.get("device", "auto"), device)
    started = now()
    try:
        folder.write_status(
            state=states.RUNNING, pid=os.getpid(), host=provenance()["host"], started_at=started
        )
        folder.log(f"== {started} start {spec.label()} on {device} (pid {os.getpid()})")
        return _train_and_record(folder, spec, device, on_eval, started)
    except BaseException as err:
        if not folder.path.is_dir():  # its folder was deleted while it ran: nowhere to record it
            if isinstance(err, Exception):
                return states.FAILED
            raise
        _record_failed(folder, err, started)
        if isinstance(err, Exception):
            return states.FAILED
        raise


def _record_failed(folder: RunFolder, err: BaseException, started: str) -> None:
    """Record the cell failed with `err` (a fault of the file system in one line, with no traceback); where
    even that cannot be written (a full disk), say so in one line on stderr."""
    fault = is_fault(err)
    error = fault_line(err) if fault else f"{type(err).__name__}: {err}"
    trace = "" if fault else traceback.format_exc()
    try:
        folder.log(trace or f"== {now()} failed: {error}")
        folder.write_status(
            state=states.FAILED, error=error, traceback=trace, started_at=started, failed_at=now()
        )
    except OSError as again:
        if not is_fault(again):
            raise
        print(f"cell {folder.path}: failed ({error}); not recorded: {fault_line(again)}", file=sys.stderr)


def _train_and_record(
    folder: RunFolder, spec: RunSpec, device: torch.device, on_eval: OnEval | None, started: str
) -> str:
    tic = time.perf_counter()
    with PeakMemory(device) as memory:
        task, data, data_s = load_task(spec)
        method = registry.methods().get(spec.method).create(spec.method_params)
        result = train(spec, task, method, data, folder, device, on_eval)
    if result.stopped:
        folder.write_status(state=states.PRUNED, error=result.stopped, started_at=started, at=now())
        folder.log(f"== {now()} stopped at step {result.cost['steps']}: {result.stopped}")
        return states.PRUNED
    wall = time.perf_counter() - tic
    folder.write_json("metrics.json", result.metrics)
    cost = {
        **result.cost,
        "data_s": data_s,
        "wall_s": wall,
        "peak_mem_mb": memory.peak_mb,
        "device": device.type,
        "gpu_hours": wall / 3600 if device.type == "cuda" else 0.0,
        "threads": torch.get_num_threads(),
    }
    made_by = {**provenance(), "code_version": spec.code_version()}
    metrics = " ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
    folder.log(f"== {now()} done in {wall:.1f} s: {metrics}")
    folder.write_status(
        state=states.DONE,
        started_at=started,
        finished_at=now(),
        cost=cost,
        provenance=made_by,
        data=data.about,
        metric_units=dict.fromkeys(result.metrics, METRIC_UNIT),
        **({"fit_features": result.fit_features} if result.fit_features else {}),
    )  # the last write: a cell is done once its status says so
    return states.DONE
