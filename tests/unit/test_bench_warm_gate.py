"""bench/warm_gate.py's order of runs, its comparison of two commits' warm gate runs and its renderer,
on synthetic runs; its checkout of a commit on a small git repository."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import warm_gate  # noqa: E402
from renderers import Result, render_warm_gate  # noqa: E402

CASES = [f"examples/test_card.py::test_card[dynamic-bs{b}-len{n}]" for b in (1, 4, 8) for n in (32, 64, 128)]


def run(side: str, round_: int | None, scale: float, jitter: int = 0, update: bool = False,
        cases: list[str] = CASES) -> dict:
    seconds = {case: scale * (5 + i) * (1 + 0.01 * ((i + jitter) % 3 - 1)) for i, case in enumerate(cases)}
    return {"side": side, "round": round_, "update": update, "seconds": sum(seconds.values()) + 10,
            "exit_code": 0, "cases": seconds, "verdicts": {"pass": len(cases)}}


def test_the_gate_runs_alternate_a_b_b_a_per_round():
    assert warm_gate.order(2) == ["before", "after", "after", "before"] * 2


def test_the_comparison_finds_a_known_slowdown_per_case_and_per_round_and_ignores_update_runs():
    runs = [run("before", None, 3.0, update=True), run("after", None, 3.0, update=True)]
    for k in range(2):
        runs += [run("before", k, 1.0, 0), run("after", k, 0.9, 1), run("after", k, 0.9, 2), run("before", k, 1.0, 1)]
    summary = warm_gate.compare(runs)
    ratio = summary["case_ratio"]
    assert summary["cases"] == len(CASES)
    assert ratio["low"] < ratio["geomean"] < ratio["high"]
    assert ratio["geomean"] == pytest.approx(0.9, rel=0.01)
    assert ratio["low"] < 0.9 < ratio["high"]
    assert summary["per_round"] == [pytest.approx(0.9, rel=0.02)] * 2
    assert summary["round_ratio"]["geomean"] == pytest.approx(0.9, rel=0.02)
    assert summary["wall_median"]["before"] > summary["wall_median"]["after"]


def test_only_the_cases_every_gate_run_measured_are_compared():
    runs = [run("before", 0, 1.0), run("after", 0, 1.0, 1), run("after", 0, 1.0, 2),
            run("before", 0, 1.0, cases=CASES[:-2])]
    summary = warm_gate.compare(runs)
    assert summary["cases"] == len(CASES) - 2
    assert math.isclose(summary["case_ratio"]["geomean"], 1.0, rel_tol=0.01)


def rendered(runs: list[dict], summary: dict) -> str:
    """The warm-gate block of a synthetic record of `runs` and their `summary`."""
    data = {"when": "2026-12-07T02:30:00+00:00", "minutes": 12.0, "load_before": [1, 1, 1], "load_after": [2, 2, 2],
            "beside": "nothing", "machine": {"brand": "CPU", "hardware_key": "k", "physical_cores": 2,
                                              "logical_cores": 2},
            "revisions": {"before": "aaaa111", "after": "bbbb222"}, "select": warm_gate.SELECT,
            "command": "bench/warm_gate.py --before aaaa111 --after HEAD --rounds 1", "runs": runs, "summary": summary}
    return render_warm_gate(Result("bench/results/warm-gate-k.json", data))


def test_the_renderer_lists_the_runs_in_order_and_states_both_ratios():
    runs = [run("before", None, 3.0, update=True), run("after", None, 3.0, update=True),
            run("before", 0, 1.0), run("after", 0, 1.1, 1), run("after", 0, 1.1, 2), run("before", 0, 1.0, 1)]
    summary = warm_gate.compare(runs)
    text = rendered(runs, summary)
    lines = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[1] for line in lines] == ["before (`aaaa111`)", "after (`bbbb222`)",
                                                         "after (`bbbb222`)", "before (`aaaa111`)"]
    assert f"per round x{summary['per_round'][0]:.3f};" in text
    assert "geometric mean x1.100" in text
    assert "bench/results/warm-gate-k.json" in text


def test_a_commit_is_unpacked_as_committed_without_the_work_trees_changes(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.txt").write_text("committed\n")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    (repo / "a.txt").write_text("changed, not committed\n")
    monkeypatch.setattr(warm_gate, "REPO", repo)
    tree = warm_gate.unpack(warm_gate.revision("HEAD"), tmp_path / "tree")
    assert (tree / "a.txt").read_text() == "committed\n"


def test_the_phases_are_summed_from_pytests_durations_and_the_rest_is_the_process_outside_the_tests():
    output = "\n".join([
        "..                                                                       [100%]",
        "============================== slowest durations ===============================",
        "3.50s call     examples/test_card.py::test_card[dynamic-bs1-len32]",
        "2.25s setup    examples/test_card.py::test_card[dynamic-bs1-len32]",
        "1.50s call     examples/test_card.py::test_card[dynamic-bs8-len128]",
        "0.00s teardown examples/test_card.py::test_card[dynamic-bs1-len32]",
        "0.01s teardown examples/test_card.py::test_card[dynamic-bs8-len128]",
        "2 passed in 9.61s",
    ])
    phases = warm_gate.phase_seconds(output, wall=12.0)
    assert phases == pytest.approx({"setup": 2.25, "call": 5.0, "teardown": 0.01, "rest": 12.0 - 7.26})


def test_the_phases_medians_per_side_are_compared_and_rendered_when_the_runs_record_them():
    runs = [run("before", 0, 1.0), run("after", 0, 1.1, 1), run("after", 0, 1.1, 2), run("before", 0, 1.0, 1)]
    for r, setup in zip(runs, (10.0, 14.0, 15.0, 11.0), strict=True):
        r["phases"] = {"setup": setup, "call": 60.0, "teardown": 0.5, "rest": 8.0}
    summary = warm_gate.compare(runs)
    assert summary["phase_seconds_median"]["setup"] == {"before": 10.5, "after": 14.5}
    text = rendered(runs, summary)
    assert "setup 10.5 -> 14.5 s, call 60.0 -> 60.0 s, teardown 0.5 -> 0.5 s, rest 8.0 -> 8.0 s" in text


def test_a_case_confirmed_in_some_runs_is_compared_over_the_others_apart_from_what_its_confirmation_cost():
    runs = [run("before", 0, 1.0), run("after", 0, 1.0, 1), run("after", 0, 1.0, 2), run("before", 0, 1.0, 1)]
    slow_case = CASES[0]
    runs[1]["cases"][slow_case] *= 3  # measured again in two fresh processes
    runs[1]["confirmed"] = [slow_case]
    for r in runs[:1] + runs[2:]:
        r["confirmed"] = []
    summary = warm_gate.compare(runs)
    assert summary["confirmed_per_run"] == {"before": 0.0, "after": 0.5}
    assert summary["case_ratio"]["geomean"] == pytest.approx(2 ** (1 / len(CASES)), rel=0.01)
    assert summary["unconfirmed_case_ratio"]["geomean"] == pytest.approx(1.0, rel=0.01)
    assert summary["unconfirmed_case_ratio"]["cases"] == len(CASES)
    text = rendered(runs, summary)
    assert "confirmations per run 0.0 before, 0.5 after; over the runs that did not confirm it, per case x1.00" in text
