"""STRUCTURE's regulariser as a term (docs/methods.md, "STRUCTURE"), shared by structure and gentle_clip:
how far the neighbourhoods of the aligned embeddings drift from those of the frozen features."""

from __future__ import annotations

import torch
from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings
from methods.losses import structure_divergence

# The authors' linear configuration (mlbio-epfl/STRUCTURE, read in its copy shiwonkim/structure at f32ec8d,
# configs/_reference_structure/losses_lin/clip_structure_1.yaml, the same values in default_original.yaml):
# temperature 0.05 (its CLIP temperature, which structure_reg also uses), structure_lambda 10.0,
# structure_levels 1, structure_weighting none, warmup_steps 1000; centring `mean` and distance `cosine` are
# CLIPLoss's defaults (src/loss/clip_loss.py).
STRUCTURE_PARAMS = {
    "structure_levels": Param(
        1, "levels L of the similarity structure compared (STRUCTURE: 1)", valid="[1, inf)"
    ),
    "structure_tau": Param(
        0.05,
        "temperature τ of the row softmax of both similarity matrices (STRUCTURE: 0.05, its CLIP τ)",
        low=0.01,
        high=0.5,
        log=True,
        valid="(0, inf)",
    ),
    "structure_weighting": Param(
        "none", "weight of level l: 1 (none, STRUCTURE's linear config) or 1/l", ("none", "inverse")
    ),
}
FEATURE_KEYS = {"p": frozenset({"a_p", "b_p", "feat_a_p", "feat_b_p"})}
FEATURE_KEYS["u"] = frozenset({"a_u", "b_u", "feat_a_u", "feat_b_u"})


def structure_term(batch: BatchEmbeddings, kinds: str, p: dict) -> Tensor | None:
    """½ [R(F_A, Z_A) + R(F_B, Z_B)] (losses.structure_divergence), Z_X the rows of kinds `kinds`
    ("p": the paired rows; "pu": paired then unpaired) and F_X their frozen features; a modality with
    fewer than 2 such rows is left out (a lone row's structure is trivially kept), None when both are."""
    parts = []
    for side in "ab":
        z = torch.cat([getattr(batch, f"{side}_{k}") for k in kinds])
        if len(z) < 2:
            continue
        feats = torch.cat([getattr(batch, f"feat_{side}_{k}") for k in kinds])
        args = p["structure_levels"], p["structure_tau"], p["structure_weighting"]
        parts.append(structure_divergence(feats, z, *args))
    return sum(parts) / 2 if parts else None


def structure_embeddings(kinds: str) -> frozenset[str]:
    """What structure_term reads for rows of kinds `kinds`."""
    return frozenset().union(*(FEATURE_KEYS[k] for k in kinds))
