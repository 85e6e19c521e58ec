"""Statistics over seeds: mean ± std or a 95 % t interval, a paired test against a baseline, Holm.

When a test is made (`paired_test`): only on 3 or more paired observations (fewer: no test, no mark,
whatever the numbers); a paired t-test where the differences vary; where they do not (zero variance, up to
rounding: the t statistic is 0/0 or ±inf, the test undefined), the exact sign-flip permutation test over
all 2**n sign assignments of the differences, whose smallest two-sided p is 2 / 2**n (0.25 with 3 pairs,
so it marks nothing there; 0.03 with 6).

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
from dataclasses import dataclass

import numpy as np

MIN_PAIRS = 3  # the fewest paired observations a test is made on
T_TEST, SIGN_FLIP = "paired t-test", "exact sign-flip permutation test"


def summarize(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, sample std with ddof 1, n) of the values; std is NaN below two values, mean NaN for none."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    std = float(x.std(ddof=1)) if n > 1 else math.nan
    return mean, std, n


def ci_half(values: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the Student t confidence interval of the mean of `values`: t_{(1+level)/2, n-1} ·
    std / sqrt(n); NaN below two values."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return math.nan
    return t_quantile2(1.0 - level, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)


def t_quantile2(alpha: float, df: float) -> float:
    """The t ≥ 0 with two-sided tail t_sf2(t, df) = alpha (0 < alpha < 1), by bisection."""
    lo, hi = 0.0, 1.0
    while t_sf2(hi, df) > alpha:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_sf2(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    return (lo + hi) / 2


@dataclass(frozen=True)
class PairedTest:
    """The outcome of a paired test: p (NaN: no test), the number of pairs, the test made (T_TEST,
    SIGN_FLIP, or "" for none) and, when none was made, why."""

    p: float
    n: int
    test: str = ""
    reason: str = ""


def paired_test(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> PairedTest:
    """Two-sided paired test of `a` against `b` on the keys they share (see the module's rules)."""
    keys = [k for k in a if k in b]
    n = len(keys)
    if n < MIN_PAIRS:
        return PairedTest(math.nan, n, "", f"fewer than {MIN_PAIRS} paired seeds")
    d = np.array([a[k] - b[k] for k in keys], dtype=float)
    tol = 1e-12 * max(1.0, float(np.abs([a[k] for k in keys] + [b[k] for k in keys]).max()))
    if np.ptp(d) <= tol:  # zero variance: the t-test is undefined
        if abs(float(d.mean())) <= tol:
            return PairedTest(1.0, n, SIGN_FLIP)
        p = sign_flip_p(d, tol) if n <= 40 else 2.0 / 2.0**n
        return PairedTest(p, n, SIGN_FLIP)
    t = float(d.mean()) / (float(d.std(ddof=1)) / math.sqrt(n))
    return PairedTest(t_sf2(t, n - 1), n, T_TEST)


def paired_p(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> float:
    """The p-value of `paired_test(a, b)`; NaN when no test is made (fewer than MIN_PAIRS shared keys)."""
    return paired_test(a, b).p


def sign_flip_p(d: Sequence[float], tol: float | None = None) -> float:
    """Exact two-sided sign-flip permutation p-value of the paired differences `d`: the share of the 2**n
    assignments of signs to |d| whose |sum| is at least the observed |sum| (within `tol`, by default
    1e-9 of sum |d|: sums equal but for rounding are ties). Enumerated in two halves (2**(n/2) sums each,
    matched by sorting), so n up to 40 is cheap."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return math.nan
    if n > 40:
        raise ValueError(f"sign_flip_p: {n} differences; at most 40 are enumerated")
    observed = abs(float(d.sum()))
    tol = 1e-9 * float(np.abs(d).sum()) if tol is None else max(tol, 1e-9 * float(np.abs(d).sum()))
    if observed <= tol:
        return 1.0

    def sums(x):
        out = np.zeros(1)
        for v in x:
            out = np.concatenate([out + v, out - v])
        return out

    h = n // 2
    left, right = sums(d[:h]), np.sort(sums(d[h:]))
    high = len(right) - np.searchsorted(right, observed - tol - left, side="left")
    low = np.searchsorted(right, -observed + tol - left, side="right")
    return float((high + low).sum()) / 2.0**n


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
