"""The plain reference of `bench perf train`: a CLIP fine-tuning step written the obvious way, as
open_clip's training loop does it, on a copy of the harness's model and optimiser. Never used in training.

A step draws b_p paired items at random and takes their rows in this process (images decoded, nothing
augmented), runs encoder → head → L2 normalisation of each modality under `torch.autocast` (amp bf16 or
fp16), logits = s · A Bᵀ in float32, the symmetric cross-entropy with the diagonal as labels, backward
through a GradScaler (a no-op unless fp16), the optimiser's step and t = log s clamped at log 100.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tasks.base import take

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def same_optimizer(
    optimizer: torch.optim.Optimizer, model: nn.Module, twin: nn.Module
) -> torch.optim.Optimizer:
    """An optimiser of `optimizer`'s class with its parameter groups and their settings, over the
    parameters of `twin`, a deep copy of `model`."""
    mapped = dict(zip(model.parameters(), twin.parameters(), strict=True))
    groups = [{**g, "params": [mapped[p] for p in g["params"]]} for g in optimizer.param_groups]
    return type(optimizer)(groups)


class ReferenceStep:
    """Plain CLIP steps of `rows` pairs drawn from the train items `paired` of `data`, on a deep copy of
    `model` (a TwoTower: encoder_a/head_a, encoder_b/head_b, log_scale) and of `optimizer`."""

    name = "reference"

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        data: Any,
        paired: Tensor,
        rows: int,
        amp: str,
        device: torch.device,
    ):
        self.model = copy.deepcopy(model).train()
        self.optimizer = same_optimizer(optimizer, model, self.model)
        self.data, self.paired, self.rows, self.device = data, paired, rows, device
        self.dtype = AMP_DTYPES[amp]
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
        self.gen = torch.Generator().manual_seed(0)

    def __call__(self, clock: Any) -> None:
        """One step; `clock.mark(phase)` at the start of each phase (data, forward, loss, backward,
        optimizer), `clock.stop()` at the end."""
        m = self.model
        clock.mark("data")
        idx = self.paired[torch.randperm(len(self.paired), generator=self.gen)[: self.rows]]
        images = take(self.data.train_a, idx).to(self.device)
        texts = take(self.data.train_b, idx).to(self.device)
        clock.mark("forward")
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            za = F.normalize(m.head_a(m.encoder_a(images)), dim=-1)
            zb = F.normalize(m.head_b(m.encoder_b(texts)), dim=-1)
        clock.mark("loss")
        logits = m.log_scale.exp() * za.float() @ zb.float().T
        labels = torch.arange(len(idx), device=self.device)
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        clock.mark("backward")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        clock.mark("optimizer")
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with torch.no_grad():
            m.log_scale.clamp_(max=math.log(100))
        clock.stop()
