"""KLOT (methods/losses.py `klot`, SOTAlign's divergence): its value against the plain reference, zero when
the student's and the teacher's plans agree, and SOTAlign's gradient (P − P*)/ε_s equal to a finite
difference of the reference value once Sinkhorn has converged."""

import torch
import torch.nn.functional as F

from bench.perf import reference
from methods.losses import klot, klot_plan


def kernels(n=5, m=7, seed=0):
    """Cosine kernels of unit rows, as the student's and the teacher's (float64)."""
    g = torch.Generator().manual_seed(seed)
    unit = [F.normalize(torch.randn(k, 4, generator=g, dtype=torch.float64), dim=1) for k in (n, m, n, m)]
    return unit[0] @ unit[1].T, unit[2] @ unit[3].T


def test_value_matches_the_plain_reference_at_the_released_settings():
    k, k_star = kernels()
    for eps_s, eps_t, iters in ((0.05, 0.005, 100), (0.3, 0.1, 7)):
        ours = klot(k, k_star, eps_s, eps_t, iters)
        ref = reference.klot(k, k_star, eps_s, eps_t, iters)
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-9)
        assert ours > 0


def test_plan_has_the_requested_marginals_once_converged():
    k, _ = kernels()
    plan = klot_plan(k, 0.2, 500).exp()
    torch.testing.assert_close(plan.sum(1), torch.full((5,), 1 / 5, dtype=torch.float64))
    torch.testing.assert_close(plan.sum(0), torch.full((7,), 1 / 7, dtype=torch.float64))


def test_zero_with_zero_gradient_when_the_plans_agree():
    k, _ = kernels()
    for k_star, eps_t in ((k, 0.05), (k * 0.005 / 0.05, 0.005)):  # the same kernel / ε: the same plan
        student = k.clone().requires_grad_()
        value = klot(student, k_star, 0.05, eps_t)
        value.backward()
        assert abs(float(value.detach())) < 1e-10
        assert student.grad.abs().max() < 1e-10


def test_gradient_is_the_finite_difference_of_the_reference_value():
    k, k_star = kernels(4, 5)
    eps_s, eps_t, iters = 0.5, 0.2, 3000
    student = k.clone().requires_grad_()
    klot(student, k_star, eps_s, eps_t, iters).backward()
    h = 1e-6
    fd = torch.zeros_like(k)
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            step = torch.zeros_like(k)
            step[i, j] = h
            up = reference.klot(k + step, k_star, eps_s, eps_t, iters)
            down = reference.klot(k - step, k_star, eps_s, eps_t, iters)
            fd[i, j] = (up - down) / (2 * h)
    torch.testing.assert_close(student.grad, fd, rtol=1e-5, atol=1e-8)
    assert fd.abs().max() > 1e-3  # not a trivially flat point


def test_no_gradient_reaches_the_teacher_and_float32_inputs_give_float32():
    k, k_star = (x.float() for x in kernels())
    teacher = k_star.clone().requires_grad_()
    student = k.clone().requires_grad_()
    value = klot(student, teacher)
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert teacher.grad is None and torch.isfinite(student.grad).all()
