"""What a sweep's cell costs beyond its own training and evaluation (`bench perf sweep`).

One synthetic grid (every method × pair ratios 0.05, 0.1 × as many seeds as `cells` needs, the first
`cells` of it) runs twice, each time in a fresh temporary results folder, `jobs` cells at once with
cores / jobs torch threads each: first with the reference, one `python -m bench exec FOLDER` process
per cell (how `run --jobs` worked before its worker pool), then with the worker pool of
`bench/cell/pool.py`. For each it reports the wall time, Σ train_s + Σ eval_s and Σ data_s from the run
folders' status.json cost, and the overhead of a cell beyond its own training and evaluation:
(jobs × wall − Σ(train_s + eval_s)) / cells, with jobs capped at cells. That overhead holds process
start, imports, loading the data, building the model, the writes of the run folder and the wait for
a free slot at the end of the sweep.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from bench import registry
from bench.cell import states as S
from bench.cell.cells import EXIT_BUSY, Cell, threads_per_job
from bench.cell.grid import Grid, expand
from bench.cell.pool import WorkerPool, workers_dir
from bench.cell.spec import ROOT, RunSpec
from bench.cell.store import Store
from bench.cell.sweep import plan
from bench.errors import BenchError

RATIOS = (0.05, 0.1)
RUNNERS = ("per-cell processes", "worker pool")


def synthetic_specs(cells: int, steps: int) -> list[RunSpec]:
    """The first `cells` cells of every method that applies to `synthetic` × RATIOS × seeds 0, 1, … with
    `steps`."""
    methods = registry.methods().names()
    seeds = list(range(math.ceil(cells / (len(methods) * len(RATIOS)))))
    grid = Grid(
        methods, ["synthetic"], list(RATIOS), seeds, task_params={"steps": str(steps)}, skip_inapplicable=True
    )
    return expand(grid)[:cells]


def measure(cells: int = 36, jobs: int = 2, steps: int = 50) -> list[dict]:
    """One record per runner: {runner, cells, jobs, threads, steps, wall_s, train_eval_s, data_s,
    overhead_s, load_before, load_after}."""
    for flag, value in (("--cells", cells), ("--jobs", jobs), ("--steps", steps)):
        if value < 1:
            raise BenchError(f"{flag} {value}: give a positive number")
    specs = synthetic_specs(cells, steps)
    registry.tasks().get("synthetic").create(specs[0].task_params).prepare()
    threads = threads_per_job(jobs)
    runners: dict[str, Callable[[list[Cell], Callable[[], None]], dict[str, str]]] = {
        "per-cell processes": lambda todo, advance: run_per_cell_processes(todo, jobs, threads, advance),
        "worker pool": lambda todo, advance: WorkerPool(min(jobs, cells), threads, workers_dir(todo)).run(
            todo, False, advance
        ),
    }
    records = []
    for name in RUNNERS:
        with tempfile.TemporaryDirectory(prefix="bench-perf-sweep-") as tmp:
            store = Store(Path(tmp))
            store.ensure_writable()
            todo = plan(store, specs)
            load_before = os.getloadavg()[0]
            with tqdm(total=len(todo), desc=name, unit="run", dynamic_ncols=True) as bar:
                tic = time.perf_counter()
                states = runners[name](todo, bar.update)
                wall = time.perf_counter() - tic
            unfinished = [c for c in todo if states.get(c.folder.run_id) != S.DONE]
            if unfinished:
                first = unfinished[0].folder
                logs = f"{first.file('log.txt')}, {first.file('worker.txt')}"
                raise BenchError(
                    f"{name}: {len(unfinished)} of {cells} cells did not finish; the first: "
                    f"{first.status().get('error')} (logs: {logs})"
                )
            costs = [c.folder.status()["cost"] for c in todo]
            train_eval = sum(c["train_s"] + c["eval_s"] for c in costs)
            records.append(
                {
                    "runner": name,
                    "cells": cells,
                    "jobs": jobs,
                    "threads": threads,
                    "steps": steps,
                    "wall_s": wall,
                    "train_eval_s": train_eval,
                    "data_s": sum(c.get("data_s", 0.0) for c in costs),
                    "overhead_s": (min(jobs, cells) * wall - train_eval) / cells,
                    "load_before": load_before,
                    "load_after": os.getloadavg()[0],
                }
            )
    return records


def format_table(records: list[dict]) -> str:
    """A line of setting, a row per runner, and the ratios of the reference to the pool."""
    first = records[0]
    lines = [
        f"{first['cells']} synthetic cells of {first['steps']} steps, {first['jobs']} at a time, "
        f"{first['threads']} torch thread(s) each"
    ]
    header = ("runner", "wall s", "train+eval s", "data s", "overhead s/cell", "load avg (1 min)")
    rows = [header] + [
        (
            r["runner"],
            f"{r['wall_s']:.1f}",
            f"{r['train_eval_s']:.1f}",
            f"{r['data_s']:.1f}",
            f"{r['overhead_s']:.2f}",
            f"{r['load_before']:.2f} → {r['load_after']:.2f}",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    by = {r["runner"]: r for r in records}
    ref, pool = by.get(RUNNERS[0]), by.get(RUNNERS[1])
    if ref and pool and pool["overhead_s"] > 0 and pool["wall_s"] > 0:
        lines.append(
            f"per-cell processes / worker pool: overhead {ref['overhead_s'] / pool['overhead_s']:.1f}×, "
            f"wall {ref['wall_s'] / pool['wall_s']:.2f}×"
        )
    return "\n".join(lines)


def run_per_cell_processes(
    todo: list[Cell], jobs: int, threads: int, advance: Callable[[], None] = lambda: None
) -> dict[str, str]:
    """The reference: each cell in its own `python -m bench exec` process, `jobs` at a time, its output
    in its folder's worker.txt; return run_id → final state."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    queue, running, states = list(todo), {}, {}
    while queue or running:
        while queue and len(running) < jobs:
            cell = queue.pop(0)
            cmd = [sys.executable, "-m", "bench", "exec", str(cell.folder.path.resolve())]
            cmd += ["--threads", str(threads)]
            with open(cell.folder.file("worker.txt"), "ab") as out:
                running[cell.folder.run_id] = (
                    cell,
                    subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT),
                )
        time.sleep(0.05)
        for run_id, (cell, proc) in list(running.items()):
            code = proc.poll()
            if code is None:
                continue
            del running[run_id]
            if code not in (0, EXIT_BUSY) and cell.folder.status().get("state") not in (S.DONE, S.FAILED):
                cell.folder.write_status(
                    state=S.FAILED,
                    error=f"exec process exited with code {code}; see {cell.folder.file('worker.txt')}",
                )
            states[run_id] = S.BUSY if code == EXIT_BUSY else cell.folder.status().get("state", S.FAILED)
            advance()
    return states
