"""Baselines: the reviewed values each case is compared against, stored as JSON under a folder.

One file per test, `<root>/<test key>.json`, the test key made filename-safe ("::" becomes "--",
"/" becomes ".", any other character outside [A-Za-z0-9._-] becomes "_"):

    {
      "cases": {
        "<case id>": {
          "<hardware key>": {
            "accuracy": {
              "optimized": {"accuracy": 0.988, "f1": 0.939, "precision": 0.935, "recall": 0.943},
              "original": {"accuracy": 0.988, "f1": 0.94, "precision": 0.936, "recall": 0.944}
            },
            "latency": {
              "cpu": {
                "optimized_ms": 6.52, "original_ms": 9.81,
                "speedup": {"ci_high": 1.52, "ci_low": 1.49, "value": 1.5}
              },
              "optimized": {"mean_ms": 9.96, "p50_ms": ..., "p90_ms": ..., "p99_ms": ..., "throughput": 100.47},
              "original": {...},
              "runs": [
                {"ci_high": 1.52, "ci_low": 1.49, "cpu_model": "amd-26-2", "optimized_ms": 6.52,
                 "original_ms": 9.81, "run": "<run id>", "speedup": 1.5, "when": "2026-12-02T05:19:00+00:00"},
                ...
              ],
              "wall_speedup": {"ci_high": 1.71, "ci_low": 1.2, "value": 1.46}
            },
            "model": "<model id or path>",
            "parameters": {<the variant: VariantSpec.to_dict()>}
          }
        }
      },
      "schema_version": 4,
      "test": "<test key>"
    }

`latency` holds the last recorded run's figures and `latency.runs` the gated sample: the last
`keep_runs` runs of the case per CPU model (gate/spread.py), oldest first. An update appends its run
when the model and parameters are the ones recorded, and else starts the sample anew; the rules
also restart it when the new run differs significantly from the recorded ones (`restart`). In Python
an entry is a results.BaselineEntry, read when the policy could judge against it (`lookup`).

Sorted keys, indent 2, a trailing newline, measured numbers rounded to 6 significant digits: a
re-run that measured the same accuracy rewrites nothing, and a change reads as a short PR diff.

`stage` collects entries in memory; `flush` writes each touched file once, atomically, after
re-reading it under a file lock and merging: concurrent writers (xdist workers, two jobs on one
checkout) keep each other's cases, and entries that did not run are never rewritten or deleted.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock

from ..atomic import atomic_write_text
from ..errors import QbenchBaselineError, QbenchFlushError
from ..hardware import nearest_key
from ..results import (
    SCORES,
    AccuracyResult,
    BaselineEntry,
    BaselineRecord,
    CaseResult,
    CpuFigures,
    FlushReport,
    LatencyRecord,
    LatencyRun,
    LatencyStats,
    Scores,
    Speedup,
    SpeedupFigures,
    WallFigures,
)
from ..specs import QbenchOptions

# What each version changed: CHANGELOG.md, "File formats".
BASELINE_SCHEMA_VERSION = 4
UPDATE_COMMAND = "pytest --qbench --qbench-update-baselines"
Figures = TypeVar("Figures", Scores, WallFigures, SpeedupFigures)


def file_stem(test: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", test.replace("::", "--").replace("/", "."))


def run_from_result(result: CaseResult, when: str) -> LatencyRun:
    """What a baseline keeps of the result's latency: one run of its sample, the median of the run's
    measurements (an update's run measures each case again in fresh processes: pipeline.to_confirm)."""
    if result.latency is None:
        raise ValueError(f"qbench: case {result.case_id} has no latency measurement to store as a baseline run")
    cpu = result.latency.cpu
    return LatencyRun(
        cpu_model=result.cpu_model, speedup=_round("speedup", cpu.speedup.value),
        ci_low=_round("ci_low", cpu.speedup.ci_low), ci_high=_round("ci_high", cpu.speedup.ci_high),
        original_ms=_round("original_ms", cpu.original_ms), optimized_ms=_round("optimized_ms", cpu.optimized_ms),
        run=result.run_id, when=when,
    )


def merged_entry(old: BaselineEntry | None, new: BaselineEntry, *, restart: bool, keep: int) -> BaselineEntry:
    """`new` (one run in its sample) with the runs of `old` before it, when `old` recorded the same
    model and parameters and `restart` is not asked; each CPU model keeps its last `keep` runs, and a
    run recorded twice (the same run id) once."""
    same_setup = old is not None and (old.model, old.parameters) == (new.model, new.parameters)
    runs = [*(old.latency.runs if old is not None and same_setup and not restart else ()), *new.latency.runs]
    return replace(new, latency=replace(new.latency, runs=tuple(_last_runs(runs, keep))))


def _last_runs(runs: list[LatencyRun], keep: int) -> list[LatencyRun]:
    """Each run id once (its last recording), then each CPU model's last `keep` runs, oldest first."""
    unique: list[LatencyRun] = []
    for run in runs:
        unique = [r for r in unique if not run.run or r.run != run.run] + [run]
    surplus = Counter(r.cpu_model for r in unique)
    kept = []
    for run in unique:
        if surplus[run.cpu_model] > keep:
            surplus[run.cpu_model] -= 1
        else:
            kept.append(run)
    return kept


def entry_from_result(result: CaseResult, when: str = "") -> BaselineEntry:
    """The baseline entry of a successful measurement, its figures rounded; its latency sample holds
    this one run (`merged_entry` adds the recorded ones)."""
    if result.accuracy_original is None or result.accuracy_optimized is None or result.latency is None:
        raise ValueError(f"qbench: case {result.case_id} has no complete measurement to store as a baseline")
    latency = result.latency
    cpu = CpuFigures(_round("original_ms", latency.cpu.original_ms), _round("optimized_ms", latency.cpu.optimized_ms),
                     _rounded(SpeedupFigures, latency.cpu.speedup))
    return BaselineEntry(
        model=result.model,
        parameters=result.parameters,
        accuracy_original=_rounded(Scores, result.accuracy_original),
        accuracy_optimized=_rounded(Scores, result.accuracy_optimized),
        latency=LatencyRecord(cpu, _rounded(WallFigures, latency.original), _rounded(WallFigures, latency.optimized),
                              _rounded(SpeedupFigures, latency.wall_speedup), (run_from_result(result, when),),
                              latency.budget),
    )


def _rounded(record: type[Figures], measured: AccuracyResult | LatencyStats | Speedup) -> Figures:
    """A baseline's `record` of the `measured` figures of the same names, rounded."""
    return record(**{f.name: _round(f.name, getattr(measured, f.name)) for f in fields(record)})


def _round(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"qbench: {name} is {value}; a baseline needs a finite number")
    return float(f"{value:.6g}")


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _empty(test: str) -> dict[str, Any]:
    return {"schema_version": BASELINE_SCHEMA_VERSION, "test": test, "cases": {}}


class _NotANumber(ValueError):
    pass


def _no_constant(name: str) -> Any:
    # Python reads NaN and Infinity, JSON has neither: such a file could not be written back.
    raise _NotANumber(name)


def _read(path: Path, test: str) -> dict[str, Any]:
    try:
        if not path.exists():
            return _empty(test)
        doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except OSError as exc:  # a folder of that name, no read permission, a name too long...
        raise QbenchBaselineError(f"qbench: baseline file {path} cannot be read ({exc})") from None
    except _NotANumber as exc:
        raise QbenchBaselineError(
            f"qbench: baseline file {path} holds {exc}, which is not a JSON number; it was left untouched:"
            f" restore it from version control, or delete it and re-create it with `{UPDATE_COMMAND}`"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise QbenchBaselineError(
            f"qbench: baseline file {path} is not valid JSON ({type(exc).__name__}: {exc}); it was left untouched:"
            f" restore it from version control, or delete it and re-create it with `{UPDATE_COMMAND}`"
        ) from None
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if version != BASELINE_SCHEMA_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > BASELINE_SCHEMA_VERSION
        fix = (
            "upgrade pytest-qbench, or re-create the file with" if newer
            else "it is from an older pytest-qbench (whose hardware keys, parameters or latency fields"
            " differ) or not a baseline file: delete it, then re-create it with"
        )
        raise QbenchBaselineError(
            f"qbench: baseline file {path} has schema_version {version!r}; this pytest-qbench reads"
            f" schema_version {BASELINE_SCHEMA_VERSION} only: {fix} `{UPDATE_COMMAND}`"
        )
    cases = doc.get("cases")
    bad = "has no 'cases' object" if not isinstance(cases, dict) else next(
        (f"has case {case_id!r} whose entries are not objects keyed by hardware key"
         for case_id, by_key in cases.items()
         if not isinstance(by_key, dict) or not all(isinstance(e, dict) for e in by_key.values())),
        None,
    )
    if bad:
        raise QbenchBaselineError(
            f"qbench: baseline file {path} {bad}; it was left untouched: restore it from version control,"
            f" or delete it and re-create it with `{UPDATE_COMMAND}`"
        )
    if doc.get("test") != test:
        raise QbenchBaselineError(
            f"qbench: baseline file {path} holds the baselines of test {doc.get('test')!r}, not {test!r}:"
            " the two test keys map to one file name; rename one of the tests"
        )
    read: dict[str, Any] = doc  # a dict: the schema_version check above rejects anything else
    return read


_WALL = tuple(f.name for f in fields(WallFigures))
_SPEEDUP = tuple(f.name for f in fields(SpeedupFigures))
_ENTRY_NUMBERS = (  # (where, names, positive: the rules divide by them or take their log)
    ("accuracy.original", SCORES, False),
    ("accuracy.optimized", SCORES, False),
    ("latency.original", _WALL, False),
    ("latency.optimized", _WALL, False),
    ("latency.cpu", ("original_ms", "optimized_ms"), True),
    ("latency.cpu.speedup", _SPEEDUP, True),
    ("latency.wall_speedup", _SPEEDUP, True),
)


def _entry_problem(entry: dict[str, Any]) -> str | None:
    """What the rules would trip over in a stored entry (hand edits, merge conflicts), or None."""
    if not isinstance(entry.get("model"), str):
        return "has no 'model' string"
    if not isinstance(entry.get("parameters"), dict):
        return "has no 'parameters' object"
    for where, names, positive in _ENTRY_NUMBERS:
        node: Any = entry
        for part in where.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return f"has no {where!r} object"
        for name in names:
            value = node.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"has {where}.{name} = {value!r}, not a finite number"
            if positive and value <= 0:
                return f"has {where}.{name} = {value!r}, not a positive number"
    return _runs_problem(entry["latency"].get("runs"))


def _entry(recorded: dict[str, Any] | None) -> BaselineEntry | None:
    """A stored entry, when it holds what the rules compare."""
    return None if recorded is None or _entry_problem(recorded) else BaselineEntry.from_json(recorded)


def _runs_problem(runs: Any) -> str | None:
    if not isinstance(runs, list) or not runs:
        return "has latency.runs that is not a non-empty list of runs"
    for index, run in enumerate(runs):
        try:
            found = LatencyRun(**run)
        except TypeError:
            return f"has latency.runs[{index}] = {run!r}, not a recorded run"
        numbers = (found.speedup, found.ci_low, found.ci_high, found.original_ms, found.optimized_ms)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                   for v in numbers):
            return f"has latency.runs[{index}] with a number that is not finite and positive"
    return None


def _write(path: Path, doc: dict[str, Any]) -> None:
    try:
        atomic_write_text(path, _dumps(doc))
    except OSError as exc:  # disk full, read-only folder, a file where the folder should be...
        raise QbenchBaselineError(
            f"qbench: could not write baseline file {path} ({exc}); any old file is unchanged"
        ) from None


def _remove_stale_temp_files(path: Path) -> None:
    """Temp files of `path` left by a killed writer (SIGKILL, power loss); call under the file's
    lock, which every writer of `path` holds while its temp file exists."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)


def _lock(path: Path) -> FileLock:
    # Lock files live in the temp folder: beside the baselines they would show up as untracked files
    # in the reviewed folder.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "pytest-qbench-locks"
    folder.mkdir(exist_ok=True)
    return FileLock(str(folder / f"{digest}.lock"))


@dataclass(frozen=True)
class _Staged:
    entry: BaselineEntry
    restart: bool  # start the latency sample anew with this run


class BaselineStore:
    def __init__(self, root: str | Path, keep_runs: int = QbenchOptions.baseline_runs) -> None:
        self.root = Path(root)
        self.keep_runs = keep_runs
        self._docs: dict[Path, dict[str, Any]] = {}  # files read so far, loaded on first use
        self._staged: dict[Path, tuple[str, dict[tuple[str, str], _Staged]]] = {}
        self._seeded: set[Path] = set()

    def path_for(self, test: str) -> Path:
        return self.root / f"{file_stem(test)}.json"

    def lookup(self, test: str, case_id: str, hardware_key: str, *, check_entry: bool = True) -> BaselineRecord:
        """The case's entry for this hardware key; failing that, the entry of the nearest key
        (hardware.nearest_key: the same architecture, the nearest int8 tier): accuracy is compared
        across keys within its tolerance, which covers how int8 kernels differ between CPU classes
        (docs/RESULTS.md); latency checks skip on the mismatch, and the reports show that key's speedups.

        With `check_entry`, an entry missing a value the rules compare is a QbenchBaselineError; without
        (an update, which replaces it), such an entry is no baseline."""
        path = self.path_for(test)
        by_hardware = self._doc(test, path)["cases"].get(case_id, {})
        key = hardware_key if hardware_key in by_hardware else nearest_key(hardware_key, by_hardware)
        entry = by_hardware.get(key)
        problem = None if entry is None else _entry_problem(entry)
        if problem and check_entry:
            raise QbenchBaselineError(
                f"qbench: baseline file {path}: the entry of case {case_id!r} under hardware key {key!r}"
                f" {problem}; it was left untouched: restore it from version control, or re-create it with"
                f" `{UPDATE_COMMAND}`"
            )
        values = _entry(entry)
        return BaselineRecord(str(path), key, values is not None and key == hardware_key, values)

    def seed(self, source: Path) -> None:
        """Start this store's file of the same name from a copy of `source` (another store's file),
        once per store: a proposal then keeps the entries of the other hardware keys, and a file
        left by an earlier run is replaced, not merged."""
        target = self.root / source.name
        if target in self._seeded:
            return
        self._seeded.add(target)
        if source.is_file():
            atomic_write_text(target, source.read_text(encoding="utf-8"))
        else:
            target.unlink(missing_ok=True)

    def stage(self, test: str, case_id: str, hardware_key: str, result: CaseResult, *, when: str = "",
              restart: bool = False) -> None:
        """Queue the result's measurement as the case's new baseline, its latency one more run of the
        recorded sample (or the first of a new one with `restart`); `flush` writes it. Results of one
        case staged one after another (runs of a merge) each add their run."""
        path = self.path_for(test)
        entries = self._staged.setdefault(path, (test, {}))[1]
        new, earlier = entry_from_result(result, when), entries.get((case_id, hardware_key))
        if earlier is not None:
            new = merged_entry(earlier.entry, new, restart=restart, keep=self.keep_runs)
            restart = earlier.restart or restart  # the file's older runs go when any run of the merge restarts
        entries[(case_id, hardware_key)] = _Staged(new, restart)

    def flush(self) -> FlushReport:
        """Write every staged file. A file that cannot be read or written keeps its old contents and
        its entries stay staged; the others are still written, then QbenchFlushError names the
        failures (its `report` says what the others got)."""
        report = FlushReport([], [], [])
        errors = []
        for path in list(self._staged):
            test, entries = self._staged[path]
            done = FlushReport([], [], [])
            try:
                with _lock(path):
                    _remove_stale_temp_files(path)
                    doc = _read(path, test)
                    changed = False
                    for (case_id, hardware_key), staged in entries.items():
                        old = doc["cases"].setdefault(case_id, {}).get(hardware_key)
                        merged = merged_entry(_entry(old), staged.entry, restart=staged.restart, keep=self.keep_runs)
                        entry = merged.to_json()
                        bucket = done.created if old is None else done.unchanged if old == entry else done.updated
                        bucket.append((test, case_id, hardware_key))
                        doc["cases"][case_id][hardware_key] = entry
                        changed = changed or old != entry
                    if changed:
                        _write(path, doc)
            except QbenchBaselineError as error:
                errors.append(str(error))
                continue
            except OSError as error:  # the lock folder
                errors.append(f"qbench: could not write baseline file {path} ({error}); any old file is unchanged")
                continue
            for name in ("created", "updated", "unchanged"):
                getattr(report, name).extend(getattr(done, name))
            self._docs[path] = doc
            del self._staged[path]
        if errors:
            raise QbenchFlushError("\n".join(errors), report)
        return report

    def write_obtained(self, test: str, case_id: str, hardware_key: str, result: CaseResult) -> Path:
        """Write the measurement beside the baseline as `<stem>.obtained.json`, in the baseline
        format, for review: diff it against the baseline, or copy the entry over.

        Merged like `flush`; an entry from an earlier run stays until its case fails again."""
        path = self.path_for(test).with_suffix(".obtained.json")
        with _lock(path):
            _remove_stale_temp_files(path)
            doc = _read(path, test)
            doc["cases"].setdefault(case_id, {})[hardware_key] = entry_from_result(result).to_json()
            _write(path, doc)
        return path

    def unused(self, used: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """(test, case id) entries stored for the tests that ran whose case did not run.

        Files of tests that did not run at all are not reported: a `-k` or path selection leaves them
        out on purpose. An entry counts as used whatever hardware key it was recorded under."""
        used = set(used)
        unused = []
        for test in sorted({test for test, _ in used}):
            try:
                cases = self._doc(test, self.path_for(test))["cases"]
            except QbenchBaselineError:  # unreadable: its cases already failed saying so
                continue
            unused += [(test, case_id) for case_id in sorted(cases) if (test, case_id) not in used]
        return unused

    def samples(self, hardware_key: str) -> dict[tuple[str, str], list[LatencyRun]]:
        """Every (test, case id)'s latency runs under `hardware_key`, in every baseline file of the
        folder: what the between-run spread of the key is pooled from. Unreadable files are left out
        (their own cases fail saying why)."""
        found = {}
        for path in sorted(self.root.glob("*.json")):
            if path.name.endswith(".obtained.json"):
                continue
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                test, cases = doc["test"], doc["cases"]
                for case_id, by_key in cases.items():
                    entry = _entry(by_key.get(hardware_key))
                    if entry is not None:
                        found[(test, case_id)] = list(entry.latency.runs)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
        return found

    def _doc(self, test: str, path: Path) -> dict[str, Any]:
        if path not in self._docs:
            self._docs[path] = _read(path, test)
        return self._docs[path]
