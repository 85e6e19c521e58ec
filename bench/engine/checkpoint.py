"""Resumable checkpoints: everything a run needs to continue exactly where it stopped.

Model, optimiser, schedule and grad-scaler state, the step, the batch streams, torch's global RNG
(dropout; the views of each step come from a generator seeded by the step, bench/engine/loader.py), the
history of evaluations and the training time so far. Written atomically; one that cannot be read
(truncated, not a checkpoint) raises atomic.CorruptFile, and `set_aside` moves it out of the way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from bench.atomic import CorruptFile, write_with

CORRUPT_SUFFIX = ".corrupt"
REQUIRED = ("model", "optimizer", "schedule", "scaler", "sampler", "step", "history", "train_s", "eval_s")
REQUIRED += ("torch_rng",)


def save(path: Path, **state: Any) -> None:
    state["torch_rng"] = torch.get_rng_state()
    write_with(path, lambda tmp: torch.save(state, tmp))


def load(path: Path) -> dict[str, Any] | None:
    """The saved state, with torch's global RNG restored; None when there is no checkpoint; CorruptFile
    when it cannot be read or lacks what a run needs (torch's RNG is then left as it was)."""
    if not Path(path).is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ... on a damaged file
        first = (str(err).splitlines() or [""])[0][:200]
        raise CorruptFile(path, f"{type(err).__name__}: {first}") from None
    missing = [k for k in REQUIRED if k not in state] if isinstance(state, dict) else list(REQUIRED)
    if missing:
        raise CorruptFile(path, f"not a run's checkpoint (no {', '.join(missing)})")
    torch.set_rng_state(state["torch_rng"])
    return state


def set_aside(path: Path) -> Path:
    """Rename an unreadable checkpoint to `<name>.corrupt` (replacing an older one); return the new path."""
    path = Path(path)
    aside = path.with_name(path.name + CORRUPT_SUFFIX)
    os.replace(path, aside)
    return aside
