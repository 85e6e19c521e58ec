"""The seeds the engine derives from a run's train seed, and the generators of its random views: what the
planner checks (bench/cell/grid.py), the engine draws from (bench/engine/loader.py) and a task's own
seeded augmentations use (tasks/vl/features.py), in one place."""

from __future__ import annotations

import hashlib

import torch


def generator_seeds(seed: int) -> list[int]:
    """Every seed the engine derives from train seed `seed` for a generator: torch.manual_seed(seed) and the
    batch streams' 3·seed + 0, 1, 2 (bench/engine/batches.py); each must lie in [0, 2^63). (The views'
    generator of each step is seeded from a hash of the seed and the step: `view_generator`.)"""
    return [seed, seed * 3, seed * 3 + 1, seed * 3 + 2]


def view_generator(seed: int, step: int, what: str = "views") -> torch.Generator:
    """The generator of the views of step `step` of a run with train seed `seed`: seeded with the first 8
    bytes of SHA-256(f"views:{seed}:{step}") as an integer modulo 2^63; `what` names another stream of
    draws of the step (`alternatives`: the B alternative of each row)."""
    digest = hashlib.sha256(f"{what}:{seed}:{step}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "big") % 2**63)
