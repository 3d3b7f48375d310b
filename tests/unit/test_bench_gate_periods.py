"""bench/gate_periods.py: the model with slow periods fitted to a synthetic live study, checked against its
red runs, and its predictions for a confirmation apart in time; its renderer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import gate_periods  # noqa: E402
from live_gate import wilson  # noqa: E402
from renderers import Result, render_gate_periods  # noqa: E402

TARGET = "test_t[dynamic-bs1-len32]"
MACHINE = {"brand": "CPU", "cpu_model": "intel-6-167", "hardware_key": "k", "physical_cores": 2, "logical_cores": 2}


def live_record() -> dict:
    """10 cases, 20 A/A and 20 slowed runs; 8 slow first looks in 390 case-runs; 4 flagged after the
    confirmation (2 failed, in one run; 2 inconclusive, in two others); the slowed target flagged in every
    slowed run, which the fit leaves out."""
    aa = [{"arm": "aa", "flagged": {}, "red_lenient": False, "red_strict": False} for _ in range(20)]
    aa[3] = {"arm": "aa", "flagged": {"a": {"cpu.speedup": "fail"}, "b": {"cpu.speedup": "fail"}}, "red_lenient": True,
             "red_strict": True}
    for i in (7, 12):
        aa[i] = {"arm": "aa", "flagged": {"c": {"cpu.speedup": "inconclusive"}}, "red_lenient": False,
                 "red_strict": True}
    slowed = [{"arm": "slow", "flagged": {TARGET: {"cpu.speedup": "fail"}}, "red_lenient": True, "red_strict": True}
              for _ in range(20)]
    return {"cases": 10, "target": TARGET, "machine": MACHINE, "runs": aa + slowed,
            "excursions": {"drops": [-0.07] * 8, "case_runs": 390, "rate": wilson(8, 390)}}


def periods_record() -> dict:
    return {"machine": MACHINE, "summary": {"persistence": [
        {"from_s": 0, "to_s": 60, "still_slow": wilson(3, 10)},
        {"from_s": 60, "to_s": 120, "still_slow": wilson(1, 20)},
        {"from_s": 1200, "to_s": None, "still_slow": None},
    ]}}


def test_the_fit_takes_p_the_share_slow_through_the_confirmation_and_the_share_of_those_that_failed():
    fitted = gate_periods.fit(live_record())
    assert (fitted["p"]["hits"], fitted["p"]["n"]) == (8, 390)
    assert (fitted["persisted"]["hits"], fitted["persisted"]["n"]) == (4, 8)
    assert fitted["failed_of_persisted"]["rate"] == 0.5
    assert fitted["aa_red"] == {"lenient": 1, "strict": 3}


def test_a_run_is_red_when_any_case_stays_slow_and_the_predictions_shrink_with_the_share_slow_still():
    rates = gate_periods.red_rates(p=0.01, s=0.5, f=0.5, m=40)
    assert rates["lenient"] == pytest.approx(1 - (1 - 0.0025) ** 40)
    assert rates["strict"] == pytest.approx(1 - (1 - 0.005) ** 40)
    result = gate_periods.predict(live_record(), periods_record())
    right_after = result["right_after"]["estimate"]
    assert right_after["lenient"] == pytest.approx(1 - (1 - 8 / 390 * 0.5 * 0.5) ** 10)
    assert [row["from_s"] for row in result["delayed"]] == [0, 60]  # a bin without looks is left out
    later = result["delayed"][1]
    assert later["estimate"]["strict"] == pytest.approx(1 - (1 - 8 / 390 * 0.05) ** 10)
    assert later["low"]["strict"] < later["estimate"]["strict"] < later["high"]["strict"]
    assert result["check"]["strict"]["recorded"] == 3
    assert result["check"]["strict"]["expected"] == pytest.approx(20 * right_after["strict"])
    assert 0 < result["check"]["strict"]["p_at_least"] < 1


def test_the_renderer_lists_the_confirmation_delays_with_their_red_rates():
    data = {"when": "2026-12-07T05:00:00+00:00", "minutes": 0.01, "load_before": [1, 1, 1], "load_after": [1, 1, 1],
            "beside": "nothing", "machine": MACHINE, "command": "bench/gate_periods.py",
            "sources": ["bench/results/live.json", "bench/results/periods.json"],
            **gate_periods.predict(live_record(), periods_record())}
    text = render_gate_periods(Result("bench/results/gate-periods-k.json", data))
    rows = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows == ["| right after (the run's fresh processes; fitted)", "| 0–1 min later", "| 1–2 min later"]
    assert "strict 3 of 20 recorded against" in text
    assert "`bench/results/live.json`" in text
