"""Text classification end to end: the whole gate through pytester on a tiny BERT classifier and real
Rotten Tomatoes reviews (tiny_models.reviews)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import make_project
from tiny_models import reviews

from pytest_qbench.report.artifact import validate_artifact

GATE_TEST = """
import pytest

@pytest.mark.qbench(approach=["dynamic", "static"], operators=[["Add", "MatMul"]], sequence_length=[32],
                    calibration_num_samples=8, calibration_sequence_length=32)
def test_reviews(qbench):
    qbench.check()
"""


def reviews_project(pytester: pytest.Pytester, model: Path, cache_root: Path) -> None:
    """The tiny classifier on 48 real reviews (validation) and 16 others (train: calibration), as csv
    files with the class names as text: the columns are the task's defaults, text and label."""
    import csv

    make_project(pytester, model, cache_root, GATE_TEST)
    data = pytester.path / "data"
    for stale in data.iterdir():
        stale.unlink()
    for split, rows in (("validation", reviews(48)), ("train", reviews(16, offset=48))):
        with open(data / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([("text", "label"), *rows])


def test_the_gate_runs_text_classification_with_the_same_artifact_baselines_and_report(
    pytester: pytest.Pytester, tiny_text_classifier: Path, tiny_build_cache
):
    reviews_project(pytester, tiny_text_classifier, tiny_build_cache.root)
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=2)
    result = pytester.runpytest("--qbench", "--qbench-markdown", "report.md", "--qbench-html", "report.html")
    result.assert_outcomes(passed=2)
    artifact = json.loads((pytester.path / ".qbench" / "results.json").read_text())
    validate_artifact(artifact)
    for case in artifact["cases"]:
        for side in ("original", "optimized"):
            accuracy = case["accuracy"][side]
            assert (accuracy["task"], accuracy["average"], accuracy["unit"], accuracy["num_samples"]) == (
                "text-classification", "macro", "sample", 48)
            assert set(accuracy["per_label_f1"]) == {"fresh", "rotten"}
            assert accuracy["f1"] == accuracy["accuracy"] == 1.0  # the tiny model fits these 48 reviews
        assert case["verdict"] == "pass"
    baseline = json.loads((pytester.path / "baselines" / "test_tiny.py--test_reviews.json").read_text())
    assert {
        entry["parameters"]["evaluation"]["split"] for keys in baseline["cases"].values() for entry in keys.values()
    } == {"validation"}
    scoring = "Scored as text-classification: precision, recall and F1 macro-averaged over classes (scikit-learn)"
    assert (
        scoring in (pytester.path / "report.md").read_text() and scoring in (pytester.path / "report.html").read_text()
    )
