"""gw_match (methods/gw_match.py) against a transcription of its authors' code, and its own properties: the
kernel and the entropic solver as itsamatch runs them, the first lower bound's plan against a slow
reference, a planted isometry recovered exactly, the pairs as a fused term, and the pool cap."""

import numpy as np
import ot
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from bench.errors import BenchError
from methods.base import FitData
from methods.gw_match import (
    MATCH_CAP,
    GwMatch,
    anchor_cost,
    first_lower_bound_plan,
    gw_plan,
    match,
    standardised_distances,
)


def released_standardised_kernel(x: torch.Tensor) -> torch.Tensor:
    """itsamatch at 8581b6e6bc8f96371e14ef00acc8042757bae51c, transcribed: `GromovWasserstein.kernel`
    (distortion_metrics/gw.py: cdist(x, x, p=2)) of `normalize(x, dim=-1)`, then
    `standardize_kernel_matrix` (experiments/larger_scale_matching.py)."""
    x = torch.nn.functional.normalize(x, dim=-1)
    k = torch.cdist(x, x, p=2)
    all_but_diagonal = torch.ones_like(k, dtype=torch.bool).fill_diagonal_(False)
    return ((k - k[all_but_diagonal].mean()) / k[all_but_diagonal].std()).fill_diagonal_(0)


def released_optimal_transport(k_source: torch.Tensor, k_target: torch.Tensor):
    """itsamatch at 8581b6e6bc8f96371e14ef00acc8042757bae51c, transcribed: `UnsupervisedMatching.__call__`
    (cost1 = −h1(K_s), cost2 = h2(K_t) of `SquaredLoss`, distortion_metrics/losses.py: h1(x) = x,
    h2(y) = 2y), then `OptimalTransport.solve` with its defaults (solvers/optimal_transport.py:
    method entropic_gromov_wasserstein, one repetition, so G0 = None) negating cost1 back and calling
    `optimal_transport`: square_loss, symmetric=True, max_iter=1e3, (amijo, tol_rel, tol_abs reach POT's
    kwargs), then linear_sum_assignment(T, maximize=True)."""
    cost1 = (-k_source).numpy()
    cost2 = (2 * k_target).numpy()
    cost1 = -cost1
    plan, log = ot.gromov.entropic_gromov_wasserstein(
        cost1,
        cost2,
        loss_fun="square_loss",
        symmetric=True,
        verbose=False,
        log=True,
        G0=None,
        amijo=True,
        max_iter=1e3,
        tol_rel=1e-10,
        tol_abs=1e-10,
    )
    _, prediction = linear_sum_assignment(plan, maximize=True)
    return plan, prediction


def points(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_kernel_is_itsamatchs_standardised_distance_matrix():
    x = points(15, 6, 0)
    torch.testing.assert_close(standardised_distances(x), released_standardised_kernel(x), rtol=0, atol=1e-12)


def test_the_entropic_solver_and_the_matching_are_itsamatchs_optimal_transport():
    """The same plan and permutation as the released solver on fixed inputs (float64): B is a noisy,
    shuffled copy of A, so the plan is far from uniform."""
    xa = points(12, 5, 1)
    xb = xa[torch.randperm(12, generator=torch.Generator().manual_seed(2))] + 0.05 * points(12, 5, 3)
    ka, kb = standardised_distances(xa), standardised_distances(xb)
    plan, prediction = released_optimal_transport(ka, kb)
    ours = gw_plan(ka.numpy(), kb.numpy(), "entropic", epsilon=0.1, max_iter=1000)
    np.testing.assert_allclose(ours, plan, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(match(ours), prediction)


def test_the_first_lower_bound_plan_is_the_ot_plan_of_the_quantile_cost():
    """Against a slow reference by loops: M_ij = (1/n) Σ_q |sort(K_A[i])_q − sort(K_B[j])_q| (equal sizes)."""
    ka = standardised_distances(points(9, 4, 4)).numpy()
    kb = standardised_distances(points(9, 3, 5)).numpy()
    ref = np.zeros((9, 9))
    for i in range(9):
        for j in range(9):
            ref[i, j] = np.mean(np.abs(np.sort(ka[i]) - np.sort(kb[j])))
    expected = ot.emd(np.full(9, 1 / 9), np.full(9, 1 / 9), ref)
    np.testing.assert_allclose(first_lower_bound_plan(ka, kb), expected, atol=1e-12)


def test_a_planted_isometry_is_recovered_exactly_without_pairs():
    """B = A rotated, rescaled and shuffled: the distance matrices agree up to the order, GW is 0 at the
    true matching, and the conditional-gradient solver from the first lower bound finds it."""
    xa = points(40, 6, 6)
    q, _ = torch.linalg.qr(points(6, 6, 7))
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(8))
    xb = 3.0 * xa[perm] @ q
    pi = match(
        gw_plan(standardised_distances(xa).numpy(), standardised_distances(xb).numpy(), "cg", 0.1, 1000)
    )
    np.testing.assert_array_equal(perm[torch.from_numpy(pi)].numpy(), np.arange(40))  # row i ↔ B row π(i)


def test_without_pairs_the_fit_aligns_an_isometric_pair_of_pools_and_embeds_new_items():
    """At r = 0 the fit has only the pools; on pools that are isometric copies (B = A·Q, Q orthogonal, in
    another order) its space puts each new A item's counterpart first among the new B items."""
    z = points(200, 4, 9)
    q, _ = torch.linalg.qr(points(4, 4, 13))
    order = torch.randperm(200, generator=torch.Generator().manual_seed(12))
    empty = torch.zeros(0, 4, dtype=torch.float64)
    data = FitData.from_tensors(a_p=empty, b_p=empty, a_u=z, b_u=(z @ q)[order])
    fit = GwMatch(**defaults(dim=4, ridge=1e-6, weighting="equal")).fit(data)
    new = points(30, 4, 14)
    za, zb = fit.embed_a(new), fit.embed_b(new @ q)
    assert bool(((za @ zb.T).argmax(1) == torch.arange(30)).all())


def defaults(**values):
    return {k: p.default for k, p in GwMatch.params.items()} | values


def test_with_pairs_the_fused_term_uses_them_and_they_join_the_fit():
    """With pairs, the linear term compares each unpaired item's distances to the pairs; on pools that are a
    noisy copy of each other the fused plan matches more items than the pure GW one."""
    z = points(120, 5, 15)
    noise = 0.3 * points(120, 5, 16)
    xa, xb = z, z + noise
    paired, rest = torch.arange(20), torch.arange(20, 120)
    data = FitData.from_tensors(a_p=xa[paired], b_p=xb[paired], a_u=xa[rest], b_u=xb[rest])
    fused = GwMatch(**defaults()).fit(data)
    assert fused.w_a.shape[0] == 5
    ka_all = standardised_distances(torch.cat([xa[paired], xa[rest]])).numpy()
    kb_all = standardised_distances(torch.cat([xb[paired], xb[rest]])).numpy()
    linear = anchor_cost(ka_all[20:, :20], kb_all[20:, :20])
    with_pairs = match(gw_plan(ka_all[20:, 20:], kb_all[20:, 20:], "cg", 0.1, 1000, linear, 0.5))
    without = match(gw_plan(ka_all[20:, 20:], kb_all[20:, 20:], "cg", 0.1, 1000))
    assert (with_pairs == np.arange(100)).mean() > (without == np.arange(100)).mean()


def test_the_whole_pool_over_the_cap_is_refused_and_a_subsample_is_not():
    method = GwMatch(**defaults(match_items=0))
    why = method.check_pool(0, MATCH_CAP + 1, MATCH_CAP + 1)
    assert why and "match_items" in why and str(MATCH_CAP) in why
    assert method.check_pool(0, MATCH_CAP, MATCH_CAP) is None
    assert GwMatch(**defaults()).check_pool(0, 20000, 20000) is None


def test_the_fit_is_deterministic():
    xa, xb = points(60, 5, 17), points(60, 4, 18)
    data = FitData.from_tensors(a_p=xa[:5], b_p=xb[:5], a_u=xa[5:], b_u=xb[5:])
    first, second = GwMatch(**defaults()).fit(data), GwMatch(**defaults()).fit(data)
    torch.testing.assert_close(first.embed_a(xa), second.embed_a(xa), rtol=0, atol=0)


def test_a_bad_match_items_is_refused():
    with pytest.raises(BenchError, match="match_items"):
        GwMatch.params["match_items"].check("match_items", MATCH_CAP + 1, "method gw_match")
