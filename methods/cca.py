"""CCA: ridge-regularised canonical correlation analysis of the paired frozen features, the closed-form core
of CSA (docs/methods.md, "CCA"). Its fit is also SOTAlign's linear teacher (methods/sotalign.py)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.params import Param
from methods.base import ClosedForm, FitData

EIGEN_FLOOR = 1e-10  # eigenvalues of a regularised covariance are floored here before the inverse square root

CCA_PARAMS = {
    "dim": Param(
        256,
        "canonical directions kept, d (at most min(F_A, F_B) and the number of pairs)",
        low=8,
        high=512,
        log=True,
        valid="[1, inf)",
    ),
    "ridge": Param(
        1e-3,
        "ridge c: each covariance is (1 - c)·Σ + c·I (canonical ridge; 0 is plain CCA, CSA's)",
        low=1e-4,
        high=0.5,
        log=True,
        valid="[0, 1)",
    ),
    "weighting": Param(
        "correlation",
        "score Σ_k ρ_k·x̂_k·ŷ_k over the d directions (CSA's), or their plain cosine",
        ("correlation", "equal"),
    ),
}


@dataclass
class CcaFit:
    """A fitted CCA: the means of the paired features, the canonical directions W_A (F_A × m) and W_B
    (F_B × m) in decreasing order of the canonical correlations ρ (m,), and how many to keep and score."""

    mean_a: Tensor
    mean_b: Tensor
    w_a: Tensor
    w_b: Tensor
    rho: Tensor
    dim: int
    weighting: str
    prompt_pooling: str = "mean"

    def embed_a(self, h: Tensor) -> Tensor:
        return self._embed(h, self.mean_a, self.w_a)

    def embed_b(self, h: Tensor) -> Tensor:
        return self._embed(h, self.mean_b, self.w_b)

    def _embed(self, h: Tensor, mean: Tensor, w: Tensor) -> Tensor:
        """√ρ ⊙ normalise((h − mean) W[:, :d]), so that the dot product of an A and a B row is CSA's
        Σ_k ρ_k x̂_k ŷ_k (`weighting=correlation`), or normalise(·), their cosine (`equal`)."""
        z = F.normalize((h.to(w.dtype) - mean) @ w[:, : self.dim], dim=-1)
        if self.weighting == "correlation":
            z = z * self.rho[: self.dim].sqrt()
        return z.float()


def fit_cca(xa: Tensor, xb: Tensor, dim: int, ridge: float, weighting: str = "correlation") -> CcaFit:
    """Canonical ridge CCA of paired rows xa (n × F_A), xb (n × F_B), in float64.

    With centred X_A, X_B: C_A = (1 − c) X_Aᵀ X_A / n + c I, C_B likewise, C_AB = X_Aᵀ X_B / n;
    U S Vᵀ = svd(C_A^{-1/2} C_AB C_B^{-1/2}); W_A = C_A^{-1/2} U, W_B = C_B^{-1/2} V, ρ = S. The inverse
    square roots come from eigendecompositions with eigenvalues floored at EIGEN_FLOOR. `dim` is cut to
    the number of directions there are (min(F_A, F_B, n))."""
    xa, xb = xa.double(), xb.double()
    n = len(xa)
    mean_a, mean_b = xa.mean(0), xb.mean(0)
    xa, xb = xa - mean_a, xb - mean_b
    root_a, root_b = _inverse_sqrt(_ridge_cov(xa, ridge)), _inverse_sqrt(_ridge_cov(xb, ridge))
    u, s, vh = torch.linalg.svd(root_a @ (xa.T @ xb / n) @ root_b, full_matrices=False)
    kept = min(dim, len(s), n)
    return CcaFit(mean_a, mean_b, root_a @ u, root_b @ vh.T, s, kept, weighting)


def _ridge_cov(x: Tensor, ridge: float) -> Tensor:
    """(1 − c) XᵀX / n + c I of centred rows X."""
    eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return (1 - ridge) * x.T @ x / len(x) + ridge * eye


def _inverse_sqrt(c: Tensor) -> Tensor:
    values, vectors = torch.linalg.eigh(c)
    return (vectors * values.clamp_min(EIGEN_FLOOR).rsqrt()) @ vectors.T


class Cca(ClosedForm):
    """CCA of the paired frozen features, both sides projected to the top d canonical directions."""

    name = "cca"
    label = "CCA"
    order = 85
    source = (
        "CSA (Li et al., ICLR 2025), code UTAustin-SwarmLab/Multi-modal-Data-Alignment "
        "(mmda/utils/cca_class.py NormalizedCCA, mmda/utils/sim_utils.py weighted_corr_sim)"
    )
    params = CCA_PARAMS

    def fit(self, data: FitData) -> CcaFit:
        return fit_cca(data.a_p, data.b_p, self.p["dim"], self.p["ridge"], self.p["weighting"])
