"""Shards end to end: pytest runs of shards, as separate processes, against a single-process run of the
same cases; the artifact of a sharded run, an empty shard, sharded updates and xdist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from projects import make_project
from test_merge import _merge

from pytest_qbench.report.artifact import read_artifact, validate_artifact, write_artifact
from pytest_qbench.results import CaseResult, Check

SELECTION_TEST = """
import pytest

@pytest.mark.qbench(model="m", dataset="d", approach=["dynamic"], operators=[["MatMul"], ["Add", "MatMul"], ["Add"]],
                    batch_size=[1], sequence_length=[16, 32, 64, 128])
def test_case(qbench_case):
    pass
"""


def test_shards_split_the_cases_that_k_selected(pytester: pytest.Pytester):
    """Planned over the whole collection, the 3 cases selected here fall on shard 1 alone (their two
    builds are both among the plan's shard-1 builds); planned over the selection, they split 2 + 1."""
    pytester.makepyfile(SELECTION_TEST)
    selection = "(Add+MatMul and (len16 or len32)) or (dynamic-MatMul and len64)"
    ran = []
    for index in (1, 2):
        result = pytester.runpytest("--qbench", "-k", selection, "--qbench-shard", f"{index}/2",
                                    "--qbench-json", f"shard{index}.json")
        assert result.ret == 0
        ran.append(result.parseoutcomes().get("passed", 0))
        result.stdout.fnmatch_lines([f"qbench: shard {index}/2: {ran[-1]} of 3 cases, 1 of 2 builds*"])
        assert len(json.loads((pytester.path / f"shard{index}.json").read_text())["run"]["selected"]) == 3
    assert sorted(ran) == [1, 2]


SKIPPING_TEST = """
import pytest

@pytest.mark.qbench(model="m", dataset="d", approach=["dynamic"], operators=[["MatMul"]], batch_size=[1],
                    sequence_length=[16, 32])
def test_case(qbench_case):
    if qbench_case.sequence_length == 32:
        pytest.skip("hub-only case: no internet")

@pytest.mark.skip(reason="not a qbench case")
def test_plain():
    pass
"""


def test_the_artifact_records_the_qbench_cases_pytest_skipped_and_the_run_settings(pytester: pytest.Pytester):
    pytester.makepyfile(SKIPPING_TEST)
    result = pytester.runpytest("--qbench", "--qbench-shard", "1/1", "--qbench-json", "shard.json",
                                "-o", "qbench_speedup_rtol=0.2", "-o", "qbench_false_alarm_rate=0.05")
    result.assert_outcomes(passed=1, skipped=2)
    run = json.loads((pytester.path / "shard.json").read_text())["run"]
    assert run["skipped"] == [n for n in run["selected"] if "len32" in n] and len(run["selected"]) == 2
    # and what the merge judges the run with
    assert (run["speedup_rtol"], run["false_alarm_rate"], run["strict"]) == (0.2, 0.05, False)


TEST_FILE = """
import pytest

@pytest.mark.qbench(approach=["dynamic", "static"], operators=[["Add", "MatMul"], ["MatMul"]], batch_size=[1, 2],
                    sequence_length=[16], calibration_num_samples=4, calibration_sequence_length=16)
def test_tiny(qbench):
    qbench.check()

def test_plain():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache) -> pytest.Pytester:
    make_project(pytester, tiny_distilbert, tiny_build_cache.root, TEST_FILE)
    return pytester


def _run(project: pytest.Pytester, *args: str) -> subprocess.CompletedProcess:
    """A pytest process of its own, as a CI job runs it."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=project.path, capture_output=True, text=True, timeout=600)


def _cases(path: Path) -> dict[str, str]:
    return {c["nodeid"]: c["verdict"] for c in json.loads(path.read_text())["cases"]}


def _rewritten(path: Path) -> bytes:
    """The artifact at `path` read into its typed records (environment, run, cases, run checks) and written again."""
    file = read_artifact(path)
    data = {**file.artifact, "environment": file.environment.to_json(), "run": file.run.to_json(),
            "cases": [CaseResult.from_json(case).to_json() for case in file.artifact["cases"]],
            "run_checks": [Check(**check).to_json() for check in file.artifact.get("run_checks", [])]}
    again = path.with_name(f"{path.stem}-again.json")
    write_artifact(again, data)
    return again.read_bytes()


def test_shards_merged_give_the_single_run_s_cases_and_verdicts(project: pytest.Pytester):
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=9)
    single = project.runpytest("--qbench", "--qbench-json", "single.json")
    single.assert_outcomes(passed=9)

    for index in (1, 2):
        shard = _run(project, "--qbench", "--qbench-shard", f"{index}/2", "--qbench-json", f"shard{index}.json",
                     "--qbench-shard-durations", "single.json")
        assert shard.returncode == 0, shard.stdout[-3000:]
        assert f"qbench: shard {index}/2: 4 of 8 cases, 2 of 4 builds; balanced by durations" in shard.stdout
    shard_cases = [_cases(project.path / f"shard{i}.json") for i in (1, 2)]
    variants = [{n.split("[")[1].rsplit("-bs", 1)[0] for n in cases} for cases in shard_cases]
    assert not variants[0] & variants[1]  # each variant built on one shard only

    merged = subprocess.run([sys.executable, "-m", "pytest_qbench", "merge", "shard1.json", "shard2.json",
                             "-o", "merged.json"], cwd=project.path, capture_output=True, text=True)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert _cases(project.path / "merged.json") == _cases(project.path / "single.json")
    assert {v for v in _cases(project.path / "merged.json").values()} == {"pass"}
    for name in ("single.json", "shard1.json", "shard2.json", "merged.json"):  # the typed records lose nothing
        assert _rewritten(project.path / name) == (project.path / name).read_bytes(), name


def test_an_empty_shard_writes_a_valid_empty_artifact_and_exits_0(project: pytest.Pytester):
    result = project.runpytest("--qbench", "--qbench-shard", "6/6", "--qbench-json", "empty.json", "-k", "not plain")
    assert result.ret == 0
    artifact = json.loads((project.path / "empty.json").read_text())
    validate_artifact(artifact)
    assert artifact["cases"] == [] and artifact["run"]["shard"] == "6/6" and len(artifact["run"]["selected"]) == 8


def test_sharded_updates_write_no_baseline_the_merge_does(project: pytest.Pytester):
    for index in (1, 2):
        result = project.runpytest("--qbench", "--qbench-update-baselines", "--qbench-shard", f"{index}/2",
                                   "--qbench-json", f"shard{index}.json", "-k", "not plain")
        result.assert_outcomes(passed=4)
        result.stdout.fnmatch_lines(["*Baselines are written by the merge*"])
    assert not (project.path / "baselines").exists()
    assert _merge(project.path / "shard1.json", project.path / "shard2.json", "-o", project.path / "m.json",
                  "--baselines-out", project.path / "baselines", "--baselines", project.path / "baselines") == 0
    stored = json.loads((project.path / "baselines" / "test_tiny.py--test_tiny.json").read_text())["cases"]
    assert len(stored) == 8
    project.runpytest("--qbench", "-k", "not plain").assert_outcomes(passed=8)  # the merged baselines gate


def test_shards_refuse_xdist(project: pytest.Pytester):
    result = project.runpytest("--qbench", "--qbench-shard", "1/2", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--qbench-shard runs one shard per job; drop -n*"])
