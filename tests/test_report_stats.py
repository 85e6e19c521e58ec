"""Statistics over seeds: summaries, the paired tests, the t interval and Holm's correction, by hand."""

import itertools
import math

import pytest

from bench.report.stats import (
    SIGN_FLIP,
    T_TEST,
    ci_half,
    holm,
    paired_p,
    paired_test,
    sign_flip_p,
    summarize,
    t_quantile2,
    t_sf2,
)


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


def test_no_test_below_three_pairs_whatever_the_numbers():
    # two seeds that differ by a lot and a t statistic of 41: still no test
    a, b = {(0, 0): 0.90, (0, 1): 0.91}, {(0, 0): 0.10, (0, 1): 0.12}
    test = paired_test(a, b)
    assert math.isnan(test.p) and test.n == 2 and test.test == ""
    assert test.reason == "fewer than 3 paired seeds"
    assert math.isnan(paired_p({(0, 0): 1.0, (0, 1): 2.0}, {(0, 0): 1.0}))


def test_zero_variance_of_the_differences_gets_the_exact_sign_flip_test_not_a_t_test():
    """A constant difference makes t infinite; the permutation test gives its true p = 2 / 2**n."""
    same = {i: 0.5 + i / 10 for i in range(3)}
    shifted = {i: v + 0.1 for i, v in same.items()}
    test = paired_test(shifted, same)
    assert (test.test, test.n) == (SIGN_FLIP, 3) and test.p == pytest.approx(0.25)  # no mark at 0.05
    six = paired_test({i: 1.0 + i for i in range(6)}, {i: 0.5 + i for i in range(6)})
    assert (six.test, six.p) == (SIGN_FLIP, pytest.approx(2 / 64))
    assert paired_test(same, dict(same)).p == 1.0
    varied = paired_test({0: 1.0, 1: 2.0, 2: 3.5}, {0: 0.5, 1: 1.0, 2: 1.5})
    assert varied.test == T_TEST


def brute_force_sign_flip(d):
    """Every assignment of signs to the differences, counted one by one."""
    observed = abs(sum(d))
    hits = [
        abs(sum(s * x for s, x in zip(signs, d, strict=True))) >= observed - 1e-12
        for signs in itertools.product((1, -1), repeat=len(d))
    ]
    return sum(hits) / len(hits)


@pytest.mark.parametrize(
    "d",
    [
        [0.1, 0.2, 0.3],
        [0.5, -0.1, 0.2, 0.4],
        [1.0, 2.0, -3.0, 0.5, 0.25],
        [0.3, 0.3, -0.3, 0.1, 0.2, 0.7, 0.05],
        [0.01 * k for k in range(1, 12)],
        [2.0, 2.0, 2.0, 2.0],
        [0.0, 0.0, 1.0],
    ],
)
def test_sign_flip_p_equals_a_brute_force_enumeration(d):
    assert sign_flip_p(d) == pytest.approx(brute_force_sign_flip(d), abs=1e-15)


def test_sign_flip_reaches_two_over_two_to_the_n_with_distinct_differences():
    d = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert sign_flip_p(d) == pytest.approx(2 / 32)


def test_ci_half_width_is_the_student_t_interval():
    # 10, 11, 12: std 1, t_{0.975, 2} = 4.302653; half-width 4.302653 / sqrt 3 = 2.484138
    assert ci_half([10.0, 11.0, 12.0]) == pytest.approx(4.302652729911 / math.sqrt(3), rel=1e-9)
    assert math.isnan(ci_half([1.0]))
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 9, 30):
        assert t_quantile2(0.05, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-10)


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
