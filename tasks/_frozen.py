"""The frozen modes' features (rs and vl): every row of a pool through a frozen tower, L2-normalised
(CLIP's own space; or as they are, the inputs of CLIP's own projections with heads=clip) and kept in half
precision on the CPU, as their caches hold them (bench/cache.py).

The leading underscore keeps the task registry (bench/registry.py) from looking for a task here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from tasks._shared import embed_pool


def unit_features(
    tower: nn.Module,
    items: Any,
    device: torch.device,
    batch: int,
    desc: str,
    view: Callable[[Tensor], Tensor] | None = None,
    unit: bool = True,
) -> Tensor:
    """Unit features (half precision, CPU) of every row of `items` (a Tensor or a pool with `take`),
    `batch` rows at a time in order, each batch first through `view` where given (embed_pool); with
    `unit` false the tower's outputs as they are."""

    def one(x: Tensor) -> Tensor:
        y = tower(x).float()
        return (nn.functional.normalize(y, dim=-1) if unit else y).half()

    return embed_pool(one, items, device, batch, transform=view, desc=desc)
