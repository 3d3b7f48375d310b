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
              "wall_speedup": {"ci_high": 1.71, "ci_low": 1.2, "value": 1.46}
            },
            "model": "<model id or path>",
            "parameters": {<the variant: VariantSpec.to_dict()>}
          }
        }
      },
      "schema_version": 3,
      "test": "<test key>"
    }

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from filelock import FileLock

from ..atomic import atomic_write_text
from ..errors import QbenchBaselineError, QbenchFlushError
from ..results import AccuracyResult, CaseResult, FlushReport, LatencyStats, Speedup

# 2: hardware keys by int8 kernel tier (x86_64-avx512_vnni-2c, not a flag list); parameters record
# the evaluation (split, batch size, sample cap, scoring) and the saturation remedy.
# 3: latency gated on one-thread CPU time (latency.cpu); the wall-clock speedup is wall_speedup.
BASELINE_SCHEMA_VERSION = 3
SUPPORTED_BASELINE_SCHEMA_VERSIONS = (3,)
UPDATE_COMMAND = "pytest --qbench --qbench-update-baselines"
ACCURACY_METRICS = ("precision", "recall", "f1", "accuracy")
LATENCY_METRICS = ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "throughput")
SPEEDUP_FIELDS = ("value", "ci_low", "ci_high")

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


def file_stem(test: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", test.replace("::", "--").replace("/", "."))


def entry_from_result(result: CaseResult) -> dict[str, Any]:
    """The baseline entry of a successful measurement, normalised to what JSON reads back."""
    if result.accuracy_original is None or result.accuracy_optimized is None or result.latency is None:
        raise ValueError(f"qbench: case {result.case_id} has no complete measurement to store as a baseline")
    latency = result.latency
    entry = {
        "model": result.model,
        "parameters": result.variant,
        "accuracy": {
            "original": _accuracy(result.accuracy_original),
            "optimized": _accuracy(result.accuracy_optimized),
        },
        "latency": {
            "cpu": {
                "original_ms": _round("original_ms", latency.cpu.original_ms),
                "optimized_ms": _round("optimized_ms", latency.cpu.optimized_ms),
                "speedup": _speedup(latency.cpu.speedup),
            },
            "original": _latency(latency.original),
            "optimized": _latency(latency.optimized),
            "wall_speedup": _speedup(latency.wall_speedup),
        },
    }
    return json.loads(json.dumps(entry))


def _accuracy(acc: AccuracyResult) -> dict[str, float]:
    return {k: _round(k, getattr(acc, k)) for k in ACCURACY_METRICS}


def _latency(stats: LatencyStats) -> dict[str, float]:
    return {k: _round(k, getattr(stats, k)) for k in LATENCY_METRICS}


def _speedup(speedup: Speedup) -> dict[str, float]:
    return {k: _round(k, getattr(speedup, k)) for k in SPEEDUP_FIELDS}


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
    if version not in SUPPORTED_BASELINE_SCHEMA_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_BASELINE_SCHEMA_VERSIONS))
        newer = isinstance(version, int) and not isinstance(version, bool) and version > max(SUPPORTED_BASELINE_SCHEMA_VERSIONS)
        fix = (
            "upgrade pytest-qbench, or re-create the file with" if newer
            else "it is from an older pytest-qbench (whose hardware keys, parameters or latency fields"
            " differ) or not a baseline file: delete it, then re-create it with"
        )
        raise QbenchBaselineError(
            f"qbench: baseline file {path} has schema_version {version!r}; this pytest-qbench reads"
            f" schema_version {supported} only: {fix} `{UPDATE_COMMAND}`"
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
    return doc


_ENTRY_NUMBERS = (  # (where, names, positive: the policy divides by them or takes their log)
    ("accuracy.original", ACCURACY_METRICS, False),
    ("accuracy.optimized", ACCURACY_METRICS, False),
    ("latency.original", LATENCY_METRICS, False),
    ("latency.optimized", LATENCY_METRICS, False),
    ("latency.cpu", ("original_ms", "optimized_ms"), True),
    ("latency.cpu.speedup", SPEEDUP_FIELDS, True),
    ("latency.wall_speedup", SPEEDUP_FIELDS, True),
)


def _entry_problem(entry: dict[str, Any]) -> str | None:
    """What the policy would trip over in a stored entry (hand edits, merge conflicts), or None."""
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


class BaselineStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._docs: dict[Path, dict[str, Any]] = {}  # files read so far, loaded on first use
        self._staged: dict[Path, tuple[str, dict[tuple[str, str], dict[str, Any]]]] = {}
        self._seeded: set[Path] = set()

    def path_for(self, test: str) -> Path:
        return self.root / f"{file_stem(test)}.json"

    def lookup(self, test: str, case_id: str, hardware_key: str, *, check_entry: bool = True) -> BaselineMatch:
        """The case's entry for this hardware key; failing that, the entry of another key, of the same
        architecture first (then alphabetically): accuracy is compared across keys within its
        tolerance, which covers how int8 kernels differ between CPU classes (docs/RESULTS.md);
        latency checks skip on the mismatch.

        With `check_entry`, an entry missing a value the policy compares is a QbenchBaselineError."""
        path = self.path_for(test)
        by_hardware = self._doc(test, path)["cases"].get(case_id, {})
        arch = hardware_key.split("-", 1)[0]
        key = hardware_key if hardware_key in by_hardware else min(
            by_hardware, key=lambda k: (k.split("-", 1)[0] != arch, k), default=None
        )
        entry = by_hardware.get(key)
        problem = None if entry is None or not check_entry else _entry_problem(entry)
        if problem:
            raise QbenchBaselineError(
                f"qbench: baseline file {path}: the entry of case {case_id!r} under hardware key {key!r}"
                f" {problem}; it was left untouched: restore it from version control, or re-create it with"
                f" `{UPDATE_COMMAND}`"
            )
        return BaselineMatch(path, hardware_key, entry, key)

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

    def stage(self, test: str, case_id: str, hardware_key: str, result: CaseResult) -> None:
        """Queue the result's measurement as the case's new baseline; `flush` writes it."""
        path = self.path_for(test)
        entries = self._staged.setdefault(path, (test, {}))[1]
        entries[(case_id, hardware_key)] = entry_from_result(result)

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
                    for (case_id, hardware_key), entry in entries.items():
                        old = doc["cases"].setdefault(case_id, {}).get(hardware_key)
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
            doc["cases"].setdefault(case_id, {})[hardware_key] = entry_from_result(result)
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

    def _doc(self, test: str, path: Path) -> dict[str, Any]:
        if path not in self._docs:
            self._docs[path] = _read(path, test)
        return self._docs[path]
