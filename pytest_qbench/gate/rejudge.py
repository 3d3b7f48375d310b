"""The merge's re-judging: one case measured by several gate runs (a failing or inconclusive case
measured again on another machine), its speedup check judged again on their combined estimate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..results import CaseResult, Metric
from ..specs import Tolerances
from .baselines import BaselineMatch
from .latency_stats import LatencyGate, speedup_vs_runs
from .rules import verdict_of


def confirmed(repeats: list[CaseResult], default_rtol: float = Tolerances.speedup_rtol) -> CaseResult:
    """One case measured by several gate runs (a failing or inconclusive case measured again on another
    VM): its speedup check judged again on the runs' combined estimate against the same baseline runs,
    the verdict derived anew; the other checks stay as the first run judged them. Repeats on different
    CPU models are each their model's sample's to judge: the first one's model decides."""
    first = repeats[0]
    record = (first.baseline or {}).get("latency_gate")
    index = next((i for i, c in enumerate(first.checks) if c.metric is Metric.CPU_SPEEDUP), None)
    if record is None or index is None:
        return first
    gate = LatencyGate.from_record(record)
    same_model = [r for r in repeats if r.cpu_model == first.cpu_model and r.latency is not None]
    runs = gate.runs(BaselineMatch(Path(first.baseline["file"]), first.hardware_key, first.baseline["values"],
                                   first.baseline["hardware_key"]))
    rtol = first.baseline.get("speedup_rtol", default_rtol)  # an artifact of schema 5 records none: the run's
    check = speedup_vs_runs([r.latency.cpu.speedup for r in same_model], runs, gate, rtol)
    checks = [*first.checks[:index], check, *first.checks[index + 1:]]
    return replace(first, checks=checks, verdict=verdict_of(checks, update=False),
                   confirmed_by=[r.run_id for r in same_model[1:]])
