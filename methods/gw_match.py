"""gw_match: the two unpaired sets matched by Gromov–Wasserstein transport between their intra-modal distance
matrices, then one shared space fitted on the matches (docs/methods.md, "GW matching"). It needs no pairs;
with pairs, they enter the transport as a fused linear term and join the matches in the final fit."""

from __future__ import annotations

import numpy as np
import ot
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from bench.params import Param
from methods.base import ClosedForm, FitData
from methods.cca import CCA_PARAMS, CcaFit, fit_cca

MATCH_CAP = 4000  # the most items per modality a plan is computed on: O(n³) time, O(n²) memory per solve
SIDE_SEEDS = {"a": 0, "b": 1}  # each side's subsample and order (a closed form has no train seed)


def standardised_distances(x: Tensor) -> Tensor:
    """K = (D − mean) / std over the off-diagonal entries of D = cdist(x̂, x̂), x̂ the L2-normalised rows;
    the diagonal set to 0 (itsamatch `GromovWasserstein.kernel` on normalised embeddings, then
    `standardize_kernel_matrix`). float64."""
    x = F.normalize(x.double(), dim=-1)
    d = torch.cdist(x, x)
    off = ~torch.eye(len(d), dtype=torch.bool)
    return ((d - d[off].mean()) / d[off].std()).fill_diagonal_(0)


def first_lower_bound_plan(ka: np.ndarray, kb: np.ndarray) -> np.ndarray:
    """The OT plan of Mémoli's first lower bound of GW: with uniform weights, cost M_ij = W₁ between the
    distributions of row i of K_A and row j of K_B, i.e. the mean |sorted(K_A[i]) − sorted(K_B[j])| of their
    quantiles (rows of unequal length are compared on the quantiles of the shorter one)."""
    m = min(ka.shape[1], kb.shape[1])
    qs = (np.arange(m) + 0.5) / m
    sa = np.quantile(ka, qs, axis=1).T
    sb = np.quantile(kb, qs, axis=1).T
    cost = torch.cdist(torch.from_numpy(sa), torch.from_numpy(sb), p=1).numpy() / m
    return ot.emd(ot.unif(len(ka)), ot.unif(len(kb)), cost)


def anchor_cost(ka_anchor: np.ndarray, kb_anchor: np.ndarray) -> np.ndarray:
    """M_ij = mean_k |K_A(i, p_k) − K_B(j, p_k)|: how differently unpaired item i of A and item j of B lie
    relative to the n_p pairs p_k (each row: an item's standardised distances to the paired items of its
    modality, the pairs in the same order on both sides)."""
    return (
        torch.cdist(torch.from_numpy(ka_anchor), torch.from_numpy(kb_anchor), p=1).numpy()
        / ka_anchor.shape[1]
    )


def gw_plan(
    ka: np.ndarray,
    kb: np.ndarray,
    solver: str,
    epsilon: float,
    max_iter: int,
    linear: np.ndarray | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """The transport plan T (n_A × n_B, uniform marginals) minimising Σ (K_A[i,k] − 2 K_B[j,l])² T_ij T_kl,
    itsamatch's factorised square loss (h₁(K_A) = K_A, h₂(K_B) = 2 K_B), i.e. maximising Σ K_A K_B T T.

    `cg`: POT's conditional-gradient `gromov_wasserstein`, started from the first lower bound's plan; with a
    linear cost `linear` (from the pairs) POT's `fused_gromov_wasserstein`, (1 − α)⟨M, T⟩ + α·GW, started
    from the OT plan of M. `entropic`: POT's `entropic_gromov_wasserstein` with ε from the product plan,
    itsamatch's `OptimalTransport` solver as released (pure GW: the linear term is not used)."""
    args = {"loss_fun": "square_loss", "symmetric": True}
    if solver == "entropic":
        return ot.gromov.entropic_gromov_wasserstein(
            ka, 2 * kb, epsilon=epsilon, max_iter=max_iter, tol=1e-9, **args
        )
    tol = {"max_iter": max_iter, "tol_rel": 1e-9, "tol_abs": 1e-9}
    if linear is None:
        return ot.gromov.gromov_wasserstein(ka, 2 * kb, G0=first_lower_bound_plan(ka, kb), **args, **tol)
    start = ot.emd(ot.unif(len(ka)), ot.unif(len(kb)), linear)
    return ot.gromov.fused_gromov_wasserstein(linear, ka, 2 * kb, alpha=alpha, G0=start, **args, **tol)


def match(plan: np.ndarray) -> np.ndarray:
    """Column matched to each row: the assignment of largest total plan mass (itsamatch:
    linear_sum_assignment(T, maximize=True)); with more rows than columns, the unmatched rows get -1."""
    rows, cols = linear_sum_assignment(plan, maximize=True)
    out = np.full(plan.shape[0], -1)
    out[rows] = cols
    return out


def subsample(n: int, k: int, seed: int) -> Tensor:
    """A seeded random order of min(n, k) of the n rows."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k]


class GwMatch(ClosedForm):
    """Match U_A and U_B by GW transport of their distance matrices; CCA on the matches (and the pairs)."""

    name = "gw_match"
    label = "GW match"
    order = 88
    needs_pairs = False
    source = (
        "Schnaus et al., CVPR 2025 (arXiv 2503.24129), code dominik-schnaus/itsamatch "
        "(solvers/optimal_transport.py, distortion_metrics/gw.py); POT ot.gromov; the space is the cca fit"
    )
    params = {
        "match_items": Param(
            500,
            f"unpaired items per modality the plan is computed on, a seeded subsample (0: the whole pool, "
            f"refused above {MATCH_CAP}); cost O(n³)",
            valid=f"[0, {MATCH_CAP}]",
        ),
        "solver": Param(
            "cg",
            "cg: exact GW by conditional gradient from the first lower bound's plan (fused with the pairs' "
            "term when there are pairs); entropic: itsamatch's released solver (entropic GW, product start)",
            ("cg", "entropic"),
        ),
        "epsilon": Param(0.1, "entropic ε (solver=entropic; POT's default, itsamatch's)", valid="(0, inf)"),
        "max_iter": Param(1000, "outer iterations of the GW solver (itsamatch: 1000)", valid="[1, inf)"),
        "alpha": Param(
            0.5,
            "fused GW with pairs: weight α of the GW term against the pairs' linear term (POT's default)",
            low=0.1,
            high=0.9,
            valid="[0, 1]",
        ),
        **CCA_PARAMS,
    }

    def check_pool(self, n_paired: int, n_unpaired_a: int, n_unpaired_b: int) -> str | None:
        if self.p["match_items"] == 0 and max(n_unpaired_a, n_unpaired_b) > MATCH_CAP:
            return (
                f"gw_match: match_items=0 matches the whole unpaired pool, {max(n_unpaired_a, n_unpaired_b)} "
                f"items, over its cap of {MATCH_CAP} (GW costs O(n³)); set --method-param match_items=N "
                f"with N ≤ {MATCH_CAP} (a seeded subsample)"
            )
        return None

    def fit(self, data: FitData) -> CcaFit:
        """T from `gw_plan` on the standardised distance matrices of the subsampled pools, the matches
        i ↔ π(i) by `match`, then the cca fit of [pairs; matches] (methods/cca.py `fit_cca`)."""
        p = self.p
        k = p["match_items"] or MATCH_CAP
        ia, ib = subsample(len(data.a_u), k, SIDE_SEEDS["a"]), subsample(len(data.b_u), k, SIDE_SEEDS["b"])
        ua, ub = data.a_u[ia], data.b_u[ib]
        xa, xb = data.a_p, data.b_p
        if len(ua) and len(ub):
            n_p = len(xa)
            ka_all = standardised_distances(torch.cat([xa, ua])).numpy()
            kb_all = standardised_distances(torch.cat([xb, ub])).numpy()
            ka, kb = ka_all[n_p:, n_p:], kb_all[n_p:, n_p:]
            linear = anchor_cost(ka_all[n_p:, :n_p], kb_all[n_p:, :n_p]) if n_p else None
            plan = gw_plan(ka, kb, p["solver"], p["epsilon"], p["max_iter"], linear, p["alpha"])
            pi = torch.from_numpy(match(plan))
            kept = pi >= 0
            xa, xb = torch.cat([xa, ua[kept]]), torch.cat([xb, ub[pi[kept]]])
        return fit_cca(xa, xb, p["dim"], p["ridge"], p["weighting"])
