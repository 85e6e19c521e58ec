"""S-CLIP (Mo et al. 2023): caption-level pseudo-labels by optimal transport and keyword-level
partial labels, both from unpaired A rows (docs/methods.md, "S-CLIP")."""

from __future__ import annotations

from torch import Tensor

from bench.params import Param
from methods._pseudo import PseudoLabel, similarity
from methods.base import BatchEmbeddings
from methods.losses import sinkhorn


class SClip(PseudoLabel):
    """L = L_CLIP + w_pl · L_caption + w_kw · L_keyword, as released (alinlab/s-clip, custom/loss.py).

    L_CLIP with the unpaired A rows as extra negatives of B → A. Plan P = Sinkhorn(1 − cos(a_u, a_p),
    ε = 1/s, 10 iterations, uniform marginals), differentiated through (to a_u, a_p and s) unless
    `detach_targets`; L_caption is the soft CE of s · a_u · b_pᵀ against the rows of P normalised.
    L_keyword (when the task has a keyword vocabulary): the candidates of unpaired row i are the
    keywords of the paired row argmax_j P_ij, targets c / Σ c over them with c = max(cos, 1e-6)
    (`keyword_floor`, the default; false: the released c = cos), soft CE of s · a_u · kwᵀ, averaged over
    all unpaired rows. The floor changes nothing where every candidate's cosine is positive, as with
    CLIP's own projections from pretrained weights (heads=clip, S-CLIP's regime); under fresh heads a share
    of the cosines is negative and the released targets leave [0, 1] without bound.
    """

    name = "s_clip"
    label = "S-CLIP"
    source = (
        "Mo et al., NeurIPS 2023 (arXiv 2305.14095); code alinlab/s-clip (custom/loss.py). Differs from the "
        "release: keyword targets floored at cos 1e-6 (keyword_floor; released cos / Σ cos is unbounded "
        "once cosines go negative, as under fresh heads); its regime, CLIP's own projections from CLIP's "
        "scale, is the task's heads=clip (rs, vl open_clip), fresh heads elsewhere"
    )
    order = 50
    params = {
        **PseudoLabel.params,
        "unpaired_a_negatives": Param(
            True, "use the unpaired A rows as extra negatives of the B → A direction only (as released)"
        ),
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
        "keyword_floor": Param(
            True,
            "floor the keyword cosines at 1e-6, bounded targets (equal to the release's while all are "
            "positive); false: the released sim / Σ sim, unbounded once cosines go negative",
        ),
        "sinkhorn_iters": Param(10, "Sinkhorn iterations of the caption plan", valid="[1, inf)"),
        "detach_targets": Param(False, "no gradient through the plan (project's form); false: as released"),
    }

    def targets(self, batch: BatchEmbeddings) -> Tensor:
        detach = self.p["detach_targets"]
        cost = 1 - similarity(batch, detach=detach)
        eps = 1 / (batch.logit_scale.detach() if detach else batch.logit_scale)
        plan = sinkhorn(cost, eps, self.p["sinkhorn_iters"], grad=not detach)
        return plan / plan.sum(1, keepdim=True)
