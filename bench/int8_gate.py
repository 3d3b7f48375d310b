"""The latency gate on a real int8 slowdown, each run a fresh process (issue 22; BENCHMARKS §1).

    .venv/bin/python bench/int8_gate.py --beside "what else runs"

The first study of the gate (as of 5811f38, bench/latency_gate.py) timed the fp32 model against a copy of itself, in one process:
effects that hit int8 and fp32 kernels differently always cancelled there. Here the candidate is the
example model's dynamic int8 [Add, MatMul] variant itself, and its slowdowns are real work on its int8
path (bench/int8_slowdown.py: one extra MatMulInteger, calibrated to +5% and +10% of its one-thread CPU
time). Every run is a new Python process that creates its sessions and measures the fp32 model against
the candidate with the gate's own CPU phase (measure/latency.py), as a CI job does. A run is judged by
the gate's rule (gate/policy.py) against a baseline of the last `--baseline-runs` unslowed runs of its
condition, with the between-run sigma pooled from them and the prior, as one case of a run of the
example's 42 (the family size decides how significant a case must be). Conditions: the machine as it
is, and with a CPU-bound neighbour process per core. Reported per condition and arm: how often the check
failed, passed or was inconclusive (Wilson 95% intervals), the realized slowdown, the run-to-run sigma of
the unslowed runs beyond their own intervals, and seconds per run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from hosts import build  # noqa: E402
from neighbour import neighbour  # noqa: E402
from measurement import REPO, Shape, log  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

RESULTS = BENCH / "results" / "latency-gate-int8.json"
ARMS = {"A/A": 0.0, "+5%": 0.05, "+10%": 0.10}
CONDITIONS = ("as is", "cpu neighbour")
FAMILY = 42  # the example gate's cases: one case of such a run


def child(job_file: str) -> None:
    """One gate run's measurement in this fresh process: fp32 against the candidate, the CPU phase."""
    from pytest_qbench.specs import TimingSpec
    from pytest_qbench.measure.latency import Pair, cpu_phase
    from pytest_qbench.measure.ort_session import make_ort_session

    job = json.loads(Path(job_file).read_text())
    feed = {k: __import__("numpy").array(v, dtype="int64") for k, v in job["feed"].items()}
    start = perf_counter()

    def runner(path: str) -> Any:
        session = make_ort_session(path, 1)
        bound = {i.name: feed[i.name] for i in session.get_inputs()}
        return lambda: session.run(None, bound)

    samples = cpu_phase(Pair(runner(job["original"]), runner(job["candidate"])), TimingSpec())
    s = samples.speedup
    print(json.dumps({"speedup": {"value": s.value, "ci_low": s.ci_low, "ci_high": s.ci_high, "n_pairs": s.n_pairs},
                      "stop_reason": samples.stop_reason, "seconds": perf_counter() - start}))


def measure_run(original: str, candidate: str, feed: dict[str, Any], work: Path) -> dict[str, Any]:
    job = work / "job.json"
    job.write_text(json.dumps({"original": original, "candidate": candidate,
                               "feed": {k: v.tolist() for k, v in feed.items()}}))
    start = perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", str(job)], capture_output=True, text=True, check=True)
    return {**json.loads(done.stdout.splitlines()[-1]), "process_seconds": perf_counter() - start}


def judge(run: dict[str, Any], baseline: list[dict[str, Any]]) -> str:
    from pytest_qbench.gate.latency_stats import speedup_vs_runs
    from pytest_qbench.gate.spread import PRIOR_SPEEDUP_SIGMA, between_run_sigma
    from pytest_qbench.results import LatencyGate, LatencyRun, Speedup
    from pytest_qbench.specs import QbenchOptions

    runs = [LatencyRun("host", b["speedup"]["value"], b["speedup"]["ci_low"], b["speedup"]["ci_high"], 1.0, 1.0,
                       f"run-{i}", "") for i, b in enumerate(baseline)]
    spread = between_run_sigma([[(r.log_speedup, r.log_se) for r in runs]], PRIOR_SPEEDUP_SIGMA)
    s = run["speedup"]
    measured = Speedup(s["value"], s["ci_low"], s["ci_high"], 0.95, s["n_pairs"])
    return speedup_vs_runs(measured, runs, LatencyGate("host", spread, FAMILY, QbenchOptions.false_alarm_rate), 0.10).status


def run_condition(condition: str, models: dict[str, str], feed: dict[str, Any], args: argparse.Namespace,
                  work: Path) -> list[dict[str, Any]]:
    plan = ["A/A"] * args.baseline_runs + [arm for arm in ARMS for _ in range(args.runs)]
    head, rest = plan[:args.baseline_runs], plan[args.baseline_runs:]
    random.Random(CONDITIONS.index(condition)).shuffle(rest)
    runs: list[dict[str, Any]] = []
    with neighbour("cpu" if condition == "cpu neighbour" else "idle", seconds=args.neighbour_deadline):
        for index, arm in enumerate(head + rest):
            run = {**measure_run(models["original"], models[arm], feed, work), "arm": arm, "condition": condition}
            baseline = [r for r in runs if r["arm"] == "A/A"][-args.baseline_runs:]
            if len(baseline) == args.baseline_runs:
                run["status"] = judge(run, baseline)
            runs.append(run)
            log(f"{condition} {index + 1}/{len(plan)} {arm}: {run['speedup']['value']:.3f}"
                f" [{run['speedup']['ci_low']:.3f}, {run['speedup']['ci_high']:.3f}] {run.get('status', 'baseline')}")
    return runs


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from scipy.stats import binomtest

    from pytest_qbench.gate.spread import between_run_sigma

    rows = []
    for condition in CONDITIONS:
        mine = [r for r in runs if r["condition"] == condition]
        if not mine:
            continue
        aa = [math.log(r["speedup"]["value"]) for r in mine if r["arm"] == "A/A"]
        tau = between_run_sigma([[(math.log(r["speedup"]["value"]),
                                   math.log(r["speedup"]["ci_high"] / r["speedup"]["ci_low"]) / 3.92)
                                  for r in mine if r["arm"] == "A/A"]], prior=0.0, prior_df=0).sigma
        for arm in ARMS:
            judged = [r for r in mine if r["arm"] == arm and "status" in r]
            counts = {s: sum(r["status"] == s for r in judged) for s in ("fail", "inconclusive", "pass")}
            low, high = binomtest(counts["fail"], len(judged)).proportion_ci(method="wilson")
            shifted = [math.log(r["speedup"]["value"]) for r in mine if r["arm"] == arm]
            rows.append({"condition": condition, "arm": arm, "runs": len(judged), **counts,
                         "fail_low": float(low), "fail_high": float(high),
                         "realized": math.expm1(sorted(aa)[len(aa) // 2] - sorted(shifted)[len(shifted) // 2]),
                         "tau": tau, "seconds": sum(r["process_seconds"] for r in mine) / len(mine)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="1x128")
    parser.add_argument("--runs", type=int, default=40, help="judged runs per arm and condition")
    parser.add_argument("--baseline-runs", type=int, default=5, help="unslowed runs a baseline holds")
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument("--neighbour-deadline", type=float, default=3600.0)
    parser.add_argument("--beside", help="what else ran on the machine meanwhile (required)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    if args.beside is None:
        parser.error("--beside is required: say what else ran on the machine meanwhile")
    start = run_start()
    sys.path.insert(0, str(REPO / "examples"))
    from conll_model import VALID_FILE, conll_dir
    from int8_slowdown import calibrate
    from transformers import AutoTokenizer

    from pytest_qbench.measure.data import latency_inputs, parse_conll
    from pytest_qbench.measure.ort_session import make_ort_session

    paths = build(None)
    shape = Shape.parse(args.shape)
    session = make_ort_session(paths["original"], 1)
    feed = latency_inputs(AutoTokenizer.from_pretrained(paths["model_dir"]), parse_conll(conll_dir() / VALID_FILE),
                          "tokens", shape.batch_size, shape.sequence_length, [i.name for i in session.get_inputs()])
    with tempfile.TemporaryDirectory(prefix="qbench-int8-gate-") as tmp:
        work = Path(tmp)
        models, calibration = {"original": paths["original"], "A/A": paths["dynamic"]}, {}
        for arm, extra in ARMS.items():
            if extra:
                model, columns, cost = calibrate(lambda p: make_ort_session(p, 1), Path(paths["dynamic"]), work / arm,
                                                 384, feed, extra)
                models[arm], calibration[arm] = str(model), {"columns": columns, "cost": cost}
        log(f"calibration: {calibration}")
        runs = [run for c in args.conditions for run in run_condition(c, models, feed, args, work)]
    save_result(RESULTS, {
        **run_info(start, threads=1, beside=args.beside), "shape": str(shape), "family": FAMILY,
        "baseline_runs": args.baseline_runs, "calibration": calibration, "runs": runs, "summary": summarize(runs),
        "command": f"bench/int8_gate.py --shape {args.shape} --runs {args.runs} --baseline-runs {args.baseline_runs}"
                   f" --conditions {' '.join(repr(c) for c in args.conditions)}",
    })


if __name__ == "__main__":
    main()
