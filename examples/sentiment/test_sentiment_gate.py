"""Sequence classification through the same gate: dynamic and static int8 of a MiniLM fine-tuned on
real Rotten Tomatoes reviews (fresh / rotten), scored by accuracy and macro-F1 on 1323 reviews of
movies it never saw, on ONNX Runtime and on OpenVINO (NNCF). The columns are the task's defaults, `text`
and `label`."""

import pytest


@pytest.mark.qbench(
    runtime=["onnxruntime", "openvino"],
    approach=["dynamic", "static"],
    operators=[["Add", "MatMul"]],
    batch_size=[1, 8],
    sequence_length=[64],
    calibration_num_samples=100,
)
def test_rotten_tomatoes_int8(qbench):
    qbench.check()
