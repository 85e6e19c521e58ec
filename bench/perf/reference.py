"""Slow plain reference for tests and `bench perf`; never used in training.

The losses of methods/losses.py written straight from their formulas, the way the released code
does it: B × B × d broadcasts for the distances of MMD and SDD, a Python loop over the anchors of
SDD, naive logits for CLIP and NT-Xent, no exponent floor, the input dtype throughout. Same
signatures as methods/losses.py.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from methods.losses import DENSITY_FLOOR, DSN19, SPREAD_FLOOR


def clip_loss(za, zb, logit_scale, *, positives=None, extra_a=None, extra_b=None) -> Tensor:
    """½ [CE_ab + CE_ba] on the naive logits, the target of each row built one row at a time."""
    b = len(za)
    eye = torch.eye(b, dtype=torch.bool)
    pos = eye if positives is None else positives.bool() | eye
    cand_b = zb if extra_b is None else torch.cat([zb, extra_b])
    cand_a = za if extra_a is None else torch.cat([za, extra_a])

    def direction(queries: Tensor, candidates: Tensor, pos: Tensor) -> Tensor:
        logits = logit_scale * queries @ candidates.T
        target = torch.zeros_like(logits)
        for i in range(b):
            target[i, :b] = pos[i].to(logits.dtype) / pos[i].sum()
        return F.cross_entropy(logits, target)

    return (direction(za, cand_b, pos) + direction(zb, cand_a, pos.T)) / 2


def nt_xent(z1: Tensor, z2: Tensor, tau: float = 0.05) -> Tensor:
    """SimCLR style on the naive logits: cosine matrix z zᵀ / (‖z_i‖‖z_j‖) / τ, self pairs pushed
    to −1e12, cross-entropy with the other view as the label."""
    z = torch.cat([z1, z2])
    n2 = len(z)
    norms = z.norm(dim=1)
    sim = z @ z.T / (norms[:, None] * norms[None, :]) / tau - 1e12 * torch.eye(n2, dtype=z.dtype)
    labels = torch.tensor([(i + n2 // 2) % n2 for i in range(n2)])
    return F.cross_entropy(sim, labels)


def klot(k_student: Tensor, k_teacher: Tensor, eps_student=0.05, eps_teacher=0.005, iters=100) -> Tensor:
    """KL(P* ‖ P) summed entry by entry, each plan from Sinkhorn's scaling form (value only)."""
    p, q = _scaling_plan(k_student, eps_student, iters), _scaling_plan(k_teacher, eps_teacher, iters)
    total = torch.zeros((), dtype=p.dtype)
    for i in range(p.shape[0]):
        for j in range(p.shape[1]):
            total = total + q[i, j] * (torch.log(q[i, j]) - torch.log(p[i, j]))
    return total


def _scaling_plan(kernel: Tensor, eps: float, iters: int) -> Tensor:
    """P = diag(x) G diag(y), G = exp(K/ε): `iters` times x = a / (G y) then y = b / (Gᵀ x); then x becomes
    the geometric mean of x and a / (G y) (SOTAlign's symmetric step); a = 1/n, b = 1/m."""
    g = torch.exp(kernel.detach() / eps)
    n, m = g.shape
    a, b = torch.full((n,), 1 / n, dtype=g.dtype), torch.full((m,), 1 / m, dtype=g.dtype)
    x, y = torch.ones(n, dtype=g.dtype), torch.ones(m, dtype=g.dtype)
    for _ in range(iters):
        x = a / (g @ y)
        y = b / (g.T @ x)
    x = torch.sqrt(x * (a / (g @ y)))
    return x[:, None] * g * y[None, :]


def pairwise_sq_dists(x: Tensor, y: Tensor) -> Tensor:
    """‖x_i − y_j‖² by a B × B × d broadcast."""
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def _kernel(d: Tensor, variances) -> Tensor:
    rates = 1 / (2 * torch.as_tensor(variances, dtype=d.dtype))
    return torch.exp(-rates[:, None] * d.reshape(1, -1)).sum(0).reshape(d.shape)


def mk_mmd(x: Tensor, y: Tensor, kernels: str = "dsn19", unbiased: bool = False) -> Tensor:
    """mean K(x, x) + mean K(y, y) − 2 mean K(x, y), each block from its own broadcast."""
    dxx, dyy, dxy = pairwise_sq_dists(x, x), pairwise_sq_dists(y, y), pairwise_sq_dists(x, y)
    if kernels == "dsn19":
        variances = DSN19
    elif kernels == "single":
        variances = (0.5,)
    else:
        off = [dxx[~torch.eye(len(x), dtype=torch.bool)], dyy[~torch.eye(len(y), dtype=torch.bool)]]
        med = torch.cat([*off, dxy.flatten(), dxy.flatten()]).detach().median()
        variances = [med * 2.0**k for k in range(-2, 3)]
    kxx, kyy, kxy = _kernel(dxx, variances), _kernel(dyy, variances), _kernel(dxy, variances)
    if unbiased:
        n, m = len(x), len(y)
        xx = (kxx.sum() - kxx.trace()) / (n * (n - 1))
        yy = (kyy.sum() - kyy.trace()) / (m * (m - 1))
        return xx + yy - 2 * kxy.mean()
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def sdd(za: Tensor, zb: Tensor, variant: str = "reference", h: float = 0.5) -> Tensor:
    """[J(A→B) + J(B→A)] · (1/R_A + 1/R_B) with densities one anchor at a time (see losses.sdd)."""
    c = 3 / (16 * 2 * math.pi * h * h)
    reduce = torch.sum if variant == "reference" else torch.mean

    def var_sum(s: Tensor) -> Tensor:
        return torch.var(s, dim=0, unbiased=True).sum().clamp_min(SPREAD_FLOOR)

    def density(x: Tensor, ref: Tensor, v: Tensor) -> Tensor:
        return c * reduce(torch.exp(-((x - ref) ** 2).sum(1) / (4 * h * h * v)))

    def divergence(anchors: Tensor, other: Tensor) -> Tensor:
        va, vo = var_sum(anchors), var_sum(other)
        p = torch.stack([density(x, anchors, va) for x in anchors])
        q = torch.stack([density(x, other, vo) for x in anchors])
        if variant == "normalized":
            p, q = p / p.sum(), q / q.sum()
        p, q = p.clamp_min(DENSITY_FLOOR), q.clamp_min(DENSITY_FLOOR)
        return ((p - q) * (torch.log(p) - torch.log(q))).sum()

    def value_range(s: Tensor) -> Tensor:
        return ((s.max(0).values - s.min(0).values) ** 2).sum().clamp_min(SPREAD_FLOOR)

    j = divergence(za, zb) + divergence(zb, za)
    return j if variant == "normalized" else j * (1 / value_range(za) + 1 / value_range(zb))
