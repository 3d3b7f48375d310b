"""Timing logic on synthetic runners, and one real ONNX model end to end.

The machine is shared and noisy: nothing here asserts an absolute time, only ratios with wide
margins and structural facts (call order, counts, which condition stopped the measurement).
"""

import time

import numpy as np
import pytest

from pytest_qbench import latency
from pytest_qbench.config import TimingSpec
from pytest_qbench.latency import make_session, measure, measure_callables, physical_cores
from pytest_qbench.stats import relative_width

QUICK = TimingSpec(warmup_iterations=2, warmup_seconds=0.01, min_iterations=10, min_seconds=0.05, max_seconds=0.5,
                   target_ci_width=0.2)


def spin_for(ns):
    """Busy-wait a fixed wall time (more when the thread is preempted)."""

    def run():
        end = time.perf_counter_ns() + ns
        while time.perf_counter_ns() < end:
            pass

    return run


def work(n):
    """A fixed amount of CPU work: load slows it down like a real model."""

    def run():
        total = 0
        for i in range(n):
            total += i
        return total

    return run


def test_blocks_alternate_in_abba_order_after_warm_up():
    log = []
    timing = TimingSpec(warmup_iterations=3, warmup_seconds=0.0, min_iterations=128, min_seconds=0.0,
                        max_seconds=0.0, target_ci_width=0.0)
    result = measure_callables(lambda: log.append("a"), lambda: log.append("b"), timing, 1, 1)
    # 128 calls in 32 blocks of 4 per model; max_seconds=0 stops as soon as the minimums are met.
    assert latency.TARGET_BLOCKS == 32
    assert "".join(log) == "aaabbb" + "aaaabbbbbbbbaaaa" * 16
    assert result.original.n_samples == result.optimized.n_samples == 128
    assert result.speedup.n_blocks == 32
    assert result.stop_reason == "max_seconds"


class FakeClock:
    """A perf_counter_ns whose time only moves when a fake model runs: noise-free by construction."""

    def __init__(self):
        self.now = 0
        self.rng = np.random.default_rng(0)

    def __call__(self):
        return self.now

    def runner(self, cost_ns, jitter=0.01):
        def run():
            self.now += int(cost_ns * (1 + jitter * self.rng.standard_normal()))

        return run


def test_stops_on_ci_width_for_a_stable_pair(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(latency, "perf_counter_ns", clock)
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_iterations=32, min_seconds=0.0,
                        max_seconds=60.0, target_ci_width=0.02)
    result = measure_callables(clock.runner(2000), clock.runner(1000), timing, 1, 1)
    assert result.stop_reason == "ci_width"
    assert result.speedup.n_blocks == latency.TARGET_BLOCKS  # the first check was precise enough
    assert relative_width(result.speedup) < 0.02
    assert result.speedup.ci_low < 2.0 < result.speedup.ci_high


def test_keeps_measuring_until_the_ci_is_narrow_enough(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(latency, "perf_counter_ns", clock)
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_iterations=160, min_seconds=0.0,
                        max_seconds=60.0, target_ci_width=0.04)
    result = measure_callables(clock.runner(2000, jitter=0.1), clock.runner(1000, jitter=0.1), timing, 1, 1)
    assert result.stop_reason == "ci_width"
    assert result.speedup.n_blocks > latency.TARGET_BLOCKS
    assert result.speedup.n_blocks % 2 == 0  # stops only after complete ABBA cycles (2 blocks each)
    assert relative_width(result.speedup) < 0.04


def test_stops_at_max_seconds_when_the_target_is_unreachable():
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_iterations=10, min_seconds=0.02,
                        max_seconds=0.3, target_ci_width=0.0)
    result = measure_callables(work(2000), work(2000), timing, 1, 1)
    assert result.stop_reason == "max_seconds"
    assert result.seconds >= timing.max_seconds  # same clock as the budget: a logical, not a speed, bound


def test_min_iterations_respected():
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_iterations=1000, min_seconds=0.0,
                        max_seconds=0.0, target_ci_width=1.0)
    result = measure_callables(lambda: None, lambda: None, timing, 1, 1)
    assert result.original.n_samples >= 1000 and result.optimized.n_samples >= 1000


def test_min_seconds_respected_even_past_max_seconds():
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_iterations=1, min_seconds=0.2,
                        max_seconds=0.0, target_ci_width=0.0)
    result = measure_callables(spin_for(1_000_000), spin_for(500_000), timing, 1, 1)
    for stats in (result.original, result.optimized):
        assert stats.mean_ms * stats.n_samples >= 200  # timed calls add up to min_seconds
    assert result.stop_reason == "max_seconds"


def test_twice_the_work_measures_half_the_speed():
    timing = TimingSpec(warmup_iterations=2, warmup_seconds=0.0, min_iterations=10, min_seconds=0.2,
                        max_seconds=1.0, target_ci_width=0.05)
    result = measure_callables(work(20_000), work(40_000), timing, 4, 2)
    s = result.speedup
    # Near 0.5 and clearly slower; preemption on a loaded box can widen the 1 s interval to +-20%.
    assert 0.25 < s.value < 0.8
    assert 0.15 < s.ci_low <= s.value <= s.ci_high < 0.95
    assert s.value == pytest.approx(result.original.mean_ms / result.optimized.mean_ms, rel=1e-9)
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


def test_onnx_models_end_to_end(models):
    original, optimized = (make_session(p, threads=1) for p in models)
    result = measure(original, optimized, INPUTS, QUICK, batch_size=4)
    assert result.threads == 1
    assert result.original.n_samples >= QUICK.min_iterations
    assert result.optimized.n_samples >= QUICK.min_iterations
    assert result.speedup.ci_low <= result.speedup.value <= result.speedup.ci_high
    assert result.stop_reason in ("ci_width", "max_seconds")


def test_make_session_fixes_threads(models):
    session = make_session(models[0], threads=None)
    options = session.get_session_options()
    assert options.intra_op_num_threads == physical_cores()
    assert options.inter_op_num_threads == 1
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_missing_input_is_named(models):
    original, optimized = (make_session(p, threads=1) for p in models)
    with pytest.raises(ValueError, match="'B'"):
        measure(original, optimized, {"X": INPUTS["X"]}, QUICK, batch_size=4)


def test_sessions_without_the_same_fixed_threads_are_refused(models):
    import onnxruntime as ort

    with pytest.raises(ValueError, match="same fixed thread count"):
        measure(make_session(models[0], 1), make_session(models[1], 2), INPUTS, QUICK, batch_size=4)
    unfixed = ort.InferenceSession(str(models[1]), providers=["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="same fixed thread count"):
        measure(unfixed, unfixed, INPUTS, QUICK, batch_size=4)
