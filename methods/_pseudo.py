"""Pseudo-label baselines (docs/methods.md, "Hard and soft pseudo-labels"): L_CLIP plus a soft
cross-entropy of the unpaired A rows against the batch's paired B rows, with targets from how
each unpaired A row relates to the paired A rows (computed without gradient)."""

from __future__ import annotations

import torch
from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings
from methods.clip import Clip
from methods.losses import soft_cross_entropy


class PseudoLabel(Clip):
    """L = L_CLIP + w_pl · L_PL; L_PL needs paired and unpaired rows. Subclasses give `targets`."""

    params = {
        **Clip.params,
        "w_pl": Param(
            1.0, "weight of the pseudo-label term", low=0.01, high=10.0, log=True, valid="[0, inf)"
        ),
    }

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0, "pl": self.p["w_pl"]}

    def embeddings(self) -> frozenset[str]:
        return super().embeddings() | ({"a_u"} if self.p["w_pl"] else set())

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        out = super().terms(batch)
        if out and self.p["w_pl"] and len(batch.a_u):
            out["pl"] = pseudo_label_loss(batch, self.targets(batch))
        return out

    def targets(self, batch: BatchEmbeddings) -> Tensor:
        """(b_u × b_p) target distribution of each unpaired A row over the paired B rows."""
        raise NotImplementedError


def similarity(batch: BatchEmbeddings) -> Tensor:
    """cos(a_u, a_p) (b_u × b_p), detached: the embeddings are unit rows."""
    return (batch.a_u @ batch.a_p.T).detach()


def pseudo_label_loss(batch: BatchEmbeddings, targets: Tensor) -> Tensor:
    """mean_i −Σ_j t_ij log softmax(s · a_u · b_pᵀ)_ij, the targets first shared among paired rows
    of identical B content (`same_b_p`), which are positives of each other."""
    if batch.same_b_p is not None:
        same = batch.same_b_p.bool() | torch.eye(batch.n_paired, dtype=torch.bool, device=targets.device)
        same = same.to(targets.dtype)
        targets = targets @ (same / same.sum(1, keepdim=True))
    return soft_cross_entropy(batch.logit_scale * batch.a_u @ batch.b_p.T, targets)
