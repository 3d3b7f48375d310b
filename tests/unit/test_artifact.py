import copy
import json
import re
from dataclasses import replace

import jsonschema
import pytest
from factories import ENVIRONMENT, HW, latency_gate, looked_up, make_result

from pytest_qbench import QbenchArtifactError
from pytest_qbench.gate.baselines import entry_from_result
from pytest_qbench.gate.rules import judge
from pytest_qbench.report.artifact import SCHEMA_PATH, build_artifact, validate_artifact, write_artifact
from pytest_qbench.results import CaseResult, Environment, Metric, RunRecord, Status
from pytest_qbench.specs import CaseSpec, DataSpec, Tolerances, VariantSpec


def judged(result, update=False):
    judgement = judge(result, looked_up(None), Tolerances(), update=update, latency=latency_gate())
    result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    return result


def artifact():
    results = [judged(make_result()), judged(make_result(batch_size=4), update=True), judged(make_result(error="boom"))]
    return build_artifact(copy.deepcopy(ENVIRONMENT), results)


def test_statuses_and_metrics_travel_as_plain_words_and_read_back_as_members():
    data = artifact()["cases"][0]  # plain words: xdist sends results between processes as basic types
    words = [data["verdict"], *(c[name] for c in data["checks"] for name in ("metric", "against", "status"))]
    assert {type(word) for word in words} == {str}
    again = CaseResult.from_json(json.loads(json.dumps(data)))
    assert again.verdict is Status.FAIL and again.checks[0].metric is Metric.F1
    assert again.to_json() == data


@pytest.mark.parametrize("variant, expected", [
    ({"approach": "static", "operators": ("Add", "MatMul")}, "static-Add+MatMul"),
    ({"approach": "given", "operators": (), "quantized_file": "onnx/model_quantized.onnx"}, "given-model_quantized"),
    ({"approach": "dynamic", "operators": (), "runtime": "openvino"}, "openvino-dynamic"),
])
def test_a_variant_id_is_derived_from_the_parameters_as_the_case_id_was(variant, expected):
    spec = VariantSpec(**variant)
    parameters = CaseSpec(None, DataSpec(None), spec, 1, 32).parameters
    result = replace(make_result(), case_id="a case id that says nothing", parameters=parameters)
    assert result.variant_id == spec.id == expected


def test_schema_is_valid_draft_2020_12():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_artifact_of_passing_failing_updated_and_errored_cases_validates(tmp_path):
    data = artifact()
    assert data["schema_version"] == 6
    assert [c["verdict"] for c in data["cases"]] == ["fail", "updated", "error"]
    assert data["cases"][2]["accuracy"] == {"original": None, "optimized": None}
    assert data["cases"][2]["latency"] is None
    path = tmp_path / ".qbench" / "results.json"
    write_artifact(path, data)
    text = path.read_text()
    assert text.endswith("}\n")
    assert json.loads(text) == data


@pytest.mark.parametrize(
    ("corrupt", "where"),
    [
        (lambda a: a["cases"][0].update(verdict="maybe"), "cases/0/verdict"),
        (lambda a: a["environment"].pop("hardware_key"), "environment"),
        (lambda a: a["environment"].update(git_commit=12), "environment/git_commit"),
        (lambda a: a["cases"][0]["accuracy"]["optimized"].pop("f1"), "cases/0/accuracy/optimized"),
        (lambda a: a["cases"][0]["latency"]["cpu"]["speedup"].pop("ci_high"), "cases/0/latency/cpu/speedup"),
        (lambda a: a["cases"][0]["latency"]["cpu"]["speedup"].update(value=0.0), "cases/0/latency/cpu/speedup/value"),
        (lambda a: a["cases"][0]["latency"]["cpu"]["speedup"].pop("n_pairs"), "cases/0/latency/cpu/speedup"),
        (lambda a: a["cases"][0]["latency"]["cpu"].pop("optimized_ms"), "cases/0/latency/cpu"),
        (lambda a: a["cases"][0]["latency"]["cpu"].update(original_ms=-1.0), "cases/0/latency/cpu/original_ms"),
        (lambda a: a["cases"][0]["latency"].pop("cpu"), "cases/0/latency"),
        (lambda a: a["cases"][0]["latency"]["wall_speedup"].pop("value"), "cases/0/latency/wall_speedup"),
        (lambda a: a["cases"][0]["latency"].pop("wall_speedup"), "cases/0/latency"),
        (lambda a: a["cases"][0]["latency"].update(stop_reason="budget"), "cases/0/latency/stop_reason"),
        (lambda a: a["cases"][0]["latency"].update(threads=0), "cases/0/latency/threads"),
        (lambda a: a["cases"][0]["latency"]["original"].pop("p99_ms"), "cases/0/latency/original"),
        (lambda a: a["cases"][0]["checks"][0].pop("reason"), "cases/0/checks/0"),
        (lambda a: a["cases"][1].pop("baseline"), "cases/1"),
        (lambda a: a.update(schema_version=2), "schema_version"),
        (lambda a: a.update(schema_version=4), "schema_version"),
        (lambda a: a.update(schema_version=7), "schema_version"),
        (lambda a: a["cases"][0]["accuracy"]["original"].pop("average"), "cases/0/accuracy/original"),
        (lambda a: a["cases"][0]["latency"]["original"].update(cv=float("nan")), "cases/0/latency/original/cv"),
    ],
)
def test_invalid_artifact_is_rejected_and_not_written(tmp_path, corrupt, where):
    data = artifact()
    corrupt(data)
    path = tmp_path / "results.json"
    with pytest.raises(QbenchArtifactError, match=f"invalid artifact at {re.escape(where)}: "):
        write_artifact(path, data)
    assert not path.exists()


def test_case_without_latency_validates():
    result = judged(replace(make_result(), latency=None))
    validate_artifact(build_artifact(ENVIRONMENT, [result]))


def test_latency_records_the_cpu_phase_and_the_wall_phase_apart():
    result = judged(make_result())
    latency = build_artifact(ENVIRONMENT, [result])["cases"][0]["latency"]
    assert set(latency) == {
        "original",
        "optimized",
        "wall_speedup",
        "cpu",
        "stop_reason",
        "threads",
        "seconds",
        "budget",
        "measurements",
    }
    assert latency["budget"] is None  # the case names no latency budget
    assert latency["measurements"] == []  # the first look decided: no confirmation in the run
    cpu = result.latency.cpu
    assert latency["cpu"] == {
        "original_ms": cpu.original_ms, "optimized_ms": cpu.optimized_ms,
        "speedup": {"value": cpu.speedup.value, "ci_low": cpu.speedup.ci_low, "ci_high": cpu.speedup.ci_high,
                    "confidence": 0.95, "n_pairs": 40},
    }
    wall = result.latency.wall_speedup
    assert latency["wall_speedup"] == {"value": wall.value, "ci_low": wall.ci_low, "ci_high": wall.ci_high,
                                       "confidence": 0.95, "n_pairs": 40}
    assert latency["original"]["mean_ms"] == 46.38  # wall clock at `threads`
    assert (latency["stop_reason"], latency["threads"]) == ("ci_width", 2)


def test_an_inconclusive_case_validates():
    base = make_result()
    cpu = base.latency.cpu
    noisy = replace(base, latency=replace(base.latency, cpu=replace(cpu, speedup=replace(
        cpu.speedup, ci_low=cpu.speedup.value * 0.8, ci_high=cpu.speedup.value * 1.2))))
    judgement = judge(noisy, looked_up(entry_from_result(base)), Tolerances(), latency=latency_gate(base.cpu_model))
    noisy.checks, noisy.verdict, noisy.baseline = judgement.checks, judgement.verdict, judgement.baseline
    data = build_artifact(copy.deepcopy(ENVIRONMENT), [noisy])
    validate_artifact(data)
    case = data["cases"][0]
    assert case["verdict"] == "inconclusive"
    assert [c["status"] for c in case["checks"] if c["metric"] == "cpu.speedup"] == ["inconclusive"]


def test_an_environment_read_back_is_written_as_it_was_read():
    # A merge copies each shard's environment: keys this version does not know (a hook's, a newer writer's) and
    # keys an older writer did not record stay as they were; nothing is added.
    recorded = {**ENVIRONMENT.to_json(), "runner": {"pool": "ci-7"}, "threads": None}
    environment = Environment.from_json(recorded)
    assert environment.to_json() == recorded
    assert (environment.hardware_key, environment.threads, environment.cpu_model) == (HW, None, None)
    assert "cpu_model" not in environment.to_json() and environment.flags == ("avx2", "avx512_vnni", "avx512f")


def test_a_run_record_read_back_is_written_as_it_was_read():
    # A merge reads each shard's run: keys this version does not know (a hook's, a newer writer's) stay as they were,
    # and what a writer did not record (an older one's settings, a run id) is not added.
    recorded = {"shard": "1/2", "selected": ["t::a", "t::b"], "id": "r1", "skipped": [], "strict": False,
                "speedup_rtol": 0.1, "ci": {"job": 7}}
    run = RunRecord.from_json(recorded)
    assert run.to_json() == recorded
    assert (run.selected, run.skipped, run.false_alarm_rate) == (("t::a", "t::b"), (), None)
    assert run.other == {"ci": {"job": 7}}
    assert RunRecord.from_json({"shard": None, "selected": []}).to_json() == {"shard": None, "selected": []}
