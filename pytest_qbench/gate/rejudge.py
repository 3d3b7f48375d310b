"""The merge's re-judging: one case measured by several gate runs (a failing or inconclusive case
measured again on another machine), its speedup check judged again on their combined estimate."""

from __future__ import annotations

from dataclasses import replace

from ..results import CaseResult, Metric
from ..specs import Tolerances
from .latency_stats import speedup_vs_runs
from .rules import verdict_of


def confirmed(repeats: list[CaseResult], default_rtol: float = Tolerances.speedup_rtol) -> CaseResult:
    """One case measured by several gate runs (a failing or inconclusive case measured again on another
    VM): its speedup check judged again on the runs' combined estimate against the same baseline runs
    (each at its own machine speed when the record keeps the case's speed line),
    the verdict derived anew; the other checks stay as the first run judged them. Repeats on different
    CPU models are each their model's sample's to judge: the first one's model decides."""
    first, baseline = repeats[0], repeats[0].baseline
    index = next((i for i, c in enumerate(first.checks) if c.metric is Metric.CPU_SPEEDUP), None)
    if baseline is None or baseline.latency_gate is None or index is None:
        return first
    gate = baseline.latency_gate
    same_model = [(r.run_id, r.latency.cpu) for r in repeats
                  if r.cpu_model == first.cpu_model and r.latency is not None]
    runs = baseline.runs_of(gate.cpu_model)
    # an artifact of schema 5 records no rtol: the run's
    rtol = default_rtol if baseline.speedup_rtol is None else baseline.speedup_rtol
    check = speedup_vs_runs([cpu for _, cpu in same_model], runs, gate, rtol, baseline.speed_line)
    checks = [*first.checks[:index], check, *first.checks[index + 1:]]
    return replace(first, checks=checks, verdict=verdict_of(checks, update=False),
                   confirmed_by=[run_id for run_id, _ in same_model[1:]])
