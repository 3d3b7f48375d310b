"""`cpu_time_rtol` replayed on the live gate studies' runs: judged per case against the baseline alone (the
rule before 0.3) and beyond the move common to the run's cases (gate/latency_stats.cpu_time_excess, now),
issue 31.

    PYTHONPATH=. .venv/bin/python bench/cpu_time_rule.py --studies NAME [NAME ...]

A study NAME is a live gate study (bench/live_gate.py): its record bench/results/live-gate-NAME.json, whose
runs recorded each case's first look (each model's CPU ms per call), and its baselines in
bench/results/live-studies/NAME/baselines. Per run, each case's log move from its baseline runs' median, of
each model; the run's common move, the median over its cases of both models' moves averaged; a case fails
the rule before when its int8 model's move exceeds log(1 + rtol), and the rule now when that move less the
common one does. The first looks are replayed, the noisier side: a confirmed case's verdict came from the
median of its measurements, which the record keeps only for the speedup. Counted per arm: runs with a case
beyond each rule (Wilson 95%), the cases beyond, the common move and the largest excess; and whether each
rule ever named the slowed target. The rule is restated here (five lines), not imported: the package's
takes whole case results, of which the record keeps the CPU times only.
Written to bench/results/cpu-time-rule.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from live_gate import wilson  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402
from slow_looks import baseline_runs  # noqa: E402

from pytest_qbench import Tolerances  # noqa: E402

RESULTS = BENCH / "results"
RTOL = Tolerances.cpu_time_rtol  # the example gate's
RULES = ("per_case", "beyond_common")


def references(folder: Path) -> dict[str, tuple[float, float]]:
    """Per case, named as pytest names it (`test_x[params]`): its baseline runs' median log CPU ms per call,
    fp32 and int8."""
    return {name: (statistics.median(math.log(r.original_ms) for r in runs),
                   statistics.median(math.log(r.optimized_ms) for r in runs))
            for name, runs in baseline_runs(folder).items() if runs}


def judged(run: dict[str, Any], reference: dict[str, tuple[float, float]], rtol: float) -> dict[str, Any]:
    """One run's first looks by both rules."""
    moves = {name: (math.log(ms[0]) - reference[name][0], math.log(ms[1]) - reference[name][1])
             for name, ms in run["first_ms"].items() if name in reference}
    common = statistics.median((fp32 + int8) / 2 for fp32, int8 in moves.values())
    limit = math.log1p(rtol)
    excess = {name: int8 - common for name, (_, int8) in moves.items()}
    return {
        "arm": run["arm"], "cases": len(moves), "common": math.expm1(common),
        "largest_move": math.expm1(max(int8 for _, int8 in moves.values())),
        "largest_excess": math.expm1(max(excess.values())),
        "per_case": sorted(name for name, (_, int8) in moves.items() if int8 > limit),
        "beyond_common": sorted(name for name, value in excess.items() if value > limit),
    }


def study(name: str, rtol: float) -> dict[str, Any]:
    live = json.loads((RESULTS / f"live-gate-{name}.json").read_text())
    folder = RESULTS / "live-studies" / name
    if not (folder / "baselines").is_dir():
        raise SystemExit(f"cpu_time_rule: no baselines in {folder}: a study of bench/live_gate.py --study")
    runs = [judged(run, references(folder), rtol) for run in live["runs"] if run.get("first_ms")]
    arms: dict[str, Any] = {}
    for arm in sorted({r["arm"] for r in runs}):
        own = [r for r in runs if r["arm"] == arm]
        arms[arm] = {rule: {"red": wilson(sum(bool(r[rule]) for r in own), len(own)),
                            "cases": sum(len(r[rule]) for r in own),
                            "target_named": sum(live["target"] in r[rule] for r in own)} for rule in RULES}
        arms[arm]["common"] = [min(r["common"] for r in own), max(r["common"] for r in own)]
        arms[arm]["largest_excess"] = max(r["largest_excess"] for r in own)
    return {"name": name, "record": f"bench/results/live-gate-{name}.json", "when": live["when"],
            "machine": live["machine"], "target": live["target"], "runs": runs, "arms": arms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", nargs="+", required=True, help="live gate studies (bench/live_gate.py)")
    parser.add_argument("--rtol", type=float, default=RTOL, help="cpu_time_rtol (default: the package's)")
    parser.add_argument("--output", type=Path, default=RESULTS / "cpu-time-rule.json")
    args = parser.parse_args()
    start = run_start()
    studies = [study(name, args.rtol) for name in args.studies]
    save_result(args.output, {**run_info(start, beside="a replay of recorded runs: no timing"),
                              "rtol": args.rtol, "studies": studies})
    for s in studies:
        for arm, figures in s["arms"].items():
            print(s["name"], arm, {rule: f"{figures[rule]['red']['hits']}/{figures[rule]['red']['n']}"
                                    for rule in RULES})


if __name__ == "__main__":
    main()
