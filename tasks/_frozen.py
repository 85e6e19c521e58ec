"""Frozen features: those of the frozen modes (rs and vl), every row of a pool through a frozen tower,
L2-normalised (CLIP's own space; or as they are, the inputs of CLIP's own projections with heads=clip) and
kept in half precision on the CPU, as their caches hold them (bench/cache.py); and the modules of each
task's declared frozen unimodal features, what a method that fits is given (tasks/base.py
`Task.frozen_features`): the inputs as they are, raw pixels, a pretrained tower kept frozen, or features
of another encoder looked up by the input they belong to (the MiniLM features of CLIP's captions).

The leading underscore keeps the task registry (bench/registry.py) from looking for a task here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
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
    unit: bool = True,
) -> Tensor:
    """Unit features (half precision, CPU) of every row of `items` (a Tensor or a pool with `take`),
    `batch` rows at a time in order, each batch first through `view` where given (embed_pool); with
    `unit` false the tower's outputs as they are."""

    def one(x: Tensor) -> Tensor:
        y = tower(x).float()
        return (nn.functional.normalize(y, dim=-1) if unit else y).half()

    return embed_pool(one, items, device, batch, transform=view, desc=desc)


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


class FrozenLookup(nn.Module):
    """Frozen features of texts known in advance, given the task's encoder inputs of those texts (another
    encoder's inputs: CLIP's tokens or CLIP's text features): `pairs` holds, per group of texts, their
    inputs (n, ·) and their features (n, F), row i of one belonging to row i of the other. An input is
    looked up by its content (a 16-byte BLAKE2b digest of its bytes), a 3-D one (n, m, ·) at row 0 (an
    item's first caption, as `FrozenInputs`); texts whose inputs are equal (the same string, or strings
    that CLIP's tokenizer cuts or cleans to the same tokens) get the features of the first of them. The
    features are kept in half precision on the CPU, as their cache holds them; the output is float32 on
    the input's device. An input that is not among `pairs` is a LookupError. No parameters."""

    def __init__(self, pairs: Iterable[tuple[Tensor, Tensor]], name: str):
        super().__init__()
        self.rows: dict[bytes, int] = {}
        kept = []
        for inputs, features in pairs:
            for digest, feature in zip(_digests(inputs), features, strict=True):
                if digest not in self.rows:
                    self.rows[digest] = len(kept)
                    kept.append(feature)
        self.table = torch.stack(kept).half()
        self.out_dim, self.feature_name = self.table.shape[1], name

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, 0] if x.dim() == 3 else x
        try:
            idx = [self.rows[d] for d in _digests(x)]
        except KeyError:
            raise LookupError(f"{self.feature_name}: an input row that is none of the task's texts") from None
        return self.table[idx].float().to(x.device)


def _digests(x: Tensor) -> list[bytes]:
    """The content digest of each row of x: its dtype and bytes."""
    rows = x.detach().cpu().contiguous()
    tag = str(rows.dtype).encode()
    return [hashlib.blake2b(tag + r.numpy().tobytes(), digest_size=16).digest() for r in rows]
