"""Run the cells of a sweep on this machine: in-process one after another, or N at once in long-lived
worker processes that each get their share of the cores as torch's thread count.

One failed cell never stops the others; a cell another process is running is left to it.

With `--jobs N` (N ≥ 2) the cells go to a pool of N long-lived worker processes (bench/cell/pool.py, the
sweep's side; bench/cell/worker.py, the worker's), which pay process start, imports and loading a task's
data once, not once per cell. With `--nproc N` (N ≥ 2) each cell trains on N ranks (bench/cell/ranks.py), one
cell at a time: the ranks share the cores, so cells do not run side by side.
"""

from __future__ import annotations

from tqdm import tqdm

from bench.cell import states as S
from bench.cell.cells import Cell, threads_per_job
from bench.cell.execute import execute
from bench.cell.limits import process_limit
from bench.cell.spec import RunSpec
from bench.cell.store import Store


def plan(store: Store, specs: list[RunSpec]) -> list[Cell]:
    """The cells of the specs, their folders created (with spec.json) when new."""
    return [Cell(spec, store.create(spec, spec.run_id())) for spec in specs]


def run_cells(cells: list[Cell], jobs: int | None = 1, force: bool = False, nproc: int = 1) -> dict[str, str]:
    """Execute the cells that need it; return run_id → final state (done, failed, pruned, busy).

    `jobs` cells at once in worker processes (None: one per core, fewer where memory is short,
    bench/cell/limits.py); 1 runs them in this process; `nproc` > 1
    runs each cell on that many ranks, one cell after another (bench/cell/ranks.py)."""
    todo = [c for c in cells if force or c.folder.state() != S.DONE]
    if jobs is None:
        jobs = 1 if nproc > 1 else min(process_limit()[0], len(todo))
    states = {c.folder.run_id: S.DONE for c in cells if c not in todo}
    bar = tqdm(total=len(todo), desc="sweep", unit="run", disable=not todo, dynamic_ncols=True)
    try:
        if nproc > 1:
            from bench.cell.ranks import run_ranked

            for cell in todo:
                bar.set_postfix_str(cell.spec.label())
                states[cell.folder.run_id] = run_ranked(cell, nproc, force)
                bar.update()
        elif jobs <= 1:
            for cell in todo:
                bar.set_postfix_str(cell.spec.label())
                states[cell.folder.run_id] = execute(cell.folder, force=force)
                bar.update()
        elif todo:
            from bench.cell.pool import WorkerPool, workers_dir

            pool = WorkerPool(min(jobs, len(todo)), threads_per_job(jobs), workers_dir(todo))
            states.update(pool.run(todo, force, lambda: bar.update()))
    finally:
        bar.close()
    return states
