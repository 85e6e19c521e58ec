"""CLIP + SSL: the control that tells how much of a gain the self-supervised term alone brings
(docs/methods.md, "CLIP + SSL")."""

from torch import Tensor

from methods._ssl import SSL_EMBEDDINGS, SSL_PARAMS, ssl_term
from methods.base import BatchEmbeddings
from methods.clip import Clip


class ClipSsl(Clip):
    """L = L_CLIP + w_ssl · L_SSL. The SSL term needs no pairs, so at r = 0 it trains on it alone
    (the control of gentle_clip at r = 0)."""

    name = "clip_ssl"
    label = "CLIP + SSL"
    source = "this project: the control for the SSL term (NT-Xent, Chen et al. 2020; SimCSE, Gao et al. 2021)"
    order = 20
    control_of = "gentle_clip"
    baseline = False  # CLIP is the baseline; a control is not
    params = {**Clip.params, **SSL_PARAMS}
    needs_pairs = False

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0, "ssl": self.p["w_ssl"]}

    def embeddings(self) -> frozenset[str]:
        return super().embeddings() | (SSL_EMBEDDINGS if self.p["w_ssl"] else set())

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        out = super().terms(batch)
        if self.p["w_ssl"] and (ssl := ssl_term(batch, self.p["tau_ssl"])) is not None:
            out["ssl"] = ssl
        return out
