"""The optimiser, the learning-rate schedule and gradient clipping of a run (task parameters
`optimizer`, `weight_decay`, `schedule`, `warmup_steps`, `grad_clip`).

- `adam` (the default): torch.optim.Adam, `weight_decay` as an L2 term on every parameter.
- `adamw`: torch.optim.AdamW with decoupled weight decay on the matrices only; biases, gains
  (LayerNorm, BatchNorm) and the CLIP scale are not decayed, as open_clip (and so S-CLIP) does.
- `schedule`: the factor f(t) on each group's learning rate at optimiser step t = 0, 1, …, T − 1
  (T = steps, W = warmup_steps): f(t) = (t + 1) / W for t < W; then `constant`: 1, `cosine`:
  ½ (1 + cos(π (t − W) / (T − W))) (open_clip's cosine_lr).
- `grad_clip` > 0: the gradients' global L2 norm is clipped to it before the step.

S-CLIP's recipe (its scripts/train_RS.sh and custom/params.py): `optimizer=adamw weight_decay=0.2
schedule=cosine warmup_steps=10 encoder_lr=5e-5 batch_size=64` and mixed precision (`amp`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def lr_factor(step: int, steps: int, warmup: int, schedule: str) -> float:
    """f(t) of the module docstring."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(1, steps - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(step - warmup, span) / span))


def build_optimizer(groups: list[dict], hp: dict[str, Any]) -> torch.optim.Optimizer:
    """Adam or AdamW over the model's parameter groups (bench/engine/model.py `param_groups`)."""
    if hp["optimizer"] == "adamw":
        return torch.optim.AdamW(decay_matrices_only(groups))
    return torch.optim.Adam(groups)


def decay_matrices_only(groups: list[dict]) -> list[dict]:
    """Each group split in two: its parameters of 2 or more dimensions keep the group's weight decay, the
    others (biases, gains, scalars) get none."""
    out = []
    for group in groups:
        for decayed in (True, False):
            params = [p for p in group["params"] if (p.ndim >= 2) == decayed]
            if params:
                out.append(
                    {**group, "params": params, "weight_decay": group["weight_decay"] if decayed else 0.0}
                )
    return out


def build_schedule(optimizer: torch.optim.Optimizer, hp: dict[str, Any], steps: int):
    """A LambdaLR stepped once per optimiser step (its state is saved with the checkpoint)."""
    warmup, kind = hp["warmup_steps"], hp["schedule"]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: lr_factor(t, steps, warmup, kind))


def clip_gradients(model: nn.Module, max_norm: float) -> None:
    """Scale the gradients down to a global L2 norm of at most `max_norm` (0: leave them)."""
    if max_norm > 0:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], max_norm)
