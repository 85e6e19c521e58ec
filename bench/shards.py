"""Rows of a large array cached as shard files and read memory-mapped, so that neither building nor
reading it needs more memory than a shard.

`write(folder, name, parts)` saves each tensor of `parts` (rows of one trailing shape and dtype, made one
after another) as `name-00000.npy`, `name-00001.npy`, …, in a cache entry's temporary folder
(bench/cache.py `entry`: complete or invisible). `Rows(folder, name)` reads them back: memory-mapped
(numpy `mmap_mode="r"`), `take(idx)` copies the rows `idx` out as a float32 tensor, whatever shards they
lie in; it pickles as its folder and name (a worker maps the files itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


def write(folder: Path, name: str, parts: Iterable[Tensor]) -> int:
    """Save each part as the next shard file of `name` in `folder`; the number of rows written."""
    rows = 0
    for i, part in enumerate(parts):
        np.save(folder / f"{name}-{i:05d}.npy", part.contiguous().numpy())
        rows += len(part)
    return rows


class Rows:
    """The rows of the shards `name-*.npy` in `folder`, in shard order, memory-mapped."""

    def __init__(self, folder: Path, name: str):
        self.folder, self.name = Path(folder), name
        self._open()

    def _open(self) -> None:
        files = sorted(self.folder.glob(f"{self.name}-*.npy"))
        if not files:
            raise FileNotFoundError(f"no shards {self.name}-*.npy in {self.folder}")
        self.parts = [np.load(f, mmap_mode="r") for f in files]
        self.ends = np.cumsum([len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.ends[-1])

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.parts[0].shape[1:])

    def take(self, idx: Tensor) -> Tensor:
        """Rows `idx` (any order, repeats allowed) as float32, read from their shards."""
        idx = np.asarray(idx.cpu() if isinstance(idx, Tensor) else idx, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"rows {idx.min()}..{idx.max()} of {len(self)}")
        which = np.searchsorted(self.ends, idx, side="right")
        starts = np.concatenate([[0], self.ends[:-1]])
        out = np.empty((len(idx), *self.parts[0].shape[1:]), dtype=np.float32)
        for shard in np.unique(which):
            chosen = which == shard
            out[chosen] = self.parts[shard][idx[chosen] - starts[shard]]
        return torch.from_numpy(out)

    def __getstate__(self) -> dict:
        return {"folder": self.folder, "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.folder, self.name = state["folder"], state["name"]
        self._open()

    def __repr__(self) -> str:
        return f"Rows({self.name!r}: {self.shape} in {len(self.parts)} shard(s) under {self.folder})"
