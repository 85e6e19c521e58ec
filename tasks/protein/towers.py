"""Encoder inputs and towers of the protein task, and the views of the self-supervised term.

A protein's input is a (1 + K, F) block of standardised frozen features: row 0 the whole sequence,
rows 1..K its cached random crops. The protein tower (tasks/_shared.py `MLPTower`) reads row 0 (a 2-D
input is taken as whole sequences); the views are two different crops per protein
(tasks/_shared.py `two_rows`). A text's input is its standardised sentence embedding; its views are
dropout and Gaussian noise in feature space.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ProteinPool:
    """Proteins as (n, 1 + K, F) float16 features; `take(idx)` gives standardised float32 rows."""

    decodes = False  # take() indexes memory: the steps are made in-process (bench/engine/loader.py)

    def __init__(self, features: Tensor, mean: Tensor, std: Tensor):
        self.features, self.mean, self.std = features, mean, std

    def __len__(self) -> int:
        return self.features.shape[0]

    def take(self, idx: Tensor) -> Tensor:
        return (self.features[idx].float() - self.mean) / self.std

    def whole(self, idx: Tensor) -> Tensor:
        """Standardised whole-sequence features (n, F) of rows `idx`."""
        return (self.features[idx, 0].float() - self.mean) / self.std


class IdentityTower(nn.Module):
    """The frozen sentence embedding as it is; the harness's projection head is the trainable part."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return x


def text_views(x: Tensor, generator: torch.Generator, dropout: float, noise: float) -> tuple[Tensor, Tensor]:
    """Two views of standardised text features: inverted dropout with rate `dropout`, then N(0, noise²)."""

    def view() -> Tensor:
        keep = torch.rand(x.shape, generator=generator, device=generator.device).to(x.device) >= dropout
        eps = torch.randn(x.shape, generator=generator, device=generator.device).to(x.device)
        return x * keep / (1 - dropout) + noise * eps

    return view(), view()
