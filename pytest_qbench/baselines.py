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
              "optimized": {"mean_ms": 9.96, "p50_ms": ..., "p90_ms": ..., "p99_ms": ..., "throughput": 100.47},
              "original": {...},
              "speedup": {"ci_high": 4.71, "ci_low": 4.6, "value": 4.66}
            },
            "model": "<model id or path>",
            "parameters": {<the variant: VariantSpec.to_dict()>}
          }
        }
      },
      "schema_version": 1,
      "test": "<test key>"
    }

Sorted keys, indent 2, a trailing newline, measured numbers rounded to 6 significant digits: a
re-run that measured the same accuracy rewrites nothing, and a change reads as a short PR diff.

`stage` collects entries in memory; `flush` writes each touched file once, atomically, after
re-reading it under a file lock and merging: concurrent writers (xdist workers, two jobs on one
checkout) keep each other's cases, and entries that did not run are never rewritten or deleted.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from filelock import FileLock

from .atomic import atomic_write_text
from .results import AccuracyResult, CaseResult, LatencyStats

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)
UPDATE_COMMAND = "pytest --qbench --qbench-update-baselines"
ACCURACY_METRICS = ("precision", "recall", "f1", "accuracy")
LATENCY_METRICS = ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "throughput")

CaseKey = tuple[str, str, str]  # (test, case id, hardware key)


class QbenchBaselineError(RuntimeError):
    """A baseline file that cannot be read or merged; the message names the file and the fix."""


@dataclass(frozen=True)
class BaselineMatch:
    """What `lookup` found for one case on this machine."""

    path: Path
    hardware_key: str  # this machine's
    entry: dict[str, Any] | None  # None: no baseline for the case under any hardware key
    entry_hardware_key: str | None  # the key `entry` was recorded under

    @property
    def hardware_match(self) -> bool:
        return self.entry is not None and self.entry_hardware_key == self.hardware_key


@dataclass(frozen=True)
class FlushReport:
    created: list[CaseKey]
    updated: list[CaseKey]
    unchanged: list[CaseKey]


def file_stem(test: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", test.replace("::", "--").replace("/", "."))


def entry_from_result(result: CaseResult) -> dict[str, Any]:
    """The baseline entry of a successful measurement, normalised to what JSON reads back."""
    if result.accuracy_original is None or result.accuracy_optimized is None or result.latency is None:
        raise ValueError(f"qbench: case {result.case_id} has no complete measurement to store as a baseline")
    speedup = result.latency.speedup
    entry = {
        "model": result.model,
        "parameters": result.variant,
        "accuracy": {
            "original": _accuracy(result.accuracy_original),
            "optimized": _accuracy(result.accuracy_optimized),
        },
        "latency": {
            "original": _latency(result.latency.original),
            "optimized": _latency(result.latency.optimized),
            "speedup": {k: _round(k, getattr(speedup, k)) for k in ("value", "ci_low", "ci_high")},
        },
    }
    return json.loads(json.dumps(entry))


def _accuracy(acc: AccuracyResult) -> dict[str, float]:
    return {k: _round(k, getattr(acc, k)) for k in ACCURACY_METRICS}


def _latency(stats: LatencyStats) -> dict[str, float]:
    return {k: _round(k, getattr(stats, k)) for k in LATENCY_METRICS}


def _round(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"qbench: {name} is {value}; a baseline needs a finite number")
    return float(f"{value:.6g}")


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _empty(test: str) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "test": test, "cases": {}}


def _read(path: Path, test: str) -> dict[str, Any]:
    if not path.exists():
        return _empty(test)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QbenchBaselineError(
            f"qbench: baseline file {path} is not valid JSON ({exc}); it was left untouched: restore it"
            f" from version control, or delete it and re-create it with `{UPDATE_COMMAND}`"
        ) from None
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))
        raise QbenchBaselineError(
            f"qbench: baseline file {path} has schema_version {version!r}; this pytest-qbench reads"
            f" schema_version {supported} only: upgrade pytest-qbench, or re-create the file with `{UPDATE_COMMAND}`"
        )
    if not isinstance(doc.get("cases"), dict):
        raise QbenchBaselineError(f"qbench: baseline file {path} has no 'cases' object; it was left untouched")
    if doc.get("test") != test:
        raise QbenchBaselineError(
            f"qbench: baseline file {path} holds the baselines of test {doc.get('test')!r}, not {test!r}:"
            " the two test keys map to one file name; rename one of the tests"
        )
    return doc


def _lock(path: Path) -> FileLock:
    # Lock files live in the temp folder: beside the baselines they would show up as untracked files
    # in the reviewed folder.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "pytest-qbench-locks"
    folder.mkdir(exist_ok=True)
    return FileLock(str(folder / f"{digest}.lock"))


class BaselineStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._docs: dict[Path, dict[str, Any]] = {}  # files read so far, loaded on first use
        self._staged: dict[Path, tuple[str, dict[tuple[str, str], dict[str, Any]]]] = {}

    def path_for(self, test: str) -> Path:
        return self.root / f"{file_stem(test)}.json"

    def lookup(self, test: str, case_id: str, hardware_key: str) -> BaselineMatch:
        """The case's entry for this hardware key; failing that, the entry of the alphabetically first
        other key (accuracy does not depend on the CPU; latency checks skip on the mismatch)."""
        path = self.path_for(test)
        by_hardware = self._doc(test, path)["cases"].get(case_id, {})
        key = hardware_key if hardware_key in by_hardware else min(by_hardware, default=None)
        return BaselineMatch(path, hardware_key, by_hardware.get(key), key)

    def stage(self, test: str, case_id: str, hardware_key: str, result: CaseResult) -> None:
        """Queue the result's measurement as the case's new baseline; `flush` writes it."""
        path = self.path_for(test)
        entries = self._staged.setdefault(path, (test, {}))[1]
        entries[(case_id, hardware_key)] = entry_from_result(result)

    def flush(self) -> FlushReport:
        report = FlushReport([], [], [])
        for path in list(self._staged):
            test, entries = self._staged[path]
            with _lock(path):
                doc = _read(path, test)
                changed = False
                for (case_id, hardware_key), entry in entries.items():
                    old = doc["cases"].setdefault(case_id, {}).get(hardware_key)
                    bucket = report.created if old is None else report.unchanged if old == entry else report.updated
                    bucket.append((test, case_id, hardware_key))
                    doc["cases"][case_id][hardware_key] = entry
                    changed = changed or old != entry
                if changed:
                    atomic_write_text(path, _dumps(doc))
            self._docs[path] = doc
            del self._staged[path]
        return report

    def write_obtained(self, test: str, case_id: str, hardware_key: str, result: CaseResult) -> Path:
        """Write the measurement beside the baseline as `<stem>.obtained.json`, in the baseline
        format, for review: diff it against the baseline, or copy the entry over.

        Merged like `flush`; an entry from an earlier run stays until its case fails again."""
        path = self.path_for(test).with_suffix(".obtained.json")
        with _lock(path):
            doc = _read(path, test)
            doc["cases"].setdefault(case_id, {})[hardware_key] = entry_from_result(result)
            atomic_write_text(path, _dumps(doc))
        return path

    def unused(self, used: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """(test, case id) entries stored for the tests that ran whose case did not run.

        Files of tests that did not run at all are not reported: a `-k` or path selection leaves them
        out on purpose. An entry counts as used whatever hardware key it was recorded under."""
        used = set(used)
        return [
            (test, case_id)
            for test in sorted({test for test, _ in used})
            for case_id in sorted(self._doc(test, self.path_for(test))["cases"])
            if (test, case_id) not in used
        ]

    def _doc(self, test: str, path: Path) -> dict[str, Any]:
        if path not in self._docs:
            self._docs[path] = _read(path, test)
        return self._docs[path]
