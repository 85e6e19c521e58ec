"""The fit stage of a method that fits (methods/base.py `Method.fit`): its FitData, the frozen features of
the train pool, and the model a closed-form fit gives the task's evaluation.

Frozen features are, by default, the task's declared frozen unimodal features (tasks/base.py
`Task.frozen_features`), the same whatever the train seed; with the method parameter `features=towers`,
the outputs of the task's towers as built (the run's seeded initial weights). Either way they are
computed in eval mode, without gradient, in float32, before any head, `FEATURE_BATCH` items at a time,
before the training loop and before a checkpoint is resumed, so a resumed run fits on the same features.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from bench.engine.embed import to_device
from bench.engine.split import Split
from methods.base import FitData, Fitted
from tasks.base import TaskData, take

FEATURE_BATCH = 256


def frozen_features(tower: nn.Module, pool: Any, idx: Tensor, device: torch.device) -> Tensor:
    """tower(rows `idx` of `pool`) in eval mode and without gradient, float32, on `device`; the tower's
    mode is restored after."""
    was_training = tower.training
    tower.eval()
    try:
        with torch.no_grad():
            parts = [
                tower(to_device(take(pool, chunk), device)).float() for chunk in idx.split(FEATURE_BATCH)
            ]
    finally:
        tower.train(was_training)
    return torch.cat(parts) if parts else torch.zeros(0, tower.out_dim, device=device)


def frozen_encoders(method: Any, task: Any, data: TaskData) -> tuple[nn.Module, nn.Module] | None:
    """The task's frozen features (Task.frozen_features) for a method that reads them (Method.reads_frozen:
    it fits on them or its terms read them, the default); None for one that asks for the towers' outputs
    (`features=towers`) or reads no frozen features. What a task cannot serve is refused before anything is
    written (Task.check_frozen, bench/cell/grid.py); here it is a BenchError all the same."""
    return task.frozen_features(data) if method.reads_frozen() else None


def feature_names(encoders: tuple[nn.Module, nn.Module], method: Any) -> dict[str, str]:
    """What the fit was given, as recorded with the run (`fit_features`): the name of each side's
    features (a frozen module's `feature_name`; `towers` for the towers' outputs)."""
    towers = method.p.get("features", "frozen") == "towers"
    return {side: "towers" if towers else enc.feature_name for side, enc in zip("ab", encoders, strict=True)}


def fit_data(
    encoders: tuple[nn.Module, nn.Module], data: TaskData, split: Split, device: torch.device
) -> FitData:
    """The FitData of a run: the paired set's features and the unpaired pools' (each on first use) through
    `encoders` (f_A, f_B), with each train-pool item's row in its pool."""
    enc_a, enc_b = encoders
    sources = {
        "a_p": (enc_a, data.train_a, split.paired),
        "b_p": (enc_b, data.train_b, split.paired),
        "a_u": (enc_a, data.train_a, split.unpaired_a),
        "b_u": (enc_b, data.train_b, split.unpaired_b),
    }
    positions = {}
    for side, pool in (("a", split.unpaired_a), ("b", split.unpaired_b), ("p", split.paired)):
        where = torch.full((len(data),), -1, dtype=torch.long)
        where[pool] = torch.arange(len(pool))
        positions[side] = where
    return FitData(lambda key: frozen_features(*sources[key], device), positions)


class FittedModel(nn.Module):
    """The model of a closed-form method as the task's evaluation sees it: embed_x(x) = fitted.embed_x(f_x(x))
    with f_A, f_B what the fit was given (the task's frozen features, or the towers as built; eval mode
    during evaluation) and the fitted maps on their features."""

    def __init__(self, encoder_a: nn.Module, encoder_b: nn.Module, fitted: Fitted):
        super().__init__()
        self.encoder_a, self.encoder_b = encoder_a, encoder_b
        self.fitted = fitted
        self.prompt_pooling = fitted.prompt_pooling

    def embed_a(self, x: Any) -> Tensor:
        return self.fitted.embed_a(self.encoder_a(x).float())

    def embed_b(self, x: Any) -> Tensor:
        return self.fitted.embed_b(self.encoder_b(x).float())
