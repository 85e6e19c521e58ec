"""Follow submitted cluster jobs until every cell has settled, with a progress bar.

slurm and local jobs are polled (run folders, and squeue/sacct or the local processes); debug jobs run
here, one after another. Ctrl-C asks whether to cancel the unfinished jobs; with no terminal to ask
on, it leaves them running and says so. Either way the KeyboardInterrupt goes on to the caller.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from bench.cell.cells import Cell
from bench.cell.status import CellStatus, JobView, cell_status
from bench.cluster import jobfile
from bench.cluster.launch import Batch

POLL_S = 1.0
_LOCAL_STATES = {"RUNNING": "RUNNING", "FINISHED": "COMPLETED", "INTERRUPTED": "CANCELLED"}


def follow(cluster: str, batches: list[Batch], cells: list[Cell], results: Path) -> dict[str, CellStatus]:
    """Wait until every cell has settled (done, failed, pruned or interrupted); run_id → its status."""
    bar = tqdm(total=len(cells), desc=f"{cluster} jobs", unit="run", dynamic_ncols=True)
    try:
        if cluster == "debug":
            for batch in batches:
                for cell, job in zip(batch.cells, batch.jobs, strict=True):
                    bar.set_postfix_str(cell.spec.label())
                    job.result()
                    bar.update()
            return current(cluster, batches, cells)
        while True:
            now = current(cluster, batches, cells)
            bar.update(sum(s.settled for s in now.values()) - bar.n)
            counts = Counter(s.state for s in now.values())
            postfix = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            if postfix != bar.postfix:
                bar.set_postfix_str(postfix)
            if bar.n == len(cells):
                return now
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        bar.close()
        if cluster != "debug":
            _offer_cancel(cluster, batches, lambda: current(cluster, batches, cells), results)
        raise
    finally:
        bar.close()


def current(cluster: str, batches: list[Batch], cells: list[Cell]) -> dict[str, CellStatus]:
    """Each cell's status now: SLURM jobs as SLURM sees them, local and debug jobs as submitit does."""
    folders = [cell.folder for cell in cells]
    jobs = jobfile.views(folders)
    if cluster != "slurm":
        jobs.update(_submitit_views(batches))
    return {folder.run_id: cell_status(folder, jobs.get(folder.run_id)) for folder in folders}


def _submitit_views(batches: list[Batch]) -> dict[str, JobView]:
    """run_id → the view of its local or debug job, from the job objects of this process (a job in no
    state that says it runs has ended)."""
    found = {}
    for batch in batches:
        for cell, job in zip(batch.cells, batch.jobs, strict=True):
            record = {"job_id": job.job_id, "stderr": str(job.paths.stderr)}
            found[cell.folder.run_id] = jobfile.view(record, _LOCAL_STATES.get(job.state), gone=True)
    return found


def _offer_cancel(cluster: str, batches: list[Batch], now: Callable[[], dict], results: Path) -> None:
    """Ask, then cancel the unfinished jobs or say how many run on (local jobs that shared this terminal
    may have stopped with the Ctrl-C: `now` is asked again after the answer)."""

    def unfinished() -> list:
        states = now()
        cells_jobs = (pair for batch in batches for pair in zip(batch.cells, batch.jobs, strict=True))
        return [job for cell, job in cells_jobs if not states[cell.folder.run_id].settled]

    jobs = unfinished()
    if not jobs:
        return
    if _ask(f"cancel the {len(jobs)} unfinished job(s)? [y/N] "):
        jobs = unfinished()
        if cluster == "slurm":
            subprocess.run(["scancel", *(job.job_id for job in jobs)], check=False)
        else:
            for job in jobs:
                job.cancel(check=False)
        print(f"cancelled {len(jobs)} job(s)", file=sys.stderr)
        return
    left = len(unfinished())
    print(
        f"{left} job(s) left running; follow them with: python -m bench status --results {results}",
        file=sys.stderr,
    )


def _ask(question: str) -> bool:
    """A yes from the terminal; no terminal (CI, a pipe) counts as no, and says so."""
    if not sys.stdin.isatty():
        print("\nstdin is not a terminal: not asking whether to cancel the jobs", file=sys.stderr)
        return False
    try:
        return input("\n" + question).strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        return False
