import numpy as np
import pytest

from pytest_qbench.stats import ratio_ci, relative_width, summarize


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


def _blocks(mean, n, noise, rng):
    return mean * (1 + noise * rng.standard_normal(n))


def test_ratio_ci_contains_known_ratio_and_is_narrow_for_low_noise():
    rng = np.random.default_rng(1)
    original, optimized = _blocks(2.0, 30, 0.01, rng), _blocks(1.0, 30, 0.01, rng)
    s = ratio_ci(original, optimized)
    assert s.ci_low < 2.0 < s.ci_high
    assert relative_width(s) < 0.02
    assert s.value == pytest.approx(original.mean() / optimized.mean())
    assert (s.confidence, s.n_blocks) == (0.95, 30)


def test_ratio_ci_contains_one_for_identical_distributions():
    rng = np.random.default_rng(2)
    s = ratio_ci(_blocks(1.0, 40, 0.05, rng), _blocks(1.0, 40, 0.05, rng))
    assert s.ci_low < 1.0 < s.ci_high


def test_ratio_ci_pairing_cancels_load_shared_by_a_block_pair():
    rng = np.random.default_rng(3)
    load = rng.uniform(1.0, 3.0, 30)  # the machine slows both models of a block alike
    s = ratio_ci(load * _blocks(1.5, 30, 0.01, rng), load * _blocks(1.0, 30, 0.01, rng))
    assert s.ci_low < 1.5 < s.ci_high
    assert relative_width(s) < 0.03


def test_ratio_ci_is_reproducible_with_a_seed():
    rng = np.random.default_rng(4)
    original, optimized = _blocks(1.2, 20, 0.05, rng), _blocks(1.0, 20, 0.05, rng)
    assert ratio_ci(original, optimized, seed=7) == ratio_ci(original, optimized, seed=7)


@pytest.mark.parametrize(
    "original,optimized",
    [([3.0] * 5, [1.5] * 5), ([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])],
    ids=["constant", "proportional"],
)
def test_ratio_ci_degenerate_blocks_give_a_point_interval(original, optimized):
    s = ratio_ci(original, optimized)
    assert s.value == s.ci_low == s.ci_high == pytest.approx(2.0)


def test_ratio_ci_handles_the_fewest_blocks():
    s = ratio_ci([1.0, 1.1], [1.0, 1.0])
    assert np.isfinite([s.ci_low, s.ci_high]).all()
    assert s.ci_low <= s.value <= s.ci_high


@pytest.mark.parametrize(
    "original,optimized", [([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([1.0, 0.0], [1.0, 1.0])]
)
def test_ratio_ci_rejects_bad_blocks(original, optimized):
    with pytest.raises(ValueError):
        ratio_ci(original, optimized)
