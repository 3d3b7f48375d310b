"""A MatMulInteger whose u8 x s8 pair sums overflow vpmaddubsw's 16-bit lanes, and its sums under
onnxruntime's kernels. Kept apart from the tests so that the emulated-CPU runs (qemu-user, tens of
times slower than native) import numpy, onnx and onnxruntime only, never transformers or torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pytest_qbench.measure.ort_session import make_ort_session

K = 64  # u8 255 x s8 127, 32 pairs per 16-bit lane sum: far past 32767 on vpmaddubsw
EXACT = 255 * 127 * K


def saturating_matmul(folder: Path, weights: str) -> Path:
    """A MatMulInteger of 255-valued u8 activations by 127-valued weights of the given type."""
    dtype = {"int8": np.int8, "uint8": np.uint8}[weights]
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "w", "az", "wz"], ["y"])],
        "saturation",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, K])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 4])],
        [numpy_helper.from_array(np.full((K, 4), 127, dtype), "w"),
         numpy_helper.from_array(np.array(0, np.uint8), "az"),
         numpy_helper.from_array(np.array(0, dtype), "wz")],
    )
    path = folder / f"matmul-{weights}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
    return path


def saturating_feed() -> dict[str, np.ndarray]:
    return {"a": np.full((1, K), 255, np.uint8)}


def integer_sums(folder: Path) -> dict[str, int]:
    """The first output of the saturating MatMulInteger: U8S8 plain and with x64quantprecision, U8U8."""
    runs = {"u8s8": ("int8", {}), "u8s8-x64quantprecision": ("int8", {"session.x64quantprecision": "1"}),
            "u8u8": ("uint8", {})}
    return {
        name: int(make_ort_session(saturating_matmul(folder, weights), 1, config).run(None, saturating_feed())[0][0, 0])
        for name, (weights, config) in runs.items()
    }
