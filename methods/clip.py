"""CLIP: symmetric InfoNCE on the paired rows only (docs/methods.md, "CLIP loss")."""

from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings, Method
from methods.losses import clip_loss


class Clip(Method):
    """L = L_CLIP(a_p, b_p); with `unpaired_negatives` the unpaired rows of the other modality
    join the candidates of each direction as extra negatives (as the released code does)."""

    name = "clip"
    label = "CLIP"
    order = 10
    baseline = True
    params = {
        "unpaired_negatives": Param(False, "use the other modality's unpaired rows as extra negatives"),
    }

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0}

    def embeddings(self) -> frozenset[str]:
        return clip_embeddings(self.p["unpaired_negatives"])

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        if batch.n_paired == 0:
            return {}
        return {"clip": clip_term(batch, self.p["unpaired_negatives"])}


def clip_embeddings(unpaired_negatives: bool) -> frozenset[str]:
    """What L_CLIP reads: the paired rows, and the unpaired ones as extra negatives."""
    return frozenset({"a_p", "b_p", *(("a_u", "b_u") if unpaired_negatives else ())})


def clip_term(batch: BatchEmbeddings, unpaired_negatives: bool) -> Tensor:
    """L_CLIP of a batch, with identical-B-content rows as positives of each other when known."""
    extra = {"extra_a": batch.a_u, "extra_b": batch.b_u} if unpaired_negatives else {}
    return clip_loss(batch.a_p, batch.b_p, batch.logit_scale, positives=batch.same_b_p, **extra)
