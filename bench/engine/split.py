"""The split of a train pool of N items (method.md, "The setting").

P: a seeded choice of round(r·N) items that keep their pairing. The unpaired pools:
`same`, U_A = U_B = the remaining items (each side is shuffled independently when batched);
`disjoint`, the remaining items split in two halves by the split seed, U_A the first half's A
side, U_B the second half's B side, so no unpaired item has its counterpart anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Split:
    paired: Tensor
    unpaired_a: Tensor
    unpaired_b: Tensor

    def to_json(self) -> dict[str, list[int]]:
        return {k: getattr(self, k).tolist() for k in ("paired", "unpaired_a", "unpaired_b")}


def make_split(n: int, ratio: float, split_seed: int, protocol: str = "same") -> Split:
    """The split of items 0..n-1; the same (n, ratio, seed, protocol) always gives the same split."""
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
