"""Latency statistics: per-model summaries and the speedup ratio's bootstrap confidence interval.

Only numpy and scipy: no onnxruntime here, so the statistics are testable on synthetic numbers.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from .results import LatencyStats, Speedup

PERCENTILES = (50, 90, 95, 99)
N_RESAMPLES = 9999


def summarize(samples_s: Sequence[float] | np.ndarray, batch_size: int) -> LatencyStats:
    """Summarise per-call latencies given in seconds; throughput counts sequences per second."""
    samples = np.asarray(samples_s, dtype=float)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError(f"summarize needs a non-empty 1-d sequence of latencies, got shape {samples.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    mean = float(samples.mean())
    if not mean > 0:
        raise ValueError(f"summarize needs latencies with a positive mean, got {mean}")
    # Sample standard deviation; a single call has no spread to estimate.
    stdev = float(samples.std(ddof=1)) if samples.size > 1 else 0.0
    p50, p90, p95, p99 = np.percentile(samples, PERCENTILES) * 1e3
    return LatencyStats(
        mean_ms=mean * 1e3,
        stdev_ms=stdev * 1e3,
        cv=stdev / mean,
        p50_ms=float(p50),
        p90_ms=float(p90),
        p95_ms=float(p95),
        p99_ms=float(p99),
        throughput=batch_size / mean,
        n_samples=int(samples.size),
    )


def _ratio_of_means(original: np.ndarray, optimized: np.ndarray, axis: int = -1) -> np.ndarray:
    return original.mean(axis=axis) / optimized.mean(axis=axis)


def ratio_ci(
    original_blocks: Sequence[float] | np.ndarray,
    optimized_blocks: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    seed: int = 0,
) -> Speedup:
    """Speedup (original / optimized) with a paired bootstrap confidence interval over blocks.

    `original_blocks[i]` and `optimized_blocks[i]` are the mean call times of block i of each
    model, measured side by side (any unit, the same for both). The point estimate is the ratio
    of the means, which equals original mean / optimized mean over all samples when every block
    of a model has the same number of calls (latency.py guarantees it), so the reported speedup
    agrees with the reported mean latencies.

    The resampling unit is the block *pair*: resampling keeps each original block with the
    optimized block measured next to it, so load that slows both down together cancels out of
    every resampled ratio instead of widening the interval. BCa (scipy's default) is used because
    a ratio's sampling distribution is skewed and biased; BCa corrects both where the percentile
    method corrects neither, and its jackknife costs O(n_blocks^2), nothing at these sizes.
    """
    original = np.asarray(original_blocks, dtype=float)
    optimized = np.asarray(optimized_blocks, dtype=float)
    _check_blocks(original, optimized)
    value = float(_ratio_of_means(original, optimized))
    ratios = original / optimized
    if np.all(ratios == ratios[0]):
        # Every resample has the same ratio: BCa's acceleration is 0/0 and scipy returns NaN.
        low = high = value
    else:
        result = stats.bootstrap(
            (original, optimized),
            _ratio_of_means,
            paired=True,
            vectorized=True,
            n_resamples=N_RESAMPLES,
            confidence_level=confidence,
            method="BCa",
            rng=np.random.default_rng(seed),
        )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return Speedup(value=value, ci_low=low, ci_high=high, confidence=confidence, n_blocks=int(original.size))


def _check_blocks(original: np.ndarray, optimized: np.ndarray) -> None:
    if original.ndim != 1 or original.shape != optimized.shape:
        raise ValueError(
            f"ratio_ci needs two 1-d block sequences of the same length, got {original.shape} and {optimized.shape}"
        )
    if original.size < 2:
        raise ValueError(f"ratio_ci needs at least 2 blocks to resample, got {original.size}")
    if not (np.all(original > 0) and np.all(optimized > 0)):
        raise ValueError("ratio_ci needs positive block times")


def relative_width(speedup: Speedup) -> float:
    """Width of the confidence interval relative to the speedup itself."""
    return (speedup.ci_high - speedup.ci_low) / speedup.value
