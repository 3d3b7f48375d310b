"""bench/slow_periods.py's summary on synthetic processes: excursions, which model moved, how long they last."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import slow_periods  # noqa: E402

A, B = "test_a[static-bs1-len64]", "test_b[dynamic-bs1-len32]"


def process(i: int, slow_a: float = 0.0, slow_b: float = 0.0) -> dict:
    """Process i, 30 s after the one before; an int8 model `slow_*` (log) slower than usual."""
    jitter = 0.002 * ((i % 5) - 2)
    def case(slow: float) -> dict:
        return {"speedup": 1.6 * math.exp(jitter - slow), "original_ms": 10.0 * math.exp(jitter),
                "optimized_ms": 6.25 * math.exp(slow)}
    return {"started": 1000.0 + 30 * i, "seconds": 25.0, "load_before": [2, 2, 2], "exit_code": 0,
            "cases": {A: case(slow_a), B: case(slow_b)}}


def test_a_slow_state_of_two_minutes_is_slow_at_short_lags_and_gone_at_long_ones():
    # case A is 10% slow in processes 20-23 (two minutes), both cases in process 40
    processes = [process(i, slow_a=0.10 if 20 <= i < 24 or i == 40 else 0.0, slow_b=0.10 if i == 40 else 0.0)
                 for i in range(80)]
    summary = slow_periods.summarize(processes)
    assert summary["looks"] == 160
    assert summary["excursions"]["hits"] == 6
    assert summary["processes_with_excursion"] == 5 and summary["processes_with_several"] == 1
    assert all(look["optimized_ms"] > 0.09 and abs(look["original_ms"]) < 0.01 for look in summary["slow_looks"])
    by_lag = {row["from_s"]: row for row in summary["persistence"]}
    # within a minute (the next process) of the six slow looks: three were inside A's two slow minutes
    assert (by_lag[0]["still_slow"]["hits"], by_lag[0]["still_slow"]["n"]) == (3, 6)
    # twenty minutes on and more: never
    assert by_lag[1200]["still_slow"]["hits"] == 0 and by_lag[1200]["still_slow"]["n"] > 0
    assert by_lag[1200]["median_residual"] == pytest.approx(0.0, abs=0.01)


def test_without_slow_looks_nothing_persists():
    summary = slow_periods.summarize([process(i) for i in range(10)])
    assert summary["excursions"]["hits"] == 0
    # the speedup follows the fp32 model's CPU time exactly (the jitter): all of its spread is taken out
    b = summary["per_case"][B]
    assert b["fp32_slope"] == pytest.approx(1.0) and b["fp32_correlation"] == pytest.approx(1.0)
    assert b["sd_adjusted"] < 1e-9 < b["sd"]
    assert b["out_of_sample"] == {"before": 0, "after": 0}
    assert all(row["still_slow"] is None for row in summary["persistence"])


def test_the_renderer_lists_the_cases_and_the_lags_and_says_which_model_moved():
    from renderers import Result, render_slow_periods

    processes = [process(i, slow_a=0.10 if 20 <= i < 24 else 0.0) for i in range(60)]
    data = {"when": "2026-12-07T04:00:00+00:00", "minutes": 30.0, "load_before": [2, 2, 2], "load_after": [2, 2, 2],
            "beside": "nothing", "machine": {"brand": "CPU", "hardware_key": "k", "physical_cores": 2,
                                              "logical_cores": 2},
            "command": "bench/slow_periods.py --minutes 30", "cases": [A, B], "excursion": slow_periods.EXCURSION,
            "processes": processes, "summary": slow_periods.summarize(processes)}
    text = render_slow_periods(Result("bench/results/slow-periods-k.json", data))
    assert f"| `{A}` | 60 | 4/60 (6.7%;" in text
    assert "| 0–1 min | 3/4 (75.0%;" in text
    assert "the int8 model's CPU time per call moved +11% (median; +11% to +11%)" in text
    assert re.search(r"the fp32 model's [+-]0% \(median; [+-]0% to [+-]0%\)", text)
    assert "bench/results/slow-periods-k.json" in text


def test_a_speedup_that_follows_the_machines_speed_loses_its_slow_looks_once_the_fp32_time_is_taken_out():
    # the fp32 model 30% faster in two processes (one in each half), the speedup 0.25 of that lower
    speeds = [-0.3 if i in (5, 25) else 0.02 * ((i % 3) - 1) for i in range(40)]
    processes = [{"started": 30.0 * i, "seconds": 25.0, "load_before": [2, 2, 2], "exit_code": 0,
                  "cases": {A: {"speedup": 1.6 * math.exp(0.25 * f), "original_ms": 10 * math.exp(f),
                                "optimized_ms": 6.25 * math.exp(0.75 * f)}}} for i, f in enumerate(speeds)]
    case = slow_periods.summarize(processes)["per_case"][A]
    assert case["excursions"]["hits"] == 2 and case["excursions_adjusted"] == 0
    assert case["fp32_slope"] == pytest.approx(0.25)
    assert case["out_of_sample"] == {"before": 2, "after": 0}
