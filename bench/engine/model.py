"""Two towers with projection heads into a shared space of unit vectors (docs/methods.md, "The model")."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MAX_LOGIT_SCALE = 100.0


class ProjectionHead(nn.Module):
    """p = W1·h; x = LayerNorm(p + Dropout(W2·GELU(p))), the released code's head."""

    def __init__(self, in_dim: int, dim: int, dropout: float):
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)
        self.fc = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: Tensor) -> Tensor:
        p = self.proj(h)
        return self.norm(p + self.drop(self.fc(F.gelu(p))))


class TwoTower(nn.Module):
    """f_A → head_A → L2 norm, f_B → head_B → L2 norm, the CLIP scale s = exp(t), t ≤ log 100, and a
    learnable logit bias b (`logit_bias`, from its initial value `bias`) where the method asks for one
    (methods/base.py `Method.logit_bias`; None: no such parameter)."""

    def __init__(
        self,
        encoder_a: nn.Module,
        encoder_b: nn.Module,
        dim: int,
        dropout: float,
        temperature: float,
        learn_temperature: bool,
        bias: float | None = None,
    ):
        super().__init__()
        self.encoder_a, self.encoder_b = encoder_a, encoder_b
        self.head_a = ProjectionHead(encoder_a.out_dim, dim, dropout)
        self.head_b = ProjectionHead(encoder_b.out_dim, dim, dropout)
        self.log_scale = nn.Parameter(
            torch.tensor(math.log(1 / temperature)), requires_grad=learn_temperature
        )
        self.logit_bias = None if bias is None else nn.Parameter(torch.tensor(float(bias)))

    def embed_a(self, x: Any) -> Tensor:
        return F.normalize(self.head_a(self.encoder_a(x)), dim=-1)

    def embed_b(self, x: Any) -> Tensor:
        return F.normalize(self.head_b(self.encoder_b(x)), dim=-1)

    def logit_scale(self) -> Tensor:
        return self.log_scale.exp()

    def clamp_scale(self) -> None:
        """Keep t ≤ log 100 after each step (as CLIP does)."""
        with torch.no_grad():
            self.log_scale.clamp_(max=math.log(MAX_LOGIT_SCALE))

    def param_groups(self, lr: float, encoder_lr: float, weight_decay: float) -> list[dict]:
        """Pretrained encoders (an encoder with `pretrained = True`) train at encoder_lr, the rest at lr."""
        slow, fast = [], []
        for encoder in (self.encoder_a, self.encoder_b):
            params = [p for p in encoder.parameters() if p.requires_grad]
            (slow if getattr(encoder, "pretrained", False) else fast).extend(params)
        fast += [p for n, p in self.named_parameters() if not n.startswith("encoder_") and p.requires_grad]
        groups = [{"params": fast, "lr": lr}, {"params": slow, "lr": encoder_lr}]
        return [dict(g, weight_decay=weight_decay) for g in groups if g["params"]]
