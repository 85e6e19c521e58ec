"""Encoded images read on demand, so that a pool larger than memory works.

`LazyImages(read, keys)` is a sequence of bytes whose item i is `read(keys[i])`, read when asked for.
Its readers: `Folder` (a file of a folder by relative path), `Zip` (a member of a zip, from one handle
per process: a forked DataLoader worker opens its own) and `DatasetColumn` (a row of a `datasets.Dataset`,
memory-mapped from its cache files). Each holds paths and handles only, and pickles as such. `concat`
chains sequences and `take` picks items of one; both accept any sequence of bytes (a plain list, as
synthetic data stays in memory) and keep a lazy one lazy.
"""

from __future__ import annotations

import bisect
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from numbers import Integral
from pathlib import Path
from typing import Any


class LazyImages(Sequence[bytes]):
    """Item i is `read(keys[i])`; a slice or a list of indices is another LazyImages on the same reader."""

    def __init__(self, read: Callable[[Any], bytes], keys: Sequence):
        self.read, self.keys = read, keys

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        if isinstance(i, Integral):
            return self.read(self.keys[i])
        if isinstance(i, slice):
            return LazyImages(self.read, self.keys[i])
        return self.take(i)

    def take(self, idx: Iterable[int]) -> LazyImages:
        """The items `idx`, in that order, still unread."""
        return LazyImages(self.read, [self.keys[i] for i in idx])

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same bytes, compared one image at a time."""
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __repr__(self) -> str:
        return f"LazyImages({len(self)} images, {self.read!r})"


@dataclass(frozen=True)
class Folder:
    """A file of the folder `root`, by its relative path."""

    root: Path

    def __call__(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


@dataclass
class Zip:
    """A member of the zip at `path`, from one open handle per process: a handle is never shared with a
    forked worker (it reopens the zip) nor pickled."""

    path: Path
    handle: zipfile.ZipFile | None = field(default=None, init=False, repr=False, compare=False)
    pid: int = field(default=0, init=False, repr=False, compare=False)

    def __call__(self, member: str) -> bytes:
        if self.pid != os.getpid():
            self.handle, self.pid = zipfile.ZipFile(self.path), os.getpid()
        return self.handle.read(member)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "handle": None, "pid": 0}


class DatasetColumn:
    """The image of a row of a `datasets.Dataset` (its image column alone, undecoded; memory-mapped from
    the cache files, and pickled as their paths): its bytes, or the file its path names."""

    def __init__(self, dataset, column: str):
        import datasets

        self.dataset = dataset.select_columns([column]).cast_column(column, datasets.Image(decode=False))
        self.column = column

    def __call__(self, row: int) -> bytes:
        value = self.dataset[row][self.column]
        return value["bytes"] if value.get("bytes") else Path(value["path"]).read_bytes()

    def __repr__(self) -> str:
        return f"DatasetColumn({self.column!r} of {len(self.dataset)} rows)"


def files(root: Path, names: list[str]) -> LazyImages:
    """The files `names` (relative paths) of the folder `root`."""
    return LazyImages(Folder(root), names)


def members(path: Path, names: list[str]) -> LazyImages:
    """The members `names` of the zip at `path`."""
    return LazyImages(Zip(path), names)


def rows(dataset, column: str) -> LazyImages:
    """The images of column `column` of every row of `dataset`."""
    return LazyImages(DatasetColumn(dataset, column), range(len(dataset)))


@dataclass(frozen=True, eq=False)
class Chain:
    """Item i of several sequences one after the other; `ends` are their cumulative lengths."""

    parts: tuple[Sequence[bytes], ...]
    ends: tuple[int, ...]

    def __call__(self, i: int) -> bytes:
        p = bisect.bisect_right(self.ends, i)
        return self.parts[p][i - (self.ends[p - 1] if p else 0)]


def concat(seqs: Iterable[Sequence[bytes]]) -> Sequence[bytes]:
    """The items of `seqs` one after the other, unread (a single sequence as it is)."""
    parts = tuple(seqs)
    if len(parts) == 1:
        return parts[0]
    ends = tuple(accumulate(len(s) for s in parts))
    return LazyImages(Chain(parts, ends), range(ends[-1] if ends else 0))


def take(images: Sequence[bytes], idx: Iterable[int]) -> Sequence[bytes]:
    """The items `idx` of `images`: a LazyImages stays unread, another sequence is picked into a list."""
    return images.take(idx) if isinstance(images, LazyImages) else [images[i] for i in idx]
