"""One verdict from many artifacts: the shards of a run, on one or more classes of runner.

`python -m pytest_qbench merge ART... -o merged.json` reads the artifacts (report/artifact.py), merges
them here, and writes the merged artifact and reports (report/): `merge` checks that the artifacts
belong to one run (commit, pytest-qbench and onnxruntime versions, the same case selection, the same
run settings: the run's check and --qbench-strict judge the merge as they judged the run), refuses
an artifact given twice (or a case reported twice by one run), combines the repeats of a case by
different runs (a confirmation on another VM: rejudge.confirmed judges their combined estimate), finds
the cases pytest skipped (they ran: not missing) and those no shard ran, groups the results by
hardware key and recomputes the verdict, with the run's own checks of the CPU time per call
(latency_stats.run_checks: a slowdown common to every case, a case slower beyond it);
`write_baselines` writes the baselines on request: the merge is the only step of a sharded run that
writes them.

`to_confirm` lists the cases a confirmation job measures again: those whose latency check failed or
was inconclusive (`pytest --qbench --qbench-rerun-from MERGED`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import QbenchMergeError
from ..results import ArtifactFile, CaseResult, Check, Environment, Status
from ..specs import RunSettings
from .rules import RunOutcome

# What must agree for artifacts to be shards of one run: (where in the artifact, what to call it).
IDENTITY = (
    (("environment", "git_commit"), "commit"),
    (("environment", "qbench_version"), "pytest-qbench version"),
    (("environment", "libraries", "onnxruntime"), "onnxruntime version"),
)
@dataclass(frozen=True)
class Merged:
    files: list[ArtifactFile]  # the artifacts merged, in the order given
    selected: list[str]  # node ids of the cases the run selected (every shard's)
    results: list[CaseResult]  # one per case and hardware key, repeats combined
    environments: dict[str, Environment]  # hardware key -> the environment of its first artifact
    missing: dict[str, list[str]]  # hardware key -> node ids selected that no shard ran
    skipped: dict[str, list[str]]  # hardware key -> node ids pytest skipped in the shard that ran them, no result
    settings: RunSettings  # what the run judged with, as its artifacts record it
    run_checks: list[Check] = field(default_factory=list)  # per hardware key: latency_stats.run_checks
    strict: bool = False  # inconclusive and not-gated latency failed the verdict (the run's setting, or merge --strict)
    measured: list[CaseResult] = field(default_factory=list)  # every run's result of every case, repeats apart

    @property
    def outcome(self) -> RunOutcome:
        return RunOutcome(self.results, self.run_checks, self.strict, missing=bool(self.missing))

    @property
    def verdict(self) -> Status:
        return self.outcome.verdict

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    @property
    def environment(self) -> Environment:
        """The environment the merged artifact records: the first artifact's."""
        return self.files[0].environment

    def record(self) -> dict[str, Any]:
        """What the merged artifact records of the merge itself (its "merge" object)."""
        return {
            "sources": [{"file": str(f.path), "shard": f.run.shard, "hardware_key": f.hardware_key,
                         "cases": len(f.artifact["cases"])} for f in self.files],
            "environments": {key: e.to_json() for key, e in self.environments.items()},
            "missing": self.missing, "skipped": self.skipped,
            "verdict": str(self.verdict), "exit_code": self.exit_code, "strict": self.strict,
            "confirmed": sorted(r.nodeid for r in self.results if r.confirmed_by),
        }

    def lines(self) -> list[str]:
        """What the merge says on the terminal."""
        lines = []
        for key in self.environments:
            cases = [r for r in self.results if r.hardware_key == key]
            failed = [r for r in cases if r.failing]
            lines.append(f"{key}: {len(cases)} cases, {len(failed)} failing, {len(self.skipped.get(key, []))} skipped,"
                         f" {len(self.missing.get(key, []))} missing")
            lines += [f"  failing: {r.nodeid}" for r in failed]
            lines += [f"  missing: {nodeid}" for nodeid in self.missing.get(key, [])]
            lines += [f"  confirmed by {len(r.confirmed_by)} more run(s): {r.nodeid}: {r.verdict}"
                      for r in cases if r.confirmed_by]
            if self.strict:
                lines += [f"  strict: {r.nodeid}: {_undecided(r)}" for r in cases if r.undecided]
        lines.append(self._settings_line())
        lines += [f"run check: {c}" for c in self.run_checks]
        return lines + [f"verdict: {self.verdict}"]

    def _settings_line(self) -> str:
        settings = self.settings
        line = (f"run settings: speedup rtol {settings.speedup_rtol:g}, false-alarm rate {settings.false_alarm_rate:g}"
                f"{', strict' if settings.strict else ''}")
        everything = {f.name for f in fields(RunSettings)}
        unrecorded = [str(f.path) for f in self.files if RunSettings.recorded(f.run).keys() != everything]
        return f"{line} (the defaults where {', '.join(unrecorded)} do not record them)" if unrecorded else line


def _field(artifact: dict[str, Any], where: tuple[str, ...]) -> Any:
    found: Any = artifact
    for key in where:
        found = found.get(key) if isinstance(found, dict) else None
    return found


def _check_identity(files: list[ArtifactFile]) -> list[str]:
    for where, name in IDENTITY:
        values: dict[str, list[str]] = {}
        for file in files:
            values.setdefault(json.dumps(_field(file.artifact, where)), []).append(str(file.path))
        if len(values) > 1:
            found = "; ".join(f"{json.loads(v)} in {', '.join(paths)}" for v, paths in values.items())
            raise QbenchMergeError(f"qbench merge: the artifacts are not of one run: {name} differs ({found})")
    runs: dict[tuple[Any, Any], Path] = {}
    for file in files:
        run = (file.run_id, file.run.shard)
        if run in runs:
            raise QbenchMergeError(f"qbench merge: {file.path} and {runs[run]} are the same artifact (run"
                                   f" {run[0]}, shard {run[1]}): give each once")
        runs[run] = file.path
    selections = {f.run.selected: f for f in files}
    if len(selections) > 1:
        paths = ", ".join(str(f.path) for f in selections.values())
        raise QbenchMergeError(
            f"qbench merge: the artifacts selected different cases ({paths}): shards must be run with the same"
            " tests, -k and -m, and differ only in --qbench-shard (a confirmation run takes its selection from"
            " --qbench-rerun-from)"
        )
    return list(files[0].run.selected)


def _run_settings(files: list[ArtifactFile]) -> RunSettings:
    """The settings the run judged with, the same in every artifact; one that an artifact does not
    record (an older pytest-qbench's) is the default."""
    recorded = [(file.path, RunSettings.recorded(file.run)) for file in files]
    for name in (f.name for f in fields(RunSettings)):
        values: dict[Any, list[str]] = {}
        for path, settings in recorded:
            note = "" if name in settings else " (not recorded: the default)"
            values.setdefault(settings.get(name, getattr(RunSettings, name)), []).append(f"{path}{note}")
        if len(values) > 1:
            found = "; ".join(f"{value} in {', '.join(paths)}" for value, paths in values.items())
            raise QbenchMergeError(
                f"qbench merge: the artifacts were judged with different settings: {name} differs ({found}); run every"
                f" shard and confirmation with the same qbench_{name} setting"
            )
    return RunSettings(**recorded[0][1])


def merge(files: list[ArtifactFile], *, strict: bool = False) -> Merged:
    """One verdict from the artifacts `files` (read with report.artifact.read_artifact), judged with the
    settings they record; with `strict` (or a strict run), an inconclusive or not-gated latency check
    fails it too."""
    from .latency_stats import run_checks
    from .rejudge import confirmed

    if not files:
        raise QbenchMergeError("qbench merge: no artifacts given")
    selected = _check_identity(files)
    settings = _run_settings(files)
    strict = strict or settings.strict
    repeats: dict[tuple[str, str], list[tuple[CaseResult, Path]]] = {}
    environments: dict[str, Environment] = {}
    for file in files:
        environments.setdefault(file.hardware_key, file.environment)
        for result in file.results():
            found = repeats.setdefault((result.nodeid, result.hardware_key), [])
            twice = next((path for r, path in found if r.run_id == result.run_id), None)
            if twice is not None:
                raise QbenchMergeError(
                    f"qbench merge: {result.nodeid} on {result.hardware_key} is in both {twice} and {file.path} of one"
                    " run: shards of different --qbench-shard counts"
                )
            found.append((result, file.path))
    results = [confirmed([r for r, _ in found], settings.speedup_rtol) if len(found) > 1 else found[0][0]
               for found in repeats.values()]
    ran = {key: {r.nodeid for r in results if r.hardware_key == key} for key in environments}
    skipped = _skipped(files, ran)
    missing = {key: sorted(set(selected) - ran[key] - set(skipped.get(key, []))) for key in environments}
    missing = {key: ids for key, ids in missing.items() if ids}
    checks = [c for key in environments for c in run_checks([r for r in results if r.hardware_key == key], settings)]
    return Merged(files, selected, results, environments, missing, skipped, settings, checks, strict,
                  [r for found in repeats.values() for r, _ in found])


def _skipped(files: list[ArtifactFile], ran: dict[str, set[str]]) -> dict[str, list[str]]:
    """Hardware key -> the cases pytest skipped in a shard of that key (pytest.skip: a hub-only case
    offline, a kernel this CPU lacks) that no run of the key measured."""
    found: dict[str, set[str]] = {}
    for file in files:
        found.setdefault(file.hardware_key, set()).update(file.run.skipped or ())
    return {key: sorted(ids - ran[key]) for key, ids in found.items() if ids - ran[key]}


def _undecided(result: CaseResult) -> str:
    """What --strict fails an undecided case for, and what to do about it."""
    if any(c.status is Status.INCONCLUSIVE for c in result.checks):
        return "inconclusive: confirm it on another machine (--qbench-rerun-from) or record more baseline runs"
    return "latency not gated on this machine: record its baseline runs (--baselines-out of an update run)"


def to_confirm(results: list[CaseResult], hardware_key: str) -> list[str]:
    """The node ids of the cases measured on `hardware_key` whose latency check failed or was
    inconclusive: what a confirmation job measures again on another machine."""
    return sorted({r.nodeid for r in results
                   if r.hardware_key == hardware_key and any(c.latency_undecided for c in r.checks)})


def durations(merged: Merged) -> dict[str, dict[str, float]]:
    """What `--qbench-shard-durations` reads: each case's seconds (the slowest runner class's)."""
    seconds: dict[str, float] = {}
    for result in merged.results:
        if result.seconds:
            seconds[result.nodeid] = round(max(seconds.get(result.nodeid, 0.0), result.seconds), 2)
    return {"durations": dict(sorted(seconds.items()))}


def write_baselines(merged: Merged, folder: Path, seed_from: Path) -> list[str]:
    """Every measured case as the baseline of its hardware key, in `folder`, each run of it one more run of
    its latency sample; files start from their versions in `seed_from` (the committed baselines), so cases
    that did not run keep their entries."""
    from .baselines import BaselineStore

    store = BaselineStore(folder)
    seeds = BaselineStore(seed_from)
    created = {file.run_id: file.environment.created for file in merged.files}
    written = []
    for result in merged.measured:
        if result.error is not None or result.latency is None:
            continue
        store.seed(seeds.path_for(result.test))
        store.stage(result.test, result.case_id, result.hardware_key, result, when=created.get(result.run_id, ""),
                    restart=result.restart_sample)
        written.append(f"{result.test} [{result.case_id}] ({result.hardware_key})")
    store.flush()
    return written
