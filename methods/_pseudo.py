"""Pseudo-label baselines (docs/methods.md, "Hard and soft pseudo-labels" and "S-CLIP"): L_CLIP plus
a soft cross-entropy of the unpaired A rows against the batch's paired B rows, with targets from how
each unpaired A row relates to the paired A rows, plus S-CLIP's keyword-level term on tasks with a
keyword vocabulary."""

from __future__ import annotations

import torch
from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings
from methods.clip import Clip
from methods.losses import soft_cross_entropy

SIM_FLOOR = 1e-6  # `keyword_floor`: floor of a candidate keyword's cosine; all non-positive → uniform


class PseudoLabel(Clip):
    """L = L_CLIP + w_pl · L_PL + w_kw · L_keyword. L_PL needs paired and unpaired rows; L_keyword
    also the task's keyword vocabulary and an unpaired row with a candidate. Subclasses give
    `targets`."""

    baseline = False  # CLIP is the baseline; its pseudo-label extensions are not
    params = {
        **Clip.params,
        "w_pl": Param(
            1.0, "weight of the pseudo-label term", low=0.01, high=10.0, log=True, valid="[0, inf)"
        ),
        "w_kw": Param(
            0.0, "weight of S-CLIP's keyword-level term, tasks with keywords (S-CLIP: 0.5)", valid="[0, inf)"
        ),
        "keyword_floor": Param(
            False, "floor the keyword cosines at 1e-6 (a fix: bounded targets); false: S-CLIP's sim / Σ sim"
        ),
    }

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0, "pl": self.p["w_pl"], "kw": self.p["w_kw"]}

    def embeddings(self) -> frozenset[str]:
        pseudo = {"a_u"} if self.p["w_pl"] or self.p["w_kw"] else set()
        return super().embeddings() | pseudo | ({"keywords"} if self.p["w_kw"] else set())

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        out = super().terms(batch)
        want_kw = bool(self.p["w_kw"]) and batch.keyword_mask_p is not None
        if not out or not (self.p["w_pl"] or want_kw) or not len(batch.a_u):
            return out
        targets = self.targets(batch)
        if self.p["w_pl"]:
            out["pl"] = pseudo_label_loss(batch, targets)
        if want_kw and (kw := keyword_loss(batch, targets, self.p["keyword_floor"])) is not None:
            out["kw"] = kw
        return out

    def targets(self, batch: BatchEmbeddings) -> Tensor:
        """(b_u × b_p) target distribution of each unpaired A row over the paired B rows."""
        raise NotImplementedError


def similarity(batch: BatchEmbeddings, detach: bool = True) -> Tensor:
    """cos(a_u, a_p) (b_u × b_p), the embeddings being unit rows; detached unless `detach` is false."""
    sim = batch.a_u @ batch.a_p.T
    return sim.detach() if detach else sim


def pseudo_label_loss(batch: BatchEmbeddings, targets: Tensor) -> Tensor:
    """mean_i −Σ_j t_ij log softmax(s · a_u · b_pᵀ)_ij, the targets first shared among paired rows
    of identical B content (`same_b_p`), which are positives of each other."""
    if batch.same_b_p is not None:
        same = batch.same_b_p.bool() | torch.eye(batch.n_paired, dtype=torch.bool, device=targets.device)
        same = same.to(targets.dtype)
        targets = targets @ (same / same.sum(1, keepdim=True))
    return soft_cross_entropy(batch.logit_scale * batch.a_u @ batch.b_p.T, targets)


def keyword_loss(batch: BatchEmbeddings, targets: Tensor, floor: bool) -> Tensor | None:
    """S-CLIP's keyword-level partial-label loss, soft CE(s · a_u · kwᵀ, t) over all unpaired rows;
    None when no unpaired row has a candidate. The candidates of row i are the keywords of the
    paired row argmax_j targets_ij; t is zero elsewhere and `keyword_targets` on them."""
    candidates = batch.keyword_mask_p[targets.argmax(1)].bool()
    if not candidates.any():
        return None
    keywords = batch.keywords
    t = keyword_targets((batch.a_u @ keywords.T).detach(), candidates, floor)
    return soft_cross_entropy(batch.logit_scale * batch.a_u @ keywords.T, t)


def keyword_targets(cos: Tensor, candidates: Tensor, floor: bool) -> Tensor:
    """t_ik = c_ik / Σ_{k' candidate} c_ik' over the candidates k of row i (1 for a single candidate,
    0 off the candidates), c = cos (S-CLIP's released sim / Σ sim: with mixed signs t is not a
    distribution and is unbounded) or, with `floor`, c = max(cos, 1e-6) (uniform when every
    candidate is non-positive)."""
    count = candidates.sum(1, keepdim=True)
    sim = (cos.clamp_min(SIM_FLOOR) if floor else cos) * candidates
    total = sim.sum(1, keepdim=True)
    several = count > 1
    ratio = sim / torch.where(several, total, torch.ones_like(total))
    return torch.where(several, ratio, candidates.to(cos.dtype))
