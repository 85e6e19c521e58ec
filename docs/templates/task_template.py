"""My task: two noisy linear views of one Gaussian latent, the counterpart of every item known.

z ~ N(0, I_k); A = z W_A + σ·ε, B = z W_B + σ·ε with W_A, W_B random (k × dim) maps. A template
(docs/code.md, "Adding a task"): copy it to tasks/<name>.py (or tasks/<name>/__init__.py), rename the
class, `name` and `label`, and replace the data. The generic contract tests (tests/test_task_contract.py)
test it as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.params import SEEDS, Param
from tasks import alignment
from tasks._frozen import FrozenInputs
from tasks._shared import MLPTower, model_device
from tasks.base import Task, TaskData
from tasks.metrics import retrieval


@dataclass(frozen=True)
class MyEval:
    """The test set: row i of `a` is the counterpart of row i of `b`."""

    a: Tensor
    b: Tensor


class MyTask(Task):
    name = "my_task"
    label = "My task"
    order = 500
    primary_metric = "a2b_r1"
    references = {"chance": "Chance (no training)"}  # ref_chance_a2b_r1: 1 / n_test
    params = {
        "n_train": Param(1000, "items in the train pool", valid="[2, inf)"),
        "n_test": Param(200, "items in the test set", valid="[2, inf)"),
        "latent_dim": Param(8, "dimension k of the shared latent", valid="[1, inf)"),
        "dim": Param(32, "dimension of each modality", valid="[1, inf)"),
        "noise": Param(0.5, "σ: observation noise of each modality", valid="[0, inf)"),
        "data_seed": Param(0, "seed of the generated data (not of the split or training)", valid=SEEDS),
        "width": Param(128, "width of each MLP tower", valid="[1, inf)"),
    }
    smoke_params = {
        "n_train": 100,
        "n_test": 20,
        "width": 16,
        "steps": 5,
        "batch_size": 16,
        "checkpoint_every": 0,
    }
    bad_params = {"latent_dim": 64, "dim": 32}

    def check(self, p: dict) -> None:
        """A modality narrower than the latent cannot hold it: the correspondence is lost before training."""
        super().check(p)
        rule = p["latent_dim"] <= p["dim"]
        self.refuse(
            [(rule, f"latent_dim={p['latent_dim']} exceeds dim={p['dim']}; raise dim or lower latent_dim")]
        )

    def pool_size(self) -> int:
        return self.p["n_train"]

    def load(self) -> TaskData:
        p = self.p
        gen = torch.Generator().manual_seed(p["data_seed"])
        n, k, dim = p["n_train"] + p["n_test"], p["latent_dim"], p["dim"]
        z = torch.randn(n, k, generator=gen)
        a = z @ torch.randn(k, dim, generator=gen) + p["noise"] * torch.randn(n, dim, generator=gen)
        b = z @ torch.randn(k, dim, generator=gen) + p["noise"] * torch.randn(n, dim, generator=gen)
        train, test = slice(0, p["n_train"]), slice(p["n_train"], n)
        return TaskData(
            train_a=a[train],
            train_b=b[train],
            eval=MyEval(a[test], b[test]),
            about={
                "eval_sets": {"test": {"source": "generated", "split": "test", "size": p["n_test"]}},
                "protocols": protocols(p["n_test"]),
            },
        )

    def encoders(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        return MLPTower(self.p["dim"], self.p["width"]), MLPTower(self.p["dim"], self.p["width"])

    def frozen_features(self, data: TaskData) -> tuple[nn.Module, nn.Module]:
        """The raw inputs: the data's own unimodal features."""
        return FrozenInputs(self.p["dim"], "raw a"), FrozenInputs(self.p["dim"], "raw b")

    def views(self, side: str, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Two noisy copies x + σ·ε."""
        noise = torch.randn((2, *x.shape), generator=generator).to(x.device)
        return x + self.p["noise"] * noise[0], x + self.p["noise"] * noise[1]

    def evaluate(self, model, data: TaskData, paired: Tensor) -> dict[str, float]:
        ev: MyEval = data.eval
        return {**metrics(model, ev.a, ev.b), "ref_chance_a2b_r1": 1 / len(ev.a)}

    def evaluate_items(self, model, data: TaskData, idx: Tensor) -> dict[str, float]:
        return metrics(model, data.train_a[idx], data.train_b[idx])


def metrics(model, a: Tensor, b: Tensor) -> dict[str, float]:
    """Retrieval between the rows of `a` and `b` (row i ↔ row i) and the alignment of the two spaces."""
    device = model_device(model)
    za, zb = model.embed_a(a.to(device)).cpu(), model.embed_b(b.to(device)).cpu()
    return {**retrieval(za, zb, torch.eye(len(za), dtype=torch.bool)), **alignment.alignment(za, zb)}


def protocols(n: int) -> dict[str, dict]:
    """How each metric is measured on the n test rows (TaskData.about `protocols`)."""
    test = {"set": "test", "split": "test"}
    pairs = {
        **test,
        "protocol": "paired_rows",
        "positives": "row i of the other side",
        "queries": n,
        "gallery": n,
    }
    out = {f"{d}_r{k}": {**pairs, "direction": d} for d in ("a2b", "b2a") for k in (1, 5, 10)}
    for metric in ("align_mknn", "align_cka", "align_cknna"):
        out[metric] = {**test, **alignment.protocol(n), "pairs": "row i ↔ row i"}
    out["ref_chance_a2b_r1"] = {**out["a2b_r1"], "protocol": "reference", "how": "1 / gallery size"}
    return out
