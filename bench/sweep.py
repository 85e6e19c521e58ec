"""Run the cells of a sweep on this machine: in-process one after another, or N at once in
subprocesses that each get their share of the cores as torch's thread count.

One failed cell never stops the others; a cell another process is running is left to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

from bench.execute import execute
from bench.spec import ROOT, RunSpec
from bench.store import RunFolder, Store

EXIT_BUSY = 3  # `bench exec` exit code when another process holds the cell's lock


@dataclass(frozen=True)
class Cell:
    spec: RunSpec
    folder: RunFolder


def plan(store: Store, specs: list[RunSpec]) -> list[Cell]:
    """The cells of the specs, their folders created (with spec.json) when new."""
    return [Cell(spec, store.create(spec, spec.run_id())) for spec in specs]


def threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


def run_cells(cells: list[Cell], jobs: int | None = 1, force: bool = False) -> dict[str, str]:
    """Execute the cells that need it; return run_id → final state (done, failed, busy).

    `jobs` cells at once in subprocesses (None: one per core); 1 runs them in this process."""
    todo = [c for c in cells if force or c.folder.state() != "done"]
    if jobs is None:
        jobs = min(os.cpu_count() or 1, len(todo))
    states = {c.folder.run_id: "done" for c in cells if c not in todo}
    bar = tqdm(total=len(todo), desc="sweep", unit="run", disable=not todo, dynamic_ncols=True)
    if jobs <= 1:
        for cell in todo:
            bar.set_postfix_str(cell.spec.label())
            states[cell.folder.run_id] = execute(cell.folder, force=force)
            bar.update()
    else:
        states.update(_run_subprocesses(todo, jobs, force, bar))
    bar.close()
    return states


def _run_subprocesses(todo: list[Cell], jobs: int, force: bool, bar: tqdm) -> dict[str, str]:
    threads = threads_per_job(jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    queue, running, states = list(todo), {}, {}
    while queue or running:
        while queue and len(running) < jobs:
            cell = queue.pop(0)
            cmd = [sys.executable, "-m", "bench", "exec", str(cell.folder.path), "--threads", str(threads)]
            if force:
                cmd.append("--force")
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
            if code not in (0, EXIT_BUSY) and cell.folder.status().get("state") not in ("done", "failed"):
                cell.folder.write_status(
                    state="failed",
                    error=f"worker process exited with code {code}; see {cell.folder.file('worker.txt')}",
                )
            states[run_id] = "busy" if code == EXIT_BUSY else cell.folder.status().get("state", "failed")
            bar.update()
    return states
