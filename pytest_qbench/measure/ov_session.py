"""OpenVINO models as every stage runs them: compiled for the CPU at a fixed thread count, f32 unless
asked otherwise, and called like an ONNX Runtime session (`get_inputs()`, `run(None, feed)`), so the
tasks, the latency timing and the checks use one code path for both runtimes.

The clock. The gated phase times one-thread models with the calling thread's CPU time. Compiled with
one inference thread, one stream and the latency hint, a synchronous `infer` runs the whole
inference on the calling thread (tests/unit/test_openvino.py checks that this thread's CPU time equals
the process's, and that a known extra cost shows in the measured ratio). With more threads or streams,
OpenVINO's own workers do the work: the wall phase, which uses a wall clock, is the only one that does.

The precision. On CPUs with AMX or AVX-512 BF16, OpenVINO runs an "fp32" model in bf16 unless the
inference precision hint says f32 (docs/toolchain.md); the hint is always set, so the original
is fp32 here as it is on ONNX Runtime, and int8 variants keep their float parts in f32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ort_session import resolve_threads

if TYPE_CHECKING:
    import numpy as np
    import openvino

PRECISION = "f32"


@dataclass(frozen=True)
class OvInput:
    name: str


class OvSession:
    """A compiled OpenVINO model and one infer request, with the ONNX Runtime session calls qbench uses."""

    def __init__(self, compiled: openvino.CompiledModel) -> None:
        self.compiled = compiled
        self._request = compiled.create_infer_request()
        self._inputs = [OvInput(port.get_any_name()) for port in compiled.inputs]

    def get_inputs(self) -> list[OvInput]:
        return self._inputs

    def run(self, output_names: None, feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The outputs for `feed`, in the model's order (`output_names` must be None, as qbench passes it)."""
        return list(self._request.infer(dict(feed)).values())

    def property(self, name: str) -> Any:
        return self.compiled.get_property(name)


@lru_cache(maxsize=1)
def _core() -> openvino.Core:
    import openvino as ov

    return ov.Core()


def compile_properties(threads: int | None) -> dict[str, Any]:
    return {
        "INFERENCE_NUM_THREADS": resolve_threads(threads),
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": PRECISION,
    }


def make_ov_session(path: str | Path, threads: int | None, extra: Mapping[str, Any] | None = None) -> OvSession:
    """`path` (OpenVINO IR) compiled for the CPU with `threads` inference threads (None: physical cores)
    and `extra` properties (e.g. CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE)."""
    return OvSession(_core().compile_model(str(path), "CPU", {**compile_properties(threads), **(extra or {})}))
