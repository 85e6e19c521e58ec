"""ASIF: relative representations with respect to the pairs, no training (docs/methods.md, "ASIF")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.params import Param
from bench.protocols import PROMPT_POOLING
from methods.base import ClosedForm, FitData


def relative_representation(h: Tensor, anchors: Tensor, k: int, p: float) -> Tensor:
    """r(h) = normalise(max(top_k(S), 0)^p) with S = cos(h, anchors) (n × N): each row keeps its k largest
    similarities to the N anchors (min(k, N)), the others 0; negative kept values are set to 0 before the
    power. Dense (n × N)."""
    sims = F.normalize(h, dim=-1) @ F.normalize(anchors, dim=-1).T
    values, idx = sims.topk(min(k, anchors.shape[0]), dim=1)
    kept = torch.zeros_like(sims).scatter_(1, idx, values.clamp_min(0) ** p)
    return F.normalize(kept, dim=-1)


@dataclass
class AsifFit:
    """The paired frozen features as anchors: A items are represented against the A side, B items
    against the B side; the dot product of the two representations is the score."""

    anchors_a: Tensor
    anchors_b: Tensor
    k: int
    p: float
    prompt_pooling: str

    def embed_a(self, h: Tensor) -> Tensor:
        return relative_representation(h, self.anchors_a, self.k, self.p)

    def embed_b(self, h: Tensor) -> Tensor:
        return relative_representation(h, self.anchors_b, self.k, self.p)


class Asif(ClosedForm):
    """Each item as its top-k similarities to the pairs' items of its modality, raised to p; no training.
    k is a share of the N pairs (`k_fraction`), so that the representation stays sparse at every pair
    count, or a fixed number (`k` > 0)."""

    name = "asif"
    label = "ASIF"
    order = 80
    source = "Norelli et al., NeurIPS 2023 (arXiv 2210.01738), code noranta4/ASIF (relreps.py)"
    params = {
        "k": Param(
            0,
            "similarities kept per item (top k, at most the number of pairs); 0: ⌈k_fraction · N⌉ of N pairs",
            valid="[0, inf)",
        ),
        "k_fraction": Param(
            0.1,
            "k = 0: the share of the N pairs kept per item (⌈k_fraction · N⌉, at least 1)",
            low=0.01,
            high=0.5,
            log=True,
            valid="(0, 1]",
        ),
        "p": Param(8.0, "exponent of the kept similarities", low=1.0, high=16.0, valid="(0, inf)"),
        "prompt_pooling": Param(
            "max",
            "zero-shot over templates: the best prompt's score (ASIF's code) or their mean embedding",
            PROMPT_POOLING,
        ),
    }

    def kept(self, n: int) -> int:
        """k for N = `n` pairs: `k` when set, else ⌈k_fraction · N⌉; at least 1, at most N."""
        k = self.p["k"] or math.ceil(self.p["k_fraction"] * n)
        return max(1, min(k, n))

    def fit(self, data: FitData) -> AsifFit:
        k = self.kept(len(data.a_p))
        return AsifFit(data.a_p, data.b_p, k, self.p["p"], self.p["prompt_pooling"])
