"""The JSON artifact of a session: environment and per-case results, checked against
`schema/artifact.schema.json` (JSON Schema draft 2020-12) before it is written and after it is read."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from ..atomic import atomic_write_text
from ..errors import QbenchArtifactError
from ..gate.rules import RunOutcome
from ..results import ArtifactFile, CaseResult, Check, Environment, RunRecord

if TYPE_CHECKING:
    from ..gate.merge import Merged

# What each version changed, and the optional fields added within one: CHANGELOG.md, "File formats".
ARTIFACT_SCHEMA_VERSION = 6
SCHEMA_PATH = Path(__file__).parents[1] / "schema" / "artifact.schema.json"


def build_artifact(environment: Environment, results: list[CaseResult], run: RunRecord | None = None) -> dict[str, Any]:
    """`run`: what a merge checks the shards against; by default unsharded, the cases given."""
    run = run or RunRecord(shard=None, selected=tuple(sorted({r.nodeid for r in results})))
    return {
        "schema_version": ARTIFACT_SCHEMA_VERSION,
        "environment": environment.to_json(),
        "run": run.to_json(),
        "cases": [result.to_json() for result in results],
    }


def validate_artifact(artifact: dict[str, Any]) -> None:
    error = jsonschema.exceptions.best_match(_validator().iter_errors(artifact))
    if error is not None:
        raise QbenchArtifactError(f"qbench: invalid artifact at {_where(error.absolute_path)}: {error.message}")
    # JSON has no NaN or infinity, and the schema's number type lets Python's through.
    for path, value in _floats(artifact, ()):
        if not math.isfinite(value):
            raise QbenchArtifactError(f"qbench: invalid artifact at {_where(path)}: {value} is not a JSON number")


def merged_artifact(merged: Merged) -> dict[str, Any]:
    """The artifact of a merge (gate/merge.py): the first artifact's environment, every case, and a
    "merge" object recording the sources, each hardware key's environment and what is missing. Its
    run keeps the keys of the first artifact's that this version does not know, as its environment does."""
    run = merged.settings.record(RunRecord(None, tuple(merged.selected), other=merged.files[0].run.other))
    artifact = build_artifact(merged.environment, merged.results, run)
    artifact["merge"] = merged.record()
    artifact["run_checks"] = [c.to_json() for c in merged.run_checks]
    return artifact


def recorded_outcome(artifact: dict[str, Any]) -> RunOutcome:
    """The outcome a valid artifact records: its cases, its run's own checks, and whether it was strict
    (the run's setting, or the merge's) or missed cases (a merge)."""
    merge = artifact.get("merge") or {}
    strict = merge.get("strict", bool(RunRecord.from_json(artifact["run"]).strict))
    return RunOutcome([CaseResult.from_json(case) for case in artifact["cases"]],
                      [Check(**check) for check in artifact.get("run_checks", [])], strict, bool(merge.get("missing")))


def write_artifact(path: str | Path, artifact: dict[str, Any]) -> None:
    validate_artifact(artifact)
    atomic_write_text(path, json.dumps(artifact, indent=2, sort_keys=True) + "\n")


def read_artifact(path: Path) -> ArtifactFile:
    """One artifact, read and validated; QbenchArtifactError says what is wrong with it."""
    try:
        artifact = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise QbenchArtifactError(f"qbench: cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise QbenchArtifactError(
            f"qbench: {path} is not JSON ({error}): a truncated or corrupt shard; re-run that shard"
        ) from None
    version = artifact.get("schema_version") if isinstance(artifact, dict) else None
    if isinstance(version, int) and version > ARTIFACT_SCHEMA_VERSION:
        raise QbenchArtifactError(
            f"qbench: {path} has schema_version {version}, newer than this pytest-qbench's {ARTIFACT_SCHEMA_VERSION}:"
            " read it with the pytest-qbench that made it"
        )
    try:
        validate_artifact(artifact)
    except QbenchArtifactError as error:
        raise QbenchArtifactError(
            f"qbench: {path} is not a qbench artifact of schema {ARTIFACT_SCHEMA_VERSION}: "
            f"{str(error).removeprefix('qbench: ')}"
        ) from None
    return ArtifactFile(Path(path), artifact)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _floats(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], float]]:
    if isinstance(node, float):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _floats(value, (*path, key))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _floats(value, (*path, index))


def _where(path: Any) -> str:
    return "/".join(map(str, path)) or "the top level"
