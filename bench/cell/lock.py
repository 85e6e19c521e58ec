"""A lock per run folder: an exclusive `flock` on `<run>/.lock`.

The kernel drops the lock when its process dies, so a crashed or killed run never holds it for
ever; a live holder means the cell is running right now in some process.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class RunLock:
    """Non-blocking exclusive lock on one folder; `acquire()` says whether it was obtained."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """True when another process holds the lock now (probes without keeping it)."""
        if not self.path.exists():
            return False
        if self.acquire():
            self.release()
            return False
        return True

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
