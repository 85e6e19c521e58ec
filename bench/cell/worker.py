"""The worker's side of the pool (bench/cell/pool.py): `python -m bench worker`, one process that runs the
cells it is sent, one at a time, each in its folder (bench/cell/execute.py), its output in the cell's
worker.txt.

SIGTERM or SIGINT (the sweep stopping it, Ctrl-C, or the parent-death signal when the sweep is killed)
raises WorkerStopped in the main thread: execute records the cell failed with it, and the worker exits.
A watchdog thread, woken by the signal itself (`signal.set_wakeup_fd`, so even while the main thread is
inside a long C call), makes sure of it: should the worker still live STOPPED_GRACE_S later, it writes
every thread's stack to the cell's worker.txt, records the cell failed and ends the process. Without it a
worker whose sweep was killed outright, and whose main thread did not end, would run on with nobody to
stop it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from bench.cell import states
from bench.cell.execute import execute, now
from bench.cell.store import RunFolder

STOPPED_GRACE_S = 5.0  # a stopped worker's time to record its cell and exit before its watchdog does it
# (shorter than the sweep's own grace, bench/cell/pool.py STOP_GRACE_S, after which the sweep kills it)

_running: RunFolder | None = None  # the cell this worker runs now, for the watchdog


class WorkerStopped(BaseException):
    """Raised in a worker by SIGTERM or SIGINT (Ctrl-C reaches the whole process group): execute records
    the cell failed with it, and the worker exits."""


def serve(threads: int = 0, parent: int | None = None) -> int:
    """The worker loop of `python -m bench worker`: run the cell of each request line until end of input."""
    global _running
    _die_with_parent(parent)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
    _start_watchdog()
    import torch

    if threads:
        torch.set_num_threads(threads)
    sys.stdout.flush()
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # subprocesses of a task never read the requests
    os.close(null)
    os.dup2(2, 1)  # stray output between cells goes to the worker's log
    faulthandler.enable(file=sys.stderr, all_threads=True)  # a crash's traceback: to fd 2, wherever it points
    try:
        for line in iter(requests.readline, ""):
            if not line.strip():
                continue
            request = json.loads(line)
            folder = RunFolder(Path(request["folder"]))
            _running = folder
            with _output_to(folder.file("worker.txt")):
                replies.write(json.dumps({"started": request["folder"]}) + "\n")
                try:
                    answer = {"state": execute(folder, force=bool(request.get("force")))}
                except Exception as err:
                    traceback.print_exc()
                    answer = {"state": "error", "error": f"{type(err).__name__}: {err}"}
            _running = None
            replies.write(json.dumps({"folder": request["folder"], **answer}) + "\n")
    except WorkerStopped:
        return 128 + signal.SIGTERM
    return 0


def _raise_stopped(signum, frame) -> None:
    for other in (signal.SIGTERM, signal.SIGINT):  # one stop: the next signal (Ctrl-C, then the sweep's
        signal.signal(other, signal.SIG_IGN)  # SIGTERM) must not cut short the recording of the cell
    raise WorkerStopped(
        f"the worker was stopped by {signal_name(signum)} (its sweep ended or was interrupted)"
    )


def _start_watchdog() -> None:
    """Point Python's signal wake-up at a pipe and start the thread that waits on it (`_watch`)."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read,), name="stop-watchdog", daemon=True).start()


def _watch(wakeups: int) -> None:
    """Wait for SIGTERM or SIGINT, then for STOPPED_GRACE_S; a worker still alive then is ended by
    `end_stopped_worker`."""
    while True:
        woken = os.read(wakeups, 64)
        stops = [n for n in woken if n in (signal.SIGTERM, signal.SIGINT)]
        if stops:
            break
    time.sleep(STOPPED_GRACE_S)
    end_stopped_worker(_running, signal_name(stops[0]), STOPPED_GRACE_S)


def end_stopped_worker(folder: RunFolder | None, signame: str, grace: float, exit=os._exit) -> None:
    """The watchdog's end of a stopped worker that did not end on its own: every thread's stack to fd 2
    (the running cell's worker.txt), the cell recorded failed where its status still says this process
    runs it, then `exit(128 + SIGTERM)`."""
    try:
        if folder is not None:
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            status = folder.status()
            if status.get("state") == states.RUNNING and status.get("pid") == os.getpid():
                error = (
                    f"WorkerStopped: the worker was stopped by {signame} and did not end within {grace:g} s;"
                    " its watchdog recorded the cell failed (the stacks are in worker.txt)"
                )
                folder.write_status(**{**status, "state": states.FAILED, "error": error, "failed_at": now()})
                folder.log(f"== {now()} failed: {error}")
    except Exception as err:  # nothing can be recorded: the worker ends all the same
        print(f"the stopped worker's watchdog could not record its cell: {err}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        exit(128 + signal.SIGTERM)


def _die_with_parent(parent: int | None) -> None:
    """Ask Linux to send SIGTERM to this worker when the sweep that started it dies, however it dies."""
    if parent is None:
        return
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent and not _alive(parent):  # it died before the request took effect
        raise SystemExit(128 + signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Point file descriptors 1 and 2 (and so sys.stdout, sys.stderr and every library) at `path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
