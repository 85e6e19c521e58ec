"""The split of a train pool of N items (docs/methods.md, "The setting").

P: a seeded choice of round(r·N) items that keep their pairing. The unpaired pools:
`same`, U_A = U_B = the remaining items (each side is shuffled independently when batched);
`disjoint`, the remaining items split in two halves by the split seed, U_A the first half's A
side, U_B the second half's B side, so no unpaired item has its counterpart anywhere.
With `val_fraction` > 0 a seeded share of the pool is held out first (for tuning, bench/tune):
P and the unpaired pools are drawn from the rest, and `val` holds the held-out items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass(frozen=True)
class Split:
    paired: Tensor
    unpaired_a: Tensor
    unpaired_b: Tensor
    val: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))

    def to_json(self) -> dict[str, list[int]]:
        return {k: getattr(self, k).tolist() for k in ("paired", "unpaired_a", "unpaired_b", "val")}


def make_split(
    n: int, ratio: float, split_seed: int, protocol: str = "same", val_fraction: float = 0.0
) -> Split:
    """The split of items 0..n-1; the same arguments always give the same split."""
    if val_fraction > 0:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(split_seed))
        n_val = round(val_fraction * n)
        keep = order[n_val:].sort().values
        inner = make_split(len(keep), ratio, split_seed, protocol)
        return Split(
            keep[inner.paired], keep[inner.unpaired_a], keep[inner.unpaired_b], order[:n_val].sort().values
        )
    gen = torch.Generator().manual_seed(split_seed)
    order = torch.randperm(n, generator=gen)
    n_paired = round(ratio * n)
    paired, rest = order[:n_paired].sort().values, order[n_paired:]
    if protocol == "same":
        rest = rest.sort().values
        return Split(paired, rest, rest)
    if protocol == "disjoint":
        half = len(rest) // 2
        return Split(paired, rest[:half].sort().values, rest[half:].sort().values)
    raise ValueError(f"unknown unpaired protocol {protocol!r}")
