"""Timing logic on synthetic runners and fake clocks, and one real ONNX model end to end.

The machine is shared and noisy: nothing here asserts an absolute time, only ratios with wide
margins, logical bounds (a clock against itself) and structural facts (call order, counts, which
condition stopped the measurement). Exact numbers are asserted only on fake clocks, whose time
moves only when a fake model runs.
"""

import math
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from pytest_qbench.hardware import usable_cores
from pytest_qbench.measure import latency, ort_session
from pytest_qbench.measure.latency import Pair, measure, measure_pairs
from pytest_qbench.measure.ort_session import make_ort_session
from pytest_qbench.measure.stats import MIN_PAIRS, paired_speedup, relative_width
from pytest_qbench.specs import TimingSpec

QUICK = TimingSpec(threads=1, warmup_iterations=2, warmup_seconds=0.01, min_pairs=10, min_seconds=0.05,
                   max_seconds=0.5, target_ci_width=0.2, wall_iterations=8, wall_seconds=0.05)
# Fake clocks: no warm-up deadline (the fake wall clock stands still while the CPU phase runs).
FAKE = TimingSpec(threads=1, warmup_iterations=2, warmup_seconds=0.0, min_pairs=10, min_seconds=0.0,
                  max_seconds=60.0, target_ci_width=0.05, wall_iterations=6, wall_seconds=0.0)


def work(n):
    """A fixed amount of CPU work: load slows it down like a real model."""

    def run():
        total = 0
        for i in range(n):
            total += i
        return total

    return run


class FakeClock:
    """A clock (ns) whose time only moves when one of its fake models runs: noise-free by construction.
    Each runner keeps the cost of each of its calls, so a test can rebuild the pairs the timing saw."""

    def __init__(self, seed=0):
        self.now = 0
        self.rng = np.random.default_rng(seed)

    def __call__(self):
        return self.now

    def runner(self, cost_ns, jitter=0.0):
        def run():
            cost = max(1, int(cost_ns * (1 + jitter * self.rng.standard_normal())))
            run.costs.append(cost)
            self.now += cost

        run.costs = []
        return run


@pytest.fixture
def clocks(monkeypatch):
    """(cpu, wall): the fake thread_time_ns of the CPU phase and perf_counter_ns of the wall phase."""
    cpu, wall = FakeClock(0), FakeClock(1)
    monkeypatch.setattr(latency, "thread_time_ns", cpu)
    monkeypatch.setattr(latency, "perf_counter_ns", wall)
    return cpu, wall


def timed(run, warmup_iterations, n_pairs):
    """The per-call times (ns) a fake runner's timed calls read: its calls after the warm-up."""
    return run.costs[warmup_iterations:warmup_iterations + n_pairs]


def look_points(min_pairs, upto):
    """Where the CPU phase looks at the interval: after whole ABBA cycles (2 pairs), from min_pairs on,
    then at geometrically spaced pair counts."""
    points, n = [], min_pairs + min_pairs % 2
    while n <= upto:
        points.append(n)
        following = max(n + 2, math.ceil(n * latency.LOOK_GROWTH))
        n = following + following % 2
    return points


# ---- call order ----------------------------------------------------------------------------------


def test_each_phase_warms_up_then_alternates_calls_in_abba_order():
    log = []
    cpu = Pair(lambda: log.append("a"), lambda: log.append("b"))  # the one-thread runners
    wall = Pair(lambda: log.append("A"), lambda: log.append("B"))  # the runners at `threads`
    timing = TimingSpec(warmup_iterations=3, warmup_seconds=0.0, min_pairs=8, min_seconds=0.0, max_seconds=0.0,
                        target_ci_width=0.0, wall_iterations=6, wall_seconds=0.0)
    result = measure_pairs(cpu, wall, timing, 1, 2)
    # CPU phase first: 8 pairs in 4 ABBA cycles, stopped at the first look (max_seconds=0); then the
    # wall phase: 6 pairs in 3 cycles.
    assert "".join(log) == "aaabbb" + "abba" * 4 + "AAABBB" + "ABBA" * 3
    assert result.cpu.speedup.n_pairs == 8
    assert result.original.n_samples == result.optimized.n_samples == result.wall_speedup.n_pairs == 6
    assert result.stop_reason == "max_seconds"
    assert result.threads == 2  # recorded, not applied


def test_a_phase_stops_only_after_whole_abba_cycles():
    log = []
    pair = Pair(lambda: log.append("a"), lambda: log.append("b"))
    timing = TimingSpec(warmup_iterations=1, warmup_seconds=0.0, min_pairs=11, min_seconds=0.0, max_seconds=0.0,
                        target_ci_width=0.0, wall_iterations=7, wall_seconds=0.0)
    result = measure_pairs(pair, Pair(lambda: log.append("A"), lambda: log.append("B")), timing, 1, 1)
    assert result.cpu.speedup.n_pairs == 12 and result.original.n_samples == 8
    assert "".join(log) == "ab" + "abba" * 6 + "AB" + "ABBA" * 4


class FakeSession:
    """An onnxruntime session's surface that latency.measure uses: get_inputs() and run()."""

    def __init__(self, name, threads, inputs, log):
        self.name, self.threads, self.inputs, self.log = name, threads, inputs, log

    def get_inputs(self):
        return [SimpleNamespace(name=n) for n in self.inputs]

    def run(self, outputs, feed):
        assert outputs is None
        self.log.append((self.name, self.threads, tuple(sorted(feed))))


def fake_sessions(log, requested):
    def sessions(threads):
        requested.append(threads)
        return FakeSession("original", threads, ("X", "B"), log), FakeSession("optimized", threads, ("X",), log)

    return sessions


TINY = TimingSpec(warmup_iterations=1, warmup_seconds=0.0, min_pairs=6, min_seconds=0.0, max_seconds=0.0,
                  target_ci_width=0.0, wall_iterations=6, wall_seconds=0.0)
FEED = {"X": np.ones((2, 4), np.float32), "B": np.ones(4, np.float32), "unused": np.ones(1)}


@pytest.mark.parametrize("threads", [2, 3])
def test_the_cpu_phase_runs_one_thread_sessions_then_the_wall_phase_runs_sessions_at_threads(threads):
    log, requested = [], []
    result = measure(fake_sessions(log, requested), FEED, replace(TINY, threads=threads), 2)
    assert requested == [1, threads]
    calls_per_model = TINY.warmup_iterations + 6  # warm-up, then 6 pairs, in each phase
    cpu_phase, wall_phase = log[:2 * calls_per_model], log[2 * calls_per_model:]
    assert {t for _, t, _ in cpu_phase} == {1} and {t for _, t, _ in wall_phase} == {threads}
    assert len(wall_phase) == 2 * calls_per_model
    # each session gets only the inputs it declares
    assert {(name, feed) for name, _, feed in log} == {("original", ("B", "X")), ("optimized", ("X",))}
    assert result.threads == threads
    assert result.cpu.speedup.n_pairs == 6 and result.wall_speedup.n_pairs == 6


def test_one_thread_times_both_phases_on_the_same_sessions():
    log, requested = [], []
    result = measure(fake_sessions(log, requested), FEED, replace(TINY, threads=1), 2)
    assert requested == [1]
    assert {t for _, t, _ in log} == {1} and len(log) == 2 * 2 * (TINY.warmup_iterations + 6)
    assert result.threads == 1


def test_unset_threads_means_the_physical_cores(monkeypatch):
    monkeypatch.setattr(ort_session, "usable_cores", lambda: 4)
    requested = []
    result = measure(fake_sessions([], requested), FEED, TINY, 2)
    assert TINY.threads is None
    assert requested == [1, 4] and result.threads == 4


# ---- the clocks and the stopping rule (fake clocks) ------------------------------------------------


def test_the_cpu_phase_reads_thread_cpu_time_and_the_wall_phase_perf_counter(clocks):
    cpu_clock, wall_clock = clocks
    cpu = Pair(cpu_clock.runner(2_000_000), cpu_clock.runner(1_000_000))  # 2x on the CPU clock
    wall = Pair(wall_clock.runner(3_000_000), wall_clock.runner(1_000_000))  # 3x on the wall clock
    result = measure_pairs(cpu, wall, FAKE, 4, 2)
    # A phase reading the other clock would see 0 ns calls (read as 1 ns) and a speedup of 1.
    assert result.cpu.speedup.value == pytest.approx(2.0)
    assert (result.cpu.original_ms, result.cpu.optimized_ms) == pytest.approx((2.0, 1.0))
    assert result.wall_speedup.value == pytest.approx(3.0)
    assert (result.original.mean_ms, result.optimized.mean_ms) == pytest.approx((3.0, 1.0))
    assert result.optimized.throughput == pytest.approx(4 / 1e-3)  # batch size / mean latency
    assert result.stop_reason == "ci_width"  # noise-free: the first look is precise enough


def test_stops_on_ci_width_at_the_first_look_for_a_stable_pair(clocks):
    cpu_clock, wall_clock = clocks
    original, optimized = cpu_clock.runner(2000, jitter=0.01), cpu_clock.runner(1000, jitter=0.01)
    result = measure_pairs(
        Pair(original, optimized), Pair(wall_clock.runner(2000), wall_clock.runner(1000)), FAKE, 1, 1
    )
    s = result.cpu.speedup
    assert result.stop_reason == "ci_width"
    assert s.n_pairs == FAKE.min_pairs  # the first look was precise enough
    assert relative_width(s) < FAKE.target_ci_width
    assert s.ci_low < 2.0 < s.ci_high
    # the reported interval is that of exactly the pairs timed, and the cpu times their medians
    a, b = timed(original, FAKE.warmup_iterations, s.n_pairs), timed(optimized, FAKE.warmup_iterations, s.n_pairs)
    assert len(original.costs) == FAKE.warmup_iterations + s.n_pairs
    assert s == paired_speedup(a, b)
    assert result.cpu.original_ms == pytest.approx(np.median(a) * 1e-6)
    assert result.cpu.optimized_ms == pytest.approx(np.median(b) * 1e-6)


def test_keeps_measuring_until_the_ci_is_narrow_enough(clocks):
    cpu_clock, wall_clock = clocks
    original, optimized = cpu_clock.runner(2000, jitter=0.1), cpu_clock.runner(1000, jitter=0.1)
    timing = replace(FAKE, target_ci_width=0.04)
    result = measure_pairs(
        Pair(original, optimized), Pair(wall_clock.runner(2000), wall_clock.runner(1000)), timing, 1, 1
    )
    s = result.cpu.speedup
    assert result.stop_reason == "ci_width"
    assert relative_width(s) < 0.04
    assert s.ci_low < 2.0 < s.ci_high
    looks = look_points(timing.min_pairs, s.n_pairs)
    assert s.n_pairs > timing.min_pairs and s.n_pairs == looks[-1]  # stopped at a look, after whole cycles
    a, b = timed(original, timing.warmup_iterations, s.n_pairs), timed(optimized, timing.warmup_iterations, s.n_pairs)
    assert s == paired_speedup(a, b)
    # ... and at the first one narrow enough: every earlier look was too wide to stop
    assert all(relative_width(paired_speedup(a[:n], b[:n])) >= 0.04 for n in looks[:-1])


def test_max_seconds_stops_at_the_first_look_after_the_minimums_unless_the_ci_is_narrow(clocks):
    cpu_clock, wall_clock = clocks
    wall = Pair(wall_clock.runner(2000), wall_clock.runner(1000))
    out_of_time = replace(FAKE, max_seconds=0.0, target_ci_width=0.0)
    noisy = Pair(cpu_clock.runner(2000, jitter=0.1), cpu_clock.runner(1000, jitter=0.1))
    result = measure_pairs(noisy, wall, out_of_time, 1, 1)
    assert (result.stop_reason, result.cpu.speedup.n_pairs) == ("max_seconds", FAKE.min_pairs)
    # precise enough and out of time at once: the precision is what gets reported
    stable = Pair(cpu_clock.runner(2000, jitter=0.01), cpu_clock.runner(1000, jitter=0.01))
    result = measure_pairs(stable, wall, replace(FAKE, max_seconds=0.0), 1, 1)
    assert (result.stop_reason, result.cpu.speedup.n_pairs) == ("ci_width", FAKE.min_pairs)


def test_min_pairs_respected(clocks):
    cpu_clock, wall_clock = clocks
    timing = replace(FAKE, min_pairs=300, max_seconds=0.0, target_ci_width=1.0)
    cpu = Pair(cpu_clock.runner(2000, jitter=0.1), cpu_clock.runner(1000, jitter=0.1))
    result = measure_pairs(cpu, Pair(wall_clock.runner(2000), wall_clock.runner(1000)), timing, 1, 1)
    # a 1.0-wide target and no time budget: only the minimum kept it measuring
    assert result.cpu.speedup.n_pairs == 300
    assert result.original.n_samples == 6  # the wall phase has budgets of its own


def test_a_min_pairs_below_what_the_interval_needs_still_gives_an_interval(clocks):
    # qbench_min_pairs = 2 passes the options' check (positive); a slow model meets min_seconds in one cycle.
    cpu_clock, wall_clock = clocks
    timing = replace(FAKE, min_pairs=2, target_ci_width=0.0, max_seconds=0.0)
    cpu = Pair(cpu_clock.runner(2000, jitter=0.1), cpu_clock.runner(1000, jitter=0.1))
    result = measure_pairs(cpu, Pair(wall_clock.runner(2000), wall_clock.runner(1000)), timing, 1, 1)
    assert result.cpu.speedup.n_pairs >= MIN_PAIRS


def test_min_seconds_of_cpu_per_model_respected_even_past_max_seconds(clocks):
    cpu_clock, wall_clock = clocks
    timing = replace(FAKE, min_seconds=0.05, max_seconds=0.0, target_ci_width=0.0)
    cpu = Pair(cpu_clock.runner(1_000_000), cpu_clock.runner(500_000))  # 1 ms and 0.5 ms of CPU per call
    result = measure_pairs(cpu, Pair(wall_clock.runner(2000), wall_clock.runner(1000)), timing, 1, 1)
    # the faster model needs 100 calls for 0.05 s of CPU time; the first look comes once it has them
    assert result.cpu.speedup.n_pairs == 100
    assert result.stop_reason == "max_seconds"


def test_min_seconds_counts_this_threads_cpu_time():
    timing = TimingSpec(warmup_iterations=1, warmup_seconds=0.0, min_pairs=6, min_seconds=0.1, max_seconds=0.0,
                        target_ci_width=0.0, wall_iterations=6, wall_seconds=0.0)
    cpu_before = time.thread_time()
    result = measure_pairs(Pair(work(20_000), work(10_000)), Pair(work(2), work(1)), timing, 1, 1)
    # both models counted 0.1 s of CPU time of this very thread: a bound of the clock against itself
    assert time.thread_time() - cpu_before >= 2 * timing.min_seconds
    assert result.stop_reason == "max_seconds"


def test_wall_iterations_respected(clocks):
    cpu_clock, wall_clock = clocks
    cpu = Pair(cpu_clock.runner(2000), cpu_clock.runner(1000))
    for wall_iterations, expected in ((20, 20), (21, 22), (1, MIN_PAIRS)):  # whole cycles; enough for a CI
        timing = replace(FAKE, wall_iterations=wall_iterations)
        result = measure_pairs(cpu, Pair(wall_clock.runner(2000), wall_clock.runner(1000)), timing, 1, 1)
        assert result.original.n_samples == result.optimized.n_samples == expected, wall_iterations
        assert result.wall_speedup.n_pairs == expected
        assert result.cpu.speedup.n_pairs == FAKE.min_pairs  # the CPU phase keeps its own budget


def test_wall_seconds_per_model_respected(clocks):
    cpu_clock, wall_clock = clocks
    timing = replace(FAKE, wall_seconds=0.05)
    wall = Pair(wall_clock.runner(1_000_000), wall_clock.runner(500_000))  # 1 ms and 0.5 ms per call
    result = measure_pairs(Pair(cpu_clock.runner(2000), cpu_clock.runner(1000)), wall, timing, 2, 1)
    assert result.original.n_samples == result.optimized.n_samples == 100  # 100 x 0.5 ms = 0.05 s
    assert (result.original.mean_ms, result.optimized.mean_ms) == pytest.approx((1.0, 0.5))
    assert result.original.throughput == pytest.approx(2 / 1e-3)


# ---- real timing -----------------------------------------------------------------------------------


def test_stops_at_max_seconds_when_the_target_is_unreachable():
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_pairs=10, min_seconds=0.02, max_seconds=0.3,
                        target_ci_width=0.0, wall_iterations=6, wall_seconds=0.0)
    result = measure_pairs(Pair(work(2000), work(2000)), Pair(work(2000), work(2000)), timing, 1, 1)
    assert result.stop_reason == "max_seconds"
    assert result.seconds >= timing.max_seconds  # same clock as the budget: a logical, not a speed, bound


def test_twice_the_work_measures_half_the_speed():
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_pairs=10, min_seconds=0.2, max_seconds=1.0,
                        target_ci_width=0.05, wall_iterations=8, wall_seconds=0.1)
    pair = Pair(work(20_000), work(40_000))
    result = measure_pairs(pair, pair, timing, 4, 2)
    s = result.cpu.speedup
    # CPU time barely moves under load; wide margins all the same.
    assert 0.3 < s.value < 0.75
    assert 0.2 < s.ci_low <= s.value <= s.ci_high < 0.9
    assert 0.3 < result.cpu.original_ms / result.cpu.optimized_ms < 0.75
    # Wall clock: preemption on a loaded box can stretch single calls; pairing keeps the ratio.
    w = result.wall_speedup
    assert 0.25 < w.value < 0.8
    assert w.ci_low <= w.value <= w.ci_high
    # Medians: one preempted call on a loaded box (load 20 on 2 cores) can double a mean of 8 calls.
    assert 0.2 < result.original.p50_ms / result.optimized.p50_ms < 0.9
    assert result.original.throughput == pytest.approx(4 / (result.original.mean_ms / 1e3))
    assert result.threads == 2
    assert result.stop_reason in ("ci_width", "max_seconds")


# ---- real ONNX Runtime sessions ----------------------------------------------------------------


def _matmul_model(path, with_bias):
    """Y = X @ W (+ B): the biased model declares an input the other does not."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32), "W")
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 64])]
    nodes = [helper.make_node("MatMul", ["X", "W"], ["XW" if with_bias else "Y"])]
    if with_bias:
        inputs.append(helper.make_tensor_value_info("B", TensorProto.FLOAT, [64]))
        nodes.append(helper.make_node("Add", ["XW", "B"], ["Y"]))
    output = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 64])
    graph = helper.make_graph(nodes, "matmul", inputs, [output], initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture
def models(tmp_path):
    return _matmul_model(tmp_path / "a.onnx", with_bias=True), _matmul_model(tmp_path / "b.onnx", with_bias=False)


INPUTS = {"X": np.ones((4, 64), np.float32), "B": np.ones(64, np.float32)}


def onnx_sessions(models, made):
    """The `sessions` argument of measure, keeping the thread count of every session it makes."""

    def sessions(threads):
        pair = tuple(make_ort_session(p, threads) for p in models)
        made.append([s.get_session_options().intra_op_num_threads for s in pair])
        return pair

    return sessions


@pytest.mark.parametrize("threads", [1, 2])
def test_onnx_models_end_to_end(models, threads):
    made = []
    timing = replace(QUICK, threads=threads)
    result = measure(onnx_sessions(models, made), INPUTS, timing, batch_size=4)
    assert made == ([[1, 1]] if threads == 1 else [[1, 1], [threads, threads]])  # the CPU phase: one thread
    assert result.threads == threads
    assert result.cpu.speedup.n_pairs >= QUICK.min_pairs
    assert result.original.n_samples == result.optimized.n_samples == result.wall_speedup.n_pairs
    assert result.original.n_samples >= QUICK.wall_iterations
    for s in (result.cpu.speedup, result.wall_speedup):
        assert 0 < s.ci_low <= s.value <= s.ci_high
    assert result.cpu.original_ms > 0 and result.cpu.optimized_ms > 0
    assert result.stop_reason in ("ci_width", "max_seconds")


def test_make_ort_session_fixes_threads(models):
    session = make_ort_session(models[0], threads=None)
    options = session.get_session_options()
    assert options.intra_op_num_threads == usable_cores()
    assert options.inter_op_num_threads == 1
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_missing_input_is_named(models):
    with pytest.raises(ValueError, match=r"needs input\(s\) \['B'\]; got \['X'\]"):
        measure(onnx_sessions(models, []), {"X": INPUTS["X"]}, QUICK, batch_size=4)


def test_a_fresh_process_times_the_same_models_on_the_same_inputs(models, tmp_path):
    """The in-run confirmation (measure/fresh.py): new sessions in a new process, the CPU phase as here."""
    from pytest_qbench.errors import QbenchCaseError
    from pytest_qbench.measure.fresh import FreshModel, measure_in_fresh_process

    here = measure(onnx_sessions(models, []), INPUTS, replace(QUICK, threads=1), batch_size=4).cpu
    there = measure_in_fresh_process(FreshModel(str(models[0])), FreshModel(str(models[1])), INPUTS, QUICK)
    assert there.speedup.n_pairs >= QUICK.min_pairs
    assert 0 < there.speedup.ci_low <= there.speedup.value <= there.speedup.ci_high
    # the same two models: the bias Add costs the original a little, whichever process times them
    assert 0.5 < there.speedup.value / here.speedup.value < 2
    with pytest.raises(QbenchCaseError, match=r"confirmation in a fresh process failed \(exit 1\).*needs input"):
        measure_in_fresh_process(FreshModel(str(models[0])), FreshModel(str(models[1])), {"X": INPUTS["X"]}, QUICK)
