"""Gentle-CLIP (arXiv 2406.05766): CLIP on the few pairs plus set terms that need no pairing
(docs/methods.md, "A training step" and "Total loss and default weights")."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor

from bench.params import Param, Variant
from methods._ssl import SSL_EMBEDDINGS, SSL_PARAMS, ssl_term
from methods._structure import STRUCTURE_PARAMS, structure_embeddings, structure_term
from methods.base import BatchEmbeddings, Method
from methods.clip import clip_embeddings, clip_term
from methods.losses import joint_sq_dists, mk_mmd, sdd

# The released training objective (cauchy-max/Set-CLIP, general_version_lanuage/end_to_end.py, `train`):
# the released weights, the single kernel exp(−‖x − y‖²) (`mmd_loss_gpt`), the unpaired rows as extra
# CLIP negatives (logits over all 64 rows) and a fixed τ = 0.05 (docs/methods.md, "Total loss and
# default weights").
RELEASED = {
    "w_clip": 1.0,
    "w_sdd": 0.7,
    "w_mmd": 0.2,
    "w_ssl": 0.15,
    "tau_ssl": 0.05,
    "sdd_variant": "reference",
    "mmd_kernels": "single",
    "unpaired_negatives": True,
    "temperature": 0.05,
    "learn_temperature": False,
}


class GentleClip(Method):
    """L = w_clip·L_CLIP + w_sdd·L_SDD + w_mmd·L_MMD + w_ssl·L_SSL + w_structure·L_STRUCTURE.

    L_CLIP on the paired rows (left out when b_p = 0); L_SDD and L_MMD on the sets Z_A and Z_B
    (left out when either has fewer than 2 rows), sharing one distance matrix; L_SSL on the views;
    L_STRUCTURE, STRUCTURE's regulariser (methods/_structure.py) on all rows of Z_A and Z_B against their
    frozen features, off by default. A weight of 0 removes its term and skips its computation.
    """

    name = "gentle_clip"
    label = "Gentle-CLIP"
    source = "arXiv 2406.05766 (Gentle-CLIP / Set-CLIP); code cauchy-max/Set-CLIP (end_to_end.py)"
    order = 60
    needs_pairs = False
    params = {
        "w_clip": Param(
            1.0, "weight of L_CLIP on the paired rows", low=0.1, high=10.0, log=True, valid="[0, inf)"
        ),
        "w_sdd": Param(
            0.7, "weight of the SDD set term (0 removes it)", low=1e-4, high=1e3, log=True, valid="[0, inf)"
        ),
        "w_mmd": Param(
            0.2,
            "weight of the multi-kernel MMD set term (0 removes it)",
            low=1e-3,
            high=10.0,
            log=True,
            valid="[0, inf)",
        ),
        **SSL_PARAMS,
        "sdd_variant": Param(
            "reference", "SDD as released, or batch-size invariant", ("reference", "normalized")
        ),
        "mmd_kernels": Param(
            "dsn19", "MMD kernels: DSN's 19, exp(-d²), or median × 2^k", ("dsn19", "single", "median")
        ),
        "unpaired_negatives": Param(False, "use the other modality's unpaired rows as extra CLIP negatives"),
        # no search range: tuning Gentle-CLIP searches what it searched before the term existed
        "w_structure": Param(
            0.0, "weight of STRUCTURE's regulariser, all rows vs frozen features (0: off)", valid="[0, inf)"
        ),
        **{k: replace(p, low=None, high=None, log=False) for k, p in STRUCTURE_PARAMS.items()},
    }
    variants = {
        "gentle_clip_no_sdd": Variant({"w_sdd": 0.0}, "Gentle-CLIP (no SDD)", ablation=True),
        "gentle_clip_no_mmd": Variant({"w_mmd": 0.0}, "Gentle-CLIP (no MMD)", ablation=True),
        "gentle_clip_no_ssl": Variant({"w_ssl": 0.0}, "Gentle-CLIP (no SSL)", ablation=True),
        "gentle_clip_released": Variant(RELEASED, "Gentle-CLIP (released)"),
    }

    def weights(self) -> dict[str, float]:
        return {k: self.p[f"w_{k}"] for k in ("clip", "sdd", "mmd", "ssl", "structure")}

    def embeddings(self) -> frozenset[str]:
        w = self.weights()
        clip = clip_embeddings(self.p["unpaired_negatives"]) if w["clip"] else set()
        sets = {"a_p", "b_p", "a_u", "b_u"} if w["sdd"] or w["mmd"] else set()
        structure = structure_embeddings("pu") if w["structure"] else set()
        return frozenset(clip | sets | (SSL_EMBEDDINGS if w["ssl"] else set()) | structure)

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        w = self.weights()
        out = {}
        if w["clip"] and batch.n_paired:
            out["clip"] = clip_term(batch, self.p["unpaired_negatives"])
        if w["ssl"] and (ssl := ssl_term(batch, self.p["tau_ssl"])) is not None:
            out["ssl"] = ssl
        if (w["sdd"] or w["mmd"]) and len(batch.za) >= 2 and len(batch.zb) >= 2:
            dists = joint_sq_dists(batch.za, batch.zb)
            if w["sdd"]:
                out["sdd"] = sdd(batch.za, batch.zb, self.p["sdd_variant"], dists=dists)
            if w["mmd"]:
                out["mmd"] = mk_mmd(batch.za, batch.zb, self.p["mmd_kernels"], dists=dists)
        if w["structure"] and (reg := structure_term(batch, "pu", self.p)) is not None:
            out["structure"] = reg
        return out
