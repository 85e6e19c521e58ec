"""Statistics over seeds: mean ± std, a paired t-test against a baseline, and Holm's correction.

Why a paired t-test and not Wilcoxon's signed-rank test: sweeps here have 3 to 5 seeds, and the exact
two-sided Wilcoxon test cannot go below p = 2 / 2**n, i.e. 0.0625 for n = 5 and 0.25 for n = 3, so it could
never mark a difference. The t-test on the per-seed differences has power at small n, at the price of
assuming those differences roughly normal; the seeds are paired on (split_seed, seed) so that both
methods saw the same paired set and the same initialisation seed.
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
    from scipy.stats import ttest_rel

    return float(ttest_rel([a[k] for k in keys], [b[k] for k in keys]).pvalue)


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
