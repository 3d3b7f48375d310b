"""Throughput under a latency budget (measure/throughput.py): the search on sessions of known cost, and
the gate end to end on the tiny DistilBERT: recorded, reported, stored in the baseline, gated by
throughput_rtol."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from projects import make_project

from pytest_qbench.measure.throughput import budget_throughput
from pytest_qbench.report.artifact import validate_artifact


@dataclass(frozen=True)
class _Input:
    name: str


class _Sleeper:
    """A session whose call waits 2 ms per sequence of the batch (the GIL released, as a runtime's is)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def get_inputs(self) -> list[_Input]:
        return [_Input("x")]

    def run(self, _names: None, feed: dict) -> list:
        time.sleep(0.002 * len(feed["x"]))
        return [feed["x"]]


def test_search_covers_streams_stops_past_the_budget_and_keeps_the_best():
    made: list[int] = []

    def make(threads: int) -> _Sleeper:
        made.append(threads)
        return _Sleeper(threads)

    found = budget_throughput(make, lambda batch: {"x": np.zeros((batch, 4))}, budget_ms=7.0, threads=2, seconds=0.1)
    assert made == [2, 1, 1]  # one stream of both threads, then two of one thread each
    for streams in (1, 2):
        tried = [p for p in found.points if p.streams == streams]
        assert [p.batch_size for p in tried] == [2 ** i for i in range(len(tried))]
        # the search stops at the first batch beyond the budget: a larger one only takes longer
        assert all(p.p90_ms <= 7.0 for p in tried[:-1]) and (tried[-1].p90_ms > 7.0 or tried[-1].batch_size == 64)
    within = [p for p in found.points if p.p90_ms <= 7.0]
    assert found.best == max(within, key=lambda p: p.throughput)
    # a sleeping stream does not hold the other back: two streams serve more than one at the same batch
    one, two = ({p.batch_size: p.throughput for p in found.points if p.streams == s} for s in (1, 2))
    assert two[1] > 1.3 * one[1]


def test_no_configuration_within_the_budget():
    found = budget_throughput(
        _Sleeper, lambda batch: {"x": np.zeros((batch, 4))}, budget_ms=0.5, threads=1, seconds=0.05
    )
    assert found.best is None and [p.batch_size for p in found.points] == [1]


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
