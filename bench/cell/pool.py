"""The sweep's side of the worker pool (`run --jobs N`, N ≥ 2).

Each worker is `python -m bench worker --threads T --parent PID` (bench/cell/worker.py), started
once: it pays process start, imports and (through execute's memo of the last loaded task) loading
a task's data once, not once per cell. The protocol is JSON lines:

- sweep → worker, on its stdin: `{"folder": ABSOLUTE_PATH, "force": BOOL}`, one cell at a time;
- worker → sweep, on a private duplicate of its original stdout: `{"started": PATH}` once the cell's
  output goes to the cell's `worker.txt`, then `{"folder": PATH, "state": STATE}` (done, failed,
  pruned or busy, from `execute`), or `{"folder": PATH, "state": "error", "error": MESSAGE}` when
  `execute` itself raised (a corrupt spec.json, say). End of its stdin ends the worker.

Each cell is isolated as before: its own folder and lock, and its exception recorded by `execute`
(the worker goes on). While a cell runs, the worker's file descriptors 1 and 2 point at the cell's
`worker.txt`; before its first cell and between cells they point at the worker's own log,
`<results>/workers/<sweep pid>-<n>.txt` (removed when empty, unless a cell's error names it). A
worker that dies (killed, segfault) has its cell recorded failed with the signal or exit code and the
file that holds its last output, and a fresh worker takes the next cell. Cells of one task (name and
full parameters) go to the worker that ran that task last, so each worker loads each task's data once
while it can.

The sweep stops its workers when it ends for any reason: at its end by closing their stdin, on an
exception, Ctrl-C or SIGTERM by SIGTERM (the worker records its cell failed with WorkerStopped and
exits; Ctrl-C in a terminal reaches the workers too, with the same effect), then SIGKILL after a
grace period; a cell whose worker ended without recording it is recorded failed by the sweep. A
sweep killed outright (SIGKILL) takes its workers with it through Linux's parent-death signal, and
a worker whose stdin closes exits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.cell import states as S
from bench.cell.cells import Cell
from bench.cell.spec import ROOT, task_key
from bench.cell.store import or_empty
from bench.cell.worker import signal_name

WORKERS_DIR = "workers"  # under the results root: each worker's own log
STOP_GRACE_S = 10.0  # how long a stopped worker gets to record its cell before SIGKILL


def workers_dir(cells: list[Cell]) -> Path:
    """`<results>/workers/`: run folders live in `<results>/runs/<run_id>/`."""
    return cells[0].folder.path.resolve().parent.parent / WORKERS_DIR


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class _Worker:
    """One worker process, the cell it runs now (None: idle) and the task it ran last."""

    proc: subprocess.Popen
    log: Path
    cell: Cell | None = None
    key: str | None = None
    started: bool = False  # the current cell's output goes to its worker.txt
    log_cited: bool = False  # a cell's error names the log: keep it even when empty
    status_before: dict = field(default_factory=dict)  # the cell's status.json when it was sent
    buffer: bytes = b""

    def send(self, cell: Cell, key: str, force: bool) -> bool:
        """Give the worker a cell; False when it is gone (its end is noticed by the caller)."""
        self.cell, self.key, self.started = cell, key, False
        self.status_before = or_empty(cell.folder.status)  # unreadable: execute clears it and runs anew
        request = {"folder": str(cell.folder.path.resolve()), "force": force}
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:  # BrokenPipeError: it died
            return False
        return True

    def read(self) -> list[dict] | None:
        """The complete reply lines that can be read now ([] when none); None at end of file."""
        try:
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return []
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        replies = []
        for line in lines:
            with contextlib.suppress(ValueError):
                replies.append(json.loads(line))
        return replies


class WorkerPool:
    """`jobs` long-lived workers with `threads` torch threads each, taking cells one at a time."""

    def __init__(self, jobs: int, threads: int, log_dir: Path):
        self.jobs, self.threads, self.log_dir = jobs, threads, Path(log_dir)
        self.spawned = 0
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()

    def run(self, todo: list[Cell], force: bool, advance: Callable[[], None]) -> dict[str, str]:
        """Run every cell of `todo`; return run_id → final state. Stops its workers whatever happens."""
        keys = {c.folder.run_id: task_key(c.spec) for c in todo}
        queue, states = list(todo), {}
        clean = False
        with _sigterm_raises():
            try:
                while queue or any(w.cell is not None for w in self.workers):
                    self._hand_out(queue, keys, force)
                    for worker in self._wait():
                        self._settle(worker, worker.read(), states, advance)
                    for worker in [w for w in self.workers if w.proc.poll() is not None]:
                        self._drain(worker, states, advance)
                        self._remove(worker)
                        if worker.cell is not None:
                            states[worker.cell.folder.run_id] = self._died(worker)
                            advance()
                clean = True
            finally:
                self._stop(graceful=clean)
        return states

    def _hand_out(self, queue: list[Cell], keys: dict[str, str], force: bool) -> None:
        """Give each idle worker a cell, preferring its last task; start workers up to `jobs`."""
        for worker in [w for w in self.workers if w.cell is None]:
            if not queue:
                self._retire(worker)
                continue
            self._give(worker, queue, keys, force)
        while queue and len(self.workers) < self.jobs:
            self._give(self._spawn(), queue, keys, force)

    def _give(self, worker: _Worker, queue: list[Cell], keys: dict[str, str], force: bool) -> None:
        busy = {w.key for w in self.workers if w.cell is not None}
        cell = pick_cell(queue, keys, worker.key, busy)
        worker.send(cell, keys[cell.folder.run_id], force)  # a dead worker is noticed by poll()

    def _spawn(self) -> _Worker:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.spawned += 1
        log = self.log_dir / f"{os.getpid()}-{self.spawned}.txt"
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        cmd = [sys.executable, "-m", "bench", "worker", "--threads", str(self.threads)]
        cmd += ["--parent", str(os.getpid())]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=out
            )
        os.set_blocking(proc.stdout.fileno(), False)
        worker = _Worker(proc, log)
        self.workers.append(worker)
        self.selector.register(proc.stdout, selectors.EVENT_READ, worker)
        return worker

    def _wait(self) -> list[_Worker]:
        """The workers with something to read (a reply, or their end), waiting at most a moment."""
        return [key.data for key, _ in self.selector.select(timeout=0.5)]

    def _settle(
        self, worker: _Worker, replies: list[dict] | None, states: dict[str, str], advance: Callable[[], None]
    ) -> None:
        """Take the worker's replies; a finished cell leaves it idle. None: its output ended."""
        if replies is None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(worker.proc.stdout)
            return
        for reply in replies:
            if worker.cell is None:
                continue
            if "started" in reply:
                worker.started = True
                continue
            cell, state = worker.cell, reply.get("state", "error")
            if state == "error":
                error = reply.get("error", f"unreadable reply {reply}")
                state = record_failure(cell, error, worker.status_before)
            states[cell.folder.run_id] = state
            worker.cell = None
            advance()

    def _drain(self, worker: _Worker, states: dict[str, str], advance: Callable[[], None]) -> None:
        """Take what an exited worker sent before its end (not waiting for more)."""
        while True:
            replies = worker.read()
            self._settle(worker, replies, states, advance)
            if not replies:
                return

    def _died(self, worker: _Worker) -> str:
        """Record the cell of a worker that ended without answering; return the cell's state."""
        output = worker.cell.folder.file("worker.txt") if worker.started else worker.log
        worker.log_cited = not worker.started
        error = (
            f"the worker process (pid {worker.proc.pid}) running this cell died ({_how_it_ended(worker)}); "
            f"its output: {output}"
        )
        return record_failure(worker.cell, error, worker.status_before)

    def _retire(self, worker: _Worker) -> None:
        """No cell left for an idle worker: close its stdin so it exits."""
        with contextlib.suppress(OSError):
            worker.proc.stdin.close()

    def _remove(self, worker: _Worker) -> None:
        self.workers.remove(worker)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(worker.proc.stdout)
        for pipe in (worker.proc.stdin, worker.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        if not worker.log_cited and worker.log.exists() and worker.log.stat().st_size == 0:
            worker.log.unlink()

    def _stop(self, graceful: bool) -> None:
        """End every worker: by end of input when all went well, else by SIGTERM; SIGKILL after the
        grace period."""
        for worker in self.workers:
            if graceful and worker.cell is None:
                self._retire(worker)
            else:
                with contextlib.suppress(OSError):
                    worker.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for worker in list(self.workers):
            try:
                worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()
            if worker.cell is not None:  # it may have ended before recording its cell (killed at the
                self._stopped_before_recording(worker)  # end of the grace, or stopped between two writes)
            self._remove(worker)
        self.selector.close()

    def _stopped_before_recording(self, worker: _Worker) -> None:
        """Record the cell of a worker stopped with the sweep as failed, unless the worker recorded it."""
        error = (
            f"the sweep was stopped and its worker (pid {worker.proc.pid}) ended ({_how_it_ended(worker)}) "
            "while running this cell"
        )
        record_failure(worker.cell, error, worker.status_before)


def _how_it_ended(worker: _Worker) -> str:
    code = worker.proc.returncode
    return f"killed by {signal_name(-code)}" if code < 0 else f"exit code {code}"


def pick_cell(queue: list[Cell], keys: dict[str, str], last: str | None, busy: set[str | None]) -> Cell:
    """The next cell for a worker: of the task it ran last, else of a task no other worker runs now,
    else the first."""
    for wanted in (lambda k: k == last, lambda k: k not in busy):
        for i, cell in enumerate(queue):
            if wanted(keys[cell.folder.run_id]):
                return queue.pop(i)
    return queue.pop(0)


def record_failure(cell: Cell, error: str, before: dict) -> str:
    """Record `error` as the cell's failure unless the worker settled it itself (done, pruned, or a
    failure it recorded after the cell was sent); under the cell's lock, so that a cell another process
    runs now is left alone (busy). Return the cell's state."""
    folder = cell.folder
    if not folder.path.is_dir():
        return S.FAILED  # its folder was deleted: nowhere to record it (the sweep's summary names the cell)
    if not folder.lock.acquire():
        return S.BUSY
    try:
        status = or_empty(folder.status)
        state = status.get("state")
        if state in (S.DONE, S.PRUNED) or (state == S.FAILED and status != before):
            return state
        folder.write_status(**{**status, "state": S.FAILED, "error": error, "failed_at": now()})
        folder.log(f"== {now()} failed: {error}")
        return S.FAILED
    finally:
        folder.lock.release()


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the pool runs, SIGTERM (e.g. `kill`) raises SystemExit in this process, so that the pool
    stops its workers on the way out; only in the main thread, and only where SIGTERM does its default."""
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the workers' stop short
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
