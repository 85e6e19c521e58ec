"""Batches of a step: b_p paired items and b_u unpaired items of each modality, drawn independently.

Each pool is an endless stream of fresh random permutations (epochs) with its own generator,
so the three draws never correlate, and a stream's state can be saved and restored exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from bench.engine.split import Split


class IndexStream:
    """Endless epochs over `pool` (a LongTensor of item indices), `draw(k)` rows at a time."""

    def __init__(self, pool: Tensor, seed: int):
        self.pool = pool
        self.gen = torch.Generator().manual_seed(seed)
        self.order = pool[:0]
        self.pos = 0

    def draw(self, k: int) -> Tensor:
        out = []
        while k > 0:
            if self.pos >= len(self.order):
                self.order = self.pool[torch.randperm(len(self.pool), generator=self.gen)]
                self.pos = 0
            take = self.order[self.pos : self.pos + k]
            self.pos += len(take)
            k -= len(take)
            out.append(take)
        return torch.cat(out) if out else self.pool[:0]

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "order": self.order, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])
        self.order, self.pos = state["order"], state["pos"]


@dataclass(frozen=True)
class BatchShape:
    """Rows per step: b_p paired, b_u unpaired of each modality."""

    paired: int
    unpaired: int


def batch_shape(split: Split, batch_size: int, paired_fraction: float) -> BatchShape:
    """round(batch_size · paired_fraction) paired rows, the rest unpaired; when one kind of pool is
    empty (r = 0 or r = 1) the other fills the whole batch. Each is capped by its pool's size."""
    n_p, n_u = len(split.paired), min(len(split.unpaired_a), len(split.unpaired_b))
    if n_p == 0:
        return BatchShape(0, min(batch_size, n_u))
    if n_u == 0:
        return BatchShape(min(batch_size, n_p), 0)
    b_p = min(max(1, round(batch_size * paired_fraction)), n_p)
    return BatchShape(b_p, min(batch_size - b_p, n_u))


class BatchSampler:
    """Three independent streams: paired items, unpaired A items, unpaired B items."""

    def __init__(self, split: Split, shape: BatchShape, seed: int):
        self.shape = shape
        self.streams = {
            "paired": IndexStream(split.paired, seed * 3 + 0),
            "a": IndexStream(split.unpaired_a, seed * 3 + 1),
            "b": IndexStream(split.unpaired_b, seed * 3 + 2),
        }

    def next(self) -> tuple[Tensor, Tensor, Tensor]:
        """(paired indices, unpaired A indices, unpaired B indices) of the next step."""
        s = self.streams
        return (
            s["paired"].draw(self.shape.paired),
            s["a"].draw(self.shape.unpaired),
            s["b"].draw(self.shape.unpaired),
        )

    def state_dict(self) -> dict[str, Any]:
        return {k: v.state_dict() for k, v in self.streams.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in self.streams.items():
            v.load_state_dict(state[k])
