"""Soft pseudo-labels: each unpaired A row spreads over the paired B rows by A-side similarity."""

from torch import Tensor

from bench.params import Param
from methods._pseudo import PseudoLabel, similarity
from methods.base import BatchEmbeddings


class SoftPl(PseudoLabel):
    """L = L_CLIP + w_pl · soft CE(s · a_u · b_pᵀ, softmax(cos(a_u, a_p) / τ_pl))."""

    name = "soft_pl"
    label = "Soft PL"
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
    }

    def targets(self, batch: BatchEmbeddings) -> Tensor:
        return (similarity(batch) / self.p["tau_pl"]).softmax(1)
