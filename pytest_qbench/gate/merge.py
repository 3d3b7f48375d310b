"""One verdict from many artifacts: the shards of a run, on one or more classes of runner.

`python -m pytest_qbench merge ART... -o merged.json` reads the artifacts (report/artifact.py), merges
them here, and writes the merged artifact and reports (report/): `merge` checks that the artifacts
belong to one run (commit, pytest-qbench and onnxruntime versions, the same case selection), rejects
a case reported twice on one hardware key, finds the cases no shard ran, groups the results by
hardware key and recomputes the verdict; `write_baselines` writes the baselines on request: the merge
is the only step of a sharded run that writes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import QbenchMergeError
from ..results import ArtifactFile, CaseResult

# What must agree for artifacts to be shards of one run: (where in the artifact, what to call it).
IDENTITY = (
    (("environment", "git_commit"), "commit"),
    (("environment", "qbench_version"), "pytest-qbench version"),
    (("environment", "libraries", "onnxruntime"), "onnxruntime version"),
)
FAILING = ("fail", "error")


@dataclass(frozen=True)
class Merged:
    files: list[ArtifactFile]  # the artifacts merged, in the order given
    selected: list[str]  # node ids of the cases the run selected (every shard's)
    results: list[CaseResult]
    environments: dict[str, dict[str, Any]]  # hardware key -> the environment of its first artifact
    missing: dict[str, list[str]]  # hardware key -> node ids selected that no shard ran
    verdict: str  # "pass" or "fail"
    exit_code: int  # 0 pass, 1 fail

    @property
    def environment(self) -> dict[str, Any]:
        """The environment the merged artifact records: the first artifact's."""
        return self.files[0].artifact["environment"]

    def record(self) -> dict[str, Any]:
        """What the merged artifact records of the merge itself (its "merge" object)."""
        return {
            "sources": [{"file": str(f.path), "shard": f.artifact["run"]["shard"], "hardware_key": f.hardware_key,
                         "cases": len(f.artifact["cases"])} for f in self.files],
            "environments": self.environments, "missing": self.missing, "verdict": self.verdict,
            "exit_code": self.exit_code,
        }

    def lines(self) -> list[str]:
        """What the merge says on the terminal."""
        lines = []
        for key in self.environments:
            cases = [r for r in self.results if r.hardware_key == key]
            failed = [r for r in cases if r.verdict in FAILING and not r.expected_failure]
            lines.append(f"{key}: {len(cases)} cases, {len(failed)} failing, {len(self.missing.get(key, []))} missing")
            lines += [f"  failing: {r.nodeid}" for r in failed]
            lines += [f"  missing: {nodeid}" for nodeid in self.missing.get(key, [])]
        return lines + [f"verdict: {self.verdict}"]


def _field(artifact: dict[str, Any], where: tuple[str, ...]) -> Any:
    for key in where:
        artifact = artifact.get(key) if isinstance(artifact, dict) else None
    return artifact


def _check_identity(files: list[ArtifactFile]) -> list[str]:
    for where, name in IDENTITY:
        values = {}
        for file in files:
            values.setdefault(json.dumps(_field(file.artifact, where)), []).append(str(file.path))
        if len(values) > 1:
            found = "; ".join(f"{json.loads(v)} in {', '.join(paths)}" for v, paths in values.items())
            raise QbenchMergeError(f"qbench merge: the artifacts are not of one run: {name} differs ({found})")
    selections = {json.dumps(f.artifact["run"]["selected"]): f for f in files}
    if len(selections) > 1:
        paths = ", ".join(str(f.path) for f in selections.values())
        raise QbenchMergeError(
            f"qbench merge: the artifacts selected different cases ({paths}): shards must be run with the same"
            " tests, -k and -m, and differ only in --qbench-shard"
        )
    return files[0].artifact["run"]["selected"]


def merge(files: list[ArtifactFile]) -> Merged:
    """One verdict from the artifacts `files` (read with report.artifact.read_artifact)."""
    if not files:
        raise QbenchMergeError("qbench merge: no artifacts given")
    selected = _check_identity(files)
    seen: dict[tuple[str, str], Path] = {}
    results, environments = [], {}
    for file in files:
        environments.setdefault(file.hardware_key, file.artifact["environment"])
        for case in file.artifact["cases"]:
            result = CaseResult.from_json(case)
            result.hardware_key = result.hardware_key or file.hardware_key
            key = (result.nodeid, result.hardware_key)
            if key in seen:
                raise QbenchMergeError(
                    f"qbench merge: {result.nodeid} on {result.hardware_key} is in both {seen[key]} and {file.path}:"
                    " the same shard given twice, or shards of different --qbench-shard counts"
                )
            seen[key] = file.path
            results.append(result)
    missing = {
        key: sorted(set(selected) - {r.nodeid for r in results if r.hardware_key == key}) for key in environments
    }
    missing = {key: ids for key, ids in missing.items() if ids}
    failing = any(r.verdict in FAILING and not r.expected_failure for r in results)
    verdict = "fail" if failing or missing else "pass"
    return Merged(files, selected, results, environments, missing, verdict, 1 if verdict == "fail" else 0)


def durations(merged: Merged) -> dict[str, dict[str, float]]:
    """What `--qbench-shard-durations` reads: each case's seconds (the slowest runner class's)."""
    seconds: dict[str, float] = {}
    for result in merged.results:
        if result.seconds:
            seconds[result.nodeid] = round(max(seconds.get(result.nodeid, 0.0), result.seconds), 2)
    return {"durations": dict(sorted(seconds.items()))}


def write_baselines(merged: Merged, folder: Path, seed_from: Path) -> list[str]:
    """Every measured case as the baseline of its hardware key, in `folder`; files start from their
    versions in `seed_from` (the committed baselines), so cases that did not run keep their entries."""
    from .baselines import BaselineStore

    store = BaselineStore(folder)
    seeds = BaselineStore(seed_from)
    written = []
    for result in merged.results:
        if result.error is not None or result.latency is None:
            continue
        store.seed(seeds.path_for(result.test))
        store.stage(result.test, result.case_id, result.hardware_key, result)
        written.append(f"{result.test} [{result.case_id}] ({result.hardware_key})")
    store.flush()
    return written
