"""STRUCTURE (Gröger et al., NeurIPS 2025): CLIP on the pairs plus a regulariser that keeps each
modality's neighbourhood structure in the shared space close to that of its frozen features
(docs/methods.md, "STRUCTURE")."""

from __future__ import annotations

from torch import Tensor

from bench.params import Param
from methods._structure import STRUCTURE_PARAMS, structure_embeddings, structure_term
from methods.base import BatchEmbeddings, Method
from methods.clip import clip_term


class Structure(Method):
    """L = L_CLIP + λ_t · ½ [R(F_A, Z_A) + R(F_B, Z_B)], λ_t = λ · min(1, t / T_warm) at the t-th step
    (from 0), as released (mlbio-epfl/STRUCTURE, src/loss/clip_loss.py, `CLIPLoss.step` and `forward`).

    Z_X are the batch's paired rows of modality X (with `structure_unpaired`, its unpaired rows too, as the
    released `add_image_features` / `add_text_features` with `structure_use_only_unimodal` false) and F_X
    their frozen features (FitData); R is losses.structure_divergence. The term's logged value is
    min(1, t / T_warm) · ½ [R_A + R_B]; its weight is λ (`w_structure`).
    """

    name = "structure"
    label = "STRUCTURE"
    source = (
        "Gröger et al., NeurIPS 2025 (arXiv 2506.16895); code mlbio-epfl/STRUCTURE "
        "(src/loss/clip_loss.py structure_reg, CLIPLoss; defaults: its linear config clip_structure_1.yaml)"
    )
    order = 92
    params = {
        # The released linear config trains CLIP at a fixed τ = 0.05 (clip_structure_1.yaml `temperature`;
        # CLIPLoss keeps it in a buffer unless learnable_temperature, which the config does not set).
        "temperature": Param(
            0.05, "CLIP temperature τ (STRUCTURE: 0.05)", low=0.01, high=0.2, log=True, valid="(0, inf)"
        ),
        "learn_temperature": Param(False, "train t = log s (STRUCTURE keeps τ fixed)"),
        "w_structure": Param(
            10.0,
            "weight λ of the structure term (STRUCTURE: 10; 0 removes it)",
            low=0.1,
            high=100.0,
            log=True,
            valid="[0, inf)",
        ),
        **STRUCTURE_PARAMS,
        "structure_warmup": Param(
            1000, "steps T_warm of the linear ramp of λ from 0 (STRUCTURE: 1000; 0: none)", valid="[0, inf)"
        ),
        "structure_unpaired": Param(
            False, "the unpaired rows join each modality's structure term (STRUCTURE's unimodal data option)"
        ),
    }

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0, "structure": self.p["w_structure"]}

    def kinds(self) -> str:
        return "pu" if self.p["structure_unpaired"] else "p"

    def embeddings(self) -> frozenset[str]:
        extra = structure_embeddings(self.kinds()) if self.p["w_structure"] else frozenset()
        return frozenset({"a_p", "b_p"}) | extra

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        if batch.n_paired == 0:
            return {}
        out = {"clip": clip_term(batch, False)}
        if self.p["w_structure"] and (reg := structure_term(batch, self.kinds(), self.p)) is not None:
            warm = self.p["structure_warmup"]
            out["structure"] = reg * (min(1.0, batch.step / warm) if warm else 1.0)
        return out
