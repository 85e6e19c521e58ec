"""synthetic: latent class-structured points seen through two different random nonlinear maps.

z = c_y + σ_z·ε (y one of `n_classes` classes, c_y ~ N(0, I_k)); A = g_A(z) + σ·ε, B = g_B(z) + σ·ε
with g(z) = tanh(z W₁ + b₁) W₂ a random two-layer map per modality; features standardised with
the train statistics. The true counterpart of every item is known, so retrieval measures exactly
how much of the correspondence a method recovers. Zero-shot: each class's prompt is g_B(c_y).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.params import SEEDS, Param
from tasks._frozen import FrozenInputs
from tasks._shared import MLPTower, model_device
from tasks.base import Task, TaskData
from tasks.metrics import retrieval, zero_shot


@dataclass(frozen=True)
class SyntheticEval:
    a: Tensor
    b: Tensor
    labels: Tensor
    prompts: Tensor
    train_labels: Tensor


def _random_map(k: int, hidden: int, out: int, gen: torch.Generator):
    w1 = torch.randn(k, hidden, generator=gen) / k**0.5
    b1 = torch.randn(hidden, generator=gen) * 0.5
    w2 = torch.randn(hidden, out, generator=gen) / hidden**0.5
    return lambda z: torch.tanh(z @ w1 + b1) @ w2


class Synthetic(Task):
    name = "synthetic"
    label = "Synthetic"
    order = 10
    primary_metric = "a2b_r1"
    params = {
        "n_train": Param(2000, "items in the train pool", valid="[2, inf)"),
        "n_test": Param(500, "items in the test set", valid="[1, inf)"),
        "n_classes": Param(20, "latent classes (zero-shot classifies among them)", valid="[2, inf)"),
        "latent_dim": Param(16, "dimension k of the latent space", valid="[1, inf)"),
        "dim_a": Param(64, "dimension of modality A", valid="[1, inf)"),
        "dim_b": Param(48, "dimension of modality B", valid="[1, inf)"),
        "latent_noise": Param(0.5, "σ_z: spread of items around their class centre", valid="[0, inf)"),
        "noise": Param(0.25, "σ: observation noise of each modality", valid="[0, inf)"),
        "data_seed": Param(0, "seed of the generated data (not of the split or training)", valid=SEEDS),
        "width": Param(256, "width of each MLP tower", valid="[1, inf)"),
        "view_noise": Param(
            0.5, "σ of the Gaussian noise that makes an SSL view (standardised units)", valid="[0, inf)"
        ),
        "fail": Param(False, "raise an error while loading: exercises the harness's failure handling"),
    }
    smoke_params = {
        "n_train": 200,
        "n_test": 50,
        "n_classes": 5,
        "width": 32,
        "steps": 5,
        "batch_size": 16,
        "checkpoint_every": 0,
    }
    bad_params = {"n_classes": 1}

    def pool_size(self) -> int:
        return self.p["n_train"]

    def load(self) -> TaskData:
        p = self.p
        if p["fail"]:
            raise RuntimeError("synthetic task asked to fail (fail=true)")
        gen = torch.Generator().manual_seed(p["data_seed"])
        k, n = p["latent_dim"], p["n_train"] + p["n_test"]
        centres = torch.randn(p["n_classes"], k, generator=gen)
        labels = torch.randint(p["n_classes"], (n,), generator=gen)
        z = centres[labels] + p["latent_noise"] * torch.randn(n, k, generator=gen)
        g_a = _random_map(k, 128, p["dim_a"], gen)
        g_b = _random_map(k, 128, p["dim_b"], gen)
        a = g_a(z) + p["noise"] * torch.randn(n, p["dim_a"], generator=gen)
        b = g_b(z) + p["noise"] * torch.randn(n, p["dim_b"], generator=gen)
        tr = slice(0, p["n_train"])
        mean_a, std_a = a[tr].mean(0), a[tr].std(0) + 1e-6
        mean_b, std_b = b[tr].mean(0), b[tr].std(0) + 1e-6
        a, b, prompts = (a - mean_a) / std_a, (b - mean_b) / std_b, (g_b(centres) - mean_b) / std_b
        te = slice(p["n_train"], n)
        return TaskData(
            train_a=a[tr],
            train_b=b[tr],
            eval=SyntheticEval(a[te], b[te], labels[te], prompts, labels[tr]),
            about={"eval_sets": {"test": {"source": "generated", "split": "test", "size": p["n_test"]}}},
        )

    def encoders(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        return MLPTower(data.train_a.shape[1], self.p["width"]), MLPTower(
            data.train_b.shape[1], self.p["width"]
        )

    def frozen_features(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """The raw standardised inputs a and b: the data's own unimodal features (no tower)."""
        return FrozenInputs(self.p["dim_a"], "raw a"), FrozenInputs(self.p["dim_b"], "raw b")

    def views(self, side: str, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Two noisy copies x + σ_v·ε (feature-space views; σ_v = 0.5 keeps the SSL term non-trivial)."""
        sigma = self.p["view_noise"]
        noise = torch.randn((2, *x.shape), generator=generator).to(x.device)
        return x + sigma * noise[0], x + sigma * noise[1]

    def evaluate(self, model, data: TaskData, paired: Tensor) -> dict[str, float]:
        ev: SyntheticEval = data.eval
        return _metrics(model, ev.a, ev.b, ev.labels, ev.prompts)

    def evaluate_items(self, model, data: TaskData, idx: Tensor) -> dict[str, float]:
        ev: SyntheticEval = data.eval
        return _metrics(model, data.train_a[idx], data.train_b[idx], ev.train_labels[idx], ev.prompts)


def _metrics(model, a: Tensor, b: Tensor, labels: Tensor, prompts: Tensor) -> dict[str, float]:
    """Retrieval between the rows of `a` and `b` (row i ↔ row i) and zero-shot class accuracy."""
    device = model_device(model)
    za, zb = model.embed_a(a.to(device)).cpu(), model.embed_b(b.to(device)).cpu()
    metrics = retrieval(za, zb, torch.eye(len(za), dtype=torch.bool))
    metrics.update(zero_shot(za @ model.embed_b(prompts.to(device)).cpu().T, labels))
    return metrics
