"""The merge of shards' artifacts (gate/merge.py through `python -m pytest_qbench merge`): merges that
pass, those that must be refused or must fail, confirmations and the run's recorded settings (the runs of
shards as pytest processes: tests/e2e/test_shard_runs.py)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from factories import ENVIRONMENT, make_result

from pytest_qbench.__main__ import main as qbench_main
from pytest_qbench.report.artifact import build_artifact, read_artifact, validate_artifact
from pytest_qbench.results import Environment, RunRecord, Status

# ---- merges that must be refused, or must fail ---------------------------------------------------


def _artifact(tmp_path: Path, name: str, results, selected, shard="1/2", **environment) -> Path:
    env = Environment.from_json(ENVIRONMENT.to_json() | {"qbench_version": "0.1.0"} | environment)
    artifact = build_artifact(env, results, RunRecord(shard, tuple(selected)))
    validate_artifact(artifact)
    path = tmp_path / name
    path.write_text(json.dumps(artifact))
    return path


@pytest.fixture
def shards(tmp_path: Path) -> tuple[Path, Path]:
    one, two = make_result(batch_size=1), make_result(batch_size=4)
    for result in (one, two):
        result.verdict, result.hardware_key = Status.PASS, ENVIRONMENT.hardware_key
    selected = [one.nodeid, two.nodeid]
    return (_artifact(tmp_path, "s1.json", [one], selected), _artifact(tmp_path, "s2.json", [two], selected, "2/2"))


def _merge(*args: object) -> int:
    return qbench_main(["merge", *map(str, args)])


def test_a_good_merge_passes_and_writes_a_valid_artifact(shards, tmp_path: Path, capsys):
    assert _merge(*shards, "-o", tmp_path / "m.json", "--markdown", tmp_path / "m.md") == 0
    merged = json.loads((tmp_path / "m.json").read_text())
    validate_artifact(merged)
    assert len(merged["cases"]) == 2 and merged["merge"]["verdict"] == "pass" and merged["merge"]["missing"] == {}
    assert [s["shard"] for s in merged["merge"]["sources"]] == ["1/2", "2/2"]
    assert "merged verdict **pass**" in (tmp_path / "m.md").read_text()


def test_the_merged_run_keeps_the_keys_of_the_first_artifact_s_that_this_version_does_not_know(shards, tmp_path: Path):
    for path in shards:  # as a pytest_qbench_update_json hook adds them
        data = json.loads(path.read_text())
        data["run"]["ci"] = {"job": path.stem}
        path.write_text(json.dumps(data))
    assert _merge(*shards, "-o", tmp_path / "m.json") == 0
    assert json.loads((tmp_path / "m.json").read_text())["run"]["ci"] == {"job": "s1"}  # as its environment is kept


def test_a_missing_shard_fails_the_verdict_and_names_the_cases(shards, tmp_path: Path, capsys):
    assert _merge(shards[0], "-o", tmp_path / "m.json") == 1
    out = capsys.readouterr().out
    assert "1 missing" in out and "missing: " in out and "verdict: fail" in out


def test_a_case_pytest_skipped_is_skipped_not_missing(tmp_path: Path, capsys):
    """A hub-only case skipped without internet (pytest.skip) ran in its shard: it is not missing."""
    ran, skipped = make_result(batch_size=1), make_result(batch_size=4)
    ran.verdict, ran.hardware_key = Status.PASS, ENVIRONMENT.hardware_key
    run = RunRecord(None, (ran.nodeid, skipped.nodeid), skipped=(skipped.nodeid,))
    artifact = build_artifact(replace(ENVIRONMENT, qbench_version="0.1.0"), [ran], run)
    (tmp_path / "one.json").write_text(json.dumps(artifact))
    assert _merge(tmp_path / "one.json", "-o", tmp_path / "m.json", "--markdown", tmp_path / "m.md") == 0
    assert f"Skipped by pytest (ran, no result):\n* `{skipped.nodeid}`" in (tmp_path / "m.md").read_text()
    out = capsys.readouterr().out
    assert f"{ENVIRONMENT.hardware_key}: 1 cases, 0 failing, 1 skipped, 0 missing" in out and "verdict: pass" in out
    merged = json.loads((tmp_path / "m.json").read_text())
    assert (
        merged["merge"]["skipped"] == {ENVIRONMENT.hardware_key: [skipped.nodeid]} and merged["merge"]["missing"] == {}
    )


@pytest.mark.parametrize("problem, message", [
    ("commit", "not of one run: commit differs"),
    ("duplicate", "are the same artifact"),
    ("corrupt", "is not JSON .* a truncated or corrupt shard"),
    ("future", "schema_version 7, newer than this pytest-qbench's 6"),
    ("selection", "selected different cases"),
])
def test_bad_merges_are_refused_with_the_reason(problem: str, message: str, shards, tmp_path: Path, capsys):
    first, second = shards
    data = json.loads(second.read_text())
    if problem == "commit":
        data["environment"]["git_commit"] = "0" * 40
    elif problem == "future":
        data["schema_version"] = 7
    elif problem == "selection":
        data["run"]["selected"] = data["run"]["selected"][:1]
    second.write_text(json.dumps(data))
    if problem == "corrupt":
        second.write_text(second.read_text()[:100])
    args = [first, first] if problem == "duplicate" else [first, second]
    assert _merge(*args, "-o", tmp_path / "m.json") == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "m.json").exists()


def test_runner_classes_merge_side_by_side_and_each_is_checked_for_missing_cases(shards, tmp_path: Path, capsys):
    data = json.loads(shards[0].read_text())
    data["environment"]["hardware_key"] = "x86_64-avx2-2c"
    for case in data["cases"]:
        case["hardware_key"] = "x86_64-avx2-2c"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    assert _merge(*shards, other, "-o", tmp_path / "m.json") == 1  # the AVX2 class ran only its first shard
    merged = json.loads((tmp_path / "m.json").read_text())
    assert set(merged["merge"]["environments"]) == {ENVIRONMENT.hardware_key, "x86_64-avx2-2c"}
    assert list(merged["merge"]["missing"]) == ["x86_64-avx2-2c"]


# ---- confirmation: repeats of a case by different runs combine ----------------------------------------


def _judged(run_id: str, speedup: tuple[float, float, float]):
    """A case measured by run `run_id` at `speedup`, judged against five quiet baseline runs at 2.2."""
    from factories import CPU_MODEL, latency_gate, looked_up

    from pytest_qbench.gate.baselines import entry_from_result
    from pytest_qbench.gate.rules import judge
    from pytest_qbench.results import LatencyRun
    from pytest_qbench.specs import Tolerances

    entry = entry_from_result(make_result())
    cpu = entry.latency.cpu
    runs = tuple(LatencyRun(CPU_MODEL, v, v / 1.005, v * 1.005, cpu.original_ms, cpu.optimized_ms, f"base-{i}", "")
                 for i, v in enumerate([2.2, 2.19, 2.21, 2.2, 2.2]))
    entry = replace(entry, latency=replace(entry.latency, runs=runs))
    result = make_result(run_id=run_id)
    value, low, high = speedup
    latency = result.latency
    result.latency = replace(
        latency, cpu=replace(latency.cpu, speedup=replace(latency.cpu.speedup, value=value, ci_low=low, ci_high=high))
    )
    result.hardware_key = ENVIRONMENT.hardware_key
    judgement = judge(result, looked_up(entry, result.hardware_key), Tolerances(),
                      latency=latency_gate(CPU_MODEL, cases=42))
    result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    return result


def _run_artifact(tmp_path: Path, name: str, run_id: str, results, selected) -> Path:
    env = replace(ENVIRONMENT, qbench_version="0.1.0")
    artifact = build_artifact(env, results, RunRecord(None, tuple(selected), id=run_id))
    path = tmp_path / name
    path.write_text(json.dumps(artifact))
    return path


def test_a_confirmation_run_combines_with_the_first_and_the_merge_judges_both(tmp_path: Path, capsys):
    steady = _judged("first", (2.2, 2.18, 2.22))
    slower = _judged("first", (2.05, 2.03, 2.07))  # 7%: inconclusive on one run
    other = replace(steady, nodeid=steady.nodeid.replace("bs1", "bs4"), case_id=steady.case_id.replace("bs1", "bs4"))
    selected = [slower.nodeid, other.nodeid]
    assert slower.verdict == "inconclusive"
    first = _run_artifact(tmp_path, "first.json", "first", [slower, other], selected)
    # which cases a confirmation job measures again
    assert _merge(first, "-o", tmp_path / "screen.json", "--confirm-list", tmp_path / "confirm.txt") == 0
    assert (tmp_path / "confirm.txt").read_text() == f"{slower.nodeid}\n"
    capsys.readouterr()
    again = _run_artifact(tmp_path, "again.json", "again", [_judged("again", (2.05, 2.03, 2.07))], selected)
    assert _merge(first, again, "-o", tmp_path / "m.json") == 1
    merged = json.loads((tmp_path / "m.json").read_text())
    validate_artifact(merged)
    (case,) = [c for c in merged["cases"] if c["nodeid"] == slower.nodeid]
    assert (case["verdict"], case["confirmed_by"]) == ("fail", ["again"])
    assert merged["merge"]["confirmed"] == [slower.nodeid] and len(merged["cases"]) == 2
    assert "confirmed by 1 more run(s)" in capsys.readouterr().out
    # --strict: an inconclusive case alone fails the merge
    assert _merge(first, "-o", tmp_path / "lenient.json") == 0
    assert _merge(first, "-o", tmp_path / "strict.json", "--strict") == 1
    assert "strict: " in capsys.readouterr().out


# ---- the merge judges as the run did: with the settings its artifacts record ---------------------------


def _sharded(tmp_path: Path, index: int, **settings) -> Path:
    """Shard `index` of 2 of one run, its case judged against baseline runs, its "run" recording `settings`."""
    case = _judged("sharded", (2.2, 2.18, 2.22))
    other = replace(case, nodeid=case.nodeid.replace("bs1", "bs4"), case_id=case.case_id.replace("bs1", "bs4"))
    run = RunRecord(f"{index}/2", (case.nodeid, other.nodeid), id="sharded", **settings)
    artifact = build_artifact(replace(ENVIRONMENT, qbench_version="0.1.0"), [[case, other][index - 1]], run)
    validate_artifact(artifact)
    path = tmp_path / f"s{index}.json"
    path.write_text(json.dumps(artifact))
    return path


def _run_check_arguments(monkeypatch, paths: list[Path]) -> tuple[float, float]:
    """The rtol and false-alarm rate the merge of `paths` gave the run's check."""
    from pytest_qbench.gate import latency_stats
    from pytest_qbench.gate.merge import merge

    seen = []
    monkeypatch.setattr(latency_stats, "common_cpu_time", lambda moves, shift, rtol, alpha: seen.append((rtol, alpha)))
    merge([read_artifact(path) for path in paths])
    return seen[0]


def test_the_merge_checks_the_run_with_its_recorded_settings(tmp_path: Path, monkeypatch, capsys):
    settings = {"speedup_rtol": 0.2, "false_alarm_rate": 0.05}
    shards = [_sharded(tmp_path, i, **settings) for i in (1, 2)]
    assert _run_check_arguments(monkeypatch, shards) == (0.2, 0.05)
    monkeypatch.undo()
    assert _merge(*shards, "-o", tmp_path / "m.json") == 0
    merged = json.loads((tmp_path / "m.json").read_text())
    # the common check with the run's rtol; each case's CPU time beyond it with the case's own
    assert [c["tolerance"] for c in merged["run_checks"]] == ["rtol 0.2", "rtol 0.35"]
    assert (merged["run"]["speedup_rtol"], merged["run"]["false_alarm_rate"], merged["run"]["strict"]) == (
        0.2,
        0.05,
        False,
    )
    assert "run settings: speedup rtol 0.2, false-alarm rate 0.05" in capsys.readouterr().out


def test_artifacts_without_recorded_settings_take_the_defaults_and_say_so(tmp_path: Path, monkeypatch, capsys):
    from pytest_qbench.specs import QbenchOptions, Tolerances

    shards = [_sharded(tmp_path, i) for i in (1, 2)]
    assert _run_check_arguments(monkeypatch, shards) == (Tolerances.speedup_rtol, QbenchOptions.false_alarm_rate)
    monkeypatch.undo()
    assert _merge(*shards, "-o", tmp_path / "m.json") == 0
    assert (
        f"run settings: speedup rtol {Tolerances.speedup_rtol:g}, false-alarm rate {QbenchOptions.false_alarm_rate:g}"
        f" (the defaults where {shards[0]}, {shards[1]} do not record them)"
    ) in capsys.readouterr().out


def test_artifacts_judged_with_different_settings_are_refused_naming_them(tmp_path: Path, capsys):
    second = _sharded(tmp_path, 2)  # records none: the defaults
    assert _merge(_sharded(tmp_path, 1, speedup_rtol=0.1), second, "-o", tmp_path / "agree.json") == 0
    first = _sharded(tmp_path, 1, speedup_rtol=0.2)
    assert _merge(first, second, "-o", tmp_path / "m.json") == 2
    err = capsys.readouterr().err
    assert f"speedup_rtol differs (0.2 in {first}; 0.1 in {second} (not recorded: the default))" in err
    assert "the same qbench_speedup_rtol setting" in err and not (tmp_path / "m.json").exists()


def test_a_strict_run_s_merge_is_strict_without_the_flag(tmp_path: Path, capsys):
    slower = _judged("first", (2.05, 2.03, 2.07))  # inconclusive
    strict = _run_artifact(tmp_path, "strict.json", "first", [slower], [slower.nodeid])
    data = json.loads(strict.read_text())
    data["run"]["strict"] = True
    strict.write_text(json.dumps(data))
    assert _merge(strict, "-o", tmp_path / "m.json") == 1
    assert "strict: " in capsys.readouterr().out
