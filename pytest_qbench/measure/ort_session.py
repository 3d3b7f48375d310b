"""ONNX Runtime sessions as every stage opens them: CPU only, a fixed thread count, sequential.

One factory for the measurements (measure/), the shared session memo (pipeline.py) and the
diagnosis (diagnose/), so a model is never timed in one configuration and scored in another.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..hardware import usable_cores

if TYPE_CHECKING:
    import onnxruntime


def resolve_threads(threads: int | None) -> int:
    """`threads`, or the physical cores this process may use when it is None."""
    return usable_cores() if threads is None else threads


def make_ort_session(
    path: str | Path, threads: int | None, config_entries: Mapping[str, str] | None = None, *, optimize: bool = True
) -> onnxruntime.InferenceSession:
    """A CPU session with a fixed thread count (None: physical cores), sequential execution and
    the given session config entries (e.g. `session.x64quantprecision`). `optimize=False` runs the
    graph as written: no fusion, so QuantizeLinear/DequantizeLinear pairs simulate int8 in float."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for key, value in (config_entries or {}).items():
        options.add_session_config_entry(key, value)
    options.intra_op_num_threads = resolve_threads(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
