"""Where and in what precision a run computes: the `device` and `amp` task parameters.

`device=auto` is CUDA when torch sees a GPU, else the CPU; `cpu` forces the CPU, `cuda` requires a GPU.
`amp` = `none` | `bf16` | `fp16`: the encoders and heads run under `torch.autocast` in that type, and
`fp16` scales the loss with a GradScaler; the embeddings leave autocast as float32 and every loss term
(CLIP, the set terms, the SSL and pseudo-label terms) is computed in float32 (docs/methods.md). On CUDA
matrix products may use TF32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from bench.errors import BenchError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(choice: str, default: torch.device) -> torch.device:
    """The device of `device=choice`: `auto` is `default` (the caller's: CUDA when there is one)."""
    if choice == "auto":
        return default
    if choice == "cuda" and not torch.cuda.is_available():
        raise BenchError("device=cuda but torch sees no GPU here; use device=auto or device=cpu")
    return torch.device(choice)


class Precision:
    """The autocast context and the grad scaler of one run."""

    def __init__(self, amp: str, device: torch.device):
        self.amp, self.device = amp, device
        if amp == "fp16" and device.type != "cuda":
            raise BenchError("amp=fp16 needs a CUDA device (its grad scaler); on the CPU use amp=bf16")
        self.scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Encoders and heads inside: in the amp type (nothing changes with amp=none)."""
        if self.amp == "none":
            yield
            return
        with torch.autocast(self.device.type, dtype=DTYPES[self.amp]):
            yield

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Gradients in their true scale (before clipping them)."""
        if self.scaler:
            self.scaler.unscale_(optimizer)

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler and state:
            self.scaler.load_state_dict(state)
