"""S-CLIP (Mo et al. 2023): caption-level pseudo-labels by optimal transport and keyword-level
partial labels, both from unpaired A rows (docs/methods.md, "S-CLIP")."""

from __future__ import annotations

from torch import Tensor

from bench.params import Param
from methods._pseudo import PseudoLabel, pseudo_label_loss, similarity
from methods.base import BatchEmbeddings
from methods.clip import Clip
from methods.losses import sinkhorn, soft_cross_entropy

SIM_FLOOR = 1e-6  # floor of a candidate keyword's similarity: all candidates non-positive → uniform


class SClip(PseudoLabel):
    """L = L_CLIP + w_pl · L_caption + w_kw · L_keyword.

    Plan P = Sinkhorn(1 − cos(a_u, a_p), ε = 1/s, 10 iterations, uniform marginals); L_caption is
    the soft CE of s · a_u · b_pᵀ against the rows of P normalised. L_keyword (when the task has a
    keyword vocabulary): the candidates of unpaired row i are the keywords of the paired row
    argmax_j P_ij; target t_ik ∝ max(cos(a_u_i, kw_k), 1e-6) over the candidates (not a softmax);
    soft CE of s · a_u · kwᵀ, averaged over all unpaired rows (rows without candidates add 0).
    """

    name = "s_clip"
    label = "S-CLIP"
    order = 50
    params = {
        **Clip.params,
        "w_pl": Param(
            0.5,
            "weight of the caption-level OT pseudo-label term",
            low=0.01,
            high=10.0,
            log=True,
            valid="[0, inf)",
        ),
        "w_kw": Param(
            0.5,
            "weight of the keyword-level term (tasks with keywords)",
            low=0.01,
            high=10.0,
            log=True,
            valid="[0, inf)",
        ),
        "sinkhorn_iters": Param(10, "Sinkhorn iterations of the caption plan", valid="[1, inf)"),
    }

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0, "pl": self.p["w_pl"], "kw": self.p["w_kw"]}

    def embeddings(self) -> frozenset[str]:
        pseudo = {"a_u"} if self.p["w_pl"] or self.p["w_kw"] else set()
        return Clip.embeddings(self) | pseudo | ({"keywords"} if self.p["w_kw"] else set())

    def targets(self, batch: BatchEmbeddings) -> Tensor:
        eps = 1 / batch.logit_scale.detach()
        plan = sinkhorn(1 - similarity(batch), eps, self.p["sinkhorn_iters"])
        return plan / plan.sum(1, keepdim=True)

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        out = Clip.terms(self, batch)
        want_kw = bool(self.p["w_kw"]) and batch.keyword_mask_p is not None
        if not out or not (self.p["w_pl"] or want_kw) or not len(batch.a_u):
            return out
        plan = self.targets(batch)
        if self.p["w_pl"]:
            out["pl"] = pseudo_label_loss(batch, plan)
        if want_kw and (kw := keyword_loss(batch, plan)) is not None:
            out["kw"] = kw
        return out


def keyword_loss(batch: BatchEmbeddings, plan: Tensor) -> Tensor | None:
    """Keyword-level partial-label loss of S-CLIP; None when no unpaired row has a candidate."""
    candidates = batch.keyword_mask_p[plan.argmax(1)].bool()
    if not candidates.any():
        return None
    keywords = batch.keywords
    sim = (batch.a_u @ keywords.T).detach().clamp_min(SIM_FLOOR) * candidates
    targets = sim / sim.sum(1, keepdim=True).clamp_min(SIM_FLOOR)
    return soft_cross_entropy(batch.logit_scale * batch.a_u @ keywords.T, targets)
