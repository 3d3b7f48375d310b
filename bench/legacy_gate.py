"""The latency gate before issue 11, frozen for side-by-side comparison (bench/latency_gate.py).

As of commit dce94cc: both models at all cores, timed on the wall clock in fixed-size blocks in
ABBA order; the speedup is the ratio of the block means with a paired BCa bootstrap interval,
measured until the interval is 4% wide or 4 s passed (min 20 calls and 1 s per model); a case
fails when the speedup is below baseline / 1.1 AND the whole interval is below that limit.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from time import perf_counter, perf_counter_ns
from typing import Any, Callable

import numpy as np
from scipy import stats

TARGET_BLOCKS, MIN_BLOCKS, CHECK_SPACING = 32, 4, 9
WARMUP_ITERATIONS, WARMUP_SECONDS = 5, 0.2
MIN_ITERATIONS, MIN_SECONDS, MAX_SECONDS, TARGET_CI_WIDTH = 20, 1.0, 4.0, 0.04
SPEEDUP_RTOL = 0.10


@dataclass(frozen=True)
class LegacyResult:
    value: float
    ci_low: float
    ci_high: float
    block_log_ratios: list[float]  # log(original block mean / optimized block mean)
    stop_reason: str
    seconds: float


def gate_fails(measured: LegacyResult, baseline_value: float) -> bool:
    limit = baseline_value / (1 + SPEEDUP_RTOL)
    return measured.value < limit and measured.ci_high < limit


def measure(run_a: Callable[[], Any], run_b: Callable[[], Any]) -> LegacyResult:
    start = perf_counter()
    a = _Timed(run_a, _block_size(_warm_up(run_a)))
    b = _Timed(run_b, _block_size(_warm_up(run_b)))
    timed_start = next_check = perf_counter()
    while True:
        for first, second in ((a, b), (b, a)):
            first.time_block()
            second.time_block()
        if not (a.minimums_met() and b.minimums_met()):
            continue
        check_start = perf_counter()
        out_of_time = check_start - timed_start >= MAX_SECONDS
        if check_start < next_check and not out_of_time:
            continue
        ratio = _ratio_ci(np.array(a.means()), np.array(b.means()))
        reason = "ci_width" if (ratio[2] - ratio[1]) / ratio[0] < TARGET_CI_WIDTH else "max_seconds" if out_of_time else ""
        if reason:
            logs = list(np.log(np.array(a.means()) / np.array(b.means())))
            return LegacyResult(*ratio, logs, reason, perf_counter() - start)
        now = perf_counter()
        next_check = now + CHECK_SPACING * (now - check_start)


def _ratio_ci(original: np.ndarray, optimized: np.ndarray) -> tuple[float, float, float]:
    def ratio_of_means(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.mean(axis=axis) / y.mean(axis=axis)

    value = float(ratio_of_means(original, optimized))
    result = stats.bootstrap((original, optimized), ratio_of_means, paired=True, vectorized=True, n_resamples=9999,
                             confidence_level=0.95, method="BCa", rng=np.random.default_rng(0))
    return value, float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class _Timed:
    run: Callable[[], Any]
    block_size: int
    blocks: list[np.ndarray] = field(default_factory=list)

    def time_block(self) -> None:
        times = [0] * self.block_size
        gc.disable()
        for i in range(self.block_size):
            t0 = perf_counter_ns()
            self.run()
            times[i] = perf_counter_ns() - t0
        gc.enable()
        self.blocks.append(np.array(times, dtype=np.int64))

    def means(self) -> list[float]:
        return [float(b.mean()) for b in self.blocks]

    def minimums_met(self) -> bool:
        calls = len(self.blocks) * self.block_size
        seconds = sum(int(b.sum()) for b in self.blocks) * 1e-9
        return len(self.blocks) >= MIN_BLOCKS and calls >= MIN_ITERATIONS and seconds >= MIN_SECONDS


def _warm_up(run: Callable[[], Any]) -> float:
    deadline = perf_counter_ns() + int(WARMUP_SECONDS * 1e9)
    times: list[int] = []
    while len(times) < WARMUP_ITERATIONS or perf_counter_ns() < deadline:
        t0 = perf_counter_ns()
        run()
        times.append(perf_counter_ns() - t0)
    return max(float(np.median(times)), 1.0)


def _block_size(call_ns: float) -> int:
    calls_needed = max(MIN_ITERATIONS, MIN_SECONDS * 1e9 / call_ns)
    return max(1, int(calls_needed // TARGET_BLOCKS))
