"""How far a gated latency figure moves from run to run, and what a baseline of several runs says.

A gate run compares one run on a fresh VM with runs recorded on others. Each run carries its own
interval (measure/stats.py), but runs also differ by more than their intervals: a new process, a
new host, lands the same figure a little elsewhere (docs/BENCHMARKS.md, "Between runs, hosts and
CPU models": about 0.9% per case beyond its interval for the CPU-time speedup on one host, 4-6% for
the CPU time per call). So:

- a baseline keeps the last runs of each case per CPU model (results.LatencyRun), and the gate compares
  with their median;
- `between_run_sigma` pools the runs' deviations from their case's mean over all cases of one
  hardware key and CPU model (a robust scale: one odd run does not inflate it), takes each run's own
  error out, and shrinks the result toward a prior measured across hosts while few runs exist;
- `own_spread` tests whether one case's runs spread more than the pool says (the gate names such a case
  when it does not pass: its sway, not a slowdown, may be what it measured);
- `Comparison` is the difference between a measurement (or several, `combine`d) and the baseline's
  median, with a standard error that holds the between-run sigma on both sides;
- `fit_speed_line` fits a case's log speedup to its original model's log CPU time per call over its
  recorded runs: a machine that runs slow for an hour slows the fp32 model of a small shape more than
  its int8 one and lifts the speedup with it, enough to hide a 10% slowdown (docs/BENCHMARKS.md §8f).
  With qbench_speed_lines the gate judges a speedup given the machine's speed and pools the sigma from
  the residuals; off by default, as a slope learnt in one state of a VM failed unchanged cases in
  another that slowed every model alike (§8g).

Pure numpy: testable on synthetic numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ..measure.stats import median_variance_factor
from ..results import LatencyGate, LatencyRun, SpeedLine, Spread

# Between-run sigma (log scale, beyond each run's own interval) assumed before a key has runs of its
# own: the CPU-time speedup moved 0.84-0.87% per case between processes on two hosts (upper 95%
# bounds 1.15-1.41%). Hosts of one CPU model are not yet measured apart from processes: the prior
# sits above every upper bound.
PRIOR_SPEEDUP_SIGMA = 0.015
PRIOR_DF = 30  # the prior weighs as much as a pooled estimate from 30 degrees of freedom (about 80 runs)
FLOOR_SIGMA = 0.004  # below every lower bound seen: a run never repeats to better than its interval says
MAD_EFFICIENCY = 0.37  # of the MAD against the standard deviation on normal data: its worth in degrees of freedom


def between_run_sigma(
    groups: Iterable[Sequence[tuple[float, float]]], prior: float, prior_df: float = PRIOR_DF
) -> Spread:
    """Pool the between-run sigma over cases: each group holds one case's runs as (log value, own standard error).

    Each run's deviation from its case's mean, scaled by sqrt(n / (n - 1)), has variance
    sigma^2 + se^2 under the model. The estimate is the sigma whose standardized deviations
    d / sqrt(sigma^2 + se^2) have a median absolute value of 0.6745, a normal's: robust (one odd run
    moves a median little) and right when the runs' own errors differ. It is shrunk toward `prior`,
    the data weighing as the degrees of freedom a median absolute deviation is worth."""
    deviations, errors, runs, cases, dof = [], [], 0, 0, 0
    for group in groups:
        if len(group) < 2:
            continue
        values = np.array([v for v, _ in group])
        deviations += list((values - values.mean()) * math.sqrt(len(values) / (len(values) - 1)))
        errors += [se for _, se in group]
        runs, cases, dof = runs + len(values), cases + 1, dof + len(values) - 1
    if not deviations:
        return Spread(max(prior, FLOOR_SIGMA), 0.0, 0, 0)
    data = _standardizing_sigma(np.abs(deviations), np.square(errors))
    df = MAD_EFFICIENCY * dof
    sigma = math.sqrt((prior_df * prior**2 + df * data**2) / (prior_df + df))
    return Spread(max(sigma, FLOOR_SIGMA), df, runs, cases)


_NORMAL_MAD = NormalDist().inv_cdf(0.75)  # median |z| of a standard normal


def _standardizing_sigma(deviations: np.ndarray, own_variances: np.ndarray) -> float:
    """The sigma >= 0 at which median(deviations / sqrt(sigma^2 + own)) is a normal's (bisection:
    the median falls as sigma grows)."""

    def median_z(sigma: float) -> float:
        return float(np.median(deviations / np.sqrt(sigma**2 + own_variances + 1e-18)))

    if median_z(0.0) <= _NORMAL_MAD:
        return 0.0
    low, high = 0.0, float(np.max(deviations)) / _NORMAL_MAD + 1e-9
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if median_z(middle) > _NORMAL_MAD else (low, middle)
    return (low + high) / 2


# A slope from fewer runs moves a verdict by its own error more than the machine's speed does (§8g: slopes of
# 0.2-0.4 with standard errors of 0.03-0.1 from 25 runs; 0.1-0.6 from 5).
MIN_LINE_RUNS = 10


@dataclass(frozen=True)
class LineFit:
    """A case's log speedup on its log fp32 CPU time: slope 0 when its runs are too few to teach one."""

    slope: float
    slope_se: float
    residuals: list[tuple[float, float]]  # (deviation from the line, own se), for between_run_sigma
    fitted: bool = True


def as_measured(runs: Sequence[LatencyRun]) -> LineFit:
    """No line: the runs as they are."""
    return LineFit(0.0, 0.0, [(r.log_speedup, r.log_se) for r in runs], fitted=False)


def fit_speed_line(runs: Sequence[LatencyRun]) -> LineFit:
    """The least-squares line of `runs`, from MIN_LINE_RUNS of them spanning some speed; else no line (the
    runs as they are). Residuals are scaled by sqrt((n - 1) / (n - 2)): between_run_sigma scales deviations
    from a mean by sqrt(n / (n - 1)), and a line spends a second parameter."""
    x = np.array([r.log_original_ms for r in runs])
    y = np.array([r.log_speedup for r in runs])
    n = len(runs)
    sxx = float(np.sum((x - x.mean()) ** 2)) if n else 0.0
    if n < MIN_LINE_RUNS or sxx == 0:
        return as_measured(runs)
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / sxx)
    residuals = y - y.mean() - slope * (x - x.mean())
    slope_se = math.sqrt(float(np.sum(residuals**2)) / (n - 2) / sxx)
    scaled = residuals * math.sqrt((n - 1) / (n - 2))
    return LineFit(slope, slope_se, [(float(d), r.log_se) for d, r in zip(scaled, runs, strict=True)])


def gate_from_runs(recorded: Mapping[tuple[str, str], Sequence[LatencyRun]], cpu_model: str, cases: int,
                   alpha: float, *, speed_lines: bool) -> LatencyGate:
    """The latency gate of a run on `cpu_model` whose (test, case id)s have the `recorded` runs (each a
    different run): with `speed_lines`, every case's speed line that its runs teach; the between-run spread
    pooled from the lines' residuals (from the runs as they are where no line is taught or asked for); the
    run's family of `cases` at `alpha`."""
    fits = {case: fit_speed_line(runs) if speed_lines else as_measured(runs) for case, runs in recorded.items()}
    spread = between_run_sigma([fit.residuals for fit in fits.values()], PRIOR_SPEEDUP_SIGMA)
    lines = tuple(SpeedLine(test, case, fit.slope, fit.slope_se, len(recorded[(test, case)]))
                  for (test, case), fit in sorted(fits.items()) if fit.fitted)
    return LatencyGate(cpu_model, spread, cases=max(cases, 1), alpha=alpha, lines=lines)


@dataclass(frozen=True)
class Measured:
    """What this run measured of a log figure: its value and its own standard error."""

    value: float
    se: float


def combine(measurements: Sequence[Measured], sigma: float) -> Measured:
    """Repeated measurements of one case (a confirmation on another VM) as one: the mean weighted by
    1 / (sigma^2 + se^2), each run also carrying the between-run sigma."""
    weights = np.array([1 / (sigma**2 + m.se**2) for m in measurements])
    values = np.array([m.value for m in measurements])
    value = float((weights * values).sum() / weights.sum())
    # 1 / sum(weights) holds the between-run part too; `compare` adds sigma^2 / repeats back.
    return Measured(value, math.sqrt(max(1 / weights.sum() - sigma**2 / len(measurements), 0.0)))


@dataclass(frozen=True)
class OwnSpread:
    """How far one case's baseline runs spread from run to run, beyond their own errors."""

    sigma: float
    p: float  # the chance that runs spread at least this much were the case's sigma the pooled one (an F test)


def own_spread(runs: Sequence[tuple[float, float]], pooled: float, pooled_df: float) -> OwnSpread | None:
    """A case's own between-run sigma from its runs (log value, own standard error), tested against the
    `pooled` sigma of `pooled_df` degrees of freedom; None under three runs."""
    if len(runs) < 3:
        return None
    from scipy.stats import f

    total = float(np.var([v for v, _ in runs], ddof=1))
    own_errors = float(np.mean(np.square([se for _, se in runs])))
    p = float(f.sf(total / (pooled**2 + own_errors), len(runs) - 1, pooled_df))
    return OwnSpread(math.sqrt(max(total - own_errors, 0.0)), p)


@dataclass(frozen=True)
class Comparison:
    """log(baseline median / measured) of a figure where higher is better (a speedup): > 0 is slower;
    `se` holds both sides' own errors and the between-run sigma of each."""

    drop: float
    se: float
    runs: int  # baseline runs behind the median


def compare(measured: Measured, baseline: Sequence[tuple[float, float]], sigma: float, repeats: int = 1) -> Comparison:
    """Compare a measurement with the median of the baseline's runs, (log value, own se) each.

    `repeats`: how many runs `measured` combines (its between-run part is sigma^2 / repeats)."""
    values = np.array([v for v, _ in baseline])
    errors = np.array([se for _, se in baseline])
    n = len(values)
    baseline_var = median_variance_factor(n) * (sigma**2 + float(np.mean(errors**2))) / n
    se = math.sqrt(sigma**2 / repeats + measured.se**2 + baseline_var)
    return Comparison(float(np.median(values)) - measured.value, se, n)
