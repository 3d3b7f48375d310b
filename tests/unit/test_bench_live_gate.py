"""bench/live_gate.py's judging of gate runs from their artifacts, its summary and renderer, and the pytest
plugin that slows one case (bench/qbench_live_slowdown.py), on synthetic artifacts and a stand-in measurer."""

from __future__ import annotations

import json
import sys
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import live_gate  # noqa: E402
import qbench_live_slowdown as plugin  # noqa: E402
from renderers import Result, render_live_gate  # noqa: E402

TARGET = "test_card[dynamic-Add+MatMul-bs1-len32]"
GATE = {"alpha": 0.01, "cases": 3, "cpu_model": "m",
        "speedup_spread": {"cases": 3, "df": 2.0, "runs": 9, "sigma": 0.01}}


def case(name: str, speedup: str | None = "pass", others: tuple[tuple[str, str], ...] = (), *, confirmed: bool = False,
         expected_failure: bool = False) -> dict:
    checks = [{"metric": m, "status": s} for m, s in ((("cpu.speedup", speedup),) if speedup else ()) + others]
    cpu = {"speedup": {"value": 1.5, "ci_low": 1.4, "ci_high": 1.6}, "original_ms": 12.0, "optimized_ms": 8.0}
    first = {**cpu, "speedup": {"value": 1.2, "ci_low": 1.1, "ci_high": 1.3}, "optimized_ms": 10.0}
    latency = None if speedup is None else {"cpu": cpu, "measurements": [first, cpu, cpu] if confirmed else []}
    return {"nodeid": f"examples/test_x.py::{name}", "checks": checks, "latency": latency,
            "expected_failure": expected_failure, "baseline": None if speedup is None else {"latency_gate": GATE}}


COLLAPSE = case("test_collapse[static-bs1-len32]", None, (("f1", "fail"),), expected_failure=True)


def judged(*cases: dict, exit_code: int = 0) -> dict:
    return live_gate.judge({"cases": [case(TARGET), COLLAPSE, *cases]}, exit_code, TARGET)


def test_an_unchanged_run_with_its_expected_collapse_is_green():
    run = judged(case("test_card[dynamic-Add-bs1-len32]"))
    assert (run["red_lenient"], run["red_strict"], run["flagged"], run["target"]) == (False, False, {}, "pass")
    assert run["cases"] == 3 and set(run["speedups"]) == {TARGET, "test_card[dynamic-Add-bs1-len32]"}


def test_an_inconclusive_speedup_is_red_only_strictly_and_a_failed_one_both_ways():
    inconclusive = judged(case("test_card[a]", "inconclusive", confirmed=True))
    assert (inconclusive["red_lenient"], inconclusive["red_strict"]) == (False, True)
    assert inconclusive["flagged"] == {"test_card[a]": {"cpu.speedup": "inconclusive"}}
    assert inconclusive["confirmed"] == 1
    # the first look, before the confirmation's median replaced it: its speedup and both models' CPU ms
    assert inconclusive["first_looks"]["test_card[a]"] == 1.2 and inconclusive["speedups"]["test_card[a]"][0] == 1.5
    assert inconclusive["first_ms"]["test_card[a]"] == [12.0, 10.0]
    # each phase of the confirmed case: the first look, then the fresh processes
    first, again = inconclusive["confirmations"]["test_card[a]"][0], inconclusive["confirmations"]["test_card[a]"][1:]
    assert first["speedup"]["value"] == 1.2 and [m["speedup"]["value"] for m in again] == [1.5, 1.5]
    assert inconclusive["latency_gate"] == GATE  # what the run held its speedups to, for a replay
    failed = judged(case("test_card[b]", "fail", confirmed=True), exit_code=1)
    assert (failed["red_lenient"], failed["red_strict"], failed["speedup_failed"]) == (True, True, ["test_card[b]"])


def test_a_non_zero_exit_is_red_without_any_failed_check():
    run = judged(exit_code=1)
    assert run["red_lenient"] and run["red_strict"] and run["speedup_failed"] == []


def test_the_runs_own_checks_are_recorded_by_metric():
    checks = [{"metric": "cpu_ms.common", "status": "pass"}, {"metric": "cpu_ms.excess", "status": "fail"}]
    run = live_gate.judge({"cases": [case(TARGET)], "run_checks": checks}, 1, TARGET)
    assert run["run_checks"] == {"cpu_ms.common": "pass", "cpu_ms.excess": "fail"} and run["red_lenient"]


def test_the_targets_verdict_and_its_absence():
    assert live_gate.judge({"cases": [case(TARGET, "fail")]}, 1, TARGET)["target"] == "fail"
    assert live_gate.judge({"cases": [COLLAPSE]}, 0, TARGET)["target"] == "absent"


def runs() -> list[dict]:
    aa = [{**judged(), "arm": "aa", "seconds": 600.0},
          {**judged(case("test_card[a]", "inconclusive")), "arm": "aa", "seconds": 660.0},
          {**judged(case("test_card[b]", "fail"), exit_code=1), "arm": "aa", "seconds": 700.0}]
    slow = [{**live_gate.judge({"cases": [case(TARGET, status, confirmed=True)]}, int(status == "fail"), TARGET),
             "arm": "slow", "seconds": 620.0} for status in ("fail", "fail", "inconclusive")]
    return aa + slow


def test_summary_counts_red_runs_and_the_caught_target_with_wilson_intervals():
    summary = live_gate.summarize(runs())
    aa, slow = summary["aa"], summary["slow"]
    assert (aa["red_lenient"]["hits"], aa["red_strict"]["hits"], aa["runs"]) == (1, 2, 3)
    assert aa["red_lenient"]["low"] < 1 / 3 < aa["red_lenient"]["high"]
    assert (slow["target_caught"]["hits"], slow["target_inconclusive"], slow["confirmed_per_run"]) == (2, 1, 1.0)
    assert aa["seconds_median"] == 660.0
    assert set(live_gate.summarize(runs()[:3])) == {"aa"}


def test_the_gate_runs_are_shuffled_with_as_many_of_each_arm():
    order = live_gate.plan(5, ["aa", "slow"])
    assert sorted(order) == ["aa"] * 5 + ["slow"] * 5 and order == live_gate.plan(5, ["aa", "slow"])
    assert order != sorted(order)


def test_the_renderer_tables_each_arm_and_the_cases_red_without_a_change():
    data = {"when": "2025-01-01T00:00:00+00:00", "minutes": 60.0, "machine": {"brand": "CPU", "hardware_key": "k"},
            "load_before": [1, 1, 1], "load_after": [1, 1, 1], "beside": "nothing", "select": "not hub",
            "target": TARGET, "calibration": {"columns": 900, "cost": 0.1}, "baseline_runs": [{}, {}, {}],
            "runs": runs(), "summary": live_gate.summarize(runs()), "command": "bench/live_gate.py --runs 3"}
    text = render_live_gate(Result("bench/results/live-gate-k.json", data))
    assert "| A/A | 3 | 1/3 (33.3%;" in text and "| one case +10% | 3 |" in text
    assert "`test_card[a]` 1; `test_card[b]` 1" in text and "baselines of 3 update runs" in text
    assert "The run's own checks failed: in no run (of 6 runs that record them)." in text
    older = [{k: v for k, v in run.items() if k != "run_checks"} for run in runs()]
    assert "own checks" not in render_live_gate(Result("x.json", {**data, "runs": older}))  # kept none: says nothing
    kept = [{**run, "run_checks": {"cpu_ms.common": "pass", "cpu_ms.excess": "fail" if i == 1 else "pass"}}
            for i, run in enumerate(runs())]
    text = render_live_gate(Result("bench/results/live-gate-k.json", {**data, "runs": kept}))
    assert "The run's own checks failed: `cpu_ms.excess` in 1 A/A run(s) (of 6 runs that record them)." in text


class Steps:
    """Stands in for CasePipeline: its measurer only holds the optimized model."""

    @cached_property
    def measurer(self) -> SimpleNamespace:
        return SimpleNamespace(optimized=Path("int8.onnx"))


def test_the_plugin_slows_only_the_target(monkeypatch, tmp_path):
    import pytest_qbench

    monkeypatch.setattr(pytest_qbench, "CasePipeline", Steps)
    monkeypatch.setenv(plugin.TARGET_ENV, TARGET)
    monkeypatch.setenv(plugin.SLOWED_ENV, str(tmp_path / "slowed.onnx"))
    monkeypatch.delenv(plugin.RECORD_ENV, raising=False)
    plugin.patch_measurer()
    monkeypatch.setattr(plugin, "_running", [TARGET])
    slowed = Steps()
    assert slowed.measurer.optimized == tmp_path / "slowed.onnx" and slowed.measurer is slowed.measurer
    monkeypatch.setattr(plugin, "_running", ["test_card[dynamic-Add-bs1-len32]"])
    assert Steps().measurer.optimized == Path("int8.onnx")


def test_the_plugin_records_what_the_slowdown_is_calibrated_on(tmp_path):
    np = pytest.importorskip("numpy")
    measurer = SimpleNamespace(
        case=SimpleNamespace(id="dynamic-Add+MatMul-bs1-len32", batch_size=1), original=Path("fp32.onnx"),
        optimized=Path("int8.onnx"), model_dir=Path("model"), config_entries=lambda path: {"k": "v"},
        inputs=lambda batch: {"input_ids": np.ones((batch, 32), dtype="int64")},
        shared=SimpleNamespace(model_config=lambda folder: SimpleNamespace(hidden_size=384)),
    )
    plugin.record(measurer, tmp_path / "target")
    assert json.loads((tmp_path / "target" / "target.json").read_text()) == {
        "case": "dynamic-Add+MatMul-bs1-len32", "original": "fp32.onnx", "optimized": "int8.onnx",
        "config_entries": {"k": "v"}, "hidden_size": 384}
    with np.load(tmp_path / "target" / "inputs.npz") as stored:
        assert stored["input_ids"].shape == (1, 32)


def test_a_slowed_case_outside_the_selection_stops_the_study_before_any_run():
    with pytest.raises(SystemExit, match="--target test_card.* is not in the selection"):
        live_gate.check_selection(["examples/test_x.py::test_card[dynamic-Add-bs1-len32]"], TARGET, ["aa", "slow"])


def args(**given) -> SimpleNamespace:
    defaults = {"select": "not hub", "target": TARGET, "baseline_runs": 2, "runs": 3, "arms": ["aa", "slow"], "seed": 0}
    return SimpleNamespace(**{**defaults, **given})


def test_a_new_study_takes_the_arguments_and_a_kept_one_resumes_where_its_record_stops(tmp_path):
    study, record = live_gate.open_study(args(), tmp_path / "study", tmp_path / "record.json")
    assert record is None and sorted(study.order) == ["aa"] * 3 + ["slow"] * 3
    (tmp_path / "study").mkdir()
    study.write(tmp_path / "study")
    with pytest.raises(SystemExit, match="has no record of it"):
        live_gate.open_study(args(), tmp_path / "study", tmp_path / "record.json")
    (tmp_path / "record.json").write_text(json.dumps({"runs": [{}, {}], "sessions": [{}]}))
    # a resumed study is the one on disk, whatever the arguments now say
    resumed, record = live_gate.open_study(args(select="other", runs=9), tmp_path / "study", tmp_path / "record.json")
    assert resumed == study and len(record["runs"]) == 2
    (tmp_path / "record.json").write_text(json.dumps({"runs": [{}] * 6, "sessions": [{}]}))
    with pytest.raises(SystemExit, match="has run all its 6 gate runs"):
        live_gate.open_study(args(), tmp_path / "study", tmp_path / "record.json")


def test_gate_runs_continue_the_order_against_a_copy_of_the_baselines_and_start_none_after_the_deadline(
    monkeypatch, tmp_path
):
    study = live_gate.Study("not hub", TARGET, 2, ("aa", "slow", "aa", "slow"))
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "b.json").write_text("{}")
    started: list[str] = []

    def run_pytest(command, env, artifact):
        started.append(artifact.name)
        assert command[command.index("--qbench-baselines") + 1] == str(tmp_path / "work" / "baselines")
        (tmp_path / "work" / "baselines" / "b.obtained.json").write_text("{}")  # a failed case's, in the copy
        return {"cases": [case(TARGET, "fail" if "slow" in artifact.name else "pass")]}, {"exit_code": 0, "seconds": 1}

    monkeypatch.setattr(live_gate, "run_pytest", run_pytest)
    monkeypatch.setattr(live_gate, "this_host", lambda: "vm2")
    kept: list[int] = []
    done = [{"arm": "aa", "host": "vm1"}]
    runs = live_gate.gate_runs(study, done, tmp_path, tmp_path / "work", tmp_path / "slowed.onnx",
                               float("inf"), lambda r: kept.append(len(r)))
    assert started == ["run-1-slow.json", "run-2-aa.json", "run-3-slow.json"] and kept == [2, 3, 4]
    assert [r["host"] for r in runs] == ["vm1", "vm2", "vm2", "vm2"] and runs[1]["target"] == "fail"
    assert sorted(p.name for p in (tmp_path / "baselines").iterdir()) == ["b.json"]
    started.clear()
    assert live_gate.gate_runs(study, done, tmp_path, tmp_path / "work", None, 0.0, print) == done
    assert started == []


def test_a_study_with_a_history_gives_each_run_a_copy_of_it(monkeypatch, tmp_path):
    study = live_gate.Study("not hub", TARGET, 2, ("aa", "slow"), history=True)
    for folder in ("baselines", "history"):
        (tmp_path / folder).mkdir()
    (tmp_path / "history" / "index.json").write_text('{"runs": []}')
    histories: list[str] = []

    def run_pytest(command, env, artifact):
        history = Path(command[command.index("--qbench-history") + 1])
        assert "qbench_speed_lines=true" in command
        histories.append(history.name)
        (history / "runs").mkdir()  # what the run adds to its history
        return {"cases": [case(TARGET, "pass")]}, {"exit_code": 0, "seconds": 1}

    monkeypatch.setattr(live_gate, "run_pytest", run_pytest)
    monkeypatch.setattr(live_gate, "this_host", lambda: "vm")
    live_gate.gate_runs(study, [], tmp_path, tmp_path / "work", None, float("inf"), print)
    assert histories == ["history-0", "history-1"]
    assert [p.name for p in (tmp_path / "history").iterdir()] == ["index.json"]  # the study's own untouched
    new = live_gate.open_study(args(), tmp_path, tmp_path / "record.json")[0]
    assert new.history  # a new study in a folder holding a history learns from it


def test_the_renderer_says_when_a_study_spans_sessions_and_vms():
    two = [{**r, "host": h} for r, h in zip(runs(), ["a1", "a1", "b2", "b2", "b2", "b2"], strict=True)]
    data = {"when": "2025-01-01T00:00:00+00:00", "minutes": 60.0, "machine": {"brand": "CPU", "hardware_key": "k"},
            "load_before": [1, 1, 1], "load_after": [1, 1, 1], "beside": "nothing", "select": "not hub",
            "target": TARGET, "calibration": {"columns": 900, "cost": 0.1}, "baseline_runs": [{"host": "a1"}] * 3,
            "runs": two, "summary": live_gate.summarize(two), "command": "bench/live_gate.py --runs 3",
            "sessions": [{"host": "a1"}, {"host": "b2"}]}
    text = render_live_gate(Result("bench/results/live-gate-k.json", data))
    assert "span 2 sessions on 2 VMs of this class (boot hashes a1, b2; the baselines recorded on a1)" in text
    assert "span" not in render_live_gate(Result("x.json", {**data, "sessions": [{"host": "a1"}]}))


def test_rejudge_keeps_the_runs_of_sessions_whose_artifacts_are_elsewhere(monkeypatch, tmp_path):
    kept = {**judged(case("test_card[a]", "fail"), exit_code=1), "arm": "aa", "seconds": 1, "host": "vm1"}
    again = {"arm": "slow", "exit_code": 1, "seconds": 2, "host": "vm2"}
    output = tmp_path / "record.json"
    output.write_text(json.dumps({"target": TARGET, "runs": [kept, again]}))
    (tmp_path / "run-1-slow.json").write_text(json.dumps({"cases": [case(TARGET, "fail")]}))
    saved: list[dict] = []
    monkeypatch.setattr(live_gate, "save_result", lambda path, record: saved.append(record))
    live_gate.rejudge(output, tmp_path)
    first, second = saved[0]["runs"]
    assert first == kept and second["target"] == "fail" and second["host"] == "vm2"


def test_the_records_command_begins_the_study_again_with_its_folder_and_options(tmp_path):
    study = live_gate.Study("card", TARGET, 3, ("aa", "slow", "slow", "aa"))
    args = SimpleNamespace(study=live_gate.REPO / "bench/results/live-studies/s", seed=1,
                           baselines_from=live_gate.REPO / "bench/results/live-studies/b")
    command = live_gate.command(study, args, live_gate.REPO / "bench/results/live-gate-s.json")
    assert command.endswith(" --study bench/results/live-studies/s --output bench/results/live-gate-s.json"
                            " --baselines-from bench/results/live-studies/b --seed 1")
    assert command.startswith("bench/live_gate.py --baseline-runs 3 --runs 2 --arms aa slow --select card --target")
    throwaway = live_gate.command(study, SimpleNamespace(study=None, seed=0, baselines_from=None), tmp_path / "x.json")
    assert "--study" not in throwaway and "--seed" not in throwaway
