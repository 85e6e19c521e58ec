"""methods/losses.py against the plain reference, its properties and its numerical rules."""

from functools import partial
from itertools import pairwise

import numpy as np
import ot
import pytest
import torch
import torch.nn.functional as F

from bench.perf import reference as R
from methods import losses as L

KERNELS = ("dsn19", "single", "median")
VARIANTS = ("reference", "normalized")


def unit(n, d=16, seed=0, dtype=torch.float64, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=dtype)
    z[:, 0] += shift
    return F.normalize(z, dim=1)


def close_sets(dtype=torch.float64):
    """x (9 rows) and y (11 rows): y holds 4 rows of x moved by about 1e-3, so that the narrow
    DSN kernels (σ down to 1e-6) see non-trivial values, and 7 unrelated rows."""
    x = unit(9, dtype=dtype)
    near = F.normalize(x[:4] + 1e-3 * unit(4, seed=5, dtype=dtype), dim=1)
    return x, torch.cat([near, unit(7, seed=1, dtype=dtype, shift=0.7)])


def leaf(*ts):
    return [t.detach().clone().requires_grad_() for t in ts]


def value_and_grads(fn, *inputs):
    inputs = leaf(*inputs)
    out = fn(*inputs)
    grads = torch.autograd.grad(out, inputs)
    return out.detach(), grads


def assert_agree(project, reference, *inputs, rtol=1e-6):
    """Values to `rtol` relative; gradients to `rtol` relative with a tiny absolute slack (the
    project floors exponents at −40, which moves a gradient entry by under 2e-12)."""
    (v, g), (rv, rg) = value_and_grads(project, *inputs), value_and_grads(reference, *inputs)
    torch.testing.assert_close(v, rv, rtol=rtol, atol=0)
    for a, b in zip(g, rg, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=1e-10)


# --- agreement with the plain reference, float64 ---------------------------------------------


@pytest.mark.parametrize("positives", [None, "symmetric", "asymmetric"])
@pytest.mark.parametrize("extra", [False, True])
def test_clip_loss_matches_reference(positives, extra):
    za, zb = unit(7, seed=0), unit(7, seed=1)
    kw = {}
    if positives:
        same = torch.zeros(7, 7, dtype=torch.bool)
        same[0, 3] = same[2, 5] = same[2, 6] = True
        kw["positives"] = same | same.T if positives == "symmetric" else same
    if extra:
        kw["extra_a"], kw["extra_b"] = unit(3, seed=2), unit(4, seed=3)
    inputs = [za, zb] + ([kw.pop("extra_a"), kw.pop("extra_b")] if extra else [])

    def call(lib):
        def f(a, b, *ex):
            extras = {"extra_a": ex[0], "extra_b": ex[1]} if ex else {}
            return lib.clip_loss(a, b, torch.tensor(14.3, dtype=a.dtype), **kw, **extras)

        return f

    assert_agree(call(L), call(R), *inputs)


def test_clip_positives_change_the_loss():
    """Marking two rows as positives of each other must change the value (else the option is inert)."""
    za, zb = unit(5, seed=0), unit(5, seed=1)
    same = torch.zeros(5, 5, dtype=torch.bool)
    same[0, 1] = same[1, 0] = True
    assert not torch.isclose(L.clip_loss(za, zb, 10.0), L.clip_loss(za, zb, 10.0, positives=same))


@pytest.mark.parametrize("tau", [0.05, 0.5])
def test_nt_xent_matches_reference(tau):
    z1 = unit(9, seed=0)
    z2 = F.normalize(z1 + 0.3 * unit(9, seed=1), dim=1)
    assert_agree(lambda a, b: L.nt_xent(a, b, tau), lambda a, b: R.nt_xent(a, b, tau), z1, z2)


def far_sets():
    """Sets 10 apart: every cross density is below the 1e-12 floor."""
    return unit(9), unit(11, seed=1) + 10.0


SETS = {"close": close_sets, "far": far_sets}


@pytest.mark.parametrize("sets", list(SETS))
@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("kernels", KERNELS)
def test_mk_mmd_matches_reference(kernels, unbiased, sets):
    x, y = SETS[sets]()
    assert_agree(
        lambda a, b: L.mk_mmd(a, b, kernels, unbiased), lambda a, b: R.mk_mmd(a, b, kernels, unbiased), x, y
    )


@pytest.mark.parametrize(("variant", "sets"), [(v, "close") for v in VARIANTS] + [("reference", "far")])
def test_sdd_matches_reference(variant, sets):
    """(Far sets under `normalized` have no reference value: the plain q / Σq is 0/0 there.)"""
    x, y = SETS[sets]()
    assert_agree(lambda a, b: L.sdd(a, b, variant), lambda a, b: R.sdd(a, b, variant), x, y)


def test_shared_distance_matrix_gives_the_same_terms():
    x, y = close_sets()
    d = L.joint_sq_dists(x, y)
    assert torch.equal(L.sdd(x, y, dists=d), L.sdd(x, y))
    assert torch.equal(L.mk_mmd(x, y, dists=d), L.mk_mmd(x, y))


# --- properties -----------------------------------------------------------------------------


def test_sq_dists_clamped_with_exact_zero_self_diagonal():
    x = unit(6, dtype=torch.float32).repeat(3, 1)  # duplicates: round-off would give ±1e-7
    d = L.sq_dists(x, x, same=True)
    assert torch.all(d.diagonal() == 0)
    assert d.min() >= 0
    torch.testing.assert_close(d, R.pairwise_sq_dists(x, x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kernels", KERNELS)
def test_biased_mmd_of_a_set_with_itself_is_zero(kernels):
    """Up to the round-off of the cross distances x_i·x_i (1e-16 in float64, which the σ = 1e-6
    kernel turns into about 1e-11). (The unbiased estimate of X against itself is negative: its
    cross term keeps the diagonal that its within terms leave out.)"""
    x = unit(10)
    assert abs(float(L.mk_mmd(x, x.clone(), kernels))) < 1e-9
    assert float(L.mk_mmd(x, x.clone(), kernels, unbiased=True)) < 0


@pytest.mark.parametrize("kernels", KERNELS)
def test_biased_mmd_is_non_negative(kernels):
    for seed in range(5):
        x = unit(8, seed=seed)
        y = F.normalize(x + 1e-4 * unit(8, seed=seed + 10), dim=1)  # nearly the same set
        assert float(L.mk_mmd(x, y, kernels)) >= 0
        assert float(L.mk_mmd(x, unit(8, seed=seed + 20), kernels)) > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_sdd_of_a_set_with_itself_is_zero_and_positive_otherwise(variant):
    x = unit(10)
    assert abs(float(L.sdd(x, x.clone(), variant))) < 1e-12
    assert float(L.sdd(x, unit(10, seed=3), variant)) > 1e-3


@pytest.mark.parametrize("variant", VARIANTS)
def test_sdd_is_invariant_to_permuting_either_set(variant):
    x, y = close_sets()
    value = L.sdd(x, y, variant)
    torch.testing.assert_close(L.sdd(x[torch.randperm(len(x))], y, variant), value, rtol=1e-12, atol=0)
    torch.testing.assert_close(L.sdd(x, y[torch.randperm(len(y))], variant), value, rtol=1e-12, atol=0)


SHIFTS = (0.0, 0.1, 0.25, 0.5, 1.0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sdd_grows_as_one_set_moves_away(variant):
    x, y = unit(12, seed=0), unit(12, seed=1)
    values = [float(L.sdd(x, y + s, variant)) for s in SHIFTS]
    assert all(a < b for a, b in pairwise(values)), values


@pytest.mark.parametrize("kernels", KERNELS)
def test_mmd_grows_as_one_set_moves_away(kernels):
    x, y = unit(12, seed=0), unit(12, seed=1)
    values = [float(L.mk_mmd(x, y + s, kernels)) for s in SHIFTS]
    assert all(a < b for a, b in pairwise(values)), values


# --- numerical rules ------------------------------------------------------------------------


def edge_cases():
    x = unit(6, dtype=torch.float32)
    same = x[:1].repeat(5, 1)
    return {
        "duplicates": (x.repeat(2, 1), torch.cat([x, x[:3]])),
        "all_equal": (same, same.clone()),
        "all_equal_vs_random": (same, unit(4, seed=2, dtype=torch.float32)),
        "one_vs_one": (x[:1], x[1:2]),
        "one_vs_three": (x[:1], x[1:4]),
        "two_vs_two": (x[:2], x[2:4]),
        "bfloat16": (x.bfloat16(), unit(7, seed=4, dtype=torch.bfloat16)),
        "bfloat16_duplicates": (x.bfloat16().repeat(2, 1), x.bfloat16()),
    }


SET_TERMS = {
    **{f"sdd_{v}": partial(L.sdd, variant=v) for v in VARIANTS},
    **{
        f"mmd_{k}_{'u' if u else 'b'}": partial(L.mk_mmd, kernels=k, unbiased=u)
        for k in KERNELS
        for u in (0, 1)
    },
}


@pytest.mark.parametrize("case", list(edge_cases()))
@pytest.mark.parametrize("term", list(SET_TERMS))
def test_set_terms_finite_in_edge_cases(term, case):
    a, b = leaf(*edge_cases()[case])
    value = SET_TERMS[term](a, b)
    value.backward()
    assert torch.isfinite(value), value
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


@pytest.mark.parametrize("case", ["duplicates", "all_equal", "two_vs_two", "bfloat16", "bfloat16_duplicates"])
def test_pair_losses_finite_in_edge_cases(case):
    a, b = edge_cases()[case]
    n = min(len(a), len(b))
    for fn in (lambda p, q: L.clip_loss(p, q, 100.0), L.nt_xent):
        p, q = leaf(a[:n], b[:n])
        value = fn(p, q)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(p.grad).all() and torch.isfinite(q.grad).all()


@pytest.mark.parametrize("term", list(SET_TERMS))
def test_set_terms_run_in_float32_for_bfloat16_inputs(term):
    """bfloat16 inputs give the float32 value of the same rounded inputs, and bfloat16 autocast
    does not change the value (in bfloat16 the MMD reads as one rounding step, SDD is 6-15× off)."""
    fn = SET_TERMS[term]
    x, y = close_sets(torch.float32)
    x16, y16 = x.bfloat16(), y.bfloat16()
    torch.testing.assert_close(fn(x16, y16), fn(x16.float(), y16.float()), rtol=1e-6, atol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = fn(x, y)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, fn(x, y), rtol=1e-6, atol=0)


def test_exponents_are_floored():
    """The narrowest kernel of far points gives exp(−40), not an exact 0 from the slow path."""
    d = torch.tensor([[0.0, 3.0], [3.0, 0.0]], dtype=torch.float64)
    k = L.kernel_sum(d, (1e-6,))
    expected = torch.tensor([[1.0, np.exp(-40)], [np.exp(-40), 1.0]], dtype=torch.float64)
    torch.testing.assert_close(k, expected, rtol=1e-12, atol=0)


def test_kernel_sum_gradient_matches_autograd_of_its_formula():
    d = (torch.rand(5, 5, dtype=torch.float64) * 4).requires_grad_()
    variances = (0.1, 1.0, 5.0, 100.0)
    (g,) = torch.autograd.grad(L.kernel_sum(d, variances).sum(), d)
    (expected,) = torch.autograd.grad(sum(torch.exp(-d / (2 * s)) for s in variances).sum(), d)
    torch.testing.assert_close(g, expected, rtol=1e-12, atol=0)


# --- Sinkhorn ---------------------------------------------------------------------------------


def ot_problem(n=6, m=4, eps=0.1):
    a, b = unit(n, seed=0), unit(m, seed=1)
    return 1 - a @ b.T, eps


def test_sinkhorn_rows_exact_and_columns_converge():
    cost, eps = ot_problem()
    plan = L.sinkhorn(cost, eps, iters=10)
    torch.testing.assert_close(plan.sum(1), torch.full((6,), 1 / 6, dtype=plan.dtype), rtol=1e-12, atol=0)
    plan = L.sinkhorn(cost, eps, iters=500)
    torch.testing.assert_close(plan.sum(1), torch.full((6,), 1 / 6, dtype=plan.dtype), rtol=1e-10, atol=0)
    torch.testing.assert_close(plan.sum(0), torch.full((4,), 1 / 4, dtype=plan.dtype), rtol=1e-8, atol=0)


@pytest.mark.parametrize("iters", [1, 10, 100])
@pytest.mark.parametrize("eps", [0.07, 0.5])
def test_sinkhorn_agrees_with_pot(iters, eps):
    cost, _ = ot_problem()
    a, b = np.full(6, 1 / 6), np.full(4, 1 / 4)
    expected = ot.sinkhorn(a, b, cost.numpy(), eps, numItermax=iters, stopThr=0.0, warn=False)
    np.testing.assert_allclose(L.sinkhorn(cost, eps, iters).numpy(), expected, rtol=1e-9, atol=0)


def test_sinkhorn_stable_for_small_eps():
    cost, _ = ot_problem()
    plan = L.sinkhorn(cost.float(), 0.005, iters=10)  # exp(−C/ε) underflows outside the log domain
    assert torch.isfinite(plan).all() and plan.sum() > 0.99


@pytest.mark.parametrize("eps", [0.07, 0.5])
def test_sinkhorn_gradient_agrees_with_pots_differentiable_sinkhorn(eps):
    """grad=True: the plan and its gradient with respect to the cost and ε are those of POT's torch
    backend (what S-CLIP's released `ot_plan` differentiates), to float64 rounding."""
    cost, _ = ot_problem()
    weights = unit(6, d=4, seed=7)
    grads = []
    for fn in (
        lambda c, e: L.sinkhorn(c, e, 10, grad=True),
        lambda c, e: ot.sinkhorn(
            torch.full((6,), 1 / 6, dtype=c.dtype),
            torch.full((4,), 1 / 4, dtype=c.dtype),
            c,
            e,
            numItermax=10,
            stopThr=0.0,
            warn=False,
        ),
    ):
        c, e = leaf(cost, torch.tensor(eps, dtype=torch.float64))
        plan = fn(c, e)
        grads.append((plan, *torch.autograd.grad((plan * weights).sum(), [c, e])))
    for ours, pot in zip(*grads, strict=True):
        torch.testing.assert_close(ours, pot, rtol=1e-9, atol=1e-14)
    assert grads[0][2].abs() > 0


def test_sinkhorn_without_grad_builds_no_graph():
    c, e = leaf(ot_problem()[0], torch.tensor(0.1, dtype=torch.float64))
    assert not L.sinkhorn(c, e, 10).requires_grad
    with torch.no_grad():
        assert not L.sinkhorn(c, e, 10, grad=True).requires_grad
