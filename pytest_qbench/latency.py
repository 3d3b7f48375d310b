"""Side-by-side latency timing of the original and the optimized model.

Absolute times on shared machines swing from run to run, so both models run interleaved in one
process on the same inputs, and the gated number is their ratio (see stats.ratio_ci).

Schedule: each model warms up alone, then the two alternate in fixed-size blocks in ABBA order
(A B, B A, A B, ...), so a linear drift in machine speed hits both equally within every cycle of
four blocks. Block sizes are chosen from the warm-up so that the minimums (TimingSpec.min_iterations
and min_seconds, per model) are met after about TARGET_BLOCKS blocks; a model's block size never
changes, so the mean of its block means is the mean of all its calls. Once the minimums are met,
the speedup's confidence interval is computed after complete ABBA cycles (spaced so the bootstrap
costs at most ~10% of the time); measuring stops when it is narrower than target_ci_width, or when
the interleaved phase has run max_seconds (both models together, warm-up excluded; it may overshoot
by one cycle). The minimums win over max_seconds: a model too slow to meet them within the budget
still gets them, and the result says "max_seconds".
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from time import perf_counter, perf_counter_ns
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import numpy as np

from .config import TimingSpec
from .results import LatencyResult, Speedup
from .stats import ratio_ci, relative_width, summarize

if TYPE_CHECKING:
    import onnxruntime

Runner = Callable[[], Any]

# Blocks per model once the minimums are met. A/A runs on a loaded 2-core box: the 95% interval held
# 1.0 in ~80% of runs from 16 blocks, ~93% from 32 (block ratios showed no autocorrelation).
TARGET_BLOCKS = 32
MIN_BLOCKS = 4  # two ABBA cycles: the fewest worth bootstrapping
CHECK_SPACING = 9  # measure at least this many times as long as the last CI check took


def physical_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def resolve_threads(threads: int | None) -> int:
    return physical_cores() if threads is None else threads


def make_session(
    path: str | Path, threads: int | None, config: Mapping[str, str] | None = None
) -> onnxruntime.InferenceSession:
    """A CPU session with a fixed thread count (None: physical cores), sequential execution and
    the given session config entries (e.g. `session.x64quantprecision`)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    options.intra_op_num_threads = resolve_threads(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def measure(
    original: onnxruntime.InferenceSession,
    optimized: onnxruntime.InferenceSession,
    inputs: dict[str, np.ndarray],
    timing: TimingSpec,
    batch_size: int,
) -> LatencyResult:
    """Time two sessions side by side on the same inputs; each gets only the inputs it declares."""
    threads = _common_threads(original, optimized)
    return measure_callables(_runner(original, inputs), _runner(optimized, inputs), timing, batch_size, threads)


def _common_threads(original: onnxruntime.InferenceSession, optimized: onnxruntime.InferenceSession) -> int:
    threads = {s.get_session_options().intra_op_num_threads for s in (original, optimized)}
    if len(threads) != 1 or 0 in threads:  # 0 is onnxruntime's "decide for me": not a fixed setting
        raise ValueError(
            f"qbench: the sessions need the same fixed thread count, got {sorted(threads)};"
            " create both with make_session(path, threads)"
        )
    return threads.pop()


def _runner(session: onnxruntime.InferenceSession, inputs: dict[str, np.ndarray]) -> Runner:
    names = [i.name for i in session.get_inputs()]
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ValueError(f"qbench: the model needs input(s) {missing}; got {sorted(inputs)}")
    # Built once: the timed loop calls this with no argument handling of its own.
    return partial(session.run, None, {n: inputs[n] for n in names})


def measure_callables(
    run_a: Runner, run_b: Runner, timing: TimingSpec, batch_size: int, threads: int
) -> LatencyResult:
    """Time run_a (original) against run_b (optimized); `threads` is recorded, not applied."""
    start = perf_counter()
    a = _Timed(run_a, _block_size(_warm_up(run_a, timing), timing))
    b = _Timed(run_b, _block_size(_warm_up(run_b, timing), timing))
    speedup, stop_reason = _interleave(a, b, timing)
    return LatencyResult(
        original=summarize(a.samples_s(), batch_size),
        optimized=summarize(b.samples_s(), batch_size),
        speedup=speedup,
        stop_reason=stop_reason,
        threads=threads,
        seconds=perf_counter() - start,
    )


def _interleave(a: _Timed, b: _Timed, timing: TimingSpec) -> tuple[Speedup, str]:
    """Time ABBA cycles until the speedup is precise enough or the budget is spent."""
    timed_start = next_check = perf_counter()
    while True:
        for first, second in ((a, b), (b, a)):
            first.time_block()
            second.time_block()
        if not (a.minimums_met(timing) and b.minimums_met(timing)):
            continue
        check_start = perf_counter()
        out_of_time = check_start - timed_start >= timing.max_seconds
        if check_start < next_check and not out_of_time:
            continue
        speedup = ratio_ci(a.block_means(), b.block_means())
        if relative_width(speedup) < timing.target_ci_width:
            return speedup, "ci_width"
        if out_of_time:
            return speedup, "max_seconds"
        # The bootstrap's cost grows with the block count: keep checks under ~10% of the time.
        now = perf_counter()
        next_check = now + CHECK_SPACING * (now - check_start)


@dataclass(frozen=True)
class _Timed:
    """One model's runner, its fixed block size and the per-call times (ns) of its blocks so far."""

    run: Runner
    block_size: int
    blocks: list[np.ndarray] = field(default_factory=list)

    def time_block(self) -> None:
        self.blocks.append(_time_block(self.run, self.block_size))

    def block_means(self) -> list[float]:
        return [float(b.mean()) for b in self.blocks]

    def samples_s(self) -> np.ndarray:
        return np.concatenate(self.blocks) * 1e-9

    def minimums_met(self, timing: TimingSpec) -> bool:
        calls = len(self.blocks) * self.block_size
        seconds = sum(int(b.sum()) for b in self.blocks) * 1e-9
        return len(self.blocks) >= MIN_BLOCKS and calls >= timing.min_iterations and seconds >= timing.min_seconds


def _warm_up(run: Runner, timing: TimingSpec) -> float:
    """Run until both warm-up minimums are met (at least one call); return the median call time in ns."""
    clock = perf_counter_ns
    deadline = clock() + int(timing.warmup_seconds * 1e9)
    times: list[int] = []
    while len(times) < max(1, timing.warmup_iterations) or clock() < deadline:
        t0 = clock()
        run()
        times.append(clock() - t0)
    return max(float(np.median(times)), 1.0)  # a no-op can read 0 ns


def _block_size(call_ns: float, timing: TimingSpec) -> int:
    calls_needed = max(timing.min_iterations, timing.min_seconds * 1e9 / call_ns)
    return max(1, int(calls_needed // TARGET_BLOCKS))


def _time_block(run: Runner, n: int) -> np.ndarray:
    """Per-call times in ns. The loop body is two clock reads, the call and one list store."""
    clock = perf_counter_ns
    times = [0] * n
    with _gc_paused():
        for i in range(n):
            t0 = clock()
            run()
            times[i] = clock() - t0
    return np.array(times, dtype=np.int64)


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

