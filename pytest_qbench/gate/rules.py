"""The rules: `judge` decides every check of a case, its verdict and what to write.

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
  speed by more than any tolerance. Tolerances are ratios. Being faster never fails.
  - The CPU-time speedup (measure/latency.py), a test of "no change" against "slower by
    speedup_rtol" for the whole gate run (gate/latency_stats.py), with qbench_speed_lines given the
    machine's speed where the case's recorded runs teach a line (gate/spread.py): it fails when significantly
    slower, passes when a slowdown of speedup_rtol is ruled out, and is otherwise 'inconclusive': a
    confirmation on another machine (gate/rejudge.py: the repeats combined) decides it.
    Inconclusive does not fail the test unless --qbench-strict; it warns, and the run summary lists
    it, so a busy runner cannot pass a regression silently (`-W
    error::pytest_qbench.QbenchInconclusiveWarning` also makes it fail).
  - The run's own checks, at its end (latency_stats.run_checks): a runtime or library upgrade that
    slows every model alike, which no speedup can see (`common_cpu_time`); and each case's optimized
    model's CPU time per call against its runs' median beyond that common move, with the case's
    `cpu_time_rtol` (None: not gated; the record keeps it): a point estimate against a wide limit, for
    a large slowdown of one case that slows both its models alike (`cpu_time_excess`).
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
  check) > 'skip' (every check skipped) > 'pass'. Outside update mode a failing case writes its measurement as
  the obtained file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum

from ..measure.stats import two_sided_z
from ..results import (
    ACCURACY_CHECKS,
    AccuracyResult,
    Against,
    BaselineEntry,
    BaselineRecord,
    BudgetResult,
    CaseResult,
    Check,
    LatencyGate,
    LatencyResult,
    LatencyStats,
    Metric,
    Scores,
    Status,
)
from ..specs import Tolerances
from .baselines import UPDATE_COMMAND
from .latency_stats import differs_from_sample, speedup_in_run, speedup_vs_runs

LATENCY_NOT_GATED = "latency recorded, not gated"  # how a Check.latency_not_gated and the reports say it
# Lets a value exactly at the tolerance, as written, pass despite binary float rounding.
_SLACK = 1e-9


@dataclass(frozen=True)
class Judgement:
    checks: list[Check]
    verdict: Status
    baseline: BaselineRecord  # the baseline used, as CaseResult.baseline records it
    restart: bool = False  # update mode: the run differs significantly from the recorded sample


def judge(
    result: CaseResult,
    baseline: BaselineRecord,
    tolerances: Tolerances,
    *,
    latency: LatencyGate,
    update: bool = False,
    amend: Callable[[list[Check]], None] | None = None,
) -> Judgement:
    """Judge one case, measured on the machine of `result.hardware_key`, against the same run's original
    model and the `baseline` the store found for it (see the module doc); `latency` is what the gate run
    holds every latency check to.

    `amend` may edit the checks in place before the verdict is derived (the pytest_qbench_checks hook).
    """
    if not update:  # what a merge re-judges repeats of the case with (rejudge.py)
        baseline = replace(baseline, latency_gate=replace(latency, lines=()), speedup_rtol=tolerances.speedup_rtol,
                           speed_line=latency.line(result.test, result.case_id),
                           cpu_time_rtol=tolerances.cpu_time_rtol)
    if result.error is not None:
        return Judgement([], Status.ERROR, baseline)
    measured = _measured(result)
    if measured is None:
        reason = f"{' and '.join(_missing(result))} not measured: nothing compared, nothing written"
        failed = Check(Metric.MEASUREMENT, Against.ORIGINAL, Status.ERROR, None, None, "", reason)
        return Judgement([failed], Status.ERROR, baseline)

    checks = [_vs_original(measured.original.f1, measured.optimized.f1, tolerances)]
    if not update:
        checks += _vs_baseline(result, measured, baseline, tolerances, latency)
    if amend is not None:
        amend(checks)
    verdict = verdict_of(checks, update)
    restart = update and differs_from_sample(result, baseline, tolerances, latency)
    return Judgement(checks, verdict, baseline, restart)


# pytest.ExitCode's values (the gate runs without pytest: the command line's merge exits with them too)
_OK, _TESTS_FAILED, _INTERRUPTED = 0, 1, 2


@dataclass(frozen=True)
class RunOutcome:
    """What a run, or the merge of its shards, decided as a whole: what its exit status, its reports and
    the merge read. It fails when a case fails (an expected failure aside), when a check of the run's
    own fails (latency_stats.run_checks), when a selected case did not run (a merge), or, with
    `strict`, when a case's latency was inconclusive or not gated."""

    results: list[CaseResult]
    run_checks: list[Check] = field(default_factory=list)
    strict: bool = False
    missing: bool = False  # a merge: cases selected that no shard ran

    @property
    def failing(self) -> list[CaseResult]:
        return [r for r in self.results if r.failing]

    @property
    def undecided(self) -> list[CaseResult]:
        """The cases `strict` fails."""
        return [r for r in self.results if r.undecided] if self.strict else []

    @property
    def verdict(self) -> Status:
        run_check_failed = any(c.status is Status.FAIL for c in self.run_checks)
        return Status.FAIL if self.failing or run_check_failed or self.undecided or self.missing else Status.PASS

    @property
    def exit_code(self) -> int:
        return _TESTS_FAILED if self.verdict is Status.FAIL else _OK

    def exit_status(self, status: int, *, unwritten: bool, interrupted: bool) -> int:
        """What pytest's exit `status` becomes once the run is decided and its end-of-run writes are done:
        pytest's own when it is not OK; else 1 (tests failed) when the run failed (each case is a test,
        which pytest failed already; a failed run check fails it after the tests passed, as pytest-cov's
        --cov-fail-under does); else 2 (interrupted) when an interrupt came during the writes, or 1 when
        a baseline or the artifact went `unwritten`."""
        if status != _OK:
            return status
        if self.exit_code:
            return self.exit_code
        if interrupted:
            return _INTERRUPTED
        return _TESTS_FAILED if unwritten else _OK


@dataclass(frozen=True)
class _Measured:
    """What a case measured when nothing is missing: the three results the checks compare."""

    original: AccuracyResult
    optimized: AccuracyResult
    latency: LatencyResult


def _measured(result: CaseResult) -> _Measured | None:
    original, optimized, latency = result.accuracy_original, result.accuracy_optimized, result.latency
    if original is None or optimized is None or latency is None:
        return None
    return _Measured(original, optimized, latency)


def _missing(result: CaseResult) -> list[str]:
    measured = {
        "original accuracy": result.accuracy_original,
        "optimized accuracy": result.accuracy_optimized,
        "latency": result.latency,
    }
    return [name for name, value in measured.items() if value is None]


def verdict_of(checks: list[Check], update: bool) -> Status:
    statuses = {c.status for c in checks}
    if Status.ERROR in statuses:
        return Status.ERROR
    if Status.FAIL in statuses:
        return Status.FAIL
    if update:
        return Status.UPDATED
    if Status.INCONCLUSIVE in statuses:
        return Status.INCONCLUSIVE
    return Status.SKIP if statuses == {Status.SKIP} else Status.PASS


class FileToWrite(Enum):
    BASELINE = "baseline"  # update mode: the measurement as the case's new baseline
    OBTAINED = "obtained"  # a failure: the measurement beside the baseline, for review


def file_to_write(verdict: Status, update: bool) -> FileToWrite | None:
    """What a case's verdict writes: its new baseline (update mode), its obtained file (a failure), or nothing."""
    if verdict is Status.ERROR:
        return None
    if update:
        return FileToWrite.BASELINE
    return FileToWrite.OBTAINED if verdict is Status.FAIL else None


def _vs_original(original: float, optimized: float, tol: Tolerances) -> Check:
    allowed = tol.allowed_loss(original)
    tolerance = (f"max loss {tol.max_loss:g}" if tol.max_relative_loss is None
                 else f"max relative loss {tol.max_relative_loss:g}")
    loss = original - optimized
    reason = f"f1 {optimized:.4f} vs original {original:.4f} ({tolerance}): "
    reason += f"lost {loss:.4f}" if loss > 0 else f"gained {-loss:.4f}"
    if loss > allowed + _SLACK:
        status, reason = Status.FAIL, f"{reason}, more than the {allowed:.4f} allowed"
    else:
        status = Status.PASS
    return Check(Metric.F1, Against.ORIGINAL, status, optimized, original, tolerance, reason, limit=original - allowed)


def _vs_baseline(result: CaseResult, measured: _Measured, baseline: BaselineRecord, tol: Tolerances,
                 gate: LatencyGate) -> list[Check]:
    entry = baseline.values
    if entry is None:
        reason = (
            f"no baseline for case {result.case_id} of {result.test} in {baseline.file}:"
            f" create it with `{UPDATE_COMMAND}`, then review and commit the file"
        )
        return [Check(Metric.BASELINE, Against.BASELINE, Status.FAIL, None, None, "", reason)]
    return [
        _same_setup(result, entry),
        *_accuracy_vs_baseline(False, measured.optimized, entry.accuracy_optimized, tol),
        *_accuracy_vs_baseline(True, measured.original, entry.accuracy_original, tol),
        *_latency_vs_baseline(result, measured.latency, baseline, entry, tol, gate),
    ]


def _same_setup(result: CaseResult, entry: BaselineEntry) -> Check:
    measured = {"model": result.model, **result.parameters.flat("parameters.")}
    recorded = {"model": entry.model, **entry.parameters.flat("parameters.")}
    changed = sorted(k for k in measured.keys() | recorded.keys() if measured.get(k) != recorded.get(k))
    if not changed:
        return Check(Metric.PARAMETERS, Against.BASELINE, Status.PASS, None, None, "exact",
                     "same model and parameters as the baseline")
    diff = ", ".join(f"{k} {recorded.get(k)!r} -> {measured.get(k)!r}" for k in changed)
    reason = f"baseline recorded with another setup ({diff}); if intended, update it with `{UPDATE_COMMAND}`"
    return Check(Metric.PARAMETERS, Against.BASELINE, Status.FAIL, None, None, "exact", reason)


def _accuracy_vs_baseline(
    original: bool, measured: AccuracyResult, recorded: Scores, tol: Tolerances
) -> list[Check]:
    """The scores of the optimized model, or of the `original`, against their baseline."""
    tolerance = f"atol {tol.accuracy_atol:g}" + (f" + rtol {tol.accuracy_rtol:g}" if tol.accuracy_rtol else "")
    checks = []
    for score, metrics in ACCURACY_CHECKS.items():
        metric = metrics[original]
        value, expected = getattr(measured, score), getattr(recorded, score)
        diff = value - expected
        head = f"{metric} {value:.4f} vs baseline {expected:.4f} ({tolerance})"
        if abs(diff) <= tol.accuracy_atol + tol.accuracy_rtol * abs(expected) + _SLACK:
            status, reason = Status.PASS, f"{head}: within tolerance"
        elif diff < 0:
            status, reason = Status.FAIL, f"{head}: worse by {-diff:.4f}"
        else:
            status = Status.FAIL
            reason = f"{head}: better by {diff:.4f}; if expected, update the baseline with `{UPDATE_COMMAND}`"
        checks.append(Check(metric, Against.BASELINE, status, value, expected, tolerance, reason))
    return checks


def _latency_vs_baseline(result: CaseResult, latency: LatencyResult, baseline: BaselineRecord, entry: BaselineEntry,
                         tol: Tolerances, gate: LatencyGate) -> list[Check]:
    machine = result.hardware_key
    if not baseline.hardware_match:
        reason = (
            f"{LATENCY_NOT_GATED}: baseline recorded on hardware {baseline.hardware_key!r}, this machine is"
            f" {machine!r} (accuracy is gated); record this machine's with `{UPDATE_COMMAND}`"
        )
        return [Check(Metric.LATENCY, Against.BASELINE, Status.SKIP, None, None, f"hardware key {machine}", reason)]
    runs = baseline.runs_of(gate.cpu_model)
    if not runs:
        models = ", ".join(sorted({r.cpu_model for r in baseline.runs}))
        reason = (
            f"{LATENCY_NOT_GATED}: no baseline runs of CPU model {gate.cpu_model} under hardware key"
            f" {machine!r} (recorded: {models}); CPU models of one key differ in speed by more than the"
            f" tolerance (docs/BENCHMARKS.md): record this machine's with `{UPDATE_COMMAND}`"
        )
        return [Check(Metric.LATENCY, Against.BASELINE, Status.SKIP, None, None, f"CPU model {gate.cpu_model}", reason)]
    recorded = entry.latency
    line = baseline.speed_line
    checks = [speedup_in_run(latency.measurements, runs, gate, tol.speedup_rtol, line) if len(latency.measurements) > 1
              else speedup_vs_runs(latency.cpu, runs, gate, tol.speedup_rtol, line)]
    if tol.throughput_rtol is not None and latency.budget is not None:
        checks.append(_budget_vs_baseline(latency.budget, recorded.budget, tol.throughput_rtol))
    if tol.latency_rtol is None:
        return checks
    confidence = latency.wall_speedup.confidence
    for model, (mean_ms, throughput) in _WALL_CHECKS.items():
        stats: LatencyStats = getattr(latency, model)
        low, high = _mean_ci(stats, confidence)
        # throughput is proportional to 1 / mean latency, so the mean's CI maps onto it inverted
        throughput_ci = (stats.throughput * stats.mean_ms / high, _ratio(stats.throughput * stats.mean_ms, low))
        checks += [
            _not_worse(mean_ms, stats.mean_ms, (low, high), getattr(recorded, model).mean_ms,
                       tol.latency_rtol, confidence, higher_is_better=False, fmt="{:.2f} ms"),
            _not_worse(throughput, stats.throughput, throughput_ci, getattr(recorded, model).throughput,
                       tol.latency_rtol, confidence, higher_is_better=True, fmt="{:.2f}/s"),
        ]
    return checks


# Of each model, the checks of its wall-clock figures (with latency_rtol).
_WALL_CHECKS = {
    "original": (Metric.ORIGINAL_MEAN_MS, Metric.ORIGINAL_THROUGHPUT),
    "optimized": (Metric.OPTIMIZED_MEAN_MS, Metric.OPTIMIZED_THROUGHPUT),
}


def _budget_vs_baseline(measured: BudgetResult, recorded: BudgetResult | None, rtol: float) -> Check:
    """The optimized model's throughput within the latency budget vs the baseline's, at the same budget:
    a point estimate of wall time held to `rtol` (a tolerance the team chose for its runners)."""
    metric, tolerance = Metric.OPTIMIZED_BUDGET_THROUGHPUT, f"rtol {rtol:g}"
    if recorded is None or recorded.budget_ms != measured.budget_ms:
        reason = (f"no throughput within a p90 of {measured.budget_ms:g} ms in the baseline; record it with"
                  f" `{UPDATE_COMMAND}`")
        return Check(metric, Against.BASELINE, Status.SKIP, None, None, tolerance, reason)
    best = recorded.optimized.best
    expected = None if best is None else best.throughput
    value = None if measured.optimized.best is None else measured.optimized.best.throughput
    head = f"optimized throughput within p90 {measured.budget_ms:g} ms"
    if expected is None:
        return Check(metric, Against.BASELINE, Status.PASS, value, None, tolerance,
                     f"{head}: the baseline met no configuration within the budget; nothing to hold it to")
    limit = expected * (1 - rtol)
    if value is None or value < limit - _SLACK:
        shown = "no configuration met the budget" if value is None else f"{value:.1f}/s"
        return Check(metric, Against.BASELINE, Status.FAIL, value, expected, tolerance,
                     f"{head}: {shown} vs baseline {expected:.1f}/s ({tolerance}, limit {limit:.1f}/s)", limit=limit)
    return Check(metric, Against.BASELINE, Status.PASS, value, expected, tolerance,
                 f"{head}: {value:.1f}/s vs baseline {expected:.1f}/s ({tolerance}): within tolerance")


def _mean_ci(stats: LatencyStats, confidence: float) -> tuple[float, float]:
    if stats.n_samples < 2 or not math.isfinite(stats.stdev_ms):
        return 0.0, math.inf  # no spread known: nothing is significant
    half = two_sided_z(confidence) * stats.stdev_ms / math.sqrt(stats.n_samples)
    return max(stats.mean_ms - half, 0.0), stats.mean_ms + half


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def _not_worse(
    metric: Metric,
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
        status, reason = Status.FAIL, f"{head}: worse, the whole CI beyond the limit"
    elif beyond:
        status, reason = Status.PASS, f"{head}: beyond the limit, but the CI reaches it: not significant"
    elif better:
        status = Status.PASS
        reason = f"{head}: better than the baseline; update it with `{UPDATE_COMMAND}` to tighten the gate"
    else:
        status, reason = Status.PASS, f"{head}: within tolerance"
    return Check(metric, Against.BASELINE, status, measured, expected, tolerance, reason, limit=limit)
