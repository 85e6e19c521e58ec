"""The self-supervised term shared by clip_ssl and gentle_clip (docs/methods.md, "Self-supervised
contrastive loss"), and its parameters."""

from __future__ import annotations

from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings
from methods.losses import nt_xent

SSL_EMBEDDINGS = frozenset({"views_a", "views_b"})
SSL_PARAMS = {
    "w_ssl": Param(
        0.15,
        "weight of L_SSL, NT-Xent per modality (0 removes it)",
        low=1e-3,
        high=10.0,
        log=True,
        valid="[0, inf)",
    ),
    "tau_ssl": Param(
        0.05, "temperature τ of the NT-Xent SSL term", low=0.01, high=0.5, log=True, valid="(0, inf)"
    ),
}


def ssl_term(batch: BatchEmbeddings, tau: float) -> Tensor | None:
    """L_SSL = NT-Xent(views_a) + NT-Xent(views_b), over the modalities with at least 2 rows
    (None when neither has)."""
    parts = [nt_xent(v1, v2, tau) for v1, v2 in (batch.views_a, batch.views_b) if len(v1) >= 2]
    return sum(parts) if parts else None
