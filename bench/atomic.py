"""Atomic writes: write a temporary file in the same folder, flush it to disk, then rename over the target.

A reader sees the old content or the new, never a half-written file. A file damaged some other way (a full
disk, a copy cut short, a hand edit) reads as `CorruptFile`, which names it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import BenchError


class CorruptFile(BenchError):
    """A file that is there but cannot be read (truncated, not JSON, not of the expected shape); its message
    names the path, and the CLI prints it as one line."""

    def __init__(self, path: Path, why: str):
        self.path, self.why = Path(path), why
        super().__init__(f"cannot read {self.path}: {why}")

    def __reduce__(self):  # pickled with its two arguments (an exception pickles its message alone)
        return CorruptFile, (self.path, self.why)


def write_with(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary path beside `path`, then rename it to `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    write_with(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def read_json(path: Path, default: Any = None, kind: type | None = None) -> Any:
    """The parsed file, or `default` when it does not exist; CorruptFile when it is there but cannot be
    read, is not JSON, or (given `kind`, e.g. dict) is JSON of another type."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return default
    except (OSError, UnicodeDecodeError) as err:
        raise CorruptFile(path, getattr(err, "strerror", None) or str(err)) from None
    try:
        obj = json.loads(text)
    except ValueError as err:
        raise CorruptFile(path, f"not valid JSON ({err})") from None
    if kind is not None and not isinstance(obj, kind):
        names = {dict: "an object", list: "an array"}
        raise CorruptFile(path, f"expected {names.get(kind, kind.__name__)}, found {type(obj).__name__}")
    return obj
