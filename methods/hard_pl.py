"""Hard pseudo-labels: each unpaired A row takes the B row of its nearest paired A row."""

import torch.nn.functional as F
from torch import Tensor

from methods._pseudo import PseudoLabel, similarity
from methods.base import BatchEmbeddings


class HardPl(PseudoLabel):
    """L = L_CLIP + w_pl · CE(s · a_u · b_pᵀ, argmax_j cos(a_u, a_p_j)) (+ w_kw · L_keyword).
    The targets are S-CLIP's `hard-image` assignment; with w_pl = w_kw = 0.5 and
    unpaired_a_negatives this is S-CLIP's loss with that assignment."""

    name = "hard_pl"
    label = "Hard PL"
    source = "S-CLIP's hard-image assignment (Mo et al., NeurIPS 2023; alinlab/s-clip custom/loss.py)"
    order = 30

    def targets(self, batch: BatchEmbeddings) -> Tensor:
        sim = similarity(batch)
        return F.one_hot(sim.argmax(1), sim.shape[1]).to(sim.dtype)
