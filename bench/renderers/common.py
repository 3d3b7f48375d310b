"""What every renderer shares: the loaded source, the run a result records, its footer, the table."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Result:
    path: str  # relative to the repository
    data: Any  # the parsed JSON, or the text of any other file


def load(repo: Path, source: str) -> Result:
    text = (repo / source).read_text()
    return Result(source, json.loads(text) if source.endswith(".json") else text)


@dataclass(frozen=True)
class Run:
    when: str
    minutes: float | None
    machine: dict[str, Any]
    load_before: Sequence[float] | None
    load_after: Sequence[float] | None
    beside: str = ""


def run_of(record: dict[str, Any]) -> Run:
    """The run of a result written through bench/run_record.py (`run_info`)."""
    return Run(record["when"], record.get("minutes"), record["machine"], record.get("load_before"),
               record.get("load_after"), record.get("beside", ""))


def cpu(machine: dict[str, Any]) -> str:
    """"AMD EPYC (amd-26-2), `x86_64-avx512_vnni-2c`": the CPU as the result recorded it."""
    model = f" ({machine['cpu_model']})" if machine.get("cpu_model") else ""
    key = machine.get("hardware_key") or machine.get("key")
    return f"{machine['brand']}{model}, `{key}`" if key else f"{machine['brand']}{model}"


def _load(load: Sequence[float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def footer(run: Run, reproduce: str, raw: str, setting: str = "") -> str:
    m = run.machine
    took = f" ({run.minutes:.1f} min)" if run.minutes is not None else ""
    cores = f", {m['physical_cores']} physical / {m['logical_cores']} logical cores" if "physical_cores" in m else ""
    load = ""
    if run.load_before is not None:
        after = f", {_load(run.load_after)} after" if run.load_after is not None else ""
        load = f" Load average (1/5/15 min) {_load(run.load_before)} before{after}."
    beside = f" Beside it: {run.beside}." if run.beside else ""
    return (f"Run {run.when}{took} on {cpu(m)}{cores}{setting}.{load}{beside}"
            f" Reproduce: `{reproduce}`. Raw numbers: `{raw}`.")


def script(name: str) -> str:
    """How to run a bench script that records what else ran beside it."""
    return f'.venv/bin/python bench/{name} --beside "what else runs"'


def rerun(record: dict[str, Any]) -> str:
    """How to run again a bench script whose record keeps its command (and which records what ran beside it)."""
    return f'PYTHONPATH=. .venv/bin/python {record["command"]} --beside "what else runs"'


ARCHIVED_AT = "d9a76c5"  # the last commit with the scripts of bench/ARCHIVE.md


def archived(command: str) -> str:
    """How to rerun a finished study whose script was archived (bench/ARCHIVE.md): at the last commit that had it."""
    return f"git checkout {ARCHIVED_AT} && {command} (the study's script, archived: bench/ARCHIVE.md)"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "---") -> str:
    lines = [list(header), [align] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def pct(value: float) -> str:
    return f"{value:+.1%}"


def span(values: Sequence[float], digits: int = 2, unit: str = "") -> str:
    low, high = min(values), max(values)
    return (
        f"{low:.{digits}f}{unit}"
        if f"{low:.{digits}f}" == f"{high:.{digits}f}"
        else f"{low:.{digits}f}–{high:.{digits}f}{unit}"
    )


def ci(estimate: dict[str, float], digits: int = 2) -> str:
    return f"x{estimate['value']:.{digits}f} ({estimate['ci_low']:.{digits}f}–{estimate['ci_high']:.{digits}f})"


def wilson(hits: int, n: int) -> str:
    """"2/597 (0.3%; 0.1%–1.2%)": a rate with its Wilson 95% interval."""
    from scipy.stats import binomtest

    if not n:
        return "–"
    low, high = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{hits}/{n} ({hits / n:.1%}; {low:.1%}–{high:.1%})"


def verdict_counts(cases: Iterable[dict[str, Any]]) -> dict[str, int]:
    """An artifact's cases by verdict, an expected failure as "xfailed" (as pytest reports it)."""
    return dict(Counter("xfailed" if case.get("expected_failure") else case["verdict"] for case in cases))


def was_confirmed(case: dict[str, Any]) -> bool:
    """Whether an artifact's case was measured again in fresh processes in its run (`latency.measurements`)."""
    return bool((case.get("latency") or {}).get("measurements"))


def verdicts(counts: dict[str, int]) -> str:
    """"55 pass, 2 xfailed": `verdict_counts` as a phrase."""
    return ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
