"""CLIP: symmetric InfoNCE on the paired rows only (docs/methods.md, "CLIP loss")."""

from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings, Method
from methods.losses import clip_loss


class Clip(Method):
    """L = L_CLIP(a_p, b_p); with `unpaired_negatives` the unpaired rows of the other modality
    join the candidates of each direction as extra negatives (as the released Gentle-CLIP code
    does); with `unpaired_a_negatives` the unpaired A rows join those of the B → A direction only
    (as the released S-CLIP code does)."""

    name = "clip"
    label = "CLIP"
    source = "Radford et al., ICML 2021 (arXiv 2103.00020): the symmetric InfoNCE of CLIP"
    order = 10
    baseline = True
    params = {
        "unpaired_negatives": Param(False, "use the other modality's unpaired rows as extra negatives"),
        "unpaired_a_negatives": Param(
            False, "use the unpaired A rows as extra negatives of the B → A direction only (S-CLIP's)"
        ),
    }

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0}

    def embeddings(self) -> frozenset[str]:
        return clip_embeddings(self.p["unpaired_negatives"], self.p["unpaired_a_negatives"])

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        if batch.n_paired == 0:
            return {}
        return {"clip": clip_term(batch, self.p["unpaired_negatives"], self.p["unpaired_a_negatives"])}


def clip_embeddings(unpaired_negatives: bool, a_negatives: bool = False) -> frozenset[str]:
    """What L_CLIP reads: the paired rows, and the unpaired ones that are extra negatives."""
    extra = ("a_u", "b_u") if unpaired_negatives else ("a_u",) if a_negatives else ()
    return frozenset({"a_p", "b_p", *extra})


def clip_term(batch: BatchEmbeddings, unpaired_negatives: bool, a_negatives: bool = False) -> Tensor:
    """L_CLIP of a batch, with identical-B-content rows as positives of each other when known.
    `unpaired_negatives`: a_u and b_u are extra candidates of B → A and A → B; `a_negatives`: a_u
    is an extra candidate of B → A only."""
    extra = {}
    if unpaired_negatives or a_negatives:
        extra["extra_a"] = batch.a_u
    if unpaired_negatives:
        extra["extra_b"] = batch.b_u
    return clip_loss(batch.a_p, batch.b_p, batch.logit_scale, positives=batch.same_b_p, **extra)
