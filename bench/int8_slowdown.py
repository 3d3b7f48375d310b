"""A real slowdown of an int8 model: an extra integer matrix product on its int8 path (issue 22).

A latency gate's false-alarm and detection figures hold for the candidate they were measured on.
Timing the fp32 model against a copy of itself cancels every effect that hits int8 and fp32 kernels
differently (cache, memory bandwidth, the CPU model); a slowed *int8* graph does not. `slowed` adds
to a quantized graph one MatMulInteger that multiplies the first quantized activation (the output of
its first DynamicQuantizeLinear or QuantizeLinear) by an int8 weight of `columns` columns, and makes
its product an extra graph output, so that onnxruntime must compute it on every call. Its cost grows
linearly with `columns`; `calibrate` picks the count that adds a given fraction of one-thread CPU time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from statistics import median
from time import thread_time_ns
from typing import Any

import numpy as np

EXTRA_OUTPUT = "qbench_extra_int8_product"


def slowed(quantized: Path, out: Path, hidden_size: int, columns: int, seed: int = 0) -> Path:
    """`quantized` with the extra MatMulInteger of `columns` columns; written to `out`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(quantized))
    graph = model.graph
    activation, zero_point = _first_quantized_activation(graph)
    weight = np.random.default_rng(seed).integers(-127, 128, (hidden_size, columns), dtype=np.int8)
    graph.initializer.extend([
        numpy_helper.from_array(weight, "qbench_extra_weight"),
        numpy_helper.from_array(np.zeros((), np.int8), "qbench_extra_weight_zero_point"),
    ])
    graph.node.append(helper.make_node(
        "MatMulInteger", [activation, "qbench_extra_weight", zero_point, "qbench_extra_weight_zero_point"],
        [EXTRA_OUTPUT], name="qbench_extra_matmul_integer",
    ))
    graph.output.append(helper.make_tensor_value_info(EXTRA_OUTPUT, TensorProto.INT32, None))
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def _first_quantized_activation(graph: Any) -> tuple[str, str]:
    """(uint8 activation, its zero point) of the graph's first dynamic or static activation quantizer."""
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            return node.output[0], node.output[2]
        if node.op_type == "QuantizeLinear" and len(node.input) == 3:
            return node.output[0], node.input[2]
    raise ValueError("the graph quantizes no activation: not an int8 model with an int8 path to slow")


def extra_cost(make_session: Callable[[Path], Any], base: Path, candidate: Path, feed: dict[str, np.ndarray],
               calls: int = 40) -> float:
    """The candidate's extra one-thread CPU time over `base`: the ratio of medians of alternated calls, minus 1."""
    sessions = [make_session(path) for path in (candidate, base)]
    feeds = [{i.name: feed[i.name] for i in s.get_inputs()} for s in sessions]
    times: tuple[list[int], list[int]] = ([], [])
    for _ in range(calls):
        for session, bound, out in zip(sessions, feeds, times, strict=True):
            t0 = thread_time_ns()
            session.run(None, bound)
            out.append(thread_time_ns() - t0)
    return median(times[0]) / median(times[1]) - 1


def calibrate(
    make_session: Callable[[Path], Any],
    base: Path,
    work: Path,
    hidden_size: int,
    feed: dict[str, np.ndarray],
    extra: float,
    columns: int = 1024,
    steps: int = 4,
) -> tuple[Path, int, float]:
    """The slowed model whose extra cost is closest to `extra`: the cost is about proportional to the
    columns, so each step rescales them by extra / measured cost; the closest of the steps is kept."""
    tried: list[tuple[Path, int, float]] = []
    for _ in range(steps):
        model = slowed(base, work / f"slowed-{columns}.onnx", hidden_size, columns)
        cost = extra_cost(make_session, base, model, feed, calls=80)
        tried.append((model, columns, cost))
        columns = max(int(round(columns * extra / max(cost, extra / 8))), 1)
    return min(tried, key=lambda t: abs(t[2] - extra))
