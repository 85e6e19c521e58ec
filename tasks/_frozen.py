"""Frozen features: those of the frozen modes (rs and vl), every row of a pool through a frozen tower,
L2-normalised (CLIP's own space) and kept in half precision on the CPU, as their caches hold them
(bench/cache.py); and the modules of each task's declared frozen unimodal features, what a method that
fits is given (tasks/base.py `Task.frozen_features`): the inputs as they are, raw pixels, or a pretrained
tower kept frozen.

The leading underscore keeps the task registry (bench/registry.py) from looking for a task here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from tasks._shared import embed_pool

PIXELS_SIDE = 32  # raw-pixel frozen features are pooled to at most 32 × 32 (3 072 features)


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


class FrozenInputs(nn.Module):
    """Frozen unimodal features that are the task's encoder inputs themselves (Task.frozen_features): a
    2-D input (n, F) as it is; a 3-D one (n, k, F) read at row 0 (the whole item before its cached views
    or crops, or an item's first caption). No parameters."""

    def __init__(self, dim: int, name: str):
        super().__init__()
        self.out_dim, self.feature_name = dim, name

    def forward(self, x: Tensor) -> Tensor:
        return (x[:, 0] if x.dim() == 3 else x).float()


class FrozenPixels(nn.Module):
    """Raw pixels as frozen features: (n, 3, S, S) uint8 (or float in [0, 1]) images, average-pooled to
    side s = min(S, `max_side`) when larger, flattened to (n, 3·s·s) in [0, 1]. No parameters: what a
    method that fits is given where no pretrained image encoder exists (random CNN features are no frozen
    encoder); the pooling keeps a covariance of the features small enough for CCA."""

    def __init__(self, side: int, max_side: int = PIXELS_SIDE):
        super().__init__()
        self.side = min(side, max_side)
        self.out_dim, self.feature_name = 3 * self.side**2, f"pixels {self.side}×{self.side}"

    def forward(self, x: Tensor) -> Tensor:
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        if x.shape[-1] != self.side:
            x = nn.functional.adaptive_avg_pool2d(x, self.side)
        return x.flatten(1)


class FrozenTower(nn.Module):
    """A pretrained tower as frozen features: its own copy, in eval mode and without gradient whatever
    mode the model around it is put in (`train` is ignored), parameters not trainable."""

    def __init__(self, tower: nn.Module, name: str):
        super().__init__()
        self.tower, self.out_dim, self.feature_name = tower, int(tower.out_dim), name
        self.tower.requires_grad_(False)
        self.tower.eval()

    def train(self, mode: bool = True) -> FrozenTower:
        return self

    def forward(self, x: Any) -> Tensor:
        with torch.no_grad():
            return self.tower(x).float()
