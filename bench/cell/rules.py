"""The planner's rules on a cell, which the engine applies again when it trains: the planner
(bench/cell/grid.py) refuses a cell before anything is written, the engine (bench/engine/train.py) on the
split it draws. Nothing here imports torch or the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.engine.split import Split
    from methods.base import Method


def empty_cell(split: Split, n: int, ratio: float, method: Method, hp: dict[str, Any]) -> str | None:
    """Why a cell of a pool of `n` items split as `split` would train on nothing it was asked for, or
    None: a validation split asked for (val_fraction > 0) that holds no item or every item; pairs asked
    for (r > 0) and none drawn; a method that trains without pairs at r = 0 and no unpaired rows of both
    modalities. (A method that needs pairs at r = 0 reports its untrained model: the paper's no-pairs
    row.) The text ends with the opt-in, task parameter allow_empty."""
    n_val, vf = len(split.val), hp["val_fraction"]
    n_train = n - n_val
    n_u = min(len(split.unpaired_a), len(split.unpaired_b))
    why = None
    if vf > 0 and n_val == 0:
        why = f"val_fraction={vf:g} of {n} train items holds out round({vf * n:g}) = 0 items"
    elif vf > 0 and n_train == 0:
        why = f"val_fraction={vf:g} of {n} train items holds out all {n_val}, leaving none to train on"
    elif ratio > 0 and len(split.paired) == 0:
        why = f"r = {ratio:g} of {n_train} train items gives round({ratio * n_train:g}) = 0 pairs"
    elif ratio == 0 and not method.needs_pairs and n_u == 0:
        why = (
            f"r = 0 and {len(split.unpaired_a)}/{len(split.unpaired_b)} unpaired A/B items of {n_train}: "
            f"{method.name} has nothing to train on"
        )
    if why is None:
        return None
    return f"{why}; enlarge the train pool, or set --task-param allow_empty=true to run it anyway"
