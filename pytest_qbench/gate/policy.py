"""The comparison policy: `judge` decides every check of a case, its verdict and what to write.

Rules (the knobs are `specs.Tolerances`):
- A failed measurement (`error` set, or accuracy or latency missing) is judged 'error': nothing is
  compared and nothing is written.
- Accuracy vs the original model in the same run (needs no baseline; Intel Neural Compressor's
  tolerable loss): the optimized F1 may lose at most `max_loss` (absolute), or `max_relative_loss` x
  the original F1 when that is set. F1 only, the headline metric; gains pass.
- Model and parameters vs the baseline's: any difference fails, the numbers being of another setup.
- Accuracy vs baseline: precision, recall, f1 and accuracy, of the optimized model ("f1") and of the
  original ("original.f1"), pass when |measured - baseline| <= atol + rtol x |baseline|. In both
  directions: accuracy is deterministic for a fixed model and data, so a gain beyond tolerance means
  the baseline is stale and would hide a later fall back to the old level; it fails and asks for an
  update, as pytest-regressions does.
- Latency vs baseline, only against runs recorded under this machine's hardware key and CPU model
  (`LatencyGate`; else one 'skip' check saying which are recorded; accuracy still gates): a baseline
  entry keeps the last runs of each CPU model (gate/spread.py), and CPU models of one key differ in
  speed by more than any tolerance. A schema-3 entry's one run of an unrecorded CPU model gates any
  model, with a note of what it cannot support. Tolerances are ratios. Being faster never fails.
  - The CPU-time speedup (measure/latency.py), a test of "no change" against "slower by
    speedup_rtol", for the whole gate run: d = log(median of the runs' speedups / measured), its
    standard error holding both sides' own errors and the between-run sigma on both (spread.compare;
    sigma pooled over the key's cases from the baseline runs and the history, shrunk to a prior).
    With t = log(1 + speedup_rtol) and m the cases the run selected, it fails when d is beyond t/2
    and beyond z x se, z the Student-t quantile at 3/4 x alpha / m (Bonferroni: no more than alpha =
    qbench_false_alarm_rate false alarms per gate run, however many cases); it passes when d + z99 x
    se is below t (a slowdown of rtol passes <= 1%); else it is 'inconclusive': a confirmation on
    another machine (`confirmed`: the repeats combined) decides it. Inconclusive does not fail the
    test unless --qbench-strict; it warns, and the run summary lists it, so a busy runner cannot pass
    a regression silently (`-W error::pytest_qbench.QbenchInconclusiveWarning` also makes it fail).
  - The optimized model's CPU time per call against the runs' median, with `cpu_time_rtol` (None:
    not gated): a point estimate against a wide limit, for a large slowdown of one case that slows
    both its models alike.
  - The run's own check (`common_cpu_time`): the median over the run's cases of the log CPU time per
    call against the runs' medians, against its own run-to-run sigma, with the remaining 1/4 of
    alpha: a runtime or library upgrade that slows every model alike, which no speedup can see.
  - Wall-clock mean_ms and throughput of both models only when `latency_rtol` is set (a dedicated
    runner; the artifact records them either way); fails only when the whole normal CI of the
    mean lies beyond the limit.
  - The optimized model's throughput within the case's latency budget (`latency_budget_ms`) only
    when `throughput_rtol` is set, against the baseline's at the same budget: a point estimate of
    wall time, for a dedicated runner likewise.
- No baseline for the case under any hardware key: fails, saying how to create one.
- Update mode: no comparison with the old baseline, the vs-original check still applies (recording a
  collapsed quantization must not turn it green); the measurement is written as the new baseline
  whenever the measurement itself succeeded, even when that check fails: the baseline records what
  the variant does, and the failure shows on every run anyway. Its latency joins the CPU model's
  sample, or restarts it when it differs from the sample by as much as would fail a gate run.
- Verdict: 'error' > 'fail' (any check failed) > 'updated' (update mode) > 'inconclusive' (any
  check) > 'skip' (every check skipped) > 'pass'. Outside update mode a failing case writes its measurement as the obtained file.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any, Callable, Literal

import numpy as np

from ..measure.stats import log_se, two_sided_z
from ..results import AccuracyResult, BudgetResult, CaseResult, Check, LatencyStats, Speedup, Status
from ..specs import QbenchOptions, Tolerances
from .baselines import ACCURACY_METRICS, UNRECORDED_CPU, UPDATE_COMMAND, BaselineMatch, entry_runs
from .spread import (
    PRIOR_DF, PRIOR_SPEEDUP_SIGMA, Comparison, LatencyRun, Measured, Spread, between_run_sigma, combine, compare,
    median_variance_factor,
)

LATENCY_NOT_GATED = "latency recorded, not gated"  # how a hardware-key mismatch's skip reason starts
# Lets a value exactly at the tolerance, as written, pass despite binary float rounding.
_SLACK = 1e-9


@dataclass(frozen=True)
class Judgement:
    checks: list[Check]
    verdict: Status
    baseline: dict[str, Any]  # the baseline used, as CaseResult.baseline records it
    restart: bool = False  # update mode: the run differs significantly from the recorded sample


@dataclass(frozen=True)
class LatencyGate:
    """What a gate run holds every latency check to besides the case's own baseline entry."""

    cpu_model: str = UNRECORDED_CPU  # this machine's: the baseline runs it compares with
    speedup_spread: Spread = Spread(PRIOR_SPEEDUP_SIGMA, 0.0, 0, 0)
    cases: int = 1  # the family: the cases the run gates (the selected qbench cases)
    alpha: float = QbenchOptions.false_alarm_rate  # false alarms per gate run under no change

    def speedup_rule(self, rtol: float) -> "SpeedupRule":
        return SpeedupRule(rtol=rtol, alpha=self.alpha, cases=self.cases, df=self.speedup_spread.df + PRIOR_DF)

    def runs(self, match: BaselineMatch) -> list[LatencyRun]:
        """The baseline runs this machine compares with: its CPU model's, or a schema-3 entry's one run."""
        return [r for r in match.runs if r.cpu_model in (self.cpu_model, UNRECORDED_CPU)]

    def record(self) -> dict[str, Any]:
        """As the case's baseline record keeps it: what the merge re-judges repeated measurements with."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "LatencyGate":
        return cls(**{**record, "speedup_spread": Spread(**record["speedup_spread"])})


def judge(
    result: CaseResult,
    match: BaselineMatch,
    tolerances: Tolerances,
    *,
    update: bool = False,
    amend: Callable[[list[Check]], None] | None = None,
    latency: LatencyGate = LatencyGate(),
) -> Judgement:
    """Judge one case against the same run's original model and its baseline (see the module doc).

    `amend` may edit the checks in place before the verdict is derived (the pytest_qbench_checks hook).
    """
    baseline = {
        "file": str(match.path),
        "hardware_key": match.entry_hardware_key,
        "hardware_match": match.hardware_match,
        "values": match.entry,
    }
    if not update:  # what a merge re-judges repeats of the case with (`confirmed`)
        baseline["latency_gate"] = latency.record()
        baseline["speedup_rtol"] = tolerances.speedup_rtol
    if result.error is not None:
        return Judgement([], "error", baseline)
    missing = _missing(result)
    if missing:
        reason = f"{' and '.join(missing)} not measured: nothing compared, nothing written"
        return Judgement([Check("measurement", "original", "error", None, None, "", reason)], "error", baseline)

    checks = [_vs_original(result.accuracy_original.f1, result.accuracy_optimized.f1, tolerances)]
    if not update:
        checks += _vs_baseline(result, match, tolerances, latency)
    if amend is not None:
        amend(checks)
    verdict = _verdict(checks, update)
    restart = update and _differs_from_sample(result, match, tolerances, latency)
    return Judgement(checks, verdict, baseline, restart)


def _differs_from_sample(result: CaseResult, match: BaselineMatch, tol: Tolerances, gate: LatencyGate) -> bool:
    """Whether an update's run is significantly slower or faster than the recorded runs of its CPU
    model: the sample then restarts with it (an accepted change of speed) instead of being outvoted."""
    runs = [r for r in match.runs if r.cpu_model == gate.cpu_model] if match.hardware_match else []
    if not runs or result.latency is None:
        return False
    comparison = _comparison(result.latency.cpu.speedup, runs, gate)
    rule = gate.speedup_rule(tol.speedup_rtol)
    return abs(comparison.drop) > max(rule.tolerance / 2, rule.z_fail * comparison.se)


def _missing(result: CaseResult) -> list[str]:
    measured = {
        "original accuracy": result.accuracy_original,
        "optimized accuracy": result.accuracy_optimized,
        "latency": result.latency,
    }
    return [name for name, value in measured.items() if value is None]


def _verdict(checks: list[Check], update: bool) -> Status:
    statuses = {c.status for c in checks}
    if "error" in statuses:
        return "error"
    if "fail" in statuses:
        return "fail"
    if update:
        return "updated"
    if "inconclusive" in statuses:
        return "inconclusive"
    return "skip" if statuses == {"skip"} else "pass"


def file_to_write(verdict: Status, update: bool) -> Literal["baseline", "obtained"] | None:
    """What a case's verdict writes: its new baseline (update mode), its obtained file (a failure), or nothing."""
    if verdict == "error":
        return None
    if update:
        return "baseline"
    return "obtained" if verdict == "fail" else None


def _vs_original(original: float, optimized: float, tol: Tolerances) -> Check:
    allowed = tol.allowed_loss(original)
    tolerance = f"max loss {tol.max_loss:g}" if tol.max_relative_loss is None else f"max relative loss {tol.max_relative_loss:g}"
    loss = original - optimized
    reason = f"f1 {optimized:.4f} vs original {original:.4f} ({tolerance}): "
    reason += f"lost {loss:.4f}" if loss > 0 else f"gained {-loss:.4f}"
    if loss > allowed + _SLACK:
        status, reason = "fail", f"{reason}, more than the {allowed:.4f} allowed"
    else:
        status = "pass"
    return Check("f1", "original", status, optimized, original, tolerance, reason, limit=original - allowed)


def _vs_baseline(result: CaseResult, match: BaselineMatch, tol: Tolerances, gate: LatencyGate) -> list[Check]:
    entry = match.entry
    if entry is None:
        reason = (
            f"no baseline for case {result.case_id} of {result.test} in {match.path}:"
            f" create it with `{UPDATE_COMMAND}`, then review and commit the file"
        )
        return [Check("baseline", "baseline", "fail", None, None, "", reason)]
    return [
        _same_setup(result, entry),
        *_accuracy_vs_baseline("", result.accuracy_optimized, entry["accuracy"]["optimized"], tol),
        *_accuracy_vs_baseline("original.", result.accuracy_original, entry["accuracy"]["original"], tol),
        *_latency_vs_baseline(result, match, tol, gate),
    ]


def _same_setup(result: CaseResult, entry: dict[str, Any]) -> Check:
    measured = flatten(json.loads(json.dumps({"model": result.model, "parameters": result.variant})))
    recorded = flatten({"model": entry["model"], "parameters": entry["parameters"]})
    changed = sorted(k for k in measured.keys() | recorded.keys() if measured.get(k) != recorded.get(k))
    if not changed:
        return Check("parameters", "baseline", "pass", None, None, "exact", "same model and parameters as the baseline")
    diff = ", ".join(f"{k} {recorded.get(k)!r} -> {measured.get(k)!r}" for k in changed)
    reason = f"baseline recorded with another setup ({diff}); if intended, update it with `{UPDATE_COMMAND}`"
    return Check("parameters", "baseline", "fail", None, None, "exact", reason)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _accuracy_vs_baseline(
    prefix: str, measured: AccuracyResult, recorded: dict[str, float], tol: Tolerances
) -> list[Check]:
    tolerance = f"atol {tol.accuracy_atol:g}" + (f" + rtol {tol.accuracy_rtol:g}" if tol.accuracy_rtol else "")
    checks = []
    for metric in ACCURACY_METRICS:
        value, expected = getattr(measured, metric), recorded[metric]
        diff = value - expected
        head = f"{prefix}{metric} {value:.4f} vs baseline {expected:.4f} ({tolerance})"
        if abs(diff) <= tol.accuracy_atol + tol.accuracy_rtol * abs(expected) + _SLACK:
            status, reason = "pass", f"{head}: within tolerance"
        elif diff < 0:
            status, reason = "fail", f"{head}: worse by {-diff:.4f}"
        else:
            status = "fail"
            reason = f"{head}: better by {diff:.4f}; if expected, update the baseline with `{UPDATE_COMMAND}`"
        checks.append(Check(prefix + metric, "baseline", status, value, expected, tolerance, reason))
    return checks


def _latency_vs_baseline(result: CaseResult, match: BaselineMatch, tol: Tolerances, gate: LatencyGate) -> list[Check]:
    if not match.hardware_match:
        reason = (
            f"{LATENCY_NOT_GATED}: baseline recorded on hardware {match.entry_hardware_key!r}, this machine is"
            f" {match.hardware_key!r} (accuracy is gated); record this machine's with `{UPDATE_COMMAND}`"
        )
        return [Check("latency", "baseline", "skip", None, None, f"hardware key {match.hardware_key}", reason)]
    runs = gate.runs(match)
    if not runs:
        models = ", ".join(sorted({r.cpu_model for r in match.runs}))
        reason = (
            f"{LATENCY_NOT_GATED}: no baseline runs of CPU model {gate.cpu_model} under hardware key"
            f" {match.hardware_key!r} (recorded: {models}); CPU models of one key differ in speed by more than the"
            f" tolerance (docs/BENCHMARKS.md): record this machine's with `{UPDATE_COMMAND}`"
        )
        return [Check("latency", "baseline", "skip", None, None, f"CPU model {gate.cpu_model}", reason)]
    latency, recorded = result.latency, match.entry["latency"]
    in_run = tuple(m.speedup.value for m in latency.measurements)
    checks = [speedup_vs_runs(latency.cpu.speedup, runs, gate, tol.speedup_rtol, in_run=in_run)]
    if tol.cpu_time_rtol is not None:
        reference = float(np.median([r.optimized_ms for r in runs]))
        checks.append(_cpu_time_vs_baseline(latency.cpu.optimized_ms, reference, tol.cpu_time_rtol))
    if tol.throughput_rtol is not None and latency.budget is not None:
        checks.append(_budget_vs_baseline(latency.budget, recorded.get("budget"), tol.throughput_rtol))
    if tol.latency_rtol is None:
        return checks
    confidence = latency.wall_speedup.confidence
    for model in ("original", "optimized"):
        stats: LatencyStats = getattr(latency, model)
        low, high = _mean_ci(stats, confidence)
        # throughput is proportional to 1 / mean latency, so the mean's CI maps onto it inverted
        throughput_ci = (stats.throughput * stats.mean_ms / high, _ratio(stats.throughput * stats.mean_ms, low))
        checks += [
            _not_worse(f"{model}.mean_ms", stats.mean_ms, (low, high), recorded[model]["mean_ms"],
                       tol.latency_rtol, confidence, higher_is_better=False, fmt="{:.2f} ms"),
            _not_worse(f"{model}.throughput", stats.throughput, throughput_ci, recorded[model]["throughput"],
                       tol.latency_rtol, confidence, higher_is_better=True, fmt="{:.2f}/s"),
        ]
    return checks


def latency_not_gated(check: Check) -> bool:
    """The latency check the policy skips: a baseline of another hardware key, or no runs of this CPU model."""
    return check.metric == "latency" and check.status == "skip"


def ungated_latency(results: list[CaseResult]) -> list[CaseResult]:
    """Cases whose latency was measured but not gated: no baseline runs for this machine."""
    return [r for r in results if any(map(latency_not_gated, r.checks))]


def _comparison(measured: Speedup, runs: list[LatencyRun], gate: LatencyGate) -> Comparison:
    return _compared([measured], runs, gate)


def _compared(repeats: list[Speedup], runs: list[LatencyRun], gate: LatencyGate) -> Comparison:
    """Measurements of one case against the baseline runs; several (a confirmation) combine first."""
    sigma = gate.speedup_spread.sigma
    own = combine([Measured(math.log(m.value), log_se(m)) for m in repeats], sigma)
    return compare(own, [(r.log_speedup, r.log_se) for r in runs], sigma, repeats=len(repeats))


def confirmed(repeats: list[CaseResult], default_rtol: float = Tolerances.speedup_rtol) -> CaseResult:
    """One case measured by several gate runs (a failing or inconclusive case measured again on another
    VM): its speedup check judged again on the runs' combined estimate against the same baseline runs,
    the verdict derived anew; the other checks stay as the first run judged them. Repeats on different
    CPU models are each their model's sample's to judge: the first one's model decides."""
    first = repeats[0]
    record = (first.baseline or {}).get("latency_gate")
    index = next((i for i, c in enumerate(first.checks) if c.metric == "cpu.speedup"), None)
    if record is None or index is None:
        return first
    gate = LatencyGate.from_record(record)
    same_model = [r for r in repeats if r.cpu_model == first.cpu_model and r.latency is not None]
    runs = gate.runs(BaselineMatch(Path(first.baseline["file"]), first.hardware_key, first.baseline["values"],
                                   first.baseline["hardware_key"]))
    rtol = first.baseline.get("speedup_rtol", default_rtol)  # an artifact of schema 5 records none: the run's
    check = speedup_vs_runs([r.latency.cpu.speedup for r in same_model], runs, gate, rtol)
    checks = [*first.checks[:index], check, *first.checks[index + 1:]]
    return replace(first, checks=checks, verdict=_verdict(checks, update=False),
                   confirmed_by=[r.run_id for r in same_model[1:]])


def speedup_vs_runs(measured: Speedup | list[Speedup], runs: list[LatencyRun], gate: LatencyGate, rtol: float,
                    in_run: tuple[float, ...] = ()) -> Check:
    """The speedup check of the module doc, against the median of the baseline's runs; a list of
    measurements (repeats of the case by several runs) is judged on their combined estimate. `in_run`:
    the speedups a confirmation in this run measured, whose median `measured` is (measure/fresh.py)."""
    repeats = measured if isinstance(measured, list) else [measured]
    measured = repeats[0]
    rule = gate.speedup_rule(rtol)
    comparison = _compared(repeats, runs, gate)
    status = rule.status(comparison)
    reference = math.exp(float(np.median([r.log_speedup for r in runs])))
    spread = gate.speedup_spread
    fail_edge = max(rule.tolerance / 2, rule.z_fail * comparison.se)
    value = reference * math.exp(-comparison.drop)  # the measured one, or the repeats' combined estimate
    again = f", {len(repeats)} runs combined to {value:.3f}" if len(repeats) > 1 else ""
    if in_run:
        again += (f", the median of {len(in_run)} measurements in this run"
                  f" ({', '.join(f'{v:.3f}' for v in in_run)}: the first, then fresh processes)")
    head = (
        f"cpu speedup {measured.value:.3f} (CI {measured.ci_low:.3f} to {measured.ci_high:.3f}{again}) vs baseline"
        f" {reference:.3f} (median of {len(runs)} run{'s' * (len(runs) > 1)}) (rtol {rtol:g}): slowdown"
        f" {_change(comparison.drop)} (standard error {comparison.se:.1%}, with a between-run sigma of"
        f" {spread.sigma:.1%} from {spread.source}; fails beyond {_change(fail_edge)}: {gate.alpha:.0%} false"
        f" alarms per run over {gate.cases} case{'s' * (gate.cases > 1)})"
    )
    if status == "fail":
        reason = f"{head}: slower, significantly for the whole run"
    elif status == "pass" and -comparison.drop > fail_edge:
        reason = f"{head}: faster than the baseline; update it with `{UPDATE_COMMAND}` to tighten the gate"
    elif status == "pass":
        reason = f"{head}: a {rtol:.0%} slowdown is ruled out"
    else:
        reason = (
            f"{head}: inconclusive, neither a {rtol:.0%} slowdown ruled out nor a slowdown significant; confirm it on"
            " another machine (--qbench-rerun-from), record more baseline runs, or raise --qbench-max-seconds"
        )
    if any(r.cpu_model == UNRECORDED_CPU for r in runs):
        reason += ("; a single-run baseline of an unrecorded CPU model (schema 3): it cannot tell this CPU model from"
                   f" another of the key, nor show the between-run spread; record runs with `{UPDATE_COMMAND}`")
    # The limit drawn in reports: the speedup of a slowdown of exactly rtol (the decision also weighs the errors).
    return Check("cpu.speedup", "baseline", status, value, reference, f"rtol {rtol:g}", reason,
                 limit=reference / (1 + rtol))


def _change(log_drop: float) -> str:
    """A log speedup drop as a slowdown of the optimized model relative to the original, in %."""
    return f"{math.expm1(log_drop):+.1%}"


def _cpu_time_vs_baseline(measured_ms: float, recorded_ms: float, rtol: float) -> Check:
    limit = recorded_ms * (1 + rtol)
    tolerance = f"rtol {rtol:g}"
    head = (
        f"optimized cpu time {measured_ms:.2f} ms per call vs baseline {recorded_ms:.2f} ms"
        f" ({tolerance}, limit {limit:.2f} ms)"
    )
    if measured_ms > limit + _SLACK:
        status = "fail"
        reason = (
            f"{head}: slower by {measured_ms / recorded_ms - 1:.0%}; the speedup check cannot see a change"
            " that slows both models alike (onnxruntime or library upgrade, CPU or flags change)"
        )
    elif measured_ms < recorded_ms / (1 + rtol):
        status = "pass"
        reason = f"{head}: faster than the baseline; update it with `{UPDATE_COMMAND}` to tighten the gate"
    else:
        status, reason = "pass", f"{head}: within tolerance"
    return Check("optimized.cpu_ms", "baseline", status, measured_ms, recorded_ms, tolerance, reason, limit=limit)


def _budget_vs_baseline(measured: BudgetResult, recorded: dict[str, Any] | None, rtol: float) -> Check:
    """The optimized model's throughput within the latency budget vs the baseline's, at the same budget:
    a point estimate of wall time held to `rtol` (a tolerance the team chose for its runners)."""
    metric, tolerance = "optimized.budget_throughput", f"rtol {rtol:g}"
    if recorded is None or recorded["budget_ms"] != measured.budget_ms:
        reason = (f"no throughput within a p90 of {measured.budget_ms:g} ms in the baseline; record it with"
                  f" `{UPDATE_COMMAND}`")
        return Check(metric, "baseline", "skip", None, None, tolerance, reason)
    best = recorded["optimized"]["best"]
    expected = None if best is None else best["throughput"]
    value = None if measured.optimized.best is None else measured.optimized.best.throughput
    head = f"optimized throughput within p90 {measured.budget_ms:g} ms"
    if expected is None:
        return Check(metric, "baseline", "pass", value, None, tolerance,
                     f"{head}: the baseline met no configuration within the budget; nothing to hold it to")
    limit = expected * (1 - rtol)
    if value is None or value < limit - _SLACK:
        shown = "no configuration met the budget" if value is None else f"{value:.1f}/s"
        return Check(metric, "baseline", "fail", value, expected, tolerance,
                     f"{head}: {shown} vs baseline {expected:.1f}/s ({tolerance}, limit {limit:.1f}/s)", limit=limit)
    return Check(metric, "baseline", "pass", value, expected, tolerance,
                 f"{head}: {value:.1f}/s vs baseline {expected:.1f}/s ({tolerance}): within tolerance")


def _mean_ci(stats: LatencyStats, confidence: float) -> tuple[float, float]:
    if stats.n_samples < 2 or not math.isfinite(stats.stdev_ms):
        return 0.0, math.inf  # no spread known: nothing is significant
    half = two_sided_z(confidence) * stats.stdev_ms / math.sqrt(stats.n_samples)
    return max(stats.mean_ms - half, 0.0), stats.mean_ms + half


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def _not_worse(
    metric: str,
    measured: float,
    ci: tuple[float, float],
    expected: float,
    rtol: float,
    confidence: float,
    *,
    higher_is_better: bool,
    fmt: str,
) -> Check:
    low, high = ci
    # A ratio tolerance, the same both ways: a mean latency limit of x(1 + rtol) is exactly the
    # throughput limit of /(1 + rtol), and a limit never reaches zero however loose rtol is.
    if higher_is_better:
        limit, better = expected / (1 + rtol), measured > expected * (1 + rtol)
        beyond, significant = measured < limit, high < limit
    else:
        limit, better = expected * (1 + rtol), measured < expected / (1 + rtol)
        beyond, significant = measured > limit, low > limit
    tolerance = f"rtol {rtol:g}"
    head = (
        f"{metric} {fmt.format(measured)} ({confidence:.0%} CI {fmt.format(low)} to {fmt.format(high)})"
        f" vs baseline {fmt.format(expected)} ({tolerance}, limit {fmt.format(limit)})"
    )
    if beyond and significant:
        status, reason = "fail", f"{head}: worse, the whole CI beyond the limit"
    elif beyond:
        status, reason = "pass", f"{head}: beyond the limit, but the CI reaches it: not significant"
    elif better:
        status = "pass"
        reason = f"{head}: better than the baseline; update it with `{UPDATE_COMMAND}` to tighten the gate"
    else:
        status, reason = "pass", f"{head}: within tolerance"
    return Check(metric, "baseline", status, measured, expected, tolerance, reason, limit=limit)


@dataclass(frozen=True)
class SpeedupRule:
    """The speedup check against a baseline of recorded runs (gate/spread.py): fail, pass or inconclusive.

    The family is every gated speedup of the gate run: a false alarm anywhere in it fails the run, so
    each case is held to `share` x `alpha` / `cases` (Bonferroni; Holm's first step, which is where a
    run with one real regression decides)."""

    rtol: float
    alpha: float  # false alarms per gate run under no change, all its checks together
    cases: int  # the speedups gated in the run
    df: float = math.inf  # the between-run sigma's degrees of freedom (spread.Spread.df + its prior's)
    share: float = 0.75  # of alpha for the speedups; the rest is the run's common CPU-time check's

    @property
    def z_fail(self) -> float:
        """The Student-t quantile: the between-run sigma is estimated, and one low estimate would
        weaken every case's test of the run at once."""
        from scipy.stats import t

        return float(t.isf(self.alpha * self.share / max(self.cases, 1), self.df))

    @property
    def tolerance(self) -> float:
        return math.log1p(self.rtol)

    def status(self, comparison: Comparison) -> Status:
        drop, se = comparison.drop, comparison.se
        if drop > self.tolerance / 2 and drop - self.z_fail * se > 0:
            return "fail"
        if drop + Z_PASS * se < self.tolerance:
            return "pass"
        return "inconclusive"


# A slowdown of rtol passes <= 1% of the time: what is not a clear pass is inconclusive, and a
# confirmation run on another VM decides it (>= 99% of such slowdowns are then measured again).
Z_PASS = NormalDist().inv_cdf(0.99)


# ---- the run's own check: a slowdown common to every case ---------------------------------------------

COMMON = "cpu_ms.common"  # the run-level check's metric


def common_cpu_time(results: list[CaseResult], rtol: float, alpha: float = QbenchOptions.false_alarm_rate,
                    share: float = 1 - SpeedupRule.share) -> Check | None:
    """A slowdown that hits every model alike (an onnxruntime or library upgrade, a compiler flag) moves
    no speedup: the run's median, over its gated cases, of the log CPU time per call against the
    median of the baseline runs (both models averaged) tests it. Its error is the run-to-run shift
    common to all cases, pooled from the baseline runs themselves (each recorded run's median
    deviation), shrunk to a prior, plus what the cases' own spread leaves in a median of m.
    None when no case of the run has baseline runs of this machine's CPU model."""
    deviations, per_run = [], {}
    for result in results:
        runs = _own_runs(result)
        if not runs or result.latency is None:
            continue
        reference = {m: float(np.median([math.log(getattr(r, f"{m}_ms")) for r in runs])) for m in ("original", "optimized")}
        cpu = result.latency.cpu
        deviations.append(_both(math.log(cpu.original_ms) - reference["original"], math.log(cpu.optimized_ms) - reference["optimized"]))
        for r in runs:
            per_run.setdefault(r.run, []).append(_both(math.log(r.original_ms) - reference["original"],
                                                        math.log(r.optimized_ms) - reference["optimized"]))
    if not deviations:
        return None
    shift = float(np.median(deviations))
    run_shifts = [(float(np.median(v)), 0.0) for v in per_run.values()]
    spread = between_run_sigma([run_shifts], PRIOR_COMMON_SIGMA, PRIOR_COMMON_DF)
    cases, runs_n = len(deviations), len(per_run)
    case_sigma = 1.4826 * float(np.median(np.abs(np.array(deviations) - shift)))
    se = math.sqrt(spread.sigma**2 * (1 + median_variance_factor(runs_n) / runs_n)
                   + median_variance_factor(cases) * case_sigma**2 / cases)
    rule = SpeedupRule(rtol=rtol, alpha=alpha, cases=1, df=spread.df + PRIOR_COMMON_DF, share=share)
    status = rule.status(Comparison(shift, se, runs_n))
    head = (
        f"median CPU time per call of {cases} case{'s' * (cases > 1)} {_change(shift)} against the baseline runs'"
        f" (standard error {se:.1%}: a common run-to-run sigma of {spread.sigma:.1%} from"
        f" {'the prior' if spread.df == 0 else f'{runs_n} recorded runs, shrunk toward the prior'}) (rtol {rtol:g})"
    )
    reason = {
        "fail": f"{head}: every model slower alike (an onnxruntime, library or machine change?); the speedups cannot see it",
        "pass": f"{head}: a {rtol:.0%} slowdown common to every case is ruled out",
        "inconclusive": f"{head}: inconclusive; the CPU time per call moves too much between runs here to tell",
    }[status]
    return Check(COMMON, "baseline", status, math.exp(shift), 1.0, f"rtol {rtol:g}", reason, limit=1 + rtol)


# The CPU time per call of every case moved 1-3% between idle processes, 8% beside a loaded one
# (docs/BENCHMARKS.md); a weak prior: a run history of 20-30 runs tells the key's own.
PRIOR_COMMON_SIGMA = 0.05
PRIOR_COMMON_DF = 5


def _both(original: float, optimized: float) -> float:
    return (original + optimized) / 2


def _own_runs(result: CaseResult) -> list[LatencyRun]:
    """The baseline runs the case's latency was gated against (its CPU model's), from its baseline record."""
    record = result.baseline or {}
    if not record.get("hardware_match") or record.get("values") is None or "latency_gate" not in record:
        return []
    cpu_model = record["latency_gate"]["cpu_model"]
    return [r for r in entry_runs(record["values"]) if r.cpu_model == cpu_model and r.run]
