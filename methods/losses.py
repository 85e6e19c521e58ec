"""The loss functions of docs/methods.md as pure, vectorised tensor functions.

Set terms (MMD, SDD) run with autocast off in at least float32; every distance matrix comes from
one matrix product (‖x‖² + ‖y‖² − 2xyᵀ, clamped at 0, self-diagonal exactly 0), never from a
B × B × d broadcast, and no function loops over rows (docs/methods.md, "Numerical rules for the set
terms").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

DSN19 = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 5, 10, 15, 20, 25, 30, 35, 100, 1e3, 1e4, 1e5, 1e6)
EXP_FLOOR = -40.0  # exp below about −45 takes a slow CPU path; exp(−40) ≈ 4e-18
DENSITY_FLOOR = 1e-12  # densities are clamped here before their log
SPREAD_FLOOR = 1e-8  # floor of V_D and R_X (a set of 1 row, or of equal rows)


def soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """mean_i −Σ_j t_ij log softmax(logits_i)_j, for target rows t_i that sum to 1 (or to 0)."""
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()


def clip_loss(
    za: Tensor,
    zb: Tensor,
    logit_scale: Tensor | float,
    *,
    positives: Tensor | None = None,
    extra_a: Tensor | None = None,
    extra_b: Tensor | None = None,
) -> Tensor:
    """Symmetric InfoNCE: L = ½ [CE(s·za·[zb; extra_b]ᵀ) + CE(s·zb·[za; extra_a]ᵀ)].

    Row i of za and of zb are a pair. `positives` (b × b bool, None = identity) marks further
    positives: the target of row i is uniform over its positives (the diagonal always included);
    the extra rows are negatives only.
    """
    cand_b = zb if extra_b is None else torch.cat([zb, extra_b])
    cand_a = za if extra_a is None else torch.cat([za, extra_a])
    logits_ab = logit_scale * za @ cand_b.T
    logits_ba = logit_scale * zb @ cand_a.T
    if positives is None:
        labels = torch.arange(len(za), device=za.device)
        return 0.5 * (F.cross_entropy(logits_ab, labels) + F.cross_entropy(logits_ba, labels))
    return 0.5 * (
        soft_cross_entropy(logits_ab, _positive_targets(positives, logits_ab))
        + soft_cross_entropy(logits_ba, _positive_targets(positives.T, logits_ba))
    )


def sigmoid_loss(
    za: Tensor,
    zb: Tensor,
    logit_scale: Tensor | float,
    logit_bias: Tensor | float,
    *,
    positives: Tensor | None = None,
) -> Tensor:
    """SigLIP's pairwise sigmoid loss: L = −(1/n) Σ_ij log σ(y_ij · (s·za_i·zb_j + b)), with y_ij = +1
    for a positive pair and −1 otherwise, s the logit scale and b the logit bias (Zhai et al., ICCV 2023,
    arXiv 2303.15343, Algorithm 1; open_clip's `SigLipLoss` on one device).

    Row i of za and of zb are a pair; `positives` (n × n bool, None = identity) marks further positives
    (the diagonal always included).
    """
    n = len(za)
    pos = torch.eye(n, dtype=torch.bool, device=za.device)
    if positives is not None:
        pos = pos | positives.bool()
    labels = pos.to(torch.promote_types(za.dtype, torch.float32)) * 2 - 1
    logits = logit_scale * za @ zb.T + logit_bias
    return -F.logsigmoid(labels * logits).sum() / n


def _positive_targets(positives: Tensor, logits: Tensor) -> Tensor:
    """Rows uniform over the positives (diagonal forced True), zero-padded to the logits' width."""
    b = positives.shape[0]
    pos = positives.bool() | torch.eye(b, dtype=torch.bool, device=positives.device)
    pos = pos.to(torch.promote_types(logits.dtype, torch.float32))
    return F.pad(pos / pos.sum(1, keepdim=True), (0, logits.shape[1] - b))


def nt_xent(z1: Tensor, z2: Tensor, tau: float = 0.05) -> Tensor:
    """NT-Xent (SimCLR / SimCSE) of two views of n rows: Z = [z1; z2] (2n rows), S = cos(Z, Z)/τ
    with the diagonal masked; L = mean_i −log softmax(S_i)_{i±n}, the positive being the other view."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2 = len(z)
    sim = (z @ z.T / tau).masked_fill(torch.eye(n2, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.arange(n2, device=z.device).roll(n2 // 2)
    return F.cross_entropy(sim, target)


def klot(
    k_student: Tensor,
    k_teacher: Tensor,
    eps_student: float = 0.05,
    eps_teacher: float = 0.005,
    iters: int = 100,
) -> Tensor:
    """KLOT(K, K*) = KL(P* ‖ P) = Σ_ij P*_ij (log P*_ij − log P_ij), with P = klot_plan(K, ε_s) and
    P* = klot_plan(K*, ε_t) the entropic OT plans of the student and teacher similarity kernels (n × m).

    The value is exact; the gradient is SOTAlign's (`src/klot.py`, `KLOT.forward`; Theorem 5.1 of the
    paper): ∂KLOT/∂K = (P − P*) / ε_s, with no backpropagation through the Sinkhorn iterations and none
    into K*. At least float32, autocast off.
    """
    with torch.autocast(device_type=k_student.device.type, enabled=False):
        k = _wide(k_student)
        log_p = klot_plan(k, eps_student, iters)
        log_q = klot_plan(_wide(k_teacher).detach(), eps_teacher, iters)
        q = log_q.exp()
        value = (q * (log_q - log_p)).sum()
        surrogate = ((log_p.exp() - q) * k).sum() / eps_student
        return (value - surrogate).detach() + surrogate


def klot_plan(kernel: Tensor, eps: float, iters: int = 100) -> Tensor:
    """log P of the entropic OT plan of cost −K (n × m) with uniform marginals a = 1/n, b = 1/m, as
    SOTAlign's `sinkhorn` computes it (`src/klot.py`): L = K/ε, u = v = 0, `iters` times
    u_i = log a − LSE_j(L_ij + v_j) then v_j = log b − LSE_i(L_ij + u_i); then u is averaged with one
    more update, u ← ½ (u + log a − LSE_j(L_ij + v_j)) (its `symmetric` step, whose v half is v itself),
    and log P_ij = L_ij + u_i + v_j. No gradient flows.
    """
    with torch.no_grad():
        logits = kernel / eps
        n, m = logits.shape
        u, v = logits.new_zeros(n), logits.new_zeros(m)
        for _ in range(iters):
            u = -math.log(n) - torch.logsumexp(logits + v[None, :], dim=1)
            v = -math.log(m) - torch.logsumexp(logits + u[:, None], dim=0)
        u = 0.5 * (u - math.log(n) - torch.logsumexp(logits + v[None, :], dim=1))
        return logits + u[:, None] + v[None, :]


def sq_dists(x: Tensor, y: Tensor, same: bool = False) -> Tensor:
    """D_ij = ‖x_i − y_j‖² = ‖x_i‖² + ‖y_j‖² − 2 x_i·y_j from one matrix product, clamped at 0;
    `same` (y is x) sets the diagonal to exactly 0."""
    d = torch.addmm((x * x).sum(1)[:, None] + (y * y).sum(1)[None, :], x, y.T, alpha=-2).clamp_min(0)
    if same:
        d = d.masked_fill(torch.eye(len(x), dtype=torch.bool, device=x.device), 0.0)
    return d


def _wide(t: Tensor) -> Tensor:
    """At least float32 (bfloat16/float16 → float32, float64 stays)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def joint_sq_dists(x: Tensor, y: Tensor) -> Tensor:
    """Squared distances within [x; y] ((n+m) × (n+m), at least float32, autocast off): the blocks
    D_xx, D_xy, D_yx, D_yy that MMD and SDD share."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        z = _wide(torch.cat([x, y]))
        return sq_dists(z, z, same=True)


def kernel_sum(d: Tensor, variances: Tensor | tuple[float, ...]) -> Tensor:
    """K = Σ_k exp(max(−d / (2σ_k), −40)) elementwise, σ_k acting as variances.

    A custom autograd function: it keeps only dK/dd = Σ_k −exp(·)/(2σ_k) (one matrix) for the
    backward instead of one exponential per kernel; where an exponent is floored that derivative
    uses the floored value (under 2e-12 per entry, instead of 0).
    """
    return _KernelSum.apply(d, torch.as_tensor(variances, dtype=d.dtype, device=d.device))


class _KernelSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, d: Tensor, variances: Tensor) -> Tensor:
        k, dk, e = torch.zeros_like(d), torch.zeros_like(d), torch.empty_like(d)
        for rate in (-0.5 / variances).tolist():  # in place into one buffer: no allocation per kernel
            torch.mul(d, rate, out=e).clamp_min_(EXP_FLOOR).exp_()
            k.add_(e)
            dk.add_(e, alpha=rate)
        ctx.save_for_backward(dk)
        return k

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (dk,) = ctx.saved_tensors
        return grad * dk, None


def mmd_variances(kernels: str, d: Tensor) -> Tensor | tuple[float, ...]:
    """σ_k of a kernel family: `dsn19` (DSN list), `single` (σ = ½: exp(−‖x−y‖²)), `median`
    (median off-diagonal squared distance of [x; y] × 2^k, k = −2..2, not differentiated), `sue` (SUE's
    kernels exp(−‖·‖² / (s · 2^k)), k = −1, 0, 1, s the mean off-diagonal squared distance of [x; y], not
    differentiated: σ_k = s · 2^k / 2)."""
    if kernels == "dsn19":
        return DSN19
    if kernels == "single":
        return (0.5,)
    if kernels == "median":
        n = len(d)
        off = d.detach()[~torch.eye(n, dtype=torch.bool, device=d.device)]
        med = off.median().clamp_min(SPREAD_FLOOR) if off.numel() else d.new_tensor(1.0)
        return med * torch.tensor([0.25, 0.5, 1.0, 2.0, 4.0], dtype=d.dtype, device=d.device)
    if kernels == "sue":
        n = len(d)
        mean = d.detach().sum() / max(n * n - n, 1)
        return mean * torch.tensor([0.25, 0.5, 1.0], dtype=d.dtype, device=d.device)
    raise ValueError(f"unknown MMD kernels {kernels!r}: dsn19, single, median or sue")


def mk_mmd(
    x: Tensor, y: Tensor, kernels: str = "dsn19", unbiased: bool = False, *, dists: Tensor | None = None
) -> Tensor:
    """MMD² = mean K(x, x) + mean K(y, y) − 2 mean K(x, y), K = Σ_k exp(−‖·‖² / (2σ_k)).

    Biased V-statistic by default; `unbiased` averages K(x, x) and K(y, y) over i ≠ j (a set of one
    row then contributes 0). `dists`: `joint_sq_dists(x, y)` when already computed.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        d = joint_sq_dists(x, y) if dists is None else dists
        k = kernel_sum(d, mmd_variances(kernels, d))
        n = len(x)
        kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
        if not unbiased:
            return kxx.mean() + kyy.mean() - 2 * kxy.mean()
        return _off_diagonal_mean(kxx) + _off_diagonal_mean(kyy) - 2 * kxy.mean()


def _off_diagonal_mean(k: Tensor) -> Tensor:
    n = len(k)
    return (k.sum() - k.diagonal().sum()) / max(n * (n - 1), 1)


def total_variance(x: Tensor) -> Tensor:
    """V = Σ_j Var_j(x), unbiased per-dimension variance, floored at SPREAD_FLOOR."""
    centred = x - x.mean(0)
    return ((centred * centred).sum() / max(len(x) - 1, 1)).clamp_min(SPREAD_FLOOR)


def spread(x: Tensor) -> Tensor:
    """R = Σ_j (max_i x_ij − min_i x_ij)², floored at SPREAD_FLOOR."""
    r = x.amax(0) - x.amin(0)
    return (r * r).sum().clamp_min(SPREAD_FLOOR)


def sdd(
    za: Tensor, zb: Tensor, variant: str = "reference", h: float = 0.5, *, dists: Tensor | None = None
) -> Tensor:
    """Semantic density distribution loss (docs/methods.md, "SDD loss").

    ρ(x; D) = c Σ_{d∈D} exp(−‖x − d‖² / (4h² V_D)), c = 3 / (16·2π h²), V_D = total_variance(D).
    For anchors X and the other set Y: p_i = ρ(x_i; X) (self term included), q_i = ρ(x_i; Y),
    J(X→Y) = Σ_i (p_i − q_i)(log p_i − log q_i), densities clamped at 1e-12 before the log.
    `reference`: L = [J(A→B) + J(B→A)] · (1/R_A + 1/R_B), R = spread.
    `normalized`: ρ a mean over D, p and q normalised over the anchors, no range factor.
    `dists`: `joint_sq_dists(za, zb)` when already computed.
    """
    if variant not in ("reference", "normalized"):
        raise ValueError(f"unknown SDD variant {variant!r}: reference or normalized")
    with torch.autocast(device_type=za.device.type, enabled=False):
        za, zb = _wide(za), _wide(zb)
        d = joint_sq_dists(za, zb) if dists is None else dists
        n = len(za)
        c = 3 / (16 * 2 * math.pi * h * h)
        reduce = torch.sum if variant == "reference" else torch.mean
        in_a = c * reduce(_density_kernel(d[:, :n], total_variance(za), h), dim=1)
        in_b = c * reduce(_density_kernel(d[:, n:], total_variance(zb), h), dim=1)
        (pa, pb), (qa, qb) = (in_a[:n], in_b[n:]), (in_b[:n], in_a[n:])
        if variant == "normalized":
            return _sym_kl(pa / pa.sum(), qa / qa.sum()) + _sym_kl(pb / pb.sum(), qb / qb.sum())
        return (_sym_kl(pa, qa) + _sym_kl(pb, qb)) * (1 / spread(za) + 1 / spread(zb))


def _density_kernel(d: Tensor, v: Tensor, h: float) -> Tensor:
    return (d / (-4 * h * h * v)).clamp_min(EXP_FLOOR).exp()


def _sym_kl(p: Tensor, q: Tensor) -> Tensor:
    """Σ_i (p_i − q_i)(log p_i − log q_i) of densities clamped at DENSITY_FLOOR."""
    p, q = p.clamp_min(DENSITY_FLOOR), q.clamp_min(DENSITY_FLOOR)
    return ((p - q) * (p.log() - q.log())).sum()


def sinkhorn(cost: Tensor, eps: Tensor | float, iters: int = 10, *, grad: bool = False) -> Tensor:
    """Entropic OT plan of `cost` (n × m) with uniform marginals 1/n, 1/m, in the log domain.

    P_ij = exp(f_i + g_j − C_ij/ε) with log-scalings f, g (f = 0 at the start) updated `iters`
    times: g_j = log(1/m) − LSE_i(f_i − C_ij/ε), then f_i = log(1/n) − LSE_j(g_j − C_ij/ε). This is
    POT's update order: the row sums are exact and the plan equals ot.sinkhorn's after as many
    iterations. `grad`: differentiate through the iterations, to the cost and to ε (S-CLIP's
    released plan); otherwise no gradient flows.
    """
    differentiate = torch.set_grad_enabled(grad and torch.is_grad_enabled())
    with differentiate, torch.autocast(device_type=cost.device.type, enabled=False):
        c = _wide(cost) / eps
        n, m = c.shape
        f, g = c.new_zeros(n), c.new_zeros(m)
        for _ in range(iters):
            g = -math.log(m) - torch.logsumexp(f[:, None] - c, dim=0)
            f = -math.log(n) - torch.logsumexp(g[None, :] - c, dim=1)
        return torch.exp(f[:, None] + g[None, :] - c)


def structure_divergence(
    original: Tensor, aligned: Tensor, levels: int = 1, tau: float = 0.05, weighting: str = "none"
) -> Tensor:
    """STRUCTURE's regulariser R(X, Z) between frozen features X (n × F) and their aligned embeddings
    Z (n × d), one row per item (mlbio-epfl/STRUCTURE, src/loss/clip_loss.py `structure_reg`, cosine
    similarity, mean centring after normalising, no margin):

    X̂ = x̂ − mean(x̂) with x̂ = x / ‖x‖ (row-wise), likewise Ẑ; P = softmax_row(X̂ X̂ᵀ / τ),
    Q = softmax_row(Ẑ Ẑᵀ / τ); for level l = 1..L, P_l = Pˡ, Q_l = Qˡ (matrix powers), M_l = ½ (P_l + Q_l),
    JS_l = ½ [KL_b(M_l ‖ Q_l) + KL_b(M_l ‖ P_l)] with KL_b(M ‖ Q) = (1/n) Σ_ij m_ij (log(m_ij + ε) −
    log(q_ij + ε)) and m_ij → m_ij + ε as released (`F.kl_div(log(q + ε), m + ε, 'batchmean')`,
    ε = 1e-12); R = (1/L) Σ_l c_l · JS_l, c_l = 1 (`none`) or 1/l (`inverse`). At least float32,
    autocast off.
    """
    if weighting not in ("none", "inverse"):
        raise ValueError(f"unknown STRUCTURE weighting {weighting!r}: none or inverse")
    with torch.autocast(device_type=aligned.device.type, enabled=False):
        p = _row_structure(_wide(original), tau)
        q = _row_structure(_wide(aligned), tau)
        total = aligned.new_zeros((), dtype=q.dtype)
        p_l, q_l = p, q
        for level in range(1, levels + 1):
            if level > 1:
                p_l, q_l = p_l @ p, q_l @ q
            m = 0.5 * (p_l + q_l) + STRUCTURE_EPS
            js = 0.5 * (_batch_kl(m, q_l) + _batch_kl(m, p_l))
            total = total + (js if weighting == "none" else js / level)
        return total / levels


STRUCTURE_EPS = 1e-12  # STRUCTURE's `eps` inside its logs


def _row_structure(x: Tensor, tau: float) -> Tensor:
    """softmax_row(X̂ X̂ᵀ / τ), X̂ the row-normalised x centred on its mean row."""
    unit = F.normalize(x, dim=1)
    centred = unit - unit.mean(0, keepdim=True)
    return F.softmax(centred @ centred.T / tau, dim=1)


def _batch_kl(m: Tensor, q: Tensor) -> Tensor:
    """(1/n) Σ_ij m_ij (log m_ij − log(q_ij + ε)): `F.kl_div(log(q + ε), m, reduction='batchmean')`."""
    return (m * (m.log() - (q + STRUCTURE_EPS).log())).sum() / len(m)


def trapezoid_consistency(
    za: Tensor, zb: Tensor, logit_scale: Tensor | float, n_paired: int
) -> tuple[Tensor, Tensor]:
    """SemiCLIP's trapezoidal consistency terms on n rows of matched embeddings za, zb (Gank0078/SemiCLIP,
    custom/loss.py, `SemiSupervisedClipLoss.forward`, stage 2), with s the CLIP scale and b = n_paired:

    in-modal  = b · mean_ij (s·za_i·za_j − s·zb_i·zb_j)² / s²,
    cross-modal = b · mean_ij (s·za_i·zb_j − s·za_j·zb_i)² / s²
    (CyCLIP's cyclic terms; the rows are the pairs and the selected pseudo-pairs).
    """
    aa, bb = logit_scale * za @ za.T, logit_scale * zb @ zb.T
    ab = logit_scale * za @ zb.T
    s2 = logit_scale * logit_scale
    return (aa - bb).square().mean() / s2 * n_paired, (ab - ab.T).square().mean() / s2 * n_paired
