"""A case's measurer (measure/case.py): the session settings it gives onnxruntime for each graph."""

from __future__ import annotations

from pathlib import Path


def test_a_runtime_saturation_remedy_reaches_a_prequantized_original_too():
    from pytest_qbench.measure.case import CaseMeasurer
    from pytest_qbench.specs import parse_marker

    (case,) = parse_marker({"approach": "dynamic", "saturation_remedy": "x64quantprecision"})
    remedy = {"session.x64quantprecision": "1"}
    for quantized, on_original in ((False, {}), (True, remedy)):
        measurer = CaseMeasurer(None, case, "data", None, original=Path("original.onnx"), optimized=Path("int8.onnx"),
                                model_dir=Path("model"), original_quantized=quantized, threads=1, search_samples=1)
        assert measurer.config_entries(Path("original.onnx")) == on_original
        assert measurer.config_entries(Path("int8.onnx")) == remedy
