"""Throughput under a latency budget end to end, through pytester on the tiny DistilBERT: recorded,
reported, stored in the baseline, gated by throughput_rtol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import make_project

from pytest_qbench.report.artifact import validate_artifact

TEST_FILE = """
import pytest

@pytest.mark.qbench(approach=["dynamic"], operators=[["Add", "MatMul"]], batch_size=[1], sequence_length=[16],
                    latency_budget_ms=1000, budget_seconds=0.05, threads=1)
def test_tiny(qbench):
    qbench.check()
"""


def test_gate_records_reports_and_gates_the_budget_throughput(
    pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache
):
    make_project(
        pytester, tiny_distilbert, tiny_build_cache.root, TEST_FILE, qbench_throughput_rtol=0.97
    )  # wall time beside another xdist worker: only the 100x below must fail
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=1)
    baseline = pytester.path / "baselines" / "test_tiny.py--test_tiny.json"
    stored = json.loads(baseline.read_text())
    (entry,) = [e for by_key in stored["cases"].values() for e in by_key.values()]
    # a budget of a second: every batch up to the largest fits on the tiny model, and the best is one of them
    searched = entry["latency"]["budget"]["optimized"]
    assert [p["batch_size"] for p in searched["points"]] == [1, 2, 4, 8, 16, 32, 64]
    assert searched["best"] == max(searched["points"], key=lambda p: p["throughput"])

    result = pytester.runpytest("--qbench", "--qbench-markdown", "report.md", "--qbench-html", "report.html")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "throughput within the latency budget*",
            "  dynamic-Add+MatMul-bs1-len16 (p90 <= 1000 ms, 1 thread): original *.?/s (batch * x 1 stream, p90 *",
        ]
    )
    artifact = json.loads((pytester.path / ".qbench" / "results.json").read_text())
    validate_artifact(artifact)
    (case,) = artifact["cases"]
    assert [c["status"] for c in case["checks"] if c["metric"] == "optimized.budget_throughput"] == ["pass"]
    assert "## Throughput within the latency budget" in (pytester.path / "report.md").read_text()
    page = (pytester.path / "report.html").read_text()
    assert (
        "<h2>Throughput within the latency budget</h2>" in page
        and "dynamic-Add+MatMul-bs1-len16 (p90 &lt;= 1000 ms" in page
    )

    # a baseline 100x faster than this machine can be: the throughput check fails, naming the budget
    for by_key in stored["cases"].values():
        for e in by_key.values():
            e["latency"]["budget"]["optimized"]["best"]["throughput"] *= 100
    baseline.write_text(json.dumps(stored))
    failed = pytester.runpytest("--qbench")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        ["*[[]fail[]] optimized.budget_throughput vs baseline: optimized throughput within p90 1000 ms:*"]
    )
