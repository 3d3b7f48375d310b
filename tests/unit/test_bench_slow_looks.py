"""bench/slow_looks.py on a synthetic live study: which model a slow first look moved, the covariate judged
against today's rule, and the confirmation replayed by the median and by the best measurement."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import slow_looks  # noqa: E402

from pytest_qbench.results import LatencyRun  # noqa: E402

A, T = "test_a[static-bs1-len32]", "test_t[dynamic-bs1-len64]"  # T: the case the slowed runs slow by 10%
SIGMA = {"alpha": 0.01, "cases": 2, "cpu_model": "m",
         "speedup_spread": {"cases": 2, "df": 10.0, "runs": 6, "sigma": 0.01}}


def phase(speedup: float, fp32: float = 10.0) -> dict:
    """One CPU phase as the artifact keeps it, its speedup's CI 1% wide."""
    return {"speedup": {"value": speedup, "ci_low": speedup * 0.995, "ci_high": speedup * 1.005,
                        "confidence": 0.95, "n_pairs": 30}, "original_ms": fp32, "optimized_ms": fp32 / speedup}


def baselines(tmp_path: Path) -> Path:
    """Three baseline runs of each case at speedup 1.6, fp32 10 ms; and a failed case's obtained file."""
    runs = [{"cpu_model": "m", "speedup": 1.6, "ci_low": 1.592, "ci_high": 1.608, "original_ms": 10.0,
             "optimized_ms": 6.25, "run": f"r{i}", "when": ""} for i in range(3)]
    folder = tmp_path / "baselines"
    folder.mkdir()
    for name in (A, T):
        test, params = name[:-1].split("[")
        entry = {"cases": {params: {"k": {"latency": {"runs": runs}}}}}
        (folder / f"examples.x.py--{test}.json").write_text(json.dumps(entry))
    (folder / "examples.x.py--test_a.obtained.json").write_text("{}")
    return tmp_path


def run(arm: str, a: list[dict], t: list[dict], flagged: dict | None = None) -> dict:
    """A run whose cases measured the phases given: one phase is a first look alone, more a confirmation."""
    first = {A: a[0], T: t[0]}
    return {"arm": arm, "first_looks": {n: p["speedup"]["value"] for n, p in first.items()},
            "first_ms": {n: [p["original_ms"], p["optimized_ms"]] for n, p in first.items()},
            "confirmations": {n: ps for n, ps in ((A, a), (T, t)) if len(ps) > 1},
            "flagged": flagged or {}, "latency_gate": SIGMA}


def study(slow_twice: dict) -> dict:
    """Twelve quiet A/A runs; one A/A run whose case A had two slow sessions of three (the median failed
    it); two slowed runs whose target measured 10% slow every time."""
    quiet = [run("aa", [phase(1.6 * (1 + 0.002 * (i % 3 - 1)))], [phase(1.6)]) for i in range(12)]
    slowed = [run("slow", [phase(1.6)], [phase(1.6 / 1.1)] * 3, {T: {"cpu.speedup": "fail"}}) for _ in range(2)]
    return {"target": T, "runs": [*quiet, slow_twice, *slowed]}


SLOW_TWICE = run("aa", [phase(1.6 / 1.12), phase(1.6 / 1.11), phase(1.6)], [phase(1.6)], {A: {"cpu.speedup": "fail"}})


def test_baseline_runs_are_read_per_case_and_a_failed_cases_obtained_file_is_left_out(tmp_path):
    runs = slow_looks.baseline_runs(baselines(tmp_path))
    assert sorted(runs) == [A, T] and [r.speedup for r in runs[A]] == [1.6] * 3


def test_the_confirmation_replayed_the_median_fails_two_slow_sessions_the_best_does_not(tmp_path):
    runs_of = slow_looks.baseline_runs(baselines(tmp_path))
    replayed = slow_looks.replay(study(SLOW_TWICE), runs_of)
    assert replayed["red"] == {"median": {"lenient": 1, "strict": 1}, "best": {"lenient": 0, "strict": 0},
                               "fresh": {"lenient": 0, "strict": 0}}
    assert replayed["counts"]["best"]["unslowed"]["fail"] == replayed["counts"]["fresh"]["unslowed"]["fail"] == 0
    # a real slowdown, slow in every measurement, fails every way
    assert {e: replayed["counts"][e]["target"]["fail"] for e in slow_looks.ESTIMATORS} == dict.fromkeys(
        slow_looks.ESTIMATORS, 2)
    missed = {**study(SLOW_TWICE), "runs": [*study(SLOW_TWICE)["runs"], run("slow", [phase(1.6)], [phase(1.6)])]}
    assert slow_looks.replay(missed, runs_of)["counts"]["best"]["target"] == {"fail": 2, "inconclusive": 0, "pass": 1}


CHOSEN = run("slow", [phase(1.6)], [phase(1.6 / 1.045), phase(1.6 / 1.1), phase(1.6 / 1.1)],
             {T: {"cpu.speedup": "fail"}})


def test_the_fresh_processes_fail_a_target_whose_first_look_alone_did_not(tmp_path):
    # the slowed target's first look 4.5% slow, then 10% slow in both fresh processes (BENCHMARKS §8i's misses)
    runs_of = slow_looks.baseline_runs(baselines(tmp_path))
    quiet = study({**SLOW_TWICE, "flagged": {}})
    replayed = slow_looks.replay({**quiet, "runs": [*quiet["runs"], CHOSEN]}, runs_of)
    assert replayed["judged_by"] == ["fresh"]
    assert replayed["counts"]["best"]["target"]["fail"] == 2 and replayed["counts"]["fresh"]["target"]["fail"] == 3


def test_the_replay_finds_the_rule_the_runs_used_and_stops_when_none_gives_their_verdicts(tmp_path):
    runs_of = slow_looks.baseline_runs(baselines(tmp_path))
    assert slow_looks.replay(study(SLOW_TWICE), runs_of)["judged_by"] == ["median"]
    judged_by_best = {**SLOW_TWICE, "flagged": {}}  # the case passed: the best's verdict, and the fresh processes'
    assert slow_looks.replay(study(judged_by_best), runs_of)["judged_by"] == ["best", "fresh"]
    neither = {**SLOW_TWICE, "flagged": {A: {"cpu.speedup": "inconclusive"}}}
    with pytest.raises(SystemExit, match="no rule gives every recorded verdict"):
        slow_looks.replay(study(neither), runs_of)


def test_a_slow_first_look_is_told_apart_by_the_model_that_moved():
    # A's first look 12% slow with its int8 model slower; T's 8% lower with its fp32 model 10% faster
    machine = run("aa", [phase(1.6)], [phase(1.6 / 1.08, fp32=10.0 / 1.10)])
    slow = slow_looks.slow_first_looks(study(SLOW_TWICE) | {"runs": [*study(SLOW_TWICE)["runs"], machine]})
    assert {(look["case"], look["run"]) for look in slow} == {(A, 12), (T, 15)}
    int8_look = next(look for look in slow if look["case"] == A)
    assert int8_look["moved"][1] == pytest.approx(0.0) and int8_look["moved"][2] == pytest.approx(math.log(1.12))
    assert [m[0] for m in int8_look["confirmation"]] == pytest.approx([math.log(1 / 1.11), 0.0])
    assert slow_looks.kinds(slow) == {"int8 slower": 1, "fp32 faster": 1}


def test_a_line_recovers_its_slope_and_the_covariate_clears_a_look_the_machines_speed_explains(tmp_path):
    # the case's speedup follows its fp32 CPU time (slope 0.25) over runs spread in time
    runs = [run("aa", [phase(1.6 * math.exp(0.25 * x), fp32=10.0 * math.exp(x))], [phase(1.6)])
            for x in (0.1, -0.1, 0.05, -0.05, 0.08, -0.08, 0.12, -0.12)]
    fast_machine = run("aa", [phase(1.6 * math.exp(-0.25 * 0.3), fp32=10.0 * math.exp(-0.3))], [phase(1.6)])
    live = {"target": T, "runs": [*runs, fast_machine]}
    result = slow_looks.covariate(live, slow_looks.baseline_runs(baselines(tmp_path)), {})
    assert result["rules"]["today"]["failed"]["hits"] == 1  # 7.2% slower: fails as the gate judges today
    assert result["rules"]["given_speed"]["failed"]["hits"] == 0
    assert result["rules"]["given_excess"]["failed"]["hits"] == 0
    assert result["lines"][A]["slope"] == pytest.approx(0.25, abs=0.02)


def test_a_machine_slow_for_every_model_alike_fails_the_speed_line_not_the_excess_over_the_common_move(tmp_path):
    # the history (seeded, as bench/live_gate.py --history gives it): A's fp32 model alone moved, its speedup with it
    runs_of = slow_looks.baseline_runs(baselines(tmp_path))
    history = {"target": T, "runs": [run("aa", [phase(1.6 * math.exp(0.25 * x), fp32=10.0 * math.exp(x))],
                                          [phase(1.6)]) for x in (0.1, -0.1, 0.05, -0.05, 0.08, -0.08, 0.12, -0.12)]}
    seeded = slow_looks.history(slow_looks.first_looks(history, runs_of), history, "m")
    # then a run on a machine 35% slower for every model, no speedup moved
    slow_machine = run("aa", [phase(1.6, fp32=13.5)], [phase(1.6, fp32=13.5)])
    result = slow_looks.covariate({"target": T, "runs": [slow_machine]}, runs_of, seeded)["rules"]
    assert result["given_speed"]["failed"]["hits"] == 1  # A's line expects +7.8% at that speed
    assert result["given_excess"]["failed"]["hits"] == 0 and result["today"]["failed"]["hits"] == 0


def test_a_slowed_targets_first_look_is_set_against_the_machines_speed_at_the_time(tmp_path):
    runs_of = slow_looks.baseline_runs(baselines(tmp_path))
    caught = {**run("slow", [phase(1.6, fp32=10.2)], [phase(1.6 / 1.1)]), "target": "fail"}
    # missed: the target's fp32 model 30% slower at that moment, its speedup back at the baseline's
    missed = {**run("slow", [phase(1.6, fp32=10.2)], [phase(1.6, fp32=13.0)]), "target": "pass"}
    live = {"target": T, "runs": [run("aa", [phase(1.6)], [phase(1.6)]), caught, missed]}
    looks = slow_looks.slowed_targets(live, runs_of)
    assert [t["verdict"] for t in looks] == ["fail", "pass"]
    assert looks[0]["speedup"] == pytest.approx(-math.log(1.1)) and looks[1]["speedup"] == pytest.approx(0.0)
    assert looks[1]["fp32"] == pytest.approx(math.log(1.3))
    assert looks[1]["fp32_others"] == pytest.approx(math.log(1.02))


def test_more_baseline_runs_take_the_next_runs_first_looks_never_the_judged_runs_nor_a_slowed_target():
    runs = [run("aa", [phase(1.5 + i / 100)], [phase(1.6)]) for i in range(4)]
    runs[2] = run("slow", [phase(1.52)], [phase(1.6 / 1.1)])
    base = [LatencyRun("m", 1.6, 1.592, 1.608, 10.0, 6.25, "r0", "")]
    looks = slow_looks.first_looks({"runs": runs}, {A: base, T: base})
    kept = slow_looks.following_runs(looks, {"runs": runs, "target": T}, "m", index=1, count=2)
    assert [r.run for r in kept[A]] == ["live-2", "live-3"] and [r.run for r in kept[T]] == ["live-3", "live-0"]
    assert [r.speedup for r in kept[A]] == [1.52, 1.53]


def test_baselines_of_more_runs_are_judged_by_the_pool_and_by_each_cases_own_spread(tmp_path):
    runs_of = slow_looks.baseline_runs(baselines(tmp_path))
    quiet = study({**SLOW_TWICE, "flagged": {}})  # 15 runs: baselines of 5 and 10 more, not 20
    rows = slow_looks.more_baseline_runs(quiet, runs_of, slow_looks.replay(quiet, runs_of)["cases"])
    assert [(r["own_spread"], r["baseline_runs"]) for r in rows] == [(s, n) for s in (False, True) for n in (0, 5, 10)]
    assert all(r["aa_red_strict"]["hits"] == 0 and r["target_caught"]["hits"] == 2 for r in rows)
    # a run that recorded a case inconclusive which passes at first look against the study's own baselines
    recorded_otherwise = {**quiet, "runs": [{**quiet["runs"][0], "flagged": {A: {"cpu.speedup": "inconclusive"}}},
                                            *quiet["runs"][1:]]}
    with pytest.raises(SystemExit, match="do not give the verdicts its runs recorded"):
        slow_looks.more_baseline_runs(recorded_otherwise, runs_of, slow_looks.replay(quiet, runs_of)["cases"])


def test_a_cases_own_spread_moderated_toward_the_pool_never_below_it():
    swaying = [LatencyRun("m", 1.6 * math.exp(x), 1.59, 1.61, 10.0, 6.25, f"r{i}", "")
               for i, x in enumerate((-0.05, -0.03, -0.01, 0.0, 0.01, 0.03, 0.05))]
    own = float(np.std([r.log_speedup for r in swaying], ddof=1))
    assert 0.01 < slow_looks.own_sigma(0.01, swaying[:3]) < slow_looks.own_sigma(0.01, swaying) < own
    assert slow_looks.own_sigma(0.05, swaying) == 0.05 and slow_looks.own_sigma(0.01, swaying[:1]) == 0.01
