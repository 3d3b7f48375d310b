"""An append-only history of runs: one artifact per run under a folder, and a small index.

`--qbench-history DIR` (or `python -m pytest_qbench history add ART --dir DIR`) copies the run's
artifact to `DIR/runs/<created>-<commit>-<hardware key>.json`, never over an existing file, and
rewrites `DIR/index.json` (atomically) to list every run, oldest first. The HTML report reads it back
to draw each case's CPU-time speedup over the runs and to mark a step change.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

from ..atomic import atomic_write_text
from ..results import LatencyRun
from .artifact import recorded_outcome

INDEX = "index.json"
STEP = math.log(1.10)  # a shift of the median speedup by 10% or more is a step


@dataclass(frozen=True)
class Run:
    file: str  # relative to the history folder
    created: str
    commit: str | None
    hardware_key: str
    verdict: str
    artifact: dict[str, Any]


def append(folder: Path, artifact: dict[str, Any]) -> Path:
    """Add `artifact` as a new run; returns its file."""
    env = artifact["environment"]
    runs = Path(folder) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    commit = (env.get("git_commit") or "nocommit")[:10]
    stem = re.sub(r"[^0-9A-Za-z_.+-]", "-", f"{env['created']}-{commit}-{env['hardware_key']}")
    path, n = runs / f"{stem}.json", 1
    while path.exists():  # append-only: never replace a recorded run
        n += 1
        path = runs / f"{stem}-{n}.json"
    atomic_write_text(path, json.dumps(artifact, sort_keys=True) + "\n")
    entries = _index(Path(folder))
    verdict = recorded_outcome(artifact).verdict
    entries.append({"file": path.relative_to(folder).as_posix(), "created": env["created"],
                    "commit": env.get("git_commit"), "hardware_key": env["hardware_key"], "verdict": str(verdict),
                    "cases": len(artifact["cases"])})
    entries.sort(key=lambda e: (e["created"], e["file"]))
    atomic_write_text(Path(folder) / INDEX, json.dumps({"runs": entries}, indent=1) + "\n")
    return path


def _index(folder: Path) -> list[dict[str, Any]]:
    path = folder / INDEX
    return json.loads(path.read_text(encoding="utf-8"))["runs"] if path.is_file() else []


def load(folder: Path) -> list[Run]:
    """Every recorded run, oldest first; an empty folder has none."""
    return [
        Run(e["file"], e["created"], e["commit"], e["hardware_key"], e["verdict"],
            json.loads((Path(folder) / e["file"]).read_text(encoding="utf-8")))
        for e in _index(Path(folder))
    ]


def series(runs: Sequence[Run]) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(case, hardware key) -> [(index of the run, CPU-time speedup)], oldest first; a case is its
    node id without the file path."""
    lines: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for index, run in enumerate(runs):
        for case in run.artifact["cases"]:
            if case.get("latency"):
                key = (case["nodeid"].split("::")[-1], case.get("hardware_key") or run.hardware_key)
                lines.setdefault(key, []).append((index, case["latency"]["cpu"]["speedup"]["value"]))
    return lines


def latency_runs(runs: Sequence[Run], hardware_key: str, cpu_model: str) -> dict[tuple[str, str], list[LatencyRun]]:
    """(test, case id) -> the CPU-time figures of that case in each of `runs` measured under `hardware_key` on
    `cpu_model`, as a baseline keeps its runs: what the latency gate learns the between-run spread and each
    case's speed line from, besides the baselines (pipeline.py `latency_gate_for`)."""
    found: dict[tuple[str, str], list[LatencyRun]] = {}
    for run in runs:
        environment = run.artifact["environment"]
        if environment.get("hardware_key") != hardware_key or environment.get("cpu_model") != cpu_model:
            continue
        for case in run.artifact["cases"]:
            if case.get("latency") and case.get("run_id"):
                cpu = case["latency"]["cpu"]
                speedup = cpu["speedup"]
                found.setdefault((case["test"], case["id"]), []).append(LatencyRun(
                    cpu_model, speedup["value"], speedup["ci_low"], speedup["ci_high"], cpu["original_ms"],
                    cpu["optimized_ms"], case["run_id"], run.created))
    return found


def step(values: Sequence[float], min_side: int = 2) -> int | None:
    """Where the series shifts, if it does: the single change point that best splits the log values
    (largest n1·n2/n · (mean after − mean before)², each side at least `min_side` runs), reported when
    the median moves by `STEP` or more across it; else None."""
    logs = [math.log(v) for v in values]
    n, best, where = len(logs), 0.0, None
    for cut in range(min_side, n - min_side + 1):
        before, after = logs[:cut], logs[cut:]
        score = len(before) * len(after) / n * (sum(after) / len(after) - sum(before) / len(before)) ** 2
        if score > best:
            best, where = score, cut
    if where is None or abs(median(logs[where:]) - median(logs[:where])) < STEP:
        return None
    return where
