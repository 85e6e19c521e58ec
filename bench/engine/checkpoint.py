"""Resumable checkpoints: everything a run needs to continue exactly where it stopped.

Model and optimiser state, the step, the batch streams, the view generator, torch's global RNG
(dropout), the history of evaluations and the training time so far. Written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.atomic import write_with


def save(path: Path, **state: Any) -> None:
    state["torch_rng"] = torch.get_rng_state()
    write_with(path, lambda tmp: torch.save(state, tmp))


def load(path: Path) -> dict[str, Any] | None:
    """The saved state, with torch's global RNG restored; None when there is no checkpoint."""
    if not Path(path).is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    torch.set_rng_state(state["torch_rng"])
    return state
