"""The between-run spread of gated latency figures: pooling, combining repeats, comparing with a baseline sample."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_qbench.gate.spread import (
    FLOOR_SIGMA,
    MIN_LINE_RUNS,
    Measured,
    between_run_sigma,
    combine,
    compare,
    fit_speed_line,
    gate_from_runs,
    median_variance_factor,
)
from pytest_qbench.results import LatencyRun


def _groups(rng, cases: int, runs: int, sigma: float, se: float, outliers: int = 0):
    groups = []
    for case in range(cases):
        mu = rng.normal(0.4, 0.1)
        values = mu + rng.normal(0, math.sqrt(sigma**2 + se**2), runs)
        if case < outliers:
            values[0] += 0.3  # one run 35% off: a broken VM
        groups.append([(float(v), se) for v in values])
    return groups


def test_pooled_sigma_recovers_the_between_run_part_beyond_each_runs_own_error():
    rng = np.random.default_rng(1)
    spread = between_run_sigma(_groups(rng, cases=200, runs=6, sigma=0.012, se=0.006), prior=0.03, prior_df=1)
    assert spread.sigma == pytest.approx(0.012, rel=0.15)
    assert spread.cases == 200 and spread.runs == 1200


def test_one_odd_run_per_case_in_ten_does_not_inflate_it():
    rng = np.random.default_rng(2)
    clean = between_run_sigma(_groups(rng, 100, 6, 0.01, 0.005), prior=0.03, prior_df=1).sigma
    rng = np.random.default_rng(2)
    odd = between_run_sigma(_groups(rng, 100, 6, 0.01, 0.005, outliers=10), prior=0.03, prior_df=1).sigma
    assert odd < 1.25 * clean


def test_few_runs_stay_near_the_prior_and_none_is_the_prior():
    assert between_run_sigma([[(0.4, 0.01)]], prior=0.015).df == 0
    assert between_run_sigma([], prior=0.015).sigma == 0.015
    # two cases of two identical runs say "no spread" with about one degree of freedom: still mostly prior
    shrunk = between_run_sigma([[(0.4, 0.005), (0.4, 0.005)]] * 2, prior=0.015)
    assert 0.012 < shrunk.sigma < 0.015
    assert between_run_sigma([], prior=0.0).sigma == FLOOR_SIGMA


def test_median_of_runs_variance_factor():
    assert median_variance_factor(1) == median_variance_factor(2) == 1.0
    rng = np.random.default_rng(3)
    for n in (3, 5, 7, 9):  # pi/2 is at least the exact small-sample factor of odd n
        assert np.median(rng.normal(size=(200_000, n)), axis=1).var() * n <= math.pi / 2


def test_compare_holds_both_sides_between_run_and_own_errors():
    one = compare(Measured(0.40, 0.006), [(0.45, 0.008)], sigma=0.01)
    assert one.drop == pytest.approx(0.05)
    assert one.se == pytest.approx(math.sqrt(0.01**2 + 0.006**2 + 0.01**2 + 0.008**2))
    five = compare(Measured(0.40, 0.006), [(0.45, 0.008)] * 5, sigma=0.01)
    assert five.se < one.se and five.runs == 5


def test_compare_is_calibrated_under_no_change():
    """Simulated runs of one case: the standardized drop has unit variance, whatever the sample size."""
    rng = np.random.default_rng(4)
    sigma, se = 0.01, 0.006
    for n in (1, 3, 6):
        z = []
        for _ in range(4000):
            runs = rng.normal(0, math.sqrt(sigma**2 + se**2), n + 1)
            c = compare(Measured(float(runs[0]), se), [(float(v), se) for v in runs[1:]], sigma)
            z.append(c.drop / c.se)
        assert 0.85 < np.std(z) < 1.05, n  # pi/2 is conservative for small odd n


def test_combine_weights_by_precision_and_keeps_the_between_run_part_apart():
    both = combine([Measured(0.40, 0.006), Measured(0.44, 0.006)], sigma=0.01)
    assert both.value == pytest.approx(0.42)
    assert both.se == pytest.approx(0.006 / math.sqrt(2))
    precise = combine([Measured(0.40, 0.001), Measured(0.44, 0.05)], sigma=0.0)
    assert precise.value < 0.401
    c = compare(both, [(0.42, 0.006)] * 5, sigma=0.01, repeats=2)
    assert c.se**2 == pytest.approx(0.01**2 / 2 + 0.006**2 / 2 + math.pi / 2 * (0.01**2 + 0.006**2) / 5)


def test_latency_run_standard_error_from_its_interval():
    run = LatencyRun("amd-26-2", 1.5, 1.47, 1.53, 8.0, 5.3, "r1", "2026-12-02T00:00:00+00:00")
    assert run.log_speedup == pytest.approx(math.log(1.5))
    assert run.log_se == pytest.approx(math.log(1.53 / 1.47) / (2 * 1.959964), rel=1e-5)


def _on_a_line(rng, runs: int, slope: float, noise: float = 0.004) -> list[LatencyRun]:
    """Runs whose log speedup follows their fp32 model's log CPU time (spread +-15%) with `slope`, plus noise."""
    recorded = []
    for i in range(runs):
        moved = rng.uniform(-0.15, 0.15)
        speedup = 1.6 * math.exp(slope * moved + rng.normal(0, noise))
        recorded.append(LatencyRun("cpu", speedup, speedup * 0.995, speedup / 0.995, 10.0 * math.exp(moved),
                                   10.0 * math.exp(moved) / speedup, f"run-{i}", ""))
    return recorded


def test_a_speed_line_recovers_its_slope_from_enough_runs_and_is_not_fitted_from_fewer():
    runs = _on_a_line(np.random.default_rng(4), 25, slope=0.35)
    line = fit_speed_line(runs)
    assert line.fitted and abs(line.slope - 0.35) < 3 * line.slope_se and line.slope_se < 0.05
    raw = np.std([r.log_speedup for r in runs])
    assert np.std([d for d, _ in line.residuals]) < raw / 3  # the machine's speed explained the spread
    few = fit_speed_line(runs[: MIN_LINE_RUNS - 1])
    assert not few.fitted and few.slope == 0.0 and [v for v, _ in few.residuals] == [r.log_speedup for r in runs[:9]]


def test_the_gate_keeps_the_lines_its_cases_runs_teach_and_pools_the_sigma_given_them():
    rng = np.random.default_rng(5)
    recorded = {("test_a", "x"): _on_a_line(rng, 12, slope=0.35), ("test_b", "y"): _on_a_line(rng, 3, slope=0.35)}
    gate = gate_from_runs(recorded, "cpu", cases=2, alpha=0.01, speed_lines=True)
    assert gate_from_runs(recorded, "cpu", cases=2, alpha=0.01, speed_lines=False).lines == ()  # not asked for
    (line,) = gate.lines
    assert (line.test, line.case, line.runs) == ("test_a", "x", 12) and gate.line("test_b", "y") is None
    assert gate.line("test_a", "x") == line and "lines" not in gate.to_json()  # a case's record keeps its own
    as_they_are = between_run_sigma([[(r.log_speedup, r.log_se) for r in runs] for runs in recorded.values()], 0.015)
    assert gate.speedup_spread.sigma < as_they_are.sigma
