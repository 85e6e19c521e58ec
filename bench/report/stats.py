"""Statistics over seeds: mean ± std, a paired t-test against a baseline, and Holm's correction.

Why a paired t-test and not Wilcoxon's signed-rank test: sweeps here have 3 to 5 seeds, and the exact
two-sided Wilcoxon test cannot go below p = 2 / 2**n, i.e. 0.0625 for n = 5 and 0.25 for n = 3, so it could
never mark a difference. The t-test on the per-seed differences has power at small n, at the price of
assuming those differences roughly normal; the seeds are paired on (split_seed, seed) so that both
methods saw the same paired set and the same initialisation seed.

The t distribution's tail is computed here (`t_sf2`, the regularized incomplete beta function by its
continued fraction) rather than by scipy.stats, whose import alone takes seconds: `table` stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np


def summarize(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, sample std with ddof 1, n) of the values; std is NaN below two values, mean NaN for none."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    return mean, std, n


def paired_p(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> float:
    """Two-sided p-value of a paired t-test of `a` against `b` on the keys they share.

    NaN when fewer than two keys are shared (no test). When every difference is the same (up to rounding
    error), the t statistic is 0/0 or ±inf: p is 1.0 for a difference of zero and 0.0 otherwise."""
    keys = [k for k in a if k in b]
    if len(keys) < 2:
        return math.nan
    d = np.array([a[k] - b[k] for k in keys], dtype=float)
    tol = 1e-12 * max(1.0, float(np.abs([*a.values(), *b.values()]).max()))
    if np.ptp(d) <= tol:
        return 1.0 if abs(d.mean()) <= tol else 0.0
    t = float(d.mean()) / (float(d.std(ddof=1)) / math.sqrt(len(d)))
    return t_sf2(t, len(d) - 1)


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail P(|T| ≥ |t|) of Student's t with `df` degrees of freedom: I_x(df/2, 1/2) with
    x = df / (df + t²), accurate to about 1e-13 relative, also far in the tail."""
    if math.isnan(t) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    return min(1.0, betainc(df / 2, 0.5, df / (df + t * t), t * t / (df + t * t)))


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1; `y` is 1 - x when
    the caller knows it more precisely (Numerical Recipes §6.4: the continued fraction on the side of
    (a + 1) / (a + b + 2) where it converges fast)."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, y) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function, by the modified Lentz method."""
    tiny, eps = 1e-300, 1e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order; NaN entries stay NaN and are not counted."""
    tested = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m = len(tested)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
