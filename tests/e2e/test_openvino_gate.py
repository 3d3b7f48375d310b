"""The OpenVINO runtime's gate end to end through pytester on the tiny DistilBERT: both runtimes side by
side, the ini's runtimes, sparse decompression off without AMX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import make_project
from test_openvino import _amx

from pytest_qbench.report.artifact import validate_artifact

TEST_FILE = """
import pytest

@pytest.mark.qbench(runtime=["onnxruntime", "openvino"], approach=["dynamic", "static"], operators=[["Add", "MatMul"]],
                    batch_size=[1], sequence_length=[16], calibration_num_samples=4, calibration_sequence_length=16)
def test_tiny(qbench):
    qbench.check()
"""


def test_gate_on_both_runtimes_update_then_rerun(pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache):
    make_project(pytester, tiny_distilbert, tiny_build_cache.root, TEST_FILE)
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=4)
    result = pytester.runpytest("--qbench", "-v", "--qbench-markdown", "report.md", "--qbench-html", "report.html")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([
        "*test_tiny?dynamic-Add+MatMul-bs1-len16? PASSED*", "*test_tiny?openvino-dynamic-bs1-len16? PASSED*",
        "runtimes side by side*", "  bs1-len16: fastest * (x*.?? over onnxruntime fp32, F1 1.0000)",
    ])
    report = (pytester.path / "report.md").read_text()
    table = report.split("## Runtimes side by side", 1)[1].split("## Verdicts", 1)[0]
    # fp32 on both runtimes, then the two variants of each
    assert [line.split("|")[2:4] for line in table.splitlines() if line.startswith("| bs1-len16")] == [
        [" onnxruntime ", " fp32 "],
        [" openvino ", " fp32 "],
        [" onnxruntime ", " dynamic-Add+MatMul "],
        [" onnxruntime ", " static-Add+MatMul "],
        [" openvino ", " openvino-dynamic "],
        [" openvino ", " openvino-static "],
    ]
    assert "| x1.00 |" in table  # onnxruntime fp32 over itself
    page = (pytester.path / "report.html").read_text()
    assert "<h2>Runtimes side by side</h2>" in page and "<td>openvino-static</td>" in page
    artifact = json.loads((pytester.path / ".qbench" / "results.json").read_text())
    validate_artifact(artifact)
    cases = {c["id"]: c for c in artifact["cases"]}
    assert cases["openvino-static-bs1-len16"]["runtime"] == "openvino"
    assert cases["static-Add+MatMul-bs1-len16"]["runtime"] == "onnxruntime"
    assert cases["openvino-static-bs1-len16"]["quantization"]["quantized_ops"]["FakeQuantize"] > 0
    assert cases["openvino-dynamic-bs1-len16"]["latency"]["cpu"]["speedup"]["value"] > 0
    assert {c["verdict"] for c in cases.values()} == {"pass"}
    assert {"openvino", "nncf"} <= set(artifact["environment"]["libraries"])


def test_ini_runtime_and_a_bad_one(pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache):
    make_project(pytester, tiny_distilbert, tiny_build_cache.root,
                 TEST_FILE.replace('runtime=["onnxruntime", "openvino"], ', ""), qbench_runtime="openvino")
    result = pytester.runpytest("--qbench", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_tiny?openvino-dynamic-bs1-len16?", "*test_tiny?openvino-static-bs1-len16?"])
    make_project(pytester, tiny_distilbert, tiny_build_cache.root, TEST_FILE, qbench_runtime="openvino tensorrt")
    result = pytester.runpytest("--qbench")
    result.stderr.fnmatch_lines(["*qbench_runtime = 'openvino tensorrt' must name each runtime once*"])


@pytest.mark.skipif(
    _amx(), reason="this CPU has AMX: decompression is on here (test_sparse_decompression_compiles_on_amx)"
)
def test_sparse_decompression_is_off_without_amx_and_says_why(
    pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache
):
    test_file = TEST_FILE.replace('runtime=["onnxruntime", "openvino"], approach=["dynamic", "static"]',
                                  'runtime=["openvino"], approach=["static"], sparse_decompression_rate=0.5')
    make_project(pytester, tiny_distilbert, tiny_build_cache.root, test_file)
    result = pytester.runpytest("--qbench", "--qbench-update-baselines")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*sparse weight decompression off: this CPU (*) has no AMX*packs sparse int8 weights with AMX"
            " kernels only; the model ran dense*openvino-static-bs1-len16*"
        ]
    )
    (case,) = json.loads((pytester.path / ".qbench" / "results.json").read_text())["cases"]
    assert case["sparse_decompression"].startswith("off: ") and case["parameters"]["sparse_decompression_rate"] == 0.5
