"""The warm example gate of two commits, side by side: does a change make the gate a user re-runs slower?
(issue 30: "the warm reference-card gate no slower than today's").

    PYTHONPATH=. .venv/bin/python bench/warm_gate.py --before 38c3159 --beside "what else runs"

Each commit's tree (`git archive`) goes into a throw-away folder and runs with this checkout's venv and
the machine's model and build caches. Per commit, one update run records baselines into a throw-away
folder, untimed: it builds what that commit's cache keys lack and warms the page cache. Then `--rounds`
rounds of gate runs in the order A B B A (before, after, after, before), each `pytest --qbench examples
-k SELECT` its own process against its own commit's baselines, so that a drift of the machine falls on
both sides alike. Per run: the process's wall seconds, each case's seconds (the artifact's), the exit
code and the verdicts. Compared: after / before of the gate runs' wall seconds per round, and per case
the ratio of its mean seconds, their geometric mean over the cases with a 95% t-interval, also over the
runs that did not confirm the case (a case failing or inconclusive at first look is measured again in fresh
processes: what passing at first look costs, apart from what a confirmation costs); and where the
time goes, from pytest's own `--durations`: the tests' setup, call and teardown seconds, and the rest of the
process (interpreter start, imports, collection, the reports at the end). The example
models must be trained first (`make demo`). Written to bench/results/warm-gate-<hardware key>.json.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
from renderers.common import verdict_counts, was_confirmed  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

SELECT = "test_conll03_reference_card and not static and not hub"
SIDES = ("before", "after")
ROUND = ("before", "after", "after", "before")
PHASES = ("setup", "call", "teardown")
DURATION = re.compile(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S.*)$")


def revision(rev: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], capture_output=True, text=True,
                          check=True).stdout.strip()


def unpack(rev: str, folder: Path) -> Path:
    """The committed tree of `rev` in `folder` (no git state: the checkout's worktrees stay as they are)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def gate(tree: Path, work: Path, name: str, select: str, update: bool) -> dict[str, Any]:
    """One `pytest --qbench` process of `tree`'s package and examples; its wall seconds, cases and verdicts."""
    artifact = work / f"{name}.json"
    flags = ["--qbench-baselines", str(work / "baselines"), "--qbench-json", str(artifact)]
    command = [sys.executable, "-m", "pytest", "--qbench", "examples", "-k", select, "-q", "-p", "no:cacheprovider",
               "--durations=0", "--durations-min=0", *flags, *(["--qbench-update-baselines"] if update else [])]
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the tree's package, not this checkout's
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if not artifact.is_file():
        output = done.stdout[-3000:] + done.stderr[-3000:]
        sys.exit(f"{name}: the gate wrote no artifact (exit {done.returncode}):\n{output}")
    cases = json.loads(artifact.read_text())["cases"]
    return {"seconds": seconds, "exit_code": done.returncode, "cases": {c["nodeid"]: c["seconds"] for c in cases},
            "confirmed": sorted(c["nodeid"] for c in cases if was_confirmed(c)),
            "phases": phase_seconds(done.stdout, seconds), "verdicts": verdict_counts(cases)}


def phase_seconds(output: str, wall: float) -> dict[str, float]:
    """The tests' seconds per phase, summed from pytest's `--durations=0` lines, and the process's rest."""
    phases = dict.fromkeys(PHASES, 0.0)
    for line in output.splitlines():
        if found := DURATION.match(line.strip()):
            phases[found[2]] += float(found[1])
    return {**phases, "rest": wall - sum(phases.values())}


def order(rounds: int) -> list[str]:
    return [side for _ in range(rounds) for side in ROUND]


def compare(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """after / before of the gate runs: per round (wall seconds summed per side) and per case (mean seconds),
    the cases' geometric mean with a 95% t-interval over the cases both sides ran in every gate run, and
    the rounds' over the rounds when there are several."""
    timed = [r for r in runs if not r["update"]]
    rounds = sorted({r["round"] for r in timed})
    per_round = [sum(r["seconds"] for r in timed if r["round"] == k and r["side"] == "after")
                 / sum(r["seconds"] for r in timed if r["round"] == k and r["side"] == "before") for k in rounds]
    common = set.intersection(*(set(r["cases"]) for r in timed))
    def mean_seconds(side: str, case: str) -> float:
        return statistics.fmean(r["cases"][case] for r in timed if r["side"] == side)

    logs = [math.log(mean_seconds("after", case) / mean_seconds("before", case)) for case in sorted(common)]
    wall = {side: statistics.median(r["seconds"] for r in timed if r["side"] == side) for side in SIDES}
    case_sum = {side: statistics.median(sum(r["cases"].values()) for r in timed if r["side"] == side) for side in SIDES}
    phases = {phase: {side: statistics.median(r["phases"][phase] for r in timed if r["side"] == side) for side in SIDES}
              for phase in (*PHASES, "rest") if all("phases" in r for r in timed)}
    return {"wall_median": wall, "case_seconds_median": case_sum, "phase_seconds_median": phases,
            "per_round": per_round,
            "round_ratio": geomean([math.log(r) for r in per_round]) if len(rounds) > 1 else None,
            "cases": len(logs), "case_ratio": geomean(logs),
            **(_confirmations(timed, common) if all("confirmed" in r for r in timed) else {})}


def _confirmations(timed: list[dict[str, Any]], common: set[str]) -> dict[str, Any]:
    """Confirmations per run per side, and the per-case comparison over the runs that did not confirm it."""
    unconfirmed = _unconfirmed_logs(timed, common)
    return {"confirmed_per_run": {side: statistics.fmean(len(r["confirmed"]) for r in timed if r["side"] == side)
                                  for side in SIDES},
            "unconfirmed_case_ratio": geomean(unconfirmed) if len(unconfirmed) > 1 else None}


def geomean(logs: list[float]) -> dict[str, float]:
    """exp of the logs' mean, with a 95% t-interval over them."""
    from scipy.stats import t

    mean, sem = statistics.fmean(logs), statistics.stdev(logs) / math.sqrt(len(logs))
    low, high = t.interval(0.95, len(logs) - 1, loc=mean, scale=sem) if sem > 0 else (mean, mean)
    return {"geomean": math.exp(mean), "low": math.exp(low), "high": math.exp(high), "cases": len(logs)}


def _unconfirmed_logs(timed: list[dict[str, Any]], common: set[str]) -> list[float]:
    """Per case, log after / before of its mean seconds over the runs that did not confirm it (measure it
    again in fresh processes): what a case that passes at first look costs; cases confirmed in every run
    of a side are left out."""
    logs = []
    for case in sorted(common):
        means = [[r["cases"][case] for r in timed if r["side"] == side and case not in r["confirmed"]]
                 for side in SIDES]
        if all(means):
            logs.append(math.log(statistics.fmean(means[1]) / statistics.fmean(means[0])))
    return logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the commit before the change")
    parser.add_argument("--after", default="HEAD", help="the commit after it (default: HEAD)")
    parser.add_argument("--select", default=SELECT, help="pytest -k expression of the example gate's cases")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of four gate runs, A B B A")
    parser.add_argument("--beside", required=True, help="what else ran on the machine meanwhile")
    parser.add_argument("--output", type=Path, help="default: bench/results/warm-gate-<hardware key>.json")
    args = parser.parse_args()
    revs = {"before": revision(args.before), "after": revision(args.after)}
    start = run_start()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="qbench-warm-gate-") as tmp:
        trees = {side: unpack(rev, Path(tmp) / side / "tree") for side, rev in revs.items()}
        for side in SIDES:
            runs.append({"side": side, "round": None, "update": True,
                         **gate(trees[side], Path(tmp) / side, "update", args.select, update=True)})
        for i, side in enumerate(order(args.rounds)):
            print(f"gate run {i + 1}: {side} ({revs[side]})", flush=True)
            runs.append({"side": side, "round": i // len(ROUND), "update": False,
                         **gate(trees[side], Path(tmp) / side, f"gate-{i}", args.select, update=False)})
    info = run_info(start, beside=args.beside)
    output = args.output or BENCH / "results" / f"warm-gate-{info['machine']['hardware_key']}.json"
    command = f"bench/warm_gate.py --before {args.before} --after {args.after} --rounds {args.rounds}"
    if args.select != SELECT:
        command += f" --select '{args.select}'"
    save_result(output, {**info, "revisions": revs, "select": args.select, "command": command, "runs": runs,
                         "summary": compare(runs)})


if __name__ == "__main__":
    main()
