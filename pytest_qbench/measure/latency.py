"""Side-by-side latency timing of the original and the optimized model, in two phases.

1. The gated signal: CPU time per call, one thread. Each model runs in an ONNX Runtime session with
   one intra-op thread, where ONNX Runtime creates no thread pool and the whole call runs on the calling thread,
   so that thread's CPU time (time.thread_time_ns) is the call's cost (OpenVINO's one-thread models
   likewise: measure/ov_session.py). Time spent waiting for a CPU
   is not in it: a neighbour that takes the cores stretches wall time 2-3x on a 2-core runner but
   moves CPU time a few percent (docs/BENCHMARKS.md, "Latency gate"). No idle pool threads spin,
   and the two sessions cannot compete for cores.
2. What users see: wall-clock latency at the requested thread count (TimingSpec.threads), for a
   fixed budget. Recorded (mean, percentiles, throughput, the wall speedup), not gated by default.

Both phases alternate the models call by call in ABBA order (A B, B A, A B, ...) and keep each
adjacent pair: stats.paired_speedup turns pairs into a Hodges-Lehmann speedup with a signed-rank
interval. The CPU phase takes at least `min_pairs` pairs and `min_seconds` of CPU per model, then
looks at the interval at geometrically spaced pair counts (its cost grows as n^2) and stops as soon
as its relative width is below `target_ci_width` ("ci_width"), or once the phase has run
`max_seconds` ("max_seconds"; the minimums win). The rule looks only at the interval's width,
never at where the estimate lies, so stopping early does not bias the estimate or its coverage:
quiet machines finish early, and busy ones measure more.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from time import perf_counter, perf_counter_ns, thread_time_ns
from typing import TYPE_CHECKING, Any

import numpy as np

from ..results import CpuTime, LatencyResult, Speedup
from ..specs import TimingSpec
from .ort_session import resolve_threads
from .stats import MIN_PAIRS, median_ci, paired_speedup, relative_width, summarize

if TYPE_CHECKING:
    import onnxruntime

Runner = Callable[[], Any]
Clock = Callable[[], int]
LOOK_GROWTH = 1.25  # next look at 1.25x the pairs: the interval's O(n^2) cost stays a small share


@dataclass(frozen=True)
class Pair:
    """The two models' runners, each a call with its inputs bound."""

    original: Runner
    optimized: Runner


# (original, optimized) sessions at a thread count: ONNX Runtime's, or OpenVINO's (measure/ov_session.py).
Sessions = Callable[[int], "tuple[onnxruntime.InferenceSession, onnxruntime.InferenceSession]"]


def measure(sessions: Sessions, inputs: dict[str, np.ndarray], timing: TimingSpec, batch_size: int) -> LatencyResult:
    """Time the (original, optimized) sessions that `sessions(threads)` gives, on the same inputs;
    each session gets only the inputs it declares."""
    threads = resolve_threads(timing.threads)
    one = sessions(1)
    cpu = Pair(*(runner(s, inputs) for s in one))
    wall = cpu if threads == 1 else Pair(*(runner(s, inputs) for s in sessions(threads)))
    return measure_pairs(cpu, wall, timing, batch_size, threads)


def runner(session: onnxruntime.InferenceSession, inputs: dict[str, np.ndarray]) -> Runner:
    """A call of `session` on the inputs it declares, bound once."""
    names = [i.name for i in session.get_inputs()]
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ValueError(f"qbench: the model needs input(s) {missing}; got {sorted(inputs)}")
    # Built once: the timed loop calls this with no argument handling of its own.
    return partial(session.run, None, {n: inputs[n] for n in names})


def measure_pairs(cpu: Pair, wall: Pair, timing: TimingSpec, batch_size: int, threads: int) -> LatencyResult:
    """The CPU phase on `cpu` (one-thread runners), then the wall phase on `wall` (runners at
    `threads`, which is recorded, not applied)."""
    start = perf_counter()
    cpu_time, stop_reason = _cpu_phase(cpu, timing)
    original, optimized = _timed_pairs(wall, thread_clock=False, timing=timing, until=_wall_done(timing))
    return LatencyResult(
        original=summarize(original * 1e-9, batch_size),
        optimized=summarize(optimized * 1e-9, batch_size),
        wall_speedup=paired_speedup(original, optimized),
        cpu=cpu_time,
        stop_reason=stop_reason,
        threads=threads,
        seconds=perf_counter() - start,
    )


@dataclass(frozen=True)
class CpuSamples:
    """What the CPU phase timed: each model's per-call CPU time (ns) in pair order, the speedup and
    why the phase stopped."""

    original: np.ndarray
    optimized: np.ndarray
    speedup: Speedup
    stop_reason: str

    def per_call_ms(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """Each model's median CPU time per call (ms) with its distribution-free 95% interval, as
        (low, median, high): the original's, then the optimized's."""
        return median_ci(self.original * 1e-6), median_ci(self.optimized * 1e-6)


def cpu_phase(pair: Pair, timing: TimingSpec) -> CpuSamples:
    """The gated phase alone (see the module doc) on one-thread runners."""
    looks = _Looks(timing)
    original, optimized = _timed_pairs(pair, thread_clock=True, timing=timing, until=looks.done)
    assert looks.speedup is not None  # `done` computed it before it returned True
    return CpuSamples(original, optimized, looks.speedup, looks.reason)


def _cpu_phase(pair: Pair, timing: TimingSpec) -> tuple[CpuTime, str]:
    samples = cpu_phase(pair, timing)
    cpu = CpuTime(
        original_ms=float(np.median(samples.original)) * 1e-6,
        optimized_ms=float(np.median(samples.optimized)) * 1e-6,
        speedup=samples.speedup,
    )
    return cpu, samples.stop_reason


class _Looks:
    """The CPU phase's stopping rule (see the module doc): `done` is asked after every ABBA cycle."""

    def __init__(self, timing: TimingSpec):
        self.timing = timing
        self.start = perf_counter()
        self.next_look = max(timing.min_pairs, MIN_PAIRS)  # fewer pairs have no interval
        self.reason = ""
        self.speedup: Speedup | None = None

    def done(self, series: _Series) -> bool:
        timing, n = self.timing, len(series.original)
        if n < self.next_look or series.min_total_ns() < timing.min_seconds * 1e9:
            return False
        self.speedup = paired_speedup(series.original, series.optimized)
        self.next_look = max(n + 2, math.ceil(n * LOOK_GROWTH))
        if relative_width(self.speedup) < timing.target_ci_width:
            self.reason = "ci_width"
        elif perf_counter() - self.start >= timing.max_seconds:
            self.reason = "max_seconds"
        return bool(self.reason)


def _wall_done(timing: TimingSpec) -> Callable[[_Series], bool]:
    def done(series: _Series) -> bool:
        enough_calls = len(series.original) >= max(timing.wall_iterations, MIN_PAIRS)
        return enough_calls and series.min_total_ns() >= timing.wall_seconds * 1e9

    return done


@dataclass
class _Series:
    """Per-call times (ns) of the pairs so far, and each model's running total."""

    original: list[int] = field(default_factory=list)
    optimized: list[int] = field(default_factory=list)
    totals: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, original: int, optimized: int) -> None:
        self.original.append(original)
        self.optimized.append(optimized)
        self.totals[0] += original
        self.totals[1] += optimized

    def min_total_ns(self) -> int:
        return min(self.totals)


def _timed_pairs(
    pair: Pair, *, thread_clock: bool, timing: TimingSpec, until: Callable[[_Series], bool]
) -> tuple[np.ndarray, np.ndarray]:
    """Warm each model up, then time ABBA cycles until `until(series)`; per-call ns of each model."""
    clock: Clock = thread_time_ns if thread_clock else perf_counter_ns
    _warm_up(pair.original, timing)
    _warm_up(pair.optimized, timing)
    series = _Series()
    with _gc_paused():
        while True:
            a = _time_call(pair.original, clock)
            series.add(a, _time_call(pair.optimized, clock))
            b = _time_call(pair.optimized, clock)
            series.add(_time_call(pair.original, clock), b)
            if until(series):
                return np.array(series.original, dtype=float), np.array(series.optimized, dtype=float)


def _time_call(run: Runner, clock: Clock) -> int:
    t0 = clock()
    run()
    return max(clock() - t0, 1)  # a no-op can read 0 ns


def _warm_up(run: Runner, timing: TimingSpec) -> None:
    """Run until both warm-up minimums are met (at least one call)."""
    deadline = perf_counter_ns() + int(timing.warmup_seconds * 1e9)
    calls = 0
    while calls < max(1, timing.warmup_iterations) or perf_counter_ns() < deadline:
        run()
        calls += 1


@contextmanager
def _gc_paused() -> Iterator[None]:
    # A full collection over a process holding torch and transformers takes tens of ms: it would
    # land in some call's time as an outlier that belongs to neither model (timeit does the same).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
