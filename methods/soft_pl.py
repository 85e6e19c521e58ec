"""Soft pseudo-labels: each unpaired A row spreads over the paired B rows by A-side similarity."""

from torch import Tensor

from bench.params import Param
from methods._pseudo import PseudoLabel, similarity
from methods.base import BatchEmbeddings


class SoftPl(PseudoLabel):
    """L = L_CLIP + w_pl · soft CE(s · a_u · b_pᵀ, softmax(cos(a_u, a_p) / τ_pl)) (+ w_kw · L_keyword).

    τ_pl = `tau_pl`, or 1/s with `tau_from_scale`; the targets are detached unless `detach_targets`
    is false. S-CLIP's `soft-image` assignment is tau_from_scale=true, detach_targets=false (with
    w_pl = w_kw = 0.5 and unpaired_a_negatives, S-CLIP's loss with that assignment).
    """

    name = "soft_pl"
    label = "Soft PL"
    source = "S-CLIP's soft-image assignment (Mo et al., NeurIPS 2023; alinlab/s-clip custom/loss.py)"
    order = 40
    params = {
        **PseudoLabel.params,
        "tau_pl": Param(
            0.07,
            "temperature τ of the soft targets softmax(cos / τ)",
            low=0.01,
            high=1.0,
            log=True,
            valid="(0, inf)",
        ),
        "tau_from_scale": Param(False, "targets softmax(s · cos), s the CLIP scale (S-CLIP's), not tau_pl"),
        "detach_targets": Param(True, "no gradient through the targets; false: through them (S-CLIP's)"),
    }

    def targets(self, batch: BatchEmbeddings) -> Tensor:
        sim = similarity(batch, detach=self.p["detach_targets"])
        if not self.p["tau_from_scale"]:
            return (sim / self.p["tau_pl"]).softmax(1)  # cos / τ, not cos · (1/τ): the same bits as before
        scale = batch.logit_scale.detach() if self.p["detach_targets"] else batch.logit_scale
        return (scale * sim).softmax(1)
