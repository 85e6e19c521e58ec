"""My method: CLIP on the pairs plus a weighted MMD between all A rows and all B rows of the batch.

A template (docs/code.md, "Adding a method"): copy it to methods/<name>.py, rename the class, `name` and
`label`, and replace the terms. The generic contract tests (tests/test_method_contract.py) test it as is.
"""

from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings, Method
from methods.losses import clip_loss, mk_mmd


class MyMethod(Method):
    """L = L_CLIP(a_p, b_p) + w_mmd · MMD²(za, zb): the pairs are aligned, and the set of every A row of
    the batch (paired and unpaired) is drawn towards the set of every B row. Without pairs (r = 0) the
    MMD term alone trains; a set term on fewer than 2 rows is skipped."""

    name = "my_method"
    label = "My method"
    order = 500
    source = "a template (docs/code.md): CLIP (Radford et al. 2021) + MMD (Gretton et al. 2012)"
    needs_pairs = False
    params = {
        "w_mmd": Param(
            0.1, "weight of the MMD term (0: plain CLIP)", low=0.01, high=1.0, log=True, valid="[0, inf)"
        ),
    }

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0, "mmd": self.p["w_mmd"]}

    def embeddings(self) -> frozenset[str]:
        return frozenset({"a_p", "b_p", "a_u", "b_u"} if self.p["w_mmd"] else {"a_p", "b_p"})

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        out = {}
        if batch.n_paired:
            out["clip"] = clip_loss(batch.a_p, batch.b_p, batch.logit_scale, positives=batch.same_b_p)
        if self.p["w_mmd"] and len(batch.za) > 1 and len(batch.zb) > 1:
            out["mmd"] = mk_mmd(batch.za, batch.zb)
        return out
