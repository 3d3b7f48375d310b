"""bench/cpu_time_rule.py's replay of cpu_time_rtol on a study's recorded runs, and its renderer, on synthetic
records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import cpu_time_rule  # noqa: E402
from renderers import Result, render_cpu_time_rule  # noqa: E402

TARGET = "test_card[c0]"
CASES = [f"test_card[c{i}]" for i in range(8)]


def baselines(folder: Path) -> None:
    """Every case recorded at 20 ms fp32 and 10 ms int8 per call, three runs."""
    runs = [{"cpu_model": "m", "speedup": 2.0, "ci_low": 1.98, "ci_high": 2.02, "original_ms": 20.0,
             "optimized_ms": 10.0, "run": f"r{i}", "when": ""} for i in range(3)]
    cases = {name[len("test_card["):-1]: {"key": {"latency": {"runs": runs}}} for name in CASES}
    (folder / "baselines").mkdir(parents=True)
    (folder / "baselines" / "examples.test_x.py--test_card.json").write_text(json.dumps({"cases": cases}))


def run(arm: str, factor: float, *, slowed: str | None = None, by: float = 1.0) -> dict:
    """A run whose every model ran `factor` times the baseline's CPU time, case `slowed` `by` more (both models)."""
    return {"arm": arm, "first_ms": {name: [20.0 * factor * (by if name == slowed else 1.0),
                                            10.0 * factor * (by if name == slowed else 1.0)] for name in CASES}}


@pytest.fixture
def results(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(cpu_time_rule, "RESULTS", tmp_path)
    baselines(tmp_path / "live-studies" / "s")
    return tmp_path


def test_a_machine_slow_for_every_model_fails_only_the_rule_before(results: Path):
    record = {"when": "2026-12-07T16:00", "machine": {"hardware_key": "k"}, "target": TARGET,
              "runs": [run("aa", 1.4), run("aa", 1.0, slowed=CASES[3], by=1.5), run("slow", 1.0)]}
    (results / "live-gate-s.json").write_text(json.dumps(record))
    study = cpu_time_rule.study("s", 0.35)
    slow_machine, one_case, _ = study["runs"]
    assert slow_machine["common"] == pytest.approx(0.4) and len(slow_machine["per_case"]) == 8
    assert slow_machine["beyond_common"] == [] and slow_machine["largest_excess"] == pytest.approx(0.0, abs=1e-12)
    assert one_case["per_case"] == one_case["beyond_common"] == [CASES[3]]
    aa = study["arms"]["aa"]
    assert (aa["per_case"]["red"]["hits"], aa["beyond_common"]["red"]["hits"], aa["per_case"]["red"]["n"]) == (2, 1, 2)
    assert aa["per_case"]["cases"] == 9 and aa["beyond_common"]["target_named"] == 0
    text = render_cpu_time_rule(Result("bench/results/cpu-time-rule.json", {
        "when": "2026-12-07T16:00:00+00:00", "minutes": 0.1, "rtol": 0.35, "beside": "a replay",
        "machine": {"brand": "CPU", "cpu_model": "m", "hardware_key": "k"}, "load_before": None, "load_after": None,
        "studies": [study]}))
    assert "| `s` | A/A | 2 | +0.0% to +40.0% | 2/2 (100.0%;" in text and "cpu_time_rtol 0.35" in text


def test_a_study_without_baselines_is_refused_by_name(results: Path):
    (results / "live-gate-t.json").write_text(json.dumps({"runs": []}))
    with pytest.raises(SystemExit, match="no baselines in .*live-studies/t"):
        cpu_time_rule.study("t", 0.35)
