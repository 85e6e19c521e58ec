"""The worker's side of the pool (bench/pool.py): `python -m bench worker`, one process that runs the cells
it is sent, one at a time, each in its folder (bench/execute.py), its output in the cell's worker.txt.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from bench.execute import execute
from bench.store import RunFolder


class WorkerStopped(BaseException):
    """Raised in a worker by SIGTERM or SIGINT (Ctrl-C reaches the whole process group): execute records
    the cell failed with it, and the worker exits."""


def serve(threads: int = 0, parent: int | None = None) -> int:
    """The worker loop of `python -m bench worker`: run the cell of each request line until end of input."""
    _die_with_parent(parent)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
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
            with _output_to(folder.file("worker.txt")):
                replies.write(json.dumps({"started": request["folder"]}) + "\n")
                try:
                    answer = {"state": execute(folder, force=bool(request.get("force")))}
                except Exception as err:
                    traceback.print_exc()
                    answer = {"state": "error", "error": f"{type(err).__name__}: {err}"}
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
