"""One verdict from many artifacts: the shards of a run, on one or more classes of runner.

`python -m pytest_qbench merge ART... -o merged.json` checks that the artifacts belong to one run
(schema, commit, pytest-qbench and onnxruntime versions, the same case selection), rejects a case
reported twice on one hardware key, reports the cases no shard ran, groups the results by hardware
key, recomputes the verdict, and writes the merged artifact, a markdown report and, on request, the
baselines: the merge is the only step of a sharded run that writes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..report.artifact import SCHEMA_VERSION, QbenchArtifactError, build_artifact, validate_artifact
from ..results import CaseResult

# What must agree for artifacts to be shards of one run: (where in the artifact, what to call it).
IDENTITY = (
    (("environment", "git_commit"), "commit"),
    (("environment", "qbench_version"), "pytest-qbench version"),
    (("environment", "libraries", "onnxruntime"), "onnxruntime version"),
)
FAILING = ("fail", "error")


class QbenchMergeError(ValueError):
    """Artifacts that cannot be merged; the message names the files and the fix."""


@dataclass(frozen=True)
class Source:
    path: Path
    artifact: dict[str, Any]

    @property
    def hardware_key(self) -> str:
        return self.artifact["environment"]["hardware_key"]


@dataclass(frozen=True)
class Merged:
    artifact: dict[str, Any]
    results: list[CaseResult]
    environments: dict[str, dict[str, Any]]  # hardware key -> the environment of its first source
    missing: dict[str, list[str]]  # hardware key -> node ids selected that no shard ran
    verdict: str  # "pass" or "fail"
    exit_code: int  # 0 pass, 1 fail

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


def load(path: Path) -> Source:
    """One artifact, read and validated; QbenchMergeError says what is wrong with it."""
    try:
        artifact = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise QbenchMergeError(f"qbench merge: cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise QbenchMergeError(f"qbench merge: {path} is not JSON ({error}): a truncated or corrupt shard; re-run that shard") from None
    version = artifact.get("schema_version") if isinstance(artifact, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise QbenchMergeError(
            f"qbench merge: {path} has schema_version {version}, newer than this pytest-qbench's {SCHEMA_VERSION}:"
            " merge with the pytest-qbench that made it"
        )
    try:
        validate_artifact(artifact)
    except QbenchArtifactError as error:
        raise QbenchMergeError(f"qbench merge: {path} is not a qbench artifact of schema {SCHEMA_VERSION}: {str(error).removeprefix('qbench: ')}") from None
    return Source(Path(path), artifact)


def _field(artifact: dict[str, Any], where: tuple[str, ...]) -> Any:
    for key in where:
        artifact = artifact.get(key) if isinstance(artifact, dict) else None
    return artifact


def _check_identity(sources: list[Source]) -> list[str]:
    for where, name in IDENTITY:
        values = {}
        for source in sources:
            values.setdefault(json.dumps(_field(source.artifact, where)), []).append(str(source.path))
        if len(values) > 1:
            found = "; ".join(f"{json.loads(v)} in {', '.join(files)}" for v, files in values.items())
            raise QbenchMergeError(f"qbench merge: the artifacts are not of one run: {name} differs ({found})")
    selections = {json.dumps(s.artifact["run"]["selected"]): s for s in sources}
    if len(selections) > 1:
        files = ", ".join(str(s.path) for s in selections.values())
        raise QbenchMergeError(
            f"qbench merge: the artifacts selected different cases ({files}): shards must be run with the same"
            " tests, -k and -m, and differ only in --qbench-shard"
        )
    return sources[0].artifact["run"]["selected"]


def merge(paths: list[Path]) -> Merged:
    if not paths:
        raise QbenchMergeError("qbench merge: no artifacts given")
    sources = [load(p) for p in paths]
    selected = _check_identity(sources)
    seen: dict[tuple[str, str], Path] = {}
    results, environments = [], {}
    for source in sources:
        environments.setdefault(source.hardware_key, source.artifact["environment"])
        for case in source.artifact["cases"]:
            result = CaseResult.from_json(case)
            result.hardware_key = result.hardware_key or source.hardware_key
            key = (result.nodeid, result.hardware_key)
            if key in seen:
                raise QbenchMergeError(
                    f"qbench merge: {result.nodeid} on {result.hardware_key} is in both {seen[key]} and {source.path}:"
                    " the same shard given twice, or shards of different --qbench-shard counts"
                )
            seen[key] = source.path
            results.append(result)
    missing = {
        key: sorted(set(selected) - {r.nodeid for r in results if r.hardware_key == key}) for key in environments
    }
    missing = {key: ids for key, ids in missing.items() if ids}
    failing = any(r.verdict in FAILING and not r.expected_failure for r in results)
    verdict = "fail" if failing or missing else "pass"
    exit_code = 1 if verdict == "fail" else 0
    artifact = build_artifact(sources[0].artifact["environment"], results, {"shard": None, "selected": selected})
    artifact["merge"] = {
        "sources": [{"file": str(s.path), "shard": s.artifact["run"]["shard"], "hardware_key": s.hardware_key,
                     "cases": len(s.artifact["cases"])} for s in sources],
        "environments": environments, "missing": missing, "verdict": verdict, "exit_code": exit_code,
    }
    return Merged(artifact, results, environments, missing, verdict, exit_code)


def markdown(merged: Merged) -> str:
    """The report of each hardware key, with what is missing."""
    from ..report.text import markdown as report

    parts = [f"# pytest-qbench: merged verdict **{merged.verdict}**"]
    for key, environment in merged.environments.items():
        text = report([r for r in merged.results if r.hardware_key == key], environment)
        text = re.sub(r"(?m)^(#+) ", r"#\1 ", text)  # one level down, under the key's heading
        parts.append(text.replace("## pytest-qbench report", f"## Hardware key `{key}`", 1))
        if key in merged.missing:
            parts.append("Missing (selected, not run by any shard):\n" + "\n".join(f"* `{n}`" for n in merged.missing[key]))
    return "\n\n".join(parts) + "\n"


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
