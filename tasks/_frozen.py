"""The frozen modes' features (rs and vl): every row of a pool through a frozen tower, L2-normalised
(CLIP's own space) and kept in half precision on the CPU, as their caches hold them (bench/cache.py).

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
) -> Tensor:
    """Unit features (half precision, CPU) of every row of `items` (a Tensor or a pool with `take`),
    `batch` rows at a time in order, each batch first through `view` where given (embed_pool)."""

    def unit(x: Tensor) -> Tensor:
        return nn.functional.normalize(tower(x).float(), dim=-1).half()

    return embed_pool(unit, items, device, batch, transform=view, desc=desc)
