import math

import numpy as np
import pytest

from pytest_qbench.measure.stats import hodges_lehmann, log_se, paired_speedup, relative_width, summarize


def test_summarize_known_answers():
    samples = np.arange(1, 101) / 1000  # 1..100 ms
    s = summarize(samples, batch_size=4)
    assert s.n_samples == 100
    assert s.mean_ms == pytest.approx(50.5)
    # linear interpolation between order statistics: rank p/100 * (n - 1)
    assert s.p50_ms == pytest.approx(50.5)
    assert s.p90_ms == pytest.approx(90.1)
    assert s.p95_ms == pytest.approx(95.05)
    assert s.p99_ms == pytest.approx(99.01)
    assert s.stdev_ms == pytest.approx(np.sqrt(100 * 101 / 12))  # sample stdev of 1..n: sqrt(n(n+1)/12)
    assert s.cv == pytest.approx(s.stdev_ms / 50.5)
    assert s.throughput == pytest.approx(4 / 0.0505)


def test_summarize_constant_and_single_sample():
    constant = summarize([0.002] * 10, batch_size=1)
    assert constant.stdev_ms == pytest.approx(0.0, abs=1e-12)
    assert constant.cv == pytest.approx(0.0, abs=1e-12)
    assert constant.p50_ms == constant.p99_ms == pytest.approx(2.0)
    single = summarize([0.004], batch_size=8)
    assert single.n_samples == 1 and single.stdev_ms == 0.0
    assert single.throughput == pytest.approx(2000.0)


@pytest.mark.parametrize("samples,batch_size", [([], 1), ([[0.1]], 1), ([0.1], 0), ([0.0, 0.0], 1)])
def test_summarize_rejects_bad_input(samples, batch_size):
    with pytest.raises(ValueError):
        summarize(samples, batch_size)


def _times(mean, n, noise, rng):
    return mean * (1 + noise * rng.standard_normal(n))


def test_hodges_lehmann_is_the_median_of_the_walsh_averages():
    d = np.arange(10.0) ** 1.5
    brute = np.median([(a + b) / 2 for i, a in enumerate(d) for b in d[i:]])
    low, estimate, high = hodges_lehmann(d)
    assert estimate == pytest.approx(brute)
    assert low < estimate < high


def test_hodges_lehmann_interval_covers_at_its_level():
    rng = np.random.default_rng(0)
    for n in (10, 40):
        covered = [lo <= 0 <= hi for lo, _, hi in (hodges_lehmann(rng.standard_t(3, n)) for _ in range(2000))]
        assert 0.93 <= np.mean(covered) <= 0.985  # 95% nominal; Monte Carlo error ~0.5%


def test_hodges_lehmann_shrugs_off_an_outlier_that_moves_the_mean():
    d = np.random.default_rng(1).normal(0.0, 0.02, 40)
    d[7] = 1.1  # one call 3x slower: a page fault, a preemption
    _, estimate, _ = hodges_lehmann(d)
    assert abs(estimate) < 0.01 < d.mean()


def test_paired_speedup_contains_the_known_ratio_and_is_narrow_for_low_noise():
    rng = np.random.default_rng(1)
    original, optimized = _times(2.0, 30, 0.01, rng), _times(1.0, 30, 0.01, rng)
    s = paired_speedup(original, optimized)
    assert s.ci_low < 2.0 < s.ci_high
    assert relative_width(s) < 0.02
    assert (s.confidence, s.n_pairs) == (0.95, 30)


def test_paired_speedup_holds_one_for_identical_distributions():
    rng = np.random.default_rng(2)
    s = paired_speedup(_times(1.0, 40, 0.05, rng), _times(1.0, 40, 0.05, rng))
    assert s.ci_low < 1.0 < s.ci_high


def test_pairing_cancels_load_shared_by_a_pair():
    rng = np.random.default_rng(3)
    load = rng.uniform(1.0, 3.0, 30)  # the machine slows both calls of a pair alike
    s = paired_speedup(load * _times(1.5, 30, 0.01, rng), load * _times(1.0, 30, 0.01, rng))
    assert s.ci_low < 1.5 < s.ci_high
    assert relative_width(s) < 0.03


def test_many_pairs_are_pooled_into_groups_and_counted():
    rng = np.random.default_rng(5)
    s = paired_speedup(_times(1.2, 5000, 0.05, rng), _times(1.0, 5000, 0.05, rng))
    assert s.n_pairs == 5000
    assert s.ci_low < 1.2 < s.ci_high
    assert relative_width(s) < 0.01


def test_degenerate_pairs_give_a_point_interval():
    s = paired_speedup([3.0] * 8, [1.5] * 8)
    assert s.value == s.ci_low == s.ci_high == pytest.approx(2.0)


def test_log_se_reads_the_interval_back():
    rng = np.random.default_rng(6)
    s = paired_speedup(_times(1.0, 400, 0.05, rng), _times(1.0, 400, 0.05, rng))
    assert log_se(s) == pytest.approx(math.log(s.ci_high / s.ci_low) / (2 * 1.959964), rel=1e-6)
    assert 0.002 < log_se(s) < 0.006  # ~ sqrt(2) x 5% / sqrt(400)


@pytest.mark.parametrize(
    "original,optimized", [([1.0] * 5, [1.0] * 5), ([1.0] * 8, [1.0] * 7), ([1.0] * 7 + [0.0], [1.0] * 8)]
)
def test_paired_speedup_rejects_bad_pairs(original, optimized):
    with pytest.raises(ValueError):
        paired_speedup(original, optimized)


def test_median_ci_covers_the_median_at_its_confidence():
    from pytest_qbench.measure.stats import median_ci

    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(2000):
        low, middle, high = median_ci(rng.lognormal(0.0, 0.2, 40))
        assert low <= middle <= high
        covered += low <= 1.0 <= high  # the lognormal's median
    assert 0.94 <= covered / 2000 <= 0.99  # order statistics: at least 95%, a little more


def test_median_ci_needs_enough_samples():
    from pytest_qbench.measure.stats import median_ci

    with pytest.raises(ValueError, match="at least"):
        median_ci([1.0, 2.0])
