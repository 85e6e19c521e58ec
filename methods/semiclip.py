"""SemiCLIP (Gan et al., ICLR 2025): a supervised stage on the pairs with concept labels from their texts,
then concept-level pseudo-labels for the unpaired A rows, pseudo-captions made of their top concepts and
the trapezoidal consistency of pairs and confident pseudo-pairs (docs/methods.md, "SemiCLIP")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings, Method
from methods.clip import clip_term
from methods.losses import soft_cross_entropy, trapezoid_consistency

MASS_EPS = 1e-8  # the released `(x + 1e-8).sum(dim=1)` normaliser of multi-hot targets


class SemiClip(Method):
    """L = L_CLIP + w_concept·L_concept (pairs, then unpaired rows) + w_inmodal·L_in + w_crossmodal·L_cross.

    Released: Gank0078/SemiCLIP at 0e55006, custom/loss.py `SemiSupervisedClipLoss.forward` (stage 1 at
    l. 202-213, stage 2 at l. 215-251) and custom/model.py `peftCLIP.forward` (l. 270-290).

    c_x = s · z_x · Kᵀ are the concept logits of a row (K: the task's keyword vocabulary embedded by
    tower B, s the CLIP scale). Stage 1, the first `stage1_fraction` of the steps:
    L = L_CLIP + w_concept · softCE(c_p / T_r, y), y the keywords of each paired text, multi-hot, over
    their count (+1e-8 per keyword, as released). Stage 2: L = L_CLIP + w_concept · softCE(c_u / T_r, ŷ)
    + w_inmodal · L_in + w_crossmodal · L_cross: ŷ the top-k (k = `topk`) concepts of softmax(c_u) as a
    uniform multi-hot (no gradient); the pseudo-caption of unpaired row i, t_i, is the normalised sum of
    the embeddings of its top `words` concepts; the ⌊b_u · `select_ratio`⌋ unpaired rows of largest
    a_u,i · t_i join the pairs as pseudo-pairs, and L_in, L_cross are the trapezoidal consistency
    (losses.trapezoid_consistency) over [a_p; a_u,sel] and [b_p; t_sel].
    """

    name = "semiclip"
    label = "SemiCLIP"
    source = (
        "Gan et al., ICLR 2025; code Gank0078/SemiCLIP (custom/loss.py SemiSupervisedClipLoss, "
        "custom/model.py peftCLIP; defaults: custom/params.py, scripts/train_rs_stage{1,2}.sh)"
    )
    order = 55
    requires = frozenset({"keywords"})
    params = {
        "stage1_fraction": Param(
            0.625,
            "share of the steps in the supervised stage 1 (released scripts: 25 of 25 + 15 epochs)",
            valid="[0, 1]",
        ),
        "w_concept": Param(
            1.0,
            "weight of the concept term, on the pairs then the unpaired rows (released cylam1: 1)",
            low=0.01,
            high=10.0,
            log=True,
            valid="[0, inf)",
        ),
        "w_inmodal": Param(
            1.0,
            "weight of the in-modal trapezoid term (released cylam2: 1)",
            low=0.01,
            high=10.0,
            log=True,
            valid="[0, inf)",
        ),
        "w_crossmodal": Param(
            1.0,
            "weight of the cross-modal trapezoid term (released cylam3: 1)",
            low=0.01,
            high=10.0,
            log=True,
            valid="[0, inf)",
        ),
        "concept_tau": Param(
            1.0, "temperature T_r dividing the concept logits (released Tr: 1)", valid="(0, inf)"
        ),
        "topk": Param(3, "concepts of an unpaired row's pseudo-label (released --topk: 3)", valid="[1, inf)"),
        "words": Param(
            4, "concepts of a pseudo-caption (released: 4, custom/model.py l. 100)", valid="[1, inf)"
        ),
        "select_ratio": Param(
            0.3, "share of the unpaired rows kept as pseudo-pairs (released --pratio: 0.3)", valid="[0, 1]"
        ),
    }

    def weights(self) -> dict[str, float]:
        p = self.p
        return {
            "clip": 1.0,
            "concept": p["w_concept"],
            "inmodal": p["w_inmodal"],
            "crossmodal": p["w_crossmodal"],
        }

    def embeddings(self) -> frozenset[str]:
        p = self.p
        unpaired = {"a_u", "keywords"} if p["stage1_fraction"] < 1 else set()
        concept = {"keywords"} if p["w_concept"] else set()
        return frozenset({"a_p", "b_p"} | unpaired | concept)

    def stage(self, batch: BatchEmbeddings) -> int:
        """1 in the first round(stage1_fraction · steps) steps (and when `steps` is unknown), else 2."""
        if batch.steps and batch.step >= round(self.p["stage1_fraction"] * batch.steps):
            return 2
        return 1

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        if batch.n_paired == 0:
            return {}
        out = {"clip": clip_term(batch, False)}
        if batch.keyword_mask_p is None:
            return out
        if self.stage(batch) == 1:
            if self.p["w_concept"]:
                mask = batch.keyword_mask_p.to(batch.a_p.dtype)
                target = mask / (mask + MASS_EPS).sum(1, keepdim=True)
                out["concept"] = soft_cross_entropy(self.concept_logits(batch, batch.a_p), target)
            return out
        if len(batch.a_u):
            out.update(self.unpaired_terms(batch))
        return out

    def concept_logits(self, batch: BatchEmbeddings, z: Tensor) -> Tensor:
        return batch.logit_scale * z @ batch.keywords.T / self.p["concept_tau"]

    def unpaired_terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        p, kw = self.p, batch.keywords
        logits = self.concept_logits(batch, batch.a_u)
        out = {}
        weak = (batch.logit_scale * batch.a_u @ kw.T).detach()
        if p["w_concept"]:
            top = weak.softmax(1).topk(min(p["topk"], len(kw)), dim=1).indices
            hot = F.one_hot(top, len(kw)).sum(1).to(logits.dtype)
            out["concept"] = soft_cross_entropy(logits, hot / (hot + MASS_EPS).sum(1, keepdim=True))
        if p["w_inmodal"] or p["w_crossmodal"]:
            words = weak.topk(min(p["words"], len(kw)), dim=1).indices
            captions = F.normalize(kw[words].sum(1), dim=1)
            keep = int(len(batch.a_u) * p["select_ratio"])
            chosen = (captions * batch.a_u).sum(1).topk(keep).indices
            za = torch.cat([batch.a_p, batch.a_u[chosen]])
            zb = torch.cat([batch.b_p, captions[chosen]])
            inmodal, crossmodal = trapezoid_consistency(za, zb, batch.logit_scale, batch.n_paired)
            if p["w_inmodal"]:
                out["inmodal"] = inmodal
            if p["w_crossmodal"]:
                out["crossmodal"] = crossmodal
        return out
