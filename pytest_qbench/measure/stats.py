"""Latency statistics: per-model summaries, and the paired speedup estimate with its interval.

Only numpy and scipy: no onnxruntime here, so the statistics are testable on synthetic numbers.

The speedup is estimated from *pairs*: call i of the original and call i of the optimized model ran
next to each other, so whatever slowed the machine at that moment hit both. Per pair, the log-ratio
d_i = log(original_i / optimized_i) cancels that shared factor. Their location is the Hodges-Lehmann
estimate (the median of all pairwise means (d_i + d_j) / 2, i <= j), with the distribution-free
confidence interval that inverts the Wilcoxon signed-rank test. Against the ratio of means with a
bootstrap CI it replaced: one 3x outlier call (a page fault, a preemption) moves a mean a lot and
the HL estimate almost not at all, while on clean normal data HL keeps 95% of the mean's efficiency;
the interval needs only that the d_i be symmetric about their centre, which alternating the order
in which each pair runs (ABBA) ensures under "no change".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from ..results import CpuTime, LatencyStats, Speedup

PERCENTILES = (50, 90, 95, 99)
CONFIDENCE = 0.95  # of every speedup interval, measured or stored in a baseline
MIN_PAIRS = 6  # below this even a 75% signed-rank interval is the whole range
MAX_PAIRS = 1000  # more are pooled into this many consecutive groups: the O(n^2) step stays ~50 ms


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


def two_sided_z(confidence: float) -> float:
    """The normal quantile that bounds a two-sided interval at `confidence`."""
    return NormalDist().inv_cdf((1 + confidence) / 2)


def hodges_lehmann(d: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The Hodges-Lehmann location of `d` and its signed-rank confidence interval: (low, estimate, high).

    The interval is [W_(k), W_(M+1-k)] over the M = n(n+1)/2 sorted Walsh averages W, with k the
    signed-rank critical count (normal approximation with continuity correction: within one rank
    of the exact tables from n = 10 on). O(n^2) memory: callers keep n in the low thousands.
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    if d.ndim != 1 or n < MIN_PAIRS:
        raise ValueError(f"hodges_lehmann needs a 1-d sequence of at least {MIN_PAIRS} values, got shape {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("hodges_lehmann needs finite values")
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2)
    m = walsh.size
    z = two_sided_z(confidence)
    k = math.floor(n * (n + 1) / 4 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24) - 0.5)
    k = min(max(k, 0), (m - 1) // 2)  # k-th smallest, 0-based; tiny n: the whole range
    return float(walsh[k]), float(np.median(walsh)), float(walsh[m - 1 - k])


def paired_speedup(
    original: Sequence[float] | np.ndarray, optimized: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE
) -> Speedup:
    """Speedup (original / optimized) from per-pair times (any unit, the same for both): exp of the
    Hodges-Lehmann log-ratio with its signed-rank interval (see the module doc)."""
    a = np.asarray(original, dtype=float)
    b = np.asarray(optimized, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"paired_speedup needs two 1-d sequences of the same length, got {a.shape} and {b.shape}")
    if not (np.all(a > 0) and np.all(b > 0)):
        raise ValueError("paired_speedup needs positive times")
    d = np.log(a / b)
    if d.size > MAX_PAIRS:  # group means of ABBA pairs are as symmetric under "no change" as the pairs
        d = np.array([group.mean() for group in np.array_split(d, MAX_PAIRS)])
    low, value, high = hodges_lehmann(d, confidence)
    return Speedup(math.exp(value), math.exp(low), math.exp(high), confidence, int(a.size))


def median_ci(samples: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """The median of `samples` and its distribution-free interval: (low, median, high).

    The order statistics x_(j), x_(k) that cover the median with probability >= `confidence`
    (binomial(n, 1/2) counts of samples below it, normal approximation)."""
    x = np.sort(np.asarray(samples, dtype=float))
    n = x.size
    if x.ndim != 1 or n < MIN_PAIRS:
        raise ValueError(f"median_ci needs a 1-d sequence of at least {MIN_PAIRS} values, got shape {x.shape}")
    half = two_sided_z(confidence) * math.sqrt(n) / 2
    low, high = max(math.floor(n / 2 - half), 0), min(math.ceil(n / 2 + half), n - 1)
    return float(x[low]), float(np.median(x)), float(x[high])


def relative_width(speedup: Speedup) -> float:
    """Width of the confidence interval relative to the speedup itself."""
    return (speedup.ci_high - speedup.ci_low) / speedup.value


def log_se(speedup: Speedup) -> float:
    """The standard error of log(speedup) that its interval implies, read as a normal one."""
    return math.log(speedup.ci_high / speedup.ci_low) / (2 * two_sided_z(speedup.confidence))


def median_variance_factor(n: int) -> float:
    """Var(median of n) x n / sigma^2 for normal values: 1 up to two (their mean), pi/2 above
    (the large-n value, above every small odd n's exact one)."""
    return 1.0 if n <= 2 else math.pi / 2


def median_cpu(measurements: Sequence[CpuTime]) -> CpuTime:
    """Several measurements of one case's CPU phase as one: the median speedup, with the standard
    error a median of their own errors has, and each model's median CPU time per call. A median, not
    a weighted mean: one measurement off by a slow session (measure/fresh.py) is outvoted, not averaged in."""
    if len(measurements) == 1:
        return measurements[0]
    n = len(measurements)
    logs = [math.log(m.speedup.value) for m in measurements]
    se = math.sqrt(median_variance_factor(n) * float(np.mean([log_se(m.speedup) ** 2 for m in measurements])) / n)
    confidence = measurements[0].speedup.confidence
    centre, half = float(np.median(logs)), two_sided_z(confidence) * se
    speedup = Speedup(math.exp(centre), math.exp(centre - half), math.exp(centre + half), confidence,
                      sum(m.speedup.n_pairs for m in measurements))
    return CpuTime(float(np.median([m.original_ms for m in measurements])),
                   float(np.median([m.optimized_ms for m in measurements])), speedup)
