import copy
import json
from dataclasses import replace

import jsonschema
import pytest
from factories import ENVIRONMENT, HW, make_result

from pytest_qbench.artifact import SCHEMA_PATH, QbenchArtifactError, build_artifact, validate_artifact, write_artifact
from pytest_qbench.baselines import BaselineMatch
from pytest_qbench.config import Tolerances
from pytest_qbench.policy import judge


def judged(result, update=False):
    judgement = judge(result, BaselineMatch(SCHEMA_PATH, HW, None, None), Tolerances(), update=update)
    result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    return result


def artifact():
    results = [judged(make_result()), judged(make_result(batch_size=4), update=True), judged(make_result(error="boom"))]
    return build_artifact(copy.deepcopy(ENVIRONMENT), results)


def test_schema_is_valid_draft_2020_12():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_artifact_of_passing_failing_updated_and_errored_cases_validates(tmp_path):
    data = artifact()
    assert data["schema_version"] == 2
    assert [c["verdict"] for c in data["cases"]] == ["fail", "updated", "error"]
    assert data["cases"][2]["accuracy"] == {"original": None, "optimized": None}
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
        (lambda a: a["cases"][0]["latency"]["speedup"].pop("ci_high"), "cases/0/latency/speedup"),
        (lambda a: a["cases"][0]["latency"]["original"].pop("p99_ms"), "cases/0/latency/original"),
        (lambda a: a["cases"][0]["checks"][0].pop("reason"), "cases/0/checks/0"),
        (lambda a: a["cases"][1].pop("baseline"), "cases/1"),
        (lambda a: a.update(schema_version=3), "schema_version"),
        (lambda a: a["cases"][0]["latency"]["original"].update(cv=float("nan")), "cases/0/latency/original/cv"),
    ],
)
def test_invalid_artifact_is_rejected_and_not_written(tmp_path, corrupt, where):
    data = artifact()
    corrupt(data)
    path = tmp_path / "results.json"
    with pytest.raises(QbenchArtifactError, match=f"invalid artifact at {where}"):
        write_artifact(path, data)
    assert not path.exists()


def test_case_without_latency_validates():
    result = judged(replace(make_result(), latency=None))
    validate_artifact(build_artifact(ENVIRONMENT, [result]))
