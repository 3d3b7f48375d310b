"""The question-answering example's model and data (../squad_model.py) as the qbench fixtures; they
override the NER ones of ../conftest.py for the tests in this folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from squad_model import ensure_model, gate_data

from pytest_qbench import QbenchAccuracyLost

HERE = Path(__file__).parent

# On this model ONNX Runtime's int8 [Add, MatMul] loses more F1 than the 1-point max loss (on the 2,114 scored
# questions, AMX host: dynamic 69.4 -> 66.2, static -> 56.2; docs/RESULTS.md) where OpenVINO's NNCF loses none:
# the gate must fail those cases, as it fails the reference card's static collapse. raises=: a crash while
# building or measuring still fails the test; strict: a case that starts to pass shows.
ONNXRUNTIME_LOSES_F1 = pytest.mark.xfail(
    strict=True, raises=QbenchAccuracyLost,
    reason="ONNX Runtime int8 loses F1 on this QA model beyond max_loss: the gate must fail it",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        case = item.callspec.params.get("qbench_case") if hasattr(item, "callspec") else None
        if case is not None and item.path.is_relative_to(HERE) and case.variant.runtime == "onnxruntime":
            item.add_marker(ONNXRUNTIME_LOSES_F1)


@pytest.fixture(scope="session")
def qbench_model() -> str:
    """MiniLM fine-tuned for extractive QA on part of SQuAD v1.1 train; the first session on a machine trains it."""
    return str(ensure_model())


@pytest.fixture(scope="session")
def qbench_dataset():
    """SQuAD v1.1: 1000 train questions (calibration), the dev set, and every fifth dev question (scored)."""
    return gate_data()
