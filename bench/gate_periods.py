"""A between-run model with slow periods, fitted to the live gate and checked against it before it predicts
what a confirmation apart in time would do (issue 31 item 3).

    PYTHONPATH=. .venv/bin/python bench/gate_periods.py

Reads two records of one machine: the whole-gate live study (bench/live_gate.py: A/A runs of the example
gate, each case judged with the in-run confirmation right after its first look) and the slow-periods study
(bench/slow_periods.py: how often a case is slow still, by the time since a slow look). The model: in a
gate run of m cases each case's first look goes slow with probability p (a slow state of the machine); it
stays slow through a confirmation d seconds later with probability s(d); a case slow through its
confirmation fails with probability f, else is inconclusive. So a run is red leniently with probability
1 - (1 - p s f)^m, strictly 1 - (1 - p s)^m. Fitted from the live study: p, s(right after) and f; checked:
the A/A runs' red counts the model expects against the recorded ones (the binomial probability of a count
at least as high). Predicted: the red rates with s(d) of the slow-periods study's lags in place of s(right
after), each with the interval the Wilson intervals of p and s give (their ends multiplied: conservative).
Written to bench/results/gate-periods-<hardware key>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from live_gate import EXCURSION, SPEEDUP, wilson  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

LIVE = BENCH / "results" / "live-gate-x86_64-amx-2c-42.json"
PERIODS = BENCH / "results" / "slow-periods-x86_64-amx-2c.json"


def fit(live: dict[str, Any]) -> dict[str, Any]:
    """p, s(right after) and f from the live study's A/A runs and first looks."""
    excursions = live["excursions"]
    aa = [run for run in live["runs"] if run["arm"] == "aa"]
    flagged = [checks[SPEEDUP] for run in live["runs"] for name, checks in run["flagged"].items()
               if SPEEDUP in checks and not (run["arm"] == "slow" and name == live["target"])]
    slow = len(excursions["drops"])
    # s(right after) = (flagged per case-run) / p: the unslowed cases' speedup checks still failing or
    # inconclusive after the confirmation, per slow first look
    return {"cases": live["cases"], "p": excursions["rate"], "persisted": wilson(len(flagged), slow),
            "failed_of_persisted": wilson(sum(s == "fail" for s in flagged), len(flagged)),
            "aa_runs": len(aa), "aa_red": {"lenient": sum(r["red_lenient"] for r in aa),
                                           "strict": sum(r["red_strict"] for r in aa)}}


def red_rates(p: float, s: float, f: float, m: int) -> dict[str, float]:
    return {"lenient": 1 - (1 - p * s * f) ** m, "strict": 1 - (1 - p * s) ** m}


def with_interval(p: dict[str, float], s: dict[str, float], f: float, m: int) -> dict[str, Any]:
    """The red rates at the estimates, and at both ends of p's and s's intervals."""
    return {"estimate": red_rates(p["rate"], s["rate"], f, m), "low": red_rates(p["low"], s["low"], f, m),
            "high": red_rates(p["high"], s["high"], f, m)}


def check(model: dict[str, float], recorded: dict[str, int], runs: int) -> dict[str, Any]:
    """The recorded red counts against the model's: the binomial probability of a count at least as high."""
    from scipy.stats import binom

    return {kind: {"recorded": recorded[kind], "expected": model[kind] * runs,
                   "p_at_least": float(binom.sf(recorded[kind] - 1, runs, model[kind]))} for kind in recorded}


def predict(live: dict[str, Any], periods: dict[str, Any]) -> dict[str, Any]:
    fitted = fit(live)
    f, m = fitted["failed_of_persisted"]["rate"], fitted["cases"]
    right_after = with_interval(fitted["p"], fitted["persisted"], f, m)
    delayed = [{"from_s": row["from_s"], "to_s": row["to_s"], "still_slow": row["still_slow"],
                **with_interval(fitted["p"], row["still_slow"], f, m)}
               for row in periods["summary"]["persistence"] if row["still_slow"]]
    return {"fitted": fitted, "right_after": right_after,
            "check": check(right_after["estimate"], fitted["aa_red"], fitted["aa_runs"]), "delayed": delayed,
            "excursion": EXCURSION}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", type=Path, default=LIVE, help="a bench/live_gate.py record")
    parser.add_argument("--periods", type=Path, default=PERIODS, help="a bench/slow_periods.py record")
    parser.add_argument("--output", type=Path, help="default: bench/results/gate-periods-<hardware key>.json")
    args = parser.parse_args()
    start = run_start()
    live, periods = (json.loads(path.read_text()) for path in (args.live, args.periods))
    if live["machine"]["cpu_model"] != periods["machine"]["cpu_model"]:
        sys.exit(f"the two records are of different CPU models ({live['machine']['cpu_model']},"
                 f" {periods['machine']['cpu_model']}): the model needs both of one machine")
    info = run_info(start, beside="nothing: it reads two records")
    output = args.output or BENCH / "results" / f"gate-periods-{info['machine']['hardware_key']}.json"
    sources = [str(path.relative_to(BENCH.parent)) if path.is_relative_to(BENCH.parent) else path.name
               for path in (args.live.resolve(), args.periods.resolve())]
    save_result(output, {**info, "command": "bench/gate_periods.py", "sources": sources,
                         **predict(live, periods)})


if __name__ == "__main__":
    main()
