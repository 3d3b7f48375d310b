import json
import math
from dataclasses import replace
from statistics import NormalDist

import numpy as np
import pytest
from factories import BASELINE_FILE, CPU_MODEL, HW, TEST, accuracy, latency_gate, looked_up, make_result

from pytest_qbench.gate import latency_stats, rejudge, rules, spread
from pytest_qbench.gate.baselines import entry_from_result
from pytest_qbench.gate.rules import FileToWrite
from pytest_qbench.results import (
    SCORES,
    Against,
    BaselineEntry,
    BaselineRecord,
    CaseResult,
    Check,
    LatencyGate,
    LatencyRun,
    Metric,
    SpeedLine,
    Spread,
    Status,
)
from pytest_qbench.specs import CalibrationSpec, RunSettings, Tolerances

TOL = Tolerances()
HALF = Tolerances(latency_rtol=0.5)  # absolute latency may be 1.5x the baseline's
GATE = latency_gate(CPU_MODEL, cases=42)  # this machine's CPU model, the example's 42 cases


def judge(*args, latency: LatencyGate = GATE, **kwargs):
    """rules.judge on this machine's CPU model (the factories' results and baselines are of it)."""
    return rules.judge(*args, latency=latency, **kwargs)


def recorded(result: CaseResult, hardware_key: str = HW) -> BaselineRecord:
    """The lookup of a baseline recorded from `result` under `hardware_key`, seen from machine HW."""
    return looked_up(entry_from_result(result), hardware_key)


def check(checks: list[Check], metric: str, against: str = "baseline") -> Check:
    (found,) = [c for c in checks if c.metric == metric and c.against == against]
    return found


def with_f1(result: CaseResult, original: float, optimized: float) -> CaseResult:
    return replace(result, accuracy_original=accuracy(original), accuracy_optimized=accuracy(optimized, 0.935, 0.943))


def with_speedup(result: CaseResult, value: float, low: float, high: float) -> CaseResult:
    """`result` with this CPU-time speedup (the gated one)."""
    cpu = result.latency.cpu
    speedup = replace(cpu.speedup, value=value, ci_low=low, ci_high=high)
    return replace(result, latency=replace(result.latency, cpu=replace(cpu, speedup=speedup)))


def with_cpu_ms(result: CaseResult, original: float, optimized: float) -> CaseResult:
    return replace(result, latency=replace(result.latency, cpu=replace(result.latency.cpu, original_ms=original,
                                                                         optimized_ms=optimized)))


def test_same_measurement_as_baseline_passes_every_check():
    result = make_result()
    judgement = judge(result, recorded(result), HALF)
    assert judgement.verdict == "pass"
    assert rules.file_to_write(judgement.verdict, update=False) is None
    assert {c.status for c in judgement.checks} == {"pass"}
    assert [c.metric for c in judgement.checks] == [
        "f1", "parameters", "precision", "recall", "f1", "accuracy",
        "original.precision", "original.recall", "original.f1", "original.accuracy",
        "cpu.speedup",
        "original.mean_ms", "original.throughput", "optimized.mean_ms", "optimized.throughput",
    ]
    entry = entry_from_result(result)
    assert judgement.baseline == BaselineRecord(BASELINE_FILE, HW, True, entry, GATE, HALF.speedup_rtol,
                                                cpu_time_rtol=HALF.cpu_time_rtol)


# ---- accuracy vs the original model ----------------------------------------------------------------


def test_static_collapse_fails_against_the_original_without_any_baseline():
    # The reference card's static quantization of [Add, MatMul]: F1 0.940 -> 0.100.
    result = make_result(approach="static", f1=(0.940, 0.100))
    judgement = judge(result, looked_up(None), TOL)
    assert judgement.verdict == "fail"
    vs_original = check(judgement.checks, "f1", "original")
    assert vs_original.status == "fail"
    assert (
        vs_original.reason == "f1 0.1000 vs original 0.9400 (max loss 0.01): lost 0.8400, more than the 0.0100 allowed"
    )


def test_static_collapse_fails_even_against_a_baseline_that_recorded_it():
    result = make_result(approach="static", f1=(0.940, 0.100))
    judgement = judge(result, recorded(result), TOL)
    assert [c.metric for c in judgement.checks if c.status == "fail"] == ["f1"]
    assert judgement.verdict == "fail"


@pytest.mark.parametrize(
    ("original", "optimized", "tolerances", "status"),
    [
        (0.940, 0.930, Tolerances(max_loss=0.01), "pass"),  # exactly the tolerable loss
        (0.940, 0.9299, Tolerances(max_loss=0.01), "fail"),
        (0.940, 0.950, Tolerances(max_loss=0.0), "pass"),  # gains always pass
        (0.900, 0.891, Tolerances(max_relative_loss=0.01), "pass"),  # 1% of 0.900 exactly
        (0.900, 0.8909, Tolerances(max_relative_loss=0.01), "fail"),
        (0.900, 0.885, Tolerances(max_loss=0.02, max_relative_loss=0.01), "fail"),  # relative replaces absolute
    ],
)
def test_tolerable_loss_vs_original_edges(original, optimized, tolerances, status):
    result = with_f1(make_result(), original, optimized)
    assert check(judge(result, recorded(result), tolerances).checks, "f1", "original").status == status


def test_relative_loss_is_named_in_the_tolerance():
    result = with_f1(make_result(), 0.9, 0.8)
    found = check(judge(result, recorded(result), Tolerances(max_relative_loss=0.01)).checks, "f1", "original")
    assert found.tolerance == "max relative loss 0.01"
    assert "more than the 0.0090 allowed" in found.reason


# ---- accuracy vs baseline ----------------------------------------------------------------------------


def test_accuracy_regression_reason_names_metric_values_and_tolerance():
    base = with_f1(make_result(), 0.941, 0.941)
    result = with_f1(make_result(), 0.941, 0.8912)
    found = check(judge(result, recorded(base), TOL).checks, "f1")
    assert found.status == "fail"
    assert found.reason == "f1 0.8912 vs baseline 0.9410 (atol 0.005): worse by 0.0498"
    assert (found.measured, found.expected, found.tolerance) == (0.8912, 0.941, "atol 0.005")


@pytest.mark.parametrize(
    ("measured", "tolerances", "status"),
    [
        (0.936, TOL, "pass"),  # exactly atol below
        (0.946, TOL, "pass"),  # exactly atol above
        (0.9359, TOL, "fail"),
        (0.931, Tolerances(accuracy_atol=0.0, accuracy_rtol=0.01), "fail"),  # rtol 1% of 0.941 = 0.00941
        (0.9316, Tolerances(accuracy_atol=0.0, accuracy_rtol=0.01), "pass"),
        (0.9266, Tolerances(accuracy_atol=0.005, accuracy_rtol=0.01), "pass"),  # 0.005 + 0.00941 add up
    ],
)
def test_accuracy_vs_baseline_tolerance_edges(measured, tolerances, status):
    base = with_f1(make_result(), 0.941, 0.941)
    result = with_f1(make_result(), 0.941, measured)
    assert check(judge(result, recorded(base), replace(tolerances, max_loss=1.0)).checks, "f1").status == status


def test_accuracy_better_than_baseline_fails_and_asks_for_an_update():
    base = with_f1(make_result(), 0.941, 0.900)
    result = with_f1(make_result(), 0.941, 0.939)
    found = check(judge(result, recorded(base), TOL).checks, "f1")
    assert found.status == "fail"
    assert "better by 0.0390" in found.reason
    assert "pytest --qbench --qbench-update-baselines" in found.reason


def test_original_model_accuracy_is_gated_too():
    base = make_result()
    result = replace(make_result(), accuracy_original=accuracy(0.940, precision=0.90))
    judgement = judge(result, recorded(base), TOL)
    assert [c.metric for c in judgement.checks if c.status == "fail"] == ["original.precision"]


def test_changed_parameters_fail_and_name_the_difference():
    base = make_result(approach="static")
    result = make_result(approach="static", calibration=CalibrationSpec(num_samples=200))
    found = check(judge(result, recorded(base), TOL).checks, "parameters")
    assert found.status == "fail"
    assert "parameters.calibration.num_samples 100 -> 200" in found.reason


# ---- latency ---------------------------------------------------------------------------------------------


def with_runs(entry: BaselineEntry, runs: list[LatencyRun]) -> BaselineEntry:
    return replace(entry, latency=replace(entry.latency, runs=tuple(runs)))


def sample(speedups: list[float], width: float = 0.01, cpu_model: str = CPU_MODEL) -> BaselineRecord:
    """A baseline whose latency sample holds one run per speedup, each with a 95% CI `width` wide (relative)."""
    entry = entry_from_result(make_result())
    cpu = entry.latency.cpu
    return looked_up(with_runs(entry, [
        LatencyRun(cpu_model, v, v / (1 + width / 2), v * (1 + width / 2), cpu.original_ms, cpu.optimized_ms,
                   f"run-{i}", "")
        for i, v in enumerate(speedups)
    ]))


def speedup_check(value: float, low: float, high: float, base: BaselineRecord | None = None, gate: LatencyGate = GATE):
    """The cpu.speedup check of a case measured at value (low, high) against `base` (default: five
    quiet runs at 2.2, each CI 1% wide)."""
    base = base or sample([2.2, 2.19, 2.21, 2.2, 2.2])
    judgement = judge(with_speedup(make_result(), value, low, high), base, TOL, latency=gate)
    return check(judgement.checks, "cpu.speedup"), judgement.verdict


def test_a_significant_slowdown_beyond_half_the_tolerance_fails():
    found, verdict = speedup_check(1.98, 1.96, 2.00)  # 11% slower than 2.2
    assert (found.status, verdict) == ("fail", "fail")
    assert found.reason.startswith(
        "cpu speedup 1.980 (CI 1.960 to 2.000) vs baseline 2.200 (median of 5 runs) (rtol 0.1): slowdown +11.1%"
        " (standard error 1.8%, with a between-run sigma of 1.5% from prior; fails beyond +7.5%: 1% false alarms"
        " per run over 42 cases): slower, significantly for the whole run"
    )


def test_no_change_rules_out_the_tolerated_slowdown():
    found, verdict = speedup_check(2.19, 2.17, 2.21)
    assert (found.status, verdict) == ("pass", "pass")
    assert found.reason.endswith("a 10% slowdown is ruled out")


def test_a_small_significant_slowdown_within_half_the_tolerance_passes():
    # 3% slower, significantly so within one run, but under half of rtol: tolerated.
    spread = Spread(0.004, 100.0, 300, 42)
    found, _ = speedup_check(2.136, 2.133, 2.139, gate=replace(GATE, speedup_spread=spread))
    assert found.status == "pass"


def test_too_noisy_to_decide_is_inconclusive_not_a_silent_pass():
    found, verdict = speedup_check(2.1, 1.8, 2.4)
    assert (found.status, verdict) == ("inconclusive", "inconclusive")
    assert "inconclusive, neither a 10% slowdown ruled out nor a slowdown significant" in found.reason
    assert "--qbench-rerun-from" in found.reason and "--qbench-max-seconds" in found.reason


def test_the_baselines_own_noise_and_size_count():
    # The same measurement that fails against five precise runs is inconclusive against one noisy run.
    assert speedup_check(1.98, 1.96, 2.00)[0].status == "fail"
    assert speedup_check(1.98, 1.96, 2.00, base=sample([2.2], width=0.2))[0].status == "inconclusive"


def test_a_case_that_sways_more_than_the_pool_is_named_with_a_tolerance_matching_its_spread():
    """docs/BENCHMARKS.md §8k: a case swaying 3.2% from run to run (beyond its runs' own errors), 6.6% low against
    ten of its runs, fails by the pooled 1.3% sigma; the reason says its runs sway and which speedup_rtol matches
    them: twice 2.33 times its drift from the baseline's median (3.2% x 1.08), so that an unchanged run fails at
    most 1% of the time. A quiet case's reason says nothing of the kind."""
    swaying = sample([2.2 * math.exp(x) for x in (-0.05, -0.035, -0.02, -0.01, 0, 0.005, 0.015, 0.03, 0.04, 0.05)])
    gate = replace(GATE, speedup_spread=Spread(0.013, 60.0, 400, 41))
    value = 2.2 * math.exp(0.0025 - 0.068)
    found, _ = speedup_check(value, value / 1.01, value * 1.01, swaying, gate)
    assert found.status == "fail"
    note = found.reason.split("; note: ")[1]
    assert note.startswith("this case's 10 baseline runs spread 3.2% from run to run, more than the 1.3% pooled")
    assert "a speedup_rtol near 18%" in note  # exp(2 x 2.33 x 3.5%) - 1
    quiet, _ = speedup_check(1.98, 1.96, 2.00, gate=gate)
    assert quiet.status == "fail" and "; note: " not in quiet.reason


def test_the_family_decides_how_significant_a_case_must_be():
    """One case alone is held to 1%; one of 1000 to 0.001%: a gate of many cases must not fail for nothing."""
    alone = speedup_check(2.02, 2.0, 2.04, gate=replace(GATE, cases=1))[0]
    many = speedup_check(2.02, 2.0, 2.04, gate=replace(GATE, cases=1000))[0]
    assert (alone.status, many.status) == ("fail", "inconclusive")
    assert "over 1000 cases" in many.reason


def test_faster_than_baseline_passes_and_suggests_an_update():
    found, verdict = speedup_check(2.6, 2.58, 2.62)
    assert (found.status, verdict) == ("pass", "pass")
    assert "faster than the baseline" in found.reason


def test_only_runs_of_this_cpu_model_gate_and_their_absence_is_said():
    result = make_result()
    judgement = judge(result, sample([2.2] * 3, cpu_model="intel-6-106"), TOL, latency=GATE)
    (latency,) = [c for c in judgement.checks if c.metric == "latency"]
    assert latency.status == "skip" and judgement.verdict == "pass"
    assert latency.reason.startswith(
        f"latency recorded, not gated: no baseline runs of CPU model {CPU_MODEL} under hardware key '{HW}'"
        " (recorded: intel-6-106)")
    assert not [c for c in judgement.checks if c.metric == "cpu.speedup"]


def test_the_rule_keeps_its_error_rates_across_fresh_runs():
    """Runs of 42 cases that differ by a between-run sigma beyond each run's own 95% CI (5% wide),
    judged against five earlier runs with that sigma known: under no change <= 1% of gate runs fail
    anywhere; one case slowed by 20% fails >= 95% of the time (docs/BENCHMARKS.md simulates the real
    components)."""
    rng = np.random.default_rng(0)
    sigma, se, cases = 0.01, math.log(1.05) / (2 * 1.96), 42
    gate = replace(GATE, speedup_spread=Spread(sigma, 1e6, 10**6, cases))

    def run(shift: float = 0.0) -> float:
        return math.exp(math.log(2.0) - shift + rng.normal(0, math.hypot(sigma, se)))

    def status(value: float, base: BaselineRecord) -> str:
        return speedup_check(value, value * math.exp(-1.96 * se), value * math.exp(1.96 * se), base, gate)[0].status

    false_alarm_runs, caught = 0, 0
    for _ in range(150):
        bases = [sample([run() for _ in range(5)], width=0.05) for _ in range(cases)]
        false_alarm_runs += any(status(run(), base) == "fail" for base in bases)
        caught += status(run(math.log(1.2)), bases[0]) == "fail"
    assert false_alarm_runs / 150 <= 0.02  # 1% expected; 150 runs of 42 cases
    assert caught / 150 >= 0.95


def test_an_update_restarts_the_sample_when_the_speed_changed_significantly():
    base = sample([2.2, 2.19, 2.21, 2.2, 2.2])
    same = judge(with_speedup(make_result(), 2.2, 2.18, 2.22), base, TOL, update=True, latency=GATE)
    slower = judge(with_speedup(make_result(), 1.8, 1.78, 1.82), base, TOL, update=True, latency=GATE)
    faster = judge(with_speedup(make_result(), 2.7, 2.68, 2.72), base, TOL, update=True, latency=GATE)
    assert (same.restart, slower.restart, faster.restart) == (False, True, True)
    written = [rules.file_to_write(j.verdict, update=True) for j in (same, slower)]
    assert written == [FileToWrite.BASELINE] * 2


def test_wall_clock_latency_is_recorded_not_gated_by_default():
    base = make_result(original_ms=46.38, optimized_ms=9.96)
    result = make_result(original_ms=3 * 46.38, optimized_ms=3 * 9.96)  # a busy neighbour: CPU time unchanged
    result = with_cpu_ms(result, base.latency.cpu.original_ms, base.latency.cpu.optimized_ms)
    judgement = judge(result, recorded(base), TOL)
    assert judgement.verdict == "pass"
    assert {c.metric for c in judgement.checks if c.against == "baseline"} == {
        "parameters", "cpu.speedup", *SCORES, *(f"original.{m}" for m in SCORES)
    }


def test_wall_clock_regression_beyond_latency_rtol_and_ci_fails():
    base = make_result(optimized_ms=10.0)
    result = make_result(optimized_ms=25.0)  # limits: 15 ms, 1/1.5 of the throughput; CI +-0.05 ms
    checks = judge(result, recorded(base), HALF).checks
    assert check(checks, "optimized.mean_ms").status == "fail"
    assert check(checks, "optimized.mean_ms").reason == (
        "optimized.mean_ms 25.00 ms (95% CI 24.95 ms to 25.05 ms) vs baseline 10.00 ms (rtol 0.5, limit 15.00 ms):"
        " worse, the whole CI beyond the limit"
    )
    assert check(checks, "optimized.throughput").status == "fail"
    assert check(checks, "original.mean_ms").status == "pass"
    assert check(checks, "original.throughput").status == "pass"


def test_wall_clock_regression_within_noise_passes():
    base = make_result(optimized_ms=10.0)
    result = make_result(optimized_ms=16.0)  # limit 15 ms
    noisy = replace(result.latency.optimized, stdev_ms=20.0, n_samples=20)  # CI +-8.8 ms reaches the limit
    result = replace(result, latency=replace(result.latency, optimized=noisy))
    found = check(judge(result, recorded(base), HALF).checks, "optimized.mean_ms")
    assert found.status == "pass"
    assert "not significant" in found.reason


def test_hardware_mismatch_skips_latency_but_still_gates_accuracy():
    base = make_result(optimized_ms=5.0)
    result = with_f1(make_result(), 0.940, 0.900)
    judgement = judge(result, recorded(base, hardware_key="x86_64-avx2-4c"), TOL)
    (skipped,) = [c for c in judgement.checks if c.status == "skip"]
    assert skipped.metric == "latency"
    assert "'x86_64-avx2-4c'" in skipped.reason and repr(HW) in skipped.reason
    assert not any(c.metric.endswith(("mean_ms", "throughput", "cpu_ms")) or c.metric == "cpu.speedup"
                   for c in judgement.checks)
    assert check(judgement.checks, "f1").status == "fail"
    assert judgement.verdict == "fail"
    assert judgement.baseline.hardware_match is False


def test_hardware_mismatch_alone_passes():
    result = make_result()
    assert judge(result, recorded(result, hardware_key="arm64-asimd-8c"), TOL).verdict == "pass"


# ---- missing baseline, update mode, errors, verdicts --------------------------------------------------


def test_missing_baseline_fails_and_says_how_to_create_it():
    judgement = judge(make_result(), looked_up(None), TOL)
    assert judgement.verdict == "fail"
    assert rules.file_to_write(judgement.verdict, update=False) is FileToWrite.OBTAINED
    found = check(judgement.checks, "baseline")
    assert "pytest --qbench --qbench-update-baselines" in found.reason
    assert BASELINE_FILE in found.reason and "dynamic-Add+MatMul-bs1-len32" in found.reason and TEST in found.reason


def test_update_mode_writes_the_measurement_without_comparing_to_the_old_baseline():
    base = with_f1(make_result(), 0.941, 0.5)
    judgement = judge(make_result(), recorded(base), TOL, update=True)
    assert judgement.verdict == "updated"
    assert rules.file_to_write(judgement.verdict, update=True) is FileToWrite.BASELINE
    assert [(c.metric, c.against) for c in judgement.checks] == [("f1", "original")]


def test_update_mode_keeps_the_vs_original_gate_and_still_writes():
    result = make_result(approach="static", f1=(0.940, 0.100))
    judgement = judge(result, looked_up(None), TOL, update=True)
    assert judgement.verdict == "fail"
    assert rules.file_to_write(judgement.verdict, update=True) is FileToWrite.BASELINE


@pytest.mark.parametrize("update", [False, True])
def test_a_failed_measurement_is_an_error_and_is_never_written(update):
    judgement = judge(make_result(error="RuntimeError: boom"), looked_up(None), TOL, update=update)
    assert (judgement.verdict, rules.file_to_write(judgement.verdict, update), judgement.checks) == ("error", None, [])


def test_an_incomplete_measurement_is_an_error_and_is_never_written():
    judgement = judge(replace(make_result(), latency=None), looked_up(None), TOL, update=True)
    assert (judgement.verdict, rules.file_to_write(judgement.verdict, update=True)) == ("error", None)
    assert judgement.checks[0].reason == "latency not measured: nothing compared, nothing written"


def test_amend_edits_the_checks_before_the_verdict():
    def waive_vs_original(checks: list[Check]) -> None:
        checks[:] = [replace(c, status="pass") if c.against == "original" else c for c in checks]

    result = make_result(approach="static", f1=(0.940, 0.100))
    judgement = judge(result, recorded(result), TOL, amend=waive_vs_original)
    assert (judgement.verdict, rules.file_to_write(judgement.verdict, update=False)) == ("pass", None)


def test_a_hook_may_write_a_status_as_a_word_and_add_a_check_of_its_own():
    def strict_and_more(checks: list[Check]) -> None:
        checks[:] = [replace(c, status="fail") if c.metric == "cpu.speedup" else c for c in checks]
        checks.append(Check("team.metric", "baseline", "pass", 1.0, 1.0, "exact", "a check of the team's own"))

    result = make_result()
    judgement = judge(result, recorded(result), TOL, amend=strict_and_more)
    speedup, own = check(judgement.checks, "cpu.speedup"), judgement.checks[-1]
    assert (speedup.status, judgement.verdict) == (Status.FAIL, Status.FAIL)
    assert (own.metric, own.against, own.status) == ("team.metric", Against.BASELINE, Status.PASS)
    assert not isinstance(own.metric, Metric)


def test_verdict_is_skip_only_when_every_check_skipped():
    def skip_all(checks: list[Check]) -> None:
        checks[:] = [replace(c, status="skip") for c in checks]

    result = make_result()
    assert judge(result, recorded(result), TOL, amend=skip_all).verdict == "skip"


def test_each_bounded_check_carries_its_limit_as_a_number():
    base = make_result()
    result = with_f1(base, 0.940, 0.935)
    checks = judge(result, recorded(base), Tolerances(max_relative_loss=0.02, latency_rtol=0.5)).checks
    assert check(checks, "f1", "original").limit == pytest.approx(0.940 - 0.02 * 0.940)  # the lowest F1 allowed
    latency = entry_from_result(base).latency
    assert check(checks, "cpu.speedup").limit == pytest.approx(latency.cpu.speedup.value / 1.10)  # a slowdown of rtol
    assert check(checks, "optimized.mean_ms").limit == pytest.approx(latency.optimized.mean_ms * 1.5)
    assert check(checks, "parameters").limit is None and check(checks, "f1").limit is None  # exact / two-sided


def test_a_confirmation_combines_the_repeats_of_a_case_against_the_same_baseline_runs():
    """A 7% slowdown measured once is inconclusive; measured again on another VM it fails: the two runs
    combine into one estimate whose error halves its between-run part."""
    base = sample([2.2, 2.19, 2.21, 2.2, 2.2])
    first, again = (replace(with_speedup(make_result(run_id=run), 2.05, 2.03, 2.07)) for run in ("run-a", "run-b"))
    for result in (first, again):
        judgement = judge(result, base, TOL)
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    assert first.verdict == "inconclusive"
    both = rejudge.confirmed([first, again])
    found = check(both.checks, "cpu.speedup")
    assert (found.status, both.verdict, both.confirmed_by) == ("fail", "fail", ["run-b"])
    assert "2 runs combined to 2.050" in found.reason
    assert [c.metric for c in both.checks] == [c.metric for c in first.checks]
    # the record the merge re-judges with: this machine's CPU model, the spread, the family
    assert first.baseline.latency_gate == GATE


def test_a_confirmation_that_measures_no_change_clears_the_case():
    base = sample([2.2, 2.19, 2.21, 2.2, 2.2])
    first = with_speedup(make_result(run_id="run-a"), 2.05, 2.03, 2.07)
    again = with_speedup(make_result(run_id="run-b"), 2.21, 2.19, 2.23)
    for result in (first, again):
        judgement = judge(result, base, TOL)
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    assert rejudge.confirmed([first, again]).verdict != "fail"


def test_a_confirmation_holds_the_case_to_the_tolerance_it_was_judged_with():
    """A marker's speedup_rtol travels with the case's baseline record, not in the check's text; an
    artifact without it (schema 5) is re-judged with the run's."""
    base = sample([2.2, 2.19, 2.21, 2.2, 2.2])
    loose = Tolerances(speedup_rtol=0.3)
    first, again = (with_speedup(make_result(run_id=run), 1.9, 1.88, 1.92) for run in ("run-a", "run-b"))
    for result in (first, again):
        judgement = judge(result, base, loose)
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    assert first.baseline.speedup_rtol == 0.3
    assert check(rejudge.confirmed([first, again]).checks, "cpu.speedup").tolerance == "rtol 0.3"
    for result in (first, again):
        result.baseline = replace(result.baseline, speedup_rtol=None)
    assert check(rejudge.confirmed([first, again], default_rtol=0.05).checks, "cpu.speedup").tolerance == "rtol 0.05"


def on_a_line(slope: float, runs: int = 12) -> BaselineRecord:
    """A baseline of quiet runs (each CI 1% wide) at speedup 2.2 where the machine ran the fp32 model at the
    factories' speed, and whose speedup moved with its fp32 CPU time by `slope` (that time within +-5%)."""
    entry = entry_from_result(make_result())
    cpu, recorded = entry.latency.cpu, []
    for i in range(runs):
        moved = 0.025 * (i % 5 - 2)
        value = 2.2 * math.exp(slope * moved)
        recorded.append(LatencyRun(CPU_MODEL, value, value / 1.005, value * 1.005, cpu.original_ms * math.exp(moved),
                                   cpu.original_ms * math.exp(moved) / value, f"run-{i}", ""))
    return looked_up(with_runs(entry, recorded))


LINE = SpeedLine(TEST, make_result().case_id, 0.35, 0.02, 12)
# the run's gate: the case's line, and another case's
GIVEN_SPEED = replace(GATE, lines=(SpeedLine(TEST, "other-case", 0.1, 0.05, 20), LINE))


def at_speed(fp32: float, speedup: float, run_id: str = "run-1") -> CaseResult:
    """The factories' case measured with its fp32 model `fp32` times as slow as the baseline's, at `speedup`."""
    result = make_result(run_id=run_id)
    cpu = result.latency.cpu
    return with_speedup(with_cpu_ms(result, cpu.original_ms * fp32, cpu.optimized_ms), speedup, speedup / 1.005,
                        speedup * 1.005)


def test_given_the_machines_speed_a_slowdown_hidden_by_a_slow_fp32_model_fails():
    """The machine runs the fp32 model 30% slower, which lifts this case's speedup by 1.3 ** 0.35 (+9.6%):
    an int8 model 10% slower then measures the baseline's speedup, and passes unless judged at that speed."""
    hidden = at_speed(1.3, 2.2 * 1.3**0.35 / 1.1)
    assert check(judge(hidden, on_a_line(0.35), TOL).checks, "cpu.speedup").status == "pass"
    found = check(judge(hidden, on_a_line(0.35), TOL, latency=GIVEN_SPEED).checks, "cpu.speedup")
    assert found.status == "fail" and found.expected == pytest.approx(2.2 * 1.3**0.35, rel=0.01)
    assert found.limit == pytest.approx(found.expected / 1.1)
    assert "at this run's speed: its original model +30" in found.reason
    assert "slope 0.35 (standard error 0.02) over 12 recorded runs" in found.reason


def test_given_the_machines_speed_an_unchanged_case_on_a_fast_machine_passes():
    """The fp32 model 30% faster lowers the speedup by 9.2%: a false alarm as measured, no change at that speed."""
    unchanged = at_speed(1 / 1.3, 2.2 / 1.3**0.35)
    assert check(judge(unchanged, on_a_line(0.35), TOL).checks, "cpu.speedup").status == "fail"
    assert check(judge(unchanged, on_a_line(0.35), TOL, latency=GIVEN_SPEED).checks, "cpu.speedup").status == "pass"


def test_a_cases_record_keeps_its_own_line_and_the_merge_judges_repeats_with_it():
    hidden = [at_speed(1.3, 2.2 * 1.3**0.35 / 1.1, run_id=run) for run in ("run-a", "run-b")]
    for result in hidden:
        judgement = judge(result, on_a_line(0.35), TOL, latency=GIVEN_SPEED)
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    record = hidden[0].baseline
    assert (record.speed_line, record.latency_gate) == (LINE, GATE)  # its own line, beside the run's gate
    assert BaselineRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert rejudge.confirmed(hidden).verdict == "fail"
    for result in hidden:  # the same repeats judged as measured (a record without the line) pass
        result.baseline = replace(result.baseline, speed_line=None)
    assert rejudge.confirmed(hidden).verdict == "pass"


def _runs_of(rng, cases: int, runs: int, common: float, own: float):
    """Per case, `runs` recorded runs: each run shifts every case's CPU time alike (sigma `common`) and
    each case apart (sigma `own`)."""
    shifts = rng.normal(0, common, runs)
    return [[(math.exp(shifts[j] + rng.normal(0, own)), f"run-{j}") for j in range(runs)] for _ in range(cases)]


def _judged_run(rng, recorded, slower: float, common: float = 0.01, own: float = 0.03,
                tolerances: Tolerances = TOL) -> list[CaseResult]:
    shift = rng.normal(0, common)
    results = []
    for index, runs in enumerate(recorded):
        entry = with_runs(entry_from_result(make_result()),
                          [LatencyRun(CPU_MODEL, 2.0, 1.98, 2.02, 20.0 * f, 10.0 * f, run, "") for f, run in runs])
        factor = (1 + slower) * math.exp(shift + rng.normal(0, own))
        result = with_cpu_ms(make_result(batch_size=index + 1), 20.0 * factor, 10.0 * factor)
        judgement = judge(result, looked_up(entry), tolerances)
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
        results.append(result)
    return results


def run_check(results: list[CaseResult], metric: str, rtol: float = 0.10) -> Check | None:
    """The run's own check `metric` of a run of `results`, judged at its end."""
    return next((c for c in latency_stats.run_checks(results, RunSettings(speedup_rtol=rtol)) if c.metric == metric),
                None)


def test_a_slowdown_common_to_every_case_fails_the_runs_own_check():
    """An upgrade that slows every model by 15%: no speedup moves, the run's median CPU time does, once
    enough runs (a history) show how little it moves by itself."""
    rng = np.random.default_rng(1)
    recorded = _runs_of(rng, cases=42, runs=30, common=0.01, own=0.03)
    same = run_check(_judged_run(rng, recorded, slower=0.0), "cpu_ms.common")
    slower = run_check(_judged_run(rng, recorded, slower=0.15), "cpu_ms.common")
    assert (same.status, slower.status) == ("pass", "fail")
    assert slower.metric == "cpu_ms.common" and slower.measured == pytest.approx(1.15, abs=0.03)
    assert "every model slower alike" in slower.reason and "from 30 recorded runs" in slower.reason
    few = run_check(_judged_run(rng, [runs[:3] for runs in recorded], slower=0.15), "cpu_ms.common")
    assert few.status == "inconclusive"  # three runs cannot show it yet: the prior's 5% stands
    assert all(check(r.checks, "cpu.speedup").status == "pass" for r in _judged_run(rng, recorded, slower=0.15))


def test_the_common_check_keeps_its_false_alarms_under_its_share():
    rng = np.random.default_rng(2)
    failed = 0
    for _ in range(300):
        recorded = _runs_of(rng, cases=8, runs=5, common=0.03, own=0.05)
        failed += (
            run_check(_judged_run(rng, recorded, 0.0, common=0.03, own=0.05), "cpu_ms.common").status
            == "fail"
        )
    assert failed / 300 <= 0.01


def test_no_common_check_without_runs_of_this_cpu_model():
    result = make_result()
    judgement = judge(result, sample([2.2], cpu_model="intel-6-106"), TOL)
    result.checks, result.baseline = judgement.checks, judgement.baseline
    assert latency_stats.run_checks([result], RunSettings()) == []


def slowed(results: list[CaseResult], index: int, original: float, optimized: float) -> list[CaseResult]:
    """The run `results` with case `index`'s CPU time per call of each model multiplied."""
    cpu = results[index].latency.cpu
    results[index] = with_cpu_ms(results[index], cpu.original_ms * original, cpu.optimized_ms * optimized)
    return results


def test_one_case_slowed_for_both_models_fails_the_runs_end_and_is_named():
    """Both models of one case 40% slower (a change its speedup cannot see) fail the run's end beyond the
    common move; a machine 40% slower for every model fails no case there, only the common check, and no
    case's own verdict (judged per case, the limit failed them all: docs/BENCHMARKS.md §8h)."""
    rng = np.random.default_rng(3)
    recorded = _runs_of(rng, cases=12, runs=5, common=0.01, own=0.03)
    run = slowed(_judged_run(rng, recorded, slower=0.0), 4, 1.4, 1.4)
    found = run_check(run, "cpu_ms.excess")
    assert found.status == "fail" and found.measured == pytest.approx(1.4, rel=0.1) and found.limit == 1.35
    assert f"1 slower beyond it: {run[4].test}[{run[4].case_id}] +" in found.reason
    slow_machine = _judged_run(rng, recorded, slower=0.4)
    assert all(r.verdict == "pass" for r in slow_machine)
    assert run_check(slow_machine, "cpu_ms.excess").status == "pass"
    assert run_check(slow_machine, "cpu_ms.common").status == "fail"


def test_cpu_time_within_its_tolerance_passes_and_off_is_not_gated():
    rng = np.random.default_rng(4)
    recorded = _runs_of(rng, cases=12, runs=5, common=0.01, own=0.01)
    assert run_check(slowed(_judged_run(rng, recorded, 0.0, own=0.01), 0, 1.0, 1.25), "cpu_ms.excess").status == "pass"
    loose = slowed(_judged_run(rng, recorded, 0.0, own=0.01, tolerances=Tolerances(cpu_time_rtol=2.5)), 0, 1.0, 3.0)
    found = run_check(loose, "cpu_ms.excess")
    assert (found.status, found.tolerance, found.limit) == ("pass", "rtol 2.5", 3.5)  # each case's own rtol
    off = _judged_run(rng, recorded, 0.0, own=0.01, tolerances=Tolerances(cpu_time_rtol=None))
    assert run_check(slowed(off, 0, 1.0, 3.0), "cpu_ms.excess") is None
    assert run_check(off, "cpu_ms.common") is not None


def test_the_record_keeps_the_cpu_time_rtol_the_runs_end_holds_the_case_to():
    result = make_result()
    judgement = judge(result, recorded(result), Tolerances(cpu_time_rtol=0.5))
    assert judgement.baseline.cpu_time_rtol == 0.5
    assert BaselineRecord.from_json(json.loads(json.dumps(judgement.baseline.to_json()))) == judgement.baseline
    assert judge(result, recorded(result), TOL, update=True).baseline.cpu_time_rtol is None  # an update's: not judged


# ---- a confirmation in the run: the first look chooses, the best of the fresh processes decides ---


def confirmed_in_run(first: float, *again: float) -> CaseResult:
    """A case whose first CPU phase measured `first`, confirmed by fresh processes that measured `again`
    (each CI 1% wide), as measure/case.py's `confirm` leaves it: `cpu` the median, `measurements` all."""
    from pytest_qbench.measure.stats import median_cpu

    base = make_result()
    measurements = [replace(base.latency.cpu, speedup=replace(base.latency.cpu.speedup, value=v, ci_low=v * 0.995,
                                                              ci_high=v * 1.005)) for v in (first, *again)]
    return replace(base, latency=replace(base.latency, cpu=median_cpu(measurements), measurements=measurements))


BASE = (1.707, 1.70, 1.71, 1.705, 1.708)


def confirmed_check(*measured: float) -> Check:
    return check(judge(confirmed_in_run(*measured), sample(list(BASE)), TOL).checks, "cpu.speedup")


def test_one_slow_session_is_outvoted_by_the_fresh_processes():
    """The A/A excursion of issue 31: 1.521 against a baseline of 1.707 fails alone; measured again at
    1.670 and 1.681 in fresh processes, the case passes, shown by its best measurement."""
    alone, confirmed = confirmed_check(1.521), confirmed_check(1.521, 1.670, 1.681)
    assert (alone.status, confirmed.status) == ("fail", "pass")
    assert confirmed.measured == pytest.approx(1.681, rel=1e-6)
    assert ("the best of 2 fresh processes' measurements (1.670, 1.681; the first look, 1.521, only chose the case;"
            " it fails only when each fails on its own)") in confirmed.reason


def test_the_fresh_processes_decide_a_case_that_its_first_look_chose():
    """BENCHMARKS §8j: a +10% case inconclusive at first look, just short of the fail limit, then failing in
    both fresh processes fails (before, its inconclusive first look kept it inconclusive); one slow fresh
    session still cannot fail a case, and with a single fresh process (a merge of one rerun) every measurement
    decides."""
    assert confirmed_check(1.60).status == "inconclusive"
    assert confirmed_check(1.60, 1.55, 1.54).status == "fail"
    assert confirmed_in_run(1.60, 1.55, 1.54).latency.best.speedup.value == 1.55  # what reports show as the best
    assert confirmed_check(1.60, 1.55, 1.70).status == "pass"
    one_rerun = confirmed_check(1.60, 1.55)
    assert one_rerun.status == "inconclusive"
    assert "the best of 2 measurements in this run (1.600, 1.550" in one_rerun.reason


def test_two_slow_sessions_of_three_do_not_fail_a_case_that_one_clean_measurement_clears():
    """BENCHMARKS §8f: slow sessions only ever slow, and two of three in a row happened on a loaded VM; the
    median of the three failed such a case, one clean measurement clears it."""
    from pytest_qbench.measure.stats import median_cpu

    slow_twice = confirmed_in_run(1.52, 1.53, 1.70)
    median_alone = judge(replace(slow_twice, latency=replace(slow_twice.latency, measurements=[])), sample(list(BASE)),
                         TOL)
    assert median_cpu(slow_twice.latency.measurements).speedup.value == pytest.approx(1.53)
    assert check(median_alone.checks, "cpu.speedup").status == "fail"  # what the median of the three did
    assert confirmed_check(1.52, 1.53, 1.70).status == "pass"


def test_a_real_slowdown_fails_when_every_measurement_fails():
    assert confirmed_check(1.52, 1.53, 1.515).status == "fail"
    assert confirmed_check(1.52, 1.60, 1.515).status != "fail"  # 1.60 alone does not fail: not all fail


def test_the_pass_level_is_shared_among_the_measurements():
    """A slowdown of rtol passes at most 1% of the time over all the chances to pass: each measurement
    passes at z(1 - 1%/k), stricter than one measurement's z(99%)."""
    rule = latency_stats.SpeedupRule(rtol=0.10, alpha=0.01, cases=1)
    assert rule.z_pass == pytest.approx(NormalDist().inv_cdf(0.99))
    assert replace(rule, chances=3).z_pass == pytest.approx(NormalDist().inv_cdf(1 - 0.01 / 3))
    drop = math.log1p(0.10) - 2.5 * 0.02  # passes at z 2.33 with se 2%, not at z 2.71
    comparison = spread.Comparison(drop, 0.02, 5)
    assert (rule.status(comparison), replace(rule, chances=3).status(comparison)) == ("pass", "inconclusive")


def test_the_median_of_measurements_keeps_each_models_median_and_the_pairs():
    from pytest_qbench.measure.stats import log_se, median_cpu

    result = confirmed_in_run(1.5, 1.7, 1.6)
    cpu, measurements = result.latency.cpu, result.latency.measurements
    assert cpu.speedup.value == pytest.approx(1.6)
    assert cpu.speedup.n_pairs == sum(m.speedup.n_pairs for m in measurements)
    assert cpu.speedup.ci_low < 1.6 < cpu.speedup.ci_high
    # a median of three normal measurements has sqrt(pi/2 / 3) of their own error
    assert log_se(cpu.speedup) == pytest.approx(log_se(measurements[0].speedup) * math.sqrt(math.pi / 6), rel=1e-3)
    assert median_cpu(measurements[:1]) is measurements[0]
