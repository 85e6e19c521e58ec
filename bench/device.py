"""Where a run computes: CUDA when torch sees a GPU, else the CPU."""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
