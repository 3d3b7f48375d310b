"""The pipeline of a case without pytest (pipeline.py): build -> measure -> judge on the tiny DistilBERT and
a small CoNLL folder, as bench scripts and `python -m pytest_qbench case` run it."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from factories import ENVIRONMENT, looked_up, make_result
from projects import conll

from pytest_qbench import (
    CaseSpec,
    DataSpec,
    Pipeline,
    QbenchCaseError,
    TimingSpec,
    Tolerances,
    VariantSpec,
    hardware_from_cpuinfo,
)
from pytest_qbench.gate.baselines import BaselineStore
from pytest_qbench.gate.spread import PRIOR_SPEEDUP_SIGMA
from pytest_qbench.pipeline import CaseStageError, Memo, latency_gate_for, model_name, to_confirm
from pytest_qbench.report.history import Run, latency_runs
from pytest_qbench.results import Environment, LatencyGate, Spread

# A fraction of a second of timing on a ~1 ms model, beside another xdist worker: the latency limits
# are opened wide (the latency policy itself is tested in test_policy.py on synthetic results).
FAST = TimingSpec(threads=1, min_pairs=6, min_seconds=0.05, max_seconds=0.3, wall_seconds=0.05, confirm_processes=0)
WIDE = Tolerances(speedup_rtol=20, cpu_time_rtol=20)
TEST = "tests/test_tiny.py::test_tiny"


def spec(approach: str = "dynamic", sequence_length: int = 16, **variant) -> CaseSpec:
    return CaseSpec(None, DataSpec(None), VariantSpec(approach, ("Add", "MatMul"), **variant), batch_size=1,
                    sequence_length=sequence_length, timing=FAST, tolerances=WIDE)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("conll")
    for split in ("train", "valid"):
        (folder / f"{split}.txt").write_text(conll())
    return folder


@pytest.fixture(scope="module")
def pipeline(tiny_build_cache) -> Pipeline:
    return Pipeline(tiny_build_cache, hardware_key="tiny-host")


def test_importing_the_pipeline_loads_no_pytest_and_nothing_heavy():
    code = ("import sys, pytest_qbench.pipeline;"
            "print(sorted(m for m in ('pytest', 'numpy', 'onnxruntime', 'torch', 'transformers') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_a_case_is_built_through_the_cache_with_the_task_s_columns(pipeline, tiny_distilbert, data):
    case = pipeline.case(spec("static", calibration=dataclasses.replace(spec().variant.calibration, num_samples=4)),
                         tiny_distilbert, str(data))
    variant = case.variant
    assert variant.original.name == "model.onnx" and variant.optimized.is_file()
    assert variant.quantization.activations_dtype  # what the quantizer really did is recorded
    assert (case.spec.data.input_column, case.spec.data.label_column) == ("tokens", "ner_tags")
    # The same case again is the same build, from the pipeline's memo.
    assert pipeline.case(case.spec, tiny_distilbert, str(data)).variant is variant


def test_a_case_measures_into_a_result_and_judges_it_against_its_baseline(pipeline, tiny_distilbert, data, tmp_path):
    from pytest_qbench.report.outputs import stage_result

    case = pipeline.case(spec(), tiny_distilbert, str(data))
    store = BaselineStore(tmp_path / "baselines")
    result = case.new_result(f"{TEST}[{case.spec.id}]", run_id="run-1", root=tiny_distilbert.parent)
    assert (result.test, result.case_id, result.model, result.hardware_key) == (
        TEST, "dynamic-Add+MatMul-bs1-len16", tiny_distilbert.name, "tiny-host")

    assert case.check(result, store, update=True) is result and result.verdict == "updated"
    # The trained tiny model tags every toy sentence right, fp32 and int8 alike; both were timed side by side.
    assert (result.accuracy_original.f1, result.accuracy_optimized.f1) == (1.0, 1.0)
    assert result.latency.cpu.speedup.n_pairs >= FAST.min_pairs
    assert stage_result(store, result, "tiny-host", update=True, sharded=False, created=lambda: "2026-12-07") is None
    store.flush()

    again = pipeline.case(spec(), tiny_distilbert, str(data))
    rerun = again.new_result(result.nodeid, run_id="run-2", root=tiny_distilbert.parent)
    judged = again.check(rerun, tmp_path / "baselines")
    assert judged.verdict == "pass" and judged.baseline.hardware_match and judged.error is None
    assert {c.metric for c in judged.checks} >= {"f1", "cpu.speedup"}

    lost = dataclasses.replace(rerun.accuracy_optimized, f1=0.5)
    match = BaselineStore(tmp_path / "baselines").lookup(TEST, rerun.case_id, "tiny-host")
    assert again.judge(dataclasses.replace(rerun, accuracy_optimized=lost), match).verdict == "fail"


def test_a_stage_that_cannot_run_is_named_and_keeps_what_was_measured(pipeline, tiny_distilbert, data, tmp_path):
    too_long = pipeline.case(spec(sequence_length=4096), tiny_distilbert, str(data))
    result = too_long.new_result(f"{TEST}[x]")
    with pytest.raises(CaseStageError) as failed:
        too_long.check(result, BaselineStore(tmp_path))
    assert failed.value.what == "could not measure" and isinstance(failed.value.cause, QbenchCaseError)
    assert "sequence_length 4096 is above the model's maximum" in str(failed.value.cause)
    assert result.quantization is None and result.accuracy_original is None
    assert result.error.startswith("QbenchCaseError: sequence_length 4096")

    broken = BaselineStore(tmp_path / "broken")
    broken.root.mkdir()
    broken.path_for(TEST).write_text("{not json")
    case = pipeline.case(spec(), tiny_distilbert, str(data))
    result = case.new_result(f"{TEST}[{case.spec.id}]")
    with pytest.raises(CaseStageError, match="could not read its baseline: .*is not valid JSON"):
        case.check(result, broken)
    assert result.accuracy_optimized.f1 == 1.0  # measured before the baseline was read


def test_a_case_times_no_finer_than_the_run_s_between_run_spread(pipeline, tiny_distilbert, data):
    asked: list[str] = []

    def gate() -> LatencyGate:
        asked.append("gate")
        return LatencyGate("cpu", Spread(0.04, 6.0, 3, 5), cases=1, alpha=0.01)

    case = pipeline.case(spec(), tiny_distilbert, str(data), latency=gate)
    assert asked == []  # asked for when the case is first timed, not before
    assert case.timing.target_ci_width == pytest.approx(1.96 * 0.04)
    assert asked == ["gate"]
    # Without a run's gate, the case is timed as its spec says, even finer than the prior's spread.
    fine = dataclasses.replace(spec(), timing=dataclasses.replace(FAST, target_ci_width=0.01))
    assert pipeline.case(fine, tiny_distilbert, str(data)).timing.target_ci_width == 0.01


def test_an_openvino_case_cannot_be_diagnosed(pipeline, tiny_distilbert, data):
    with pytest.raises(QbenchCaseError, match="diagnosis and repair read ONNX graphs"):
        pipeline.case(spec(runtime="openvino"), tiny_distilbert, str(data)).diagnose()


def test_the_environment_names_the_machine_under_its_key_and_the_libraries(tiny_build_cache, tmp_path):
    hardware = hardware_from_cpuinfo({"brand_raw": "Test CPU", "arch": "X86_64", "flags": ["avx2"], "count": 4}, 2)
    environment = Pipeline(tiny_build_cache, hardware, "ci-pool").environment(root=tmp_path)
    assert (environment.brand, environment.hardware_key, environment.threads) == ("Test CPU", "ci-pool", 2)
    assert environment.preset == "avx2" and "onnxruntime" in environment.libraries
    assert environment.git_commit is None  # not a git work tree
    assert Pipeline(tiny_build_cache, hardware).hardware_key == "x86_64-avx2-2c"


def test_a_failed_step_is_remembered_and_raised_again_without_running_it_twice():
    memo, calls = Memo(), []

    def build() -> None:
        calls.append(1)
        raise QbenchCaseError("no such model")

    for _ in range(2):
        with pytest.raises(QbenchCaseError, match="no such model"):
            memo.get("variant", build)
    assert calls == [1] and memo.get("other", lambda: 3) == 3


def test_a_model_is_recorded_by_a_name_the_same_on_every_machine(tmp_path):
    assert model_name("org/model", tmp_path) == "org/model"
    assert model_name(str(tmp_path / "models" / "ner"), tmp_path) == "models/ner"
    assert model_name("/elsewhere/models/ner", tmp_path) == "ner"


def test_a_latency_is_confirmed_when_its_speedup_did_not_pass_and_always_in_an_update_run():
    from pytest_qbench.gate.rules import Judgement
    from pytest_qbench.results import Check, Status

    def judged(status: str, metric: str = "cpu.speedup") -> Judgement:
        return Judgement([Check(metric, "baseline", status, 1.0, 1.0, "", "")], Status(status), looked_up(None))

    assert to_confirm(judged("fail"), update=False) and to_confirm(judged("inconclusive"), update=False)
    assert not to_confirm(judged("pass"), update=False) and not to_confirm(judged("fail", "f1"), update=False)
    assert to_confirm(judged("pass"), update=True) and to_confirm(judged("fail", "f1"), update=True)


def _run(hardware_key: str, cpu_model: str, run_id: str, speedup: float) -> Run:
    case = {"test": TEST, "id": "dynamic", "run_id": run_id,
            "latency": {"cpu": {"original_ms": 46.38, "optimized_ms": 46.38 / speedup,
                                "speedup": {"value": speedup, "ci_low": speedup * 0.98, "ci_high": speedup / 0.98,
                                            "confidence": 0.95, "n_pairs": 40}}}}
    artifact = {"environment": {"hardware_key": hardware_key, "cpu_model": cpu_model}, "cases": [case]}
    return Run("runs/x.json", "2026-12-07", None, hardware_key, "pass", json.loads(json.dumps(artifact)))


def test_the_latency_gate_pools_the_spread_of_this_key_and_cpu_model_s_runs(tmp_path):
    runs = [_run("key", "cpu", "a", 1.50), _run("key", "cpu", "b", 1.62), _run("key", "other-cpu", "c", 1.0),
            _run("other-key", "cpu", "d", 1.0)]
    samples = latency_runs(runs, "key", "cpu")
    assert [r.run for r in samples[(TEST, "dynamic")]] == ["a", "b"]

    alone = latency_gate_for(BaselineStore(tmp_path), "key", "cpu", cases=0)
    assert (alone.speedup_spread.sigma, alone.speedup_spread.df, alone.cases) == (PRIOR_SPEEDUP_SIGMA, 0, 1)
    history = tmp_path / "history"
    from pytest_qbench.report.artifact import build_artifact
    from pytest_qbench.report.history import append

    for run in runs:  # each as a gate run writes it into the history folder
        environment, case = run.artifact["environment"], run.artifact["cases"][0]
        speedup = case["latency"]["cpu"]["speedup"]["value"]
        result = make_result(optimized_ms=46.38 / speedup, run_id=case["run_id"], cpu_model=environment["cpu_model"])
        append(
            history,
            build_artifact(
                Environment.from_json({**ENVIRONMENT.to_json(), **environment, "created": case["run_id"]}), [result]
            ),
        )
    pooled = latency_gate_for(BaselineStore(tmp_path), "key", "cpu", history=history, cases=42, alpha=0.05)
    assert (pooled.cpu_model, pooled.cases, pooled.alpha) == ("cpu", 42, 0.05)
    assert pooled.speedup_spread.df > 0 and pooled.speedup_spread.sigma != PRIOR_SPEEDUP_SIGMA  # the two runs of "cpu"


def test_a_history_that_spans_the_machines_speed_teaches_the_gate_a_cases_speed_line(tmp_path):
    from pytest_qbench.report.artifact import build_artifact
    from pytest_qbench.report.history import append

    history = tmp_path / "history"
    for i, moved in enumerate([-0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, -0.12, 0.12, 0.02, -0.02]):
        original = 46.38 * math.exp(moved)
        result = make_result(original_ms=original, optimized_ms=original / (4.66 * math.exp(0.3 * moved)),
                             run_id=f"run-{i}")
        environment = Environment.from_json({**ENVIRONMENT.to_json(), "cpu_model": result.cpu_model,
                                             "created": f"2026-12-07T10:{i:02d}:00"})
        append(history, build_artifact(environment, [result]))
    gate = latency_gate_for(BaselineStore(tmp_path), result.hardware_key, result.cpu_model, history=history, cases=42,
                            speed_lines=True)
    assert latency_gate_for(BaselineStore(tmp_path), result.hardware_key, result.cpu_model, history=history).lines == ()
    (line,) = gate.lines
    assert (line.test, line.case, line.runs) == (result.test, result.case_id, 11)
    assert line.slope == pytest.approx(0.3, abs=0.01)
    other = latency_gate_for(BaselineStore(tmp_path), result.hardware_key, "another-cpu", history=history,
                             speed_lines=True)
    assert other.lines == ()  # another CPU model's runs teach this one nothing


def test_the_command_line_gates_a_marker_s_cases_without_pytest(tiny_distilbert, data, tiny_build_cache, tmp_path,
                                                                   capsys):
    from pytest_qbench.__main__ import main
    from pytest_qbench.report.artifact import read_artifact

    timing = ["min_pairs=6", "min_seconds=0.05", "max_seconds=0.3", "wall_seconds=0.05", "confirm_processes=0",
              "speedup_rtol=20", "cpu_time_rtol=20"]
    paths = ["--cache-dir", str(tiny_build_cache.root), "--baselines", str(tmp_path / "baselines")]
    common = [str(tiny_distilbert), str(data), "approach=dynamic", "sequence_length=16", *timing]
    assert main(["case", *common, *paths, "--update"]) == 0
    assert "baselines of 1 cases written to" in capsys.readouterr().out
    assert main(["case", *common, *paths, "--json", str(tmp_path / "results.json")]) == 0
    out = capsys.readouterr().out
    assert "dynamic-Add+MatMul-bs1-len16: pass\n  [pass] f1 vs original" in out
    assert "[pass] cpu.speedup vs baseline" in out
    artifact = read_artifact(tmp_path / "results.json").artifact  # validated against the schema
    assert [c["nodeid"] for c in artifact["cases"]] == ["qbench case[dynamic-Add+MatMul-bs1-len16]"]

    assert main(["case", *common, "sequence_length=4096", *paths]) == 1
    assert "error: could not measure: QbenchCaseError: sequence_length 4096 is above" in capsys.readouterr().out
    assert main(["case", *common, "approach=fast", *paths]) == 2
    assert "unknown approach 'fast'" in capsys.readouterr().err
