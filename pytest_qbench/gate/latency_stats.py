"""The latency statistics: the test that judges a case's CPU-time speedup against the runs a baseline
keeps, and the run's own checks of the CPU time per call.

- The speedup check (`speedup_vs_runs`), a test of "no change" against "slower by speedup_rtol", for
  the whole gate run: d = log(median of the runs' speedups / measured), its standard error holding
  both sides' own errors and the between-run sigma on both (spread.compare; sigma pooled over the
  key's cases from the baseline runs and the history, shrunk to a prior). With t = log(1 +
  speedup_rtol) and m the cases the run selected, it fails when d is beyond t/2 and beyond z x se, z
  the Student-t quantile at 3/4 x alpha / m (Bonferroni: no more than alpha =
  qbench_false_alarm_rate false alarms per gate run, however many cases); it passes when d + z99 x
  se is below t (a slowdown of rtol passes <= 1%); else it is 'inconclusive'.
- Given the machine's speed (qbench_speed_lines): a case whose recorded runs (baselines and history)
  teach a speed line (gate/spread.py `fit_speed_line`: its log speedup on its original model's log CPU
  time per call) is judged with every measurement and baseline run moved along that line to the runs'
  mean speed, the slope's error joining the measurement's; the between-run sigma is then the lines'
  residual one.
- A case measured again in the run (`speedup_in_run`: the first look, then fresh processes) is decided by
  its fresh processes when there are at least two (the first look only chose it), else by every
  measurement: it fails only when each deciding measurement fails on its own, and passes when one
  passes at z(1 - 1% / measurements).
- The run's own checks (`run_checks`, at the run's end, once every case is measured):
  - `common_cpu_time`: the median over the run's cases of the log CPU time per call against the runs'
    medians, against its own run-to-run sigma, with the remaining 1/4 of alpha: a runtime or library
    upgrade that slows every model alike, which no speedup can see.
  - `cpu_time_excess`: each case's optimized model's log CPU time per call against its runs' median,
    beyond that common move, with the case's `cpu_time_rtol`: one case slowed for both its models,
    which its speedup cannot see, told apart from a machine slow for every model (docs/BENCHMARKS.md
    §8h: judged per case, the limit failed A/A runs whenever the machine ran every model slower).
- An update's run, the median of its measurements as the baseline records it, restarts the recorded
  sample when it differs from it by as much as would fail a gate run (`differs_from_sample`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

from ..measure.stats import log_se, median_variance_factor
from ..results import (
    Against,
    BaselineRecord,
    CaseResult,
    Check,
    CpuTime,
    LatencyGate,
    LatencyRun,
    Metric,
    SpeedLine,
    Speedup,
    Spread,
    Status,
    deciding,
)
from ..specs import QbenchOptions, RunSettings, Tolerances
from .baselines import UPDATE_COMMAND
from .spread import PRIOR_DF, Comparison, Measured, between_run_sigma, combine, compare, own_spread


def differs_from_sample(result: CaseResult, baseline: BaselineRecord, tol: Tolerances, gate: LatencyGate) -> bool:
    """Whether an update's run is significantly slower or faster than the recorded runs of its CPU
    model: the sample then restarts with it (an accepted change of speed) instead of being outvoted."""
    runs = baseline.runs_of(gate.cpu_model) if baseline.hardware_match else []
    if not runs or result.latency is None:
        return False
    comparison = compared([result.latency.cpu], runs, gate, gate.line(result.test, result.case_id))
    rule = SpeedupRule.of(gate, tol.speedup_rtol)
    return abs(comparison.drop) > max(rule.tolerance / 2, rule.z_fail * comparison.se)


def compared(repeats: list[CpuTime], runs: list[LatencyRun], gate: LatencyGate, line: SpeedLine | None
              ) -> Comparison:
    """Measurements of one case against the baseline runs, all moved along the case's speed `line` to the
    runs' mean speed (its slope's error, times how far a measurement moved, joins that measurement's own);
    without a line, as measured. Several measurements (a confirmation) combine first."""
    sigma = gate.speedup_spread.sigma
    slope, slope_se = (line.slope, line.slope_se) if line is not None else (0.0, 0.0)
    speed = _mean_speed(runs)
    own = []
    for m in repeats:
        moved = math.log(m.original_ms) - speed
        own.append(Measured(math.log(m.speedup.value) - slope * moved, math.hypot(log_se(m.speedup), slope_se * moved)))
    return compare(combine(own, sigma), _recorded(runs, line), sigma, repeats=len(repeats))


def _recorded(runs: list[LatencyRun], line: SpeedLine | None) -> list[tuple[float, float]]:
    """The baseline's runs as a comparison takes them: each log speedup, moved along the case's speed `line` to
    the runs' mean speed, and its own standard error."""
    slope = line.slope if line is not None else 0.0
    return list(zip(_at_mean_speed(runs, slope), [r.log_se for r in runs], strict=True))


def _mean_speed(runs: list[LatencyRun]) -> float:
    return float(np.mean([r.log_original_ms for r in runs]))


def _at_mean_speed(runs: list[LatencyRun], slope: float) -> list[float]:
    """The runs' log speedups, each moved along a line of `slope` to the runs' mean speed."""
    speed = _mean_speed(runs)
    return [r.log_speedup - slope * (r.log_original_ms - speed) for r in runs]


def speedup_vs_runs(measured: CpuTime | list[CpuTime], runs: list[LatencyRun], gate: LatencyGate, rtol: float,
                    line: SpeedLine | None = None) -> Check:
    """The speedup check of the module doc, against the median of the baseline's runs, given the machine's
    speed when the case has a speed `line`; a list of measurements (repeats of the case by several runs) is
    judged on their combined estimate."""
    repeats = measured if isinstance(measured, list) else [measured]
    rule = SpeedupRule.of(gate, rtol)
    comparison = compared(repeats, runs, gate, line)
    return _speedup_check(rule, rule.status(comparison), comparison, repeats[0], runs, gate, line,
                          combined=len(repeats))


def speedup_in_run(measurements: list[CpuTime], runs: list[LatencyRun], gate: LatencyGate, rtol: float,
                   line: SpeedLine | None = None) -> Check:
    """A case measured several times in this run, the first look and then fresh processes (measure/fresh.py),
    judged on its best deciding measurement. The first look chose the case (it did not pass); with at least
    `DECIDING_PROCESSES` fresh processes they decide (results/measured.py `deciding`), else every measurement does.
    A slow session only ever slows, and one model of one process (docs/BENCHMARKS.md §8f: a median of three
    failed where one clean measurement showed no change), so the case fails only when every deciding
    measurement fails on its own (an intersection-union test: no more false alarms than one measurement's
    test); it passes when one of them rules out a slowdown of rtol at the pass level shared among all the
    measurements (Bonferroni: a slowdown of rtol still passes <= 1%); else it is inconclusive. Each
    measurement is judged given its own machine speed when the case has a speed `line`."""
    rule = replace(SpeedupRule.of(gate, rtol), chances=len(measurements))
    judged: list[tuple[Status, Comparison, CpuTime]] = []
    for measurement in measurements:
        comparison = compared([measurement], runs, gate, line)
        judged.append((rule.status(comparison), comparison, measurement))
    decided = deciding(judged)
    status = intersection_union([status for status, _, _ in decided])
    # the measurement shown: the best of those that decided
    _, comparison, shown = min((j for j in decided if j[0] is status), key=lambda j: j[1].drop)
    return _speedup_check(rule, status, comparison, shown, runs, gate, line,
                          in_run=[m.speedup for m in measurements])


def intersection_union(statuses: list[Status]) -> Status:
    """Measurements of one case judged each on its own, combined: failed only when every one fails, passed
    when one passes, else inconclusive."""
    if all(status is Status.FAIL for status in statuses):
        return Status.FAIL
    return Status.PASS if Status.PASS in statuses else Status.INCONCLUSIVE


def _speedup_check(rule: SpeedupRule, status: Status, comparison: Comparison, shown: CpuTime,
                   runs: list[LatencyRun], gate: LatencyGate, line: SpeedLine | None, combined: int = 1,
                   in_run: list[Speedup] | None = None) -> Check:
    """The check, its figures and its reason: of one measurement, of `combined` runs' repeats, or of the
    best of the measurements `in_run`; with a speed `line`, the baseline is the one expected at the shown
    measurement's speed."""
    rtol, measured = rule.rtol, shown.speedup
    reference = math.exp(float(np.median([r.log_speedup for r in runs])))
    expected, at_speed = reference, ""
    if line is not None:
        moved = math.log(shown.original_ms) - _mean_speed(runs)
        expected = math.exp(float(np.median(_at_mean_speed(runs, line.slope))) + line.slope * moved)
        at_speed = (f", {expected:.3f} at this run's speed: its original model {math.expm1(moved):+.1%} CPU time per"
                    f" call against the runs', slope {line.slope:.2f} (standard error {line.slope_se:.2f}) over"
                    f" {line.runs} recorded runs")
    spread = gate.speedup_spread
    fail_edge = max(rule.tolerance / 2, rule.z_fail * comparison.se)
    value = expected * math.exp(-comparison.drop)  # the measured one, or the repeats' combined estimate
    if in_run is not None:
        again = _measured_in_run(in_run)
    else:
        again = f", {combined} runs combined to {value:.3f}" if combined > 1 else ""
    head = (
        f"cpu speedup {measured.value:.3f} (CI {measured.ci_low:.3f} to {measured.ci_high:.3f}{again}) vs baseline"
        f" {reference:.3f} (median of {len(runs)} run{'s' * (len(runs) > 1)}{at_speed}) (rtol {rtol:g}): slowdown"
        f" {_change(comparison.drop)} (standard error {comparison.se:.1%}, with a between-run sigma of"
        f" {spread.sigma:.1%} from {spread.source}; fails beyond {_change(fail_edge)}: {gate.alpha:.0%} false"
        f" alarms per run over {gate.cases} case{'s' * (gate.cases > 1)})"
    )
    if status is Status.FAIL:
        reason = f"{head}: slower, significantly for the whole run"
    elif status is Status.PASS and -comparison.drop > fail_edge:
        reason = f"{head}: faster than the baseline; update it with `{UPDATE_COMMAND}` to tighten the gate"
    elif status is Status.PASS:
        reason = f"{head}: a {rtol:.0%} slowdown is ruled out"
    else:
        reason = (
            f"{head}: inconclusive, neither a {rtol:.0%} slowdown ruled out nor a slowdown significant; confirm it on"
            " another machine (--qbench-rerun-from), record more baseline runs, or raise --qbench-max-seconds"
        )
    if status is not Status.PASS:
        reason += _sway(rule, comparison, runs, line, spread)
    # The limit drawn in reports: the speedup of a slowdown of exactly rtol (the decision also weighs the errors).
    return Check(Metric.CPU_SPEEDUP, Against.BASELINE, status, value, expected, f"rtol {rtol:g}", reason,
                 limit=expected / (1 + rtol))


def _sway(rule: SpeedupRule, comparison: Comparison, runs: list[LatencyRun], line: SpeedLine | None,
          pooled: Spread) -> str:
    """A note for a case whose own baseline runs spread significantly more than the sigma pooled over the key's
    cases (for the whole run: at alpha / cases): judged by the pool it fails or stays inconclusive unchanged now
    and then (docs/BENCHMARKS.md §8k). The note says which tolerance would match its spread: one at which an
    unchanged run of it fails at most 1% of the time (no drop under half the tolerance fails) and passes 19 in 20."""
    own = own_spread(_recorded(runs, line), pooled.sigma, rule.df)
    if own is None or own.p >= rule.alpha / max(rule.cases, 1):
        return ""
    drift = own.sigma * math.sqrt(1 + median_variance_factor(len(runs)) / len(runs))
    z = NormalDist().inv_cdf
    matching = math.expm1(max(2 * z(0.99) * drift, rule.z_pass * comparison.se + z(0.95) * drift))
    if matching <= rule.rtol:  # its sway does not explain the verdict
        return ""
    return (f"; note: this case's {len(runs)} baseline runs spread {own.sigma:.1%} from run to run, more than the"
            f" {pooled.sigma:.1%} pooled over the key's cases (F test p {own.p:.0e}): a case that sways this much"
            f" fails or stays inconclusive unchanged now and then, and a tolerance matching its spread would be a"
            f" speedup_rtol near {matching:.0%} (docs/BENCHMARKS.md §8k)")


def _measured_in_run(speedups: list[Speedup]) -> str:
    """A case's measurements in this run, the first look first, and which of them decided it."""
    values = [f"{m.value:.3f}" for m in speedups]
    if len(deciding(values)) < len(values):
        return (f", the best of {len(values) - 1} fresh processes' measurements ({', '.join(values[1:])}; the"
                f" first look, {values[0]}, only chose the case; it fails only when each fails on its own)")
    return (f", the best of {len(values)} measurements in this run ({', '.join(values)}: the first, then fresh"
            " processes; it fails only when each fails on its own)")


def _change(log_drop: float) -> str:
    """A log speedup drop as a slowdown of the optimized model relative to the original, in %."""
    return f"{math.expm1(log_drop):+.1%}"


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
    chances: int = 1  # measurements of which any one may pass the case (speedup_in_run)

    @classmethod
    def of(cls, gate: LatencyGate, rtol: float) -> SpeedupRule:
        """The rule a case's speedup is held to in the gate run `gate` describes."""
        return cls(rtol=rtol, alpha=gate.alpha, cases=gate.cases, df=gate.speedup_spread.df + PRIOR_DF)

    @property
    def z_fail(self) -> float:
        """The Student-t quantile: the between-run sigma is estimated, and one low estimate would
        weaken every case's test of the run at once."""
        from scipy.stats import t

        return float(t.isf(self.alpha * self.share / max(self.cases, 1), self.df))

    @property
    def z_pass(self) -> float:
        """A slowdown of rtol passes <= PASS_LEVEL of the time, over all the chances to pass together."""
        return NormalDist().inv_cdf(1 - PASS_LEVEL / self.chances)

    @property
    def tolerance(self) -> float:
        return math.log1p(self.rtol)

    def status(self, comparison: Comparison) -> Status:
        drop, se = comparison.drop, comparison.se
        if drop > self.tolerance / 2 and drop - self.z_fail * se > 0:
            return Status.FAIL
        if drop + self.z_pass * se < self.tolerance:
            return Status.PASS
        return Status.INCONCLUSIVE


# A slowdown of rtol passes <= 1% of the time: what is not a clear pass is inconclusive, and a
# confirmation run on another VM decides it (>= 99% of such slowdowns are then measured again).
PASS_LEVEL = 0.01


# ---- the run's own checks: the CPU time per call of all its cases -------------------------------------------


def run_checks(results: list[CaseResult], settings: RunSettings) -> list[Check]:
    """The run's own checks, which need every gated case of the run measured (a session's end, a merge):
    a slowdown common to every case (`common_cpu_time`), and each case's CPU time beyond that common move
    (`cpu_time_excess`)."""
    moves = _moves(results)
    if not moves:
        return []
    common = float(np.median([_both(*m.measured) for m in moves]))
    found = (common_cpu_time(moves, common, settings.speedup_rtol, settings.false_alarm_rate),
             cpu_time_excess(moves, common))
    return [c for c in found if c is not None]


@dataclass(frozen=True)
class _Move:
    """A gated case's CPU time per call, of each model, against the median of its baseline runs' (log)."""

    label: str  # test[case]
    runs: list[LatencyRun]
    reference: tuple[float, float]  # the runs' median log CPU time per call: original, optimized
    cpu_time_rtol: float | None  # the case's, as its baseline record keeps it
    cpu: CpuTime  # this run's measurement

    def of(self, original_ms: float, optimized_ms: float) -> tuple[float, float]:
        """The log move of a measurement (this run's, or a baseline run's) from the reference."""
        return math.log(original_ms) - self.reference[0], math.log(optimized_ms) - self.reference[1]

    @property
    def measured(self) -> tuple[float, float]:
        return self.of(self.cpu.original_ms, self.cpu.optimized_ms)


def _moves(results: list[CaseResult]) -> list[_Move]:
    """The run's cases that have baseline runs of this machine's CPU model, each with its move."""
    moves = []
    for result in results:
        runs = _own_runs(result)
        if not runs or result.latency is None or result.baseline is None:
            continue
        reference = (_median_log(r.original_ms for r in runs), _median_log(r.optimized_ms for r in runs))
        moves.append(_Move(f"{result.test}[{result.case_id}]", runs, reference, result.baseline.cpu_time_rtol,
                           result.latency.cpu))
    return moves


def _median_log(values: Iterable[float]) -> float:
    return float(np.median([math.log(v) for v in values]))


def common_cpu_time(moves: list[_Move], shift: float, rtol: float, alpha: float = QbenchOptions.false_alarm_rate,
                    share: float = 1 - SpeedupRule.share) -> Check:
    """A slowdown that hits every model alike (an onnxruntime or library upgrade, a compiler flag) moves
    no speedup: the run's median, over its gated cases, of the log CPU time per call against the
    median of the baseline runs (both models averaged) tests it. Its error is the run-to-run shift
    common to all cases, pooled from the baseline runs themselves (each recorded run's median
    deviation), shrunk to a prior, plus what the cases' own spread leaves in a median of m; `shift` is
    that median (the run's common move), `moves` at least one case."""
    deviations = [_both(*m.measured) for m in moves]
    per_run: dict[str, list[float]] = {}
    for move in moves:
        for r in move.runs:
            per_run.setdefault(r.run, []).append(_both(*move.of(r.original_ms, r.optimized_ms)))
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
        Status.FAIL: (f"{head}: every model slower alike (an onnxruntime, library or machine change?); the speedups"
                      " cannot see it"),
        Status.PASS: f"{head}: a {rtol:.0%} slowdown common to every case is ruled out",
        Status.INCONCLUSIVE: f"{head}: inconclusive; the CPU time per call moves too much between runs here to tell",
    }[status]
    return Check(Metric.COMMON_CPU_MS, Against.BASELINE, status, math.exp(shift), 1.0, f"rtol {rtol:g}", reason,
                 limit=1 + rtol)


def cpu_time_excess(moves: list[_Move], common: float) -> Check | None:
    """Each case's optimized model's CPU time per call against its baseline runs' median, beyond the move
    common to the run's cases (`common`: their median, both models averaged), held to the case's `cpu_time_rtol`
    as a point estimate: a change that slows both models of one case alike, which its speedup cannot
    see. A machine slow for every model alike moves the common move with it and fails no case
    (`common_cpu_time` judges that move). None when no case is gated by it."""
    if all(m.cpu_time_rtol is None for m in moves):
        return None
    # each gated case, the most beyond first: (its excess over the common move, its rtol, its move)
    gated = sorted(((m.measured[1] - common, m.cpu_time_rtol, m) for m in moves if m.cpu_time_rtol is not None),
                   key=lambda g: g[0], reverse=True)
    beyond = [g for g in gated if g[0] > math.log1p(g[1])]
    excess, rtol, _ = beyond[0] if beyond else gated[0]
    rtols = {g[1] for g in gated}
    tolerance = f"rtol {next(iter(rtols)):g}" if len(rtols) == 1 else "each case's cpu_time_rtol"
    head = (f"optimized CPU time per call of {len(gated)} case{'s' * (len(gated) > 1)} against the baseline runs',"
            f" beyond the move common to the run's {len(moves)} ({_change(common)}) ({tolerance})")

    def described(case_excess: float, case_rtol: float, move: _Move) -> str:
        own = f" (rtol {case_rtol:g})" if len(rtols) > 1 else ""
        return f"{move.label} {_change(move.measured[1])}, {_change(case_excess)} beyond{own}"

    if beyond:
        status = Status.FAIL
        reason = (f"{head}: {len(beyond)} slower beyond it: {'; '.join(described(*g) for g in beyond)}; a change"
                  " that slows both models of a case alike, which its speedup cannot see")
    else:
        status, reason = Status.PASS, f"{head}: none beyond its tolerance (the most: {described(*gated[0])})"
    return Check(Metric.EXCESS_CPU_MS, Against.BASELINE, status, math.exp(excess), 1.0, tolerance, reason,
                 limit=1 + rtol)


# The CPU time per call of every case moved 1-3% between idle processes, 8% beside a loaded one
# (docs/BENCHMARKS.md); a weak prior: a run history of 20-30 runs tells the key's own.
PRIOR_COMMON_SIGMA = 0.05
PRIOR_COMMON_DF = 5


def _both(original: float, optimized: float) -> float:
    return (original + optimized) / 2


def _own_runs(result: CaseResult) -> list[LatencyRun]:
    """The baseline runs the case's latency was gated against (its CPU model's), from its baseline record."""
    baseline = result.baseline
    if baseline is None or not baseline.hardware_match or baseline.latency_gate is None:
        return []
    return [r for r in baseline.runs_of(baseline.latency_gate.cpu_model) if r.run]
