"""Statistics over seeds: summaries, the paired t-test and Holm's correction, on hand-computed numbers."""

import math

import pytest

from bench.report.stats import holm, paired_p, summarize, t_sf2


def test_summarize_mean_sample_std_and_n():
    assert summarize([1.0, 2.0, 3.0]) == (2.0, 1.0, 3)
    mean, std, n = summarize([5.0])
    assert (mean, n) == (5.0, 1) and math.isnan(std)
    assert math.isnan(summarize([])[0]) and summarize([])[2] == 0


def test_paired_t_test_on_the_shared_seeds():
    # differences 0.10, 0.11, 0.12: t = 0.11 / (0.01 / sqrt 3) = 19.05 with 2 df, p = 0.0027435
    a = {(0, 0): 0.20, (0, 1): 0.22, (0, 2): 0.24, (0, 9): 5.0}
    b = {(0, 0): 0.10, (0, 1): 0.11, (0, 2): 0.12}
    assert paired_p(a, b) == pytest.approx(0.0027435, abs=1e-6)
    assert paired_p(b, a) == pytest.approx(0.0027435, abs=1e-6)


def test_paired_t_test_needs_two_pairs_and_handles_constant_differences():
    assert math.isnan(paired_p({(0, 0): 1.0, (0, 1): 2.0}, {(0, 0): 1.0}))
    assert paired_p({1: 1.0, 2: 2.0}, {1: 1.0, 2: 2.0}) == 1.0
    assert paired_p({1: 1.5, 2: 2.5}, {1: 1.0, 2: 2.0}) == 0.0


def test_holm_step_down_is_monotone_and_skips_nan():
    # sorted 0.01, 0.03, 0.04 → 3·0.01, 2·0.03, max(0.06, 1·0.04)
    adjusted = holm([0.01, 0.04, 0.03, math.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_t_tail_matches_scipy_also_far_in_the_tail():
    """The tail is computed here, without importing scipy.stats (seconds of import time for `table`)."""
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 4, 5, 9, 30, 1000, 2.5):
        for t in (0.0, 0.01, 0.5, 1.0, 2.0, 4.303, 10.0, 100.0, 1e4, -3.0):
            assert t_sf2(t, df) == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-11, abs=1e-300), (t, df)
    assert t_sf2(1e-8, 1) == pytest.approx(1 - 2 / math.pi * math.atan(1e-8), rel=1e-15)  # Cauchy at df 1
    assert t_sf2(math.inf, 3) == 0.0 and math.isnan(t_sf2(math.nan, 3))


def test_paired_p_is_scipys_paired_t_test():
    stats = pytest.importorskip("scipy.stats")
    a, b = [0.31, 0.35, 0.29, 0.40, 0.33], [0.30, 0.31, 0.30, 0.36, 0.30]
    expected = stats.ttest_rel(a, b).pvalue
    assert paired_p(dict(enumerate(a)), dict(enumerate(b))) == pytest.approx(expected, rel=1e-12)
