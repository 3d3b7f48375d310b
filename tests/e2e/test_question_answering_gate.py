"""Question answering end to end: the whole gate through pytester on a tiny (untrained) BERT
question-answering model and a SQuAD file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import make_project
from test_question_answering import QUESTIONS, squad_json

from pytest_qbench.report.artifact import validate_artifact

GATE_TEST = """
import pytest

# An untrained model: int8 may move its meaningless answers, so the loss vs the original is not gated here.
@pytest.mark.qbench(approach=["dynamic", "static"], operators=[["Add", "MatMul"]], sequence_length=[64],
                    calibration_num_samples=4, calibration_sequence_length=64, max_loss=1.0)
def test_squad(qbench):
    qbench.check()
"""


def test_the_gate_runs_question_answering_on_a_squad_file(
    pytester: pytest.Pytester, tiny_qa_model: Path, tiny_build_cache
):
    squad = pytester.path / "dev-v1.1.json"
    squad.write_text(json.dumps(squad_json()))
    make_project(pytester, tiny_qa_model, tiny_build_cache.root, GATE_TEST, dataset=squad)
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=2)
    result = pytester.runpytest("--qbench", "--qbench-markdown", "report.md")
    result.assert_outcomes(passed=2)
    artifact = json.loads((pytester.path / ".qbench" / "results.json").read_text())
    validate_artifact(artifact)
    for case in artifact["cases"]:
        for side in ("original", "optimized"):
            accuracy = case["accuracy"][side]
            assert (accuracy["task"], accuracy["average"], accuracy["unit"], accuracy["num_samples"]) == (
                "question-answering", "question", "question", len(QUESTIONS))
            assert set(accuracy["predictions"]) == {qid for qid, *_ in QUESTIONS}
        assert case["verdict"] == "pass"
    assert "Scored as question-answering" in (pytester.path / "report.md").read_text()
