"""Does a refactoring keep the gate's answers? Two artifacts of the example gate, one run at the commit
before the change and one after, compared case by case:

    .venv/bin/python bench/artifact_equivalence.py BEFORE.json AFTER.json \
        --before-commit d9a76c5 --after-commit HEAD --beside "what else ran"

- accuracy: every figure of the original and optimized evaluation (precision, recall, F1, accuracy, EM,
  per-label F1, counts) must be equal to the last digit; the evaluation's wall time is not compared;
- checks: each case's checks, matched by (against, metric), must reach the same status; a difference is
  allowed only in a timing check (latency noise), and is listed;
- the run's verdict and the set of cases, by node id.

The result goes to bench/results/refactor-equivalence.json (docs/layout.md renders it). Exit status 1
when a non-timing figure or status differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from run_record import run_info, run_start, save_result

REPO = Path(__file__).resolve().parent.parent
RESULT = REPO / "bench" / "results" / "refactor-equivalence.json"
TIMING_METRICS = ("cpu.", "latency", "throughput")  # checks whose status may move with machine noise
UNTIMED = ("seconds",)  # evaluation wall time: varies run to run


def _figures(evaluation: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (evaluation or {}).items() if k not in UNTIMED}


def _is_timing(metric: str) -> bool:
    return metric.startswith(TIMING_METRICS)


def _statuses(case: dict[str, Any]) -> dict[str, str]:
    return {f"{c['against']}:{c['metric']}": c["status"] for c in case["checks"]}


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the two artifacts agree on, and every difference by case."""
    old = {c["nodeid"]: c for c in before["cases"]}
    new = {c["nodeid"]: c for c in after["cases"]}
    shared = sorted(old.keys() & new.keys())
    accuracy_diffs, timing_diffs, other_diffs = [], [], []
    for nodeid in shared:
        a, b = old[nodeid], new[nodeid]
        for side in ("original", "optimized"):
            if _figures((a["accuracy"] or {}).get(side)) != _figures((b["accuracy"] or {}).get(side)):
                accuracy_diffs.append({"case": nodeid, "side": side})
        sa, sb = _statuses(a), _statuses(b)
        for check in sorted(sa.keys() | sb.keys()):
            if sa.get(check) != sb.get(check):
                diff = {"case": nodeid, "check": check, "before": sa.get(check), "after": sb.get(check)}
                (timing_diffs if _is_timing(check.split(":", 1)[1]) else other_diffs).append(diff)
        if a["verdict"] != b["verdict"] and not any(d["case"] == nodeid for d in timing_diffs):
            other_diffs.append({"case": nodeid, "check": "verdict", "before": a["verdict"], "after": b["verdict"]})
    evaluated = sum(1 for n in shared if old[n]["accuracy"])
    return {
        "cases": {"before": len(old), "after": len(new), "shared": len(shared),
                  "only_before": sorted(old.keys() - new.keys()), "only_after": sorted(new.keys() - old.keys())},
        "evaluated_cases": evaluated,
        "checks": sum(len(old[n]["checks"]) for n in shared),
        "accuracy_differences": accuracy_diffs,
        "timing_differences": timing_diffs,
        "other_differences": other_diffs,
    }


def _commit(ref: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ref], check=True,
                          capture_output=True, text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--before-commit", required=True)
    parser.add_argument("--after-commit", default="HEAD")
    parser.add_argument("--command", default="pytest --qbench examples --ignore=examples/sparse",
                        help="the gate run both artifacts come from")
    parser.add_argument("--beside", default="", help="what else ran on the machine during the gate runs")
    args = parser.parse_args()
    start = run_start()
    comparison = compare(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    result = {"before_commit": _commit(args.before_commit), "after_commit": _commit(args.after_commit),
              "command": args.command, **comparison, "info": run_info(start, beside=args.beside)}
    save_result(RESULT, result)
    unexplained = comparison["accuracy_differences"] or comparison["other_differences"]
    print(json.dumps({k: v for k, v in comparison.items() if k != "cases"}, indent=1))
    return 1 if unexplained or comparison["cases"]["only_before"] or comparison["cases"]["only_after"] else 0


if __name__ == "__main__":
    sys.exit(main())
