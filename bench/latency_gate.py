"""Does the latency gate catch a 10% slowdown, with <= 1% false alarms, idle and under load? (issue 11)

    .venv/bin/python bench/latency_gate.py                    # the full run, about 70 min on 2 cores
    .venv/bin/python bench/latency_gate.py --aa 20 --arm 6 --legacy-aa 4 --legacy-arm 2   # a quick look

For each load condition a neighbour process is started (and stopped; it also stops itself at a
deadline): none (idle); `cpu`, one busy numpy process per core; `bursty`, the same switching on and
off at random every 0.05-0.5 s. Under it runs a shuffled sequence of gate runs of the example model
(fp32 against a candidate, at one shape), every run with fresh sessions as a new CI job has:
  - A/A: the candidate is a second session of the fp32 model;
  - +10% / +25%: the candidate runs the model, then again on the first k tokens of the input, with k
    calibrated so the extra run costs 10% / 25% of a call's one-thread CPU time.
Both designs run interleaved in the same process: the new one (latency.measure and policy.judge)
and the old one (bench/legacy_gate.py, as of dce94cc). A run is judged against the previous A/A run
of its design and condition as baseline, as a real gate compares against the last recorded run: an
A/A run that fails is a false alarm. Cross-load: each loaded A/A run against the idle A/A run of the
same index, for baselines recorded on a quiet machine and gated on a busy one.

Per signal it reports the per-pair sigma of log-ratios, the run-to-run sigma of the estimate, the
false-alarm and detection rates with Wilson 95% intervals, and seconds per run. Raw numbers go to
bench/results/latency-gate.json and the tables replace the `latency-gate` section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from time import perf_counter, thread_time_ns
from typing import Any, Callable, Iterator

import numpy as np
from scipy.stats import binomtest

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import legacy_gate  # noqa: E402
from conll_model import ensure_model  # noqa: E402
from measurement import REPO, Setup, Shape, load_setup, log, splice  # noqa: E402

from pytest_qbench.specs import TimingSpec, Tolerances  # noqa: E402
from pytest_qbench.gate.baselines import BaselineMatch, entry_from_result  # noqa: E402
from pytest_qbench.gate.policy import judge, speedup_vs_baseline  # noqa: E402
from pytest_qbench.hardware import detect  # noqa: E402
from pytest_qbench.measure import latency  # noqa: E402
from pytest_qbench.results import AccuracyResult, CaseResult, LatencyResult  # noqa: E402

CONDITIONS = ("idle", "cpu", "bursty")
ARMS = {"A/A": 0.0, "+10%": 0.10, "+25%": 0.25}
RESULTS = BENCH / "results" / "latency-gate.json"
DOC = REPO / "docs" / "BENCHMARKS.md"


# ---- the neighbour -------------------------------------------------------------------------------


def _burn(deadline: float, bursty: bool, seed: int) -> None:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    a = np.random.default_rng(seed).random((256, 256))
    rng = random.Random(seed)
    while time.time() < deadline:
        until = time.time() + (rng.uniform(0.05, 0.5) if bursty else 1.0)
        while time.time() < min(until, deadline):
            a @ a
        if bursty:
            time.sleep(rng.uniform(0.05, 0.5))


@contextmanager
def neighbour(condition: str, seconds: float) -> Iterator[None]:
    """Load the machine as `condition` says while the block runs; the processes also stop by
    themselves after `seconds`, should this one die without stopping them."""
    workers = []
    if condition != "idle":
        deadline = time.time() + seconds
        ctx = mp.get_context("spawn")
        workers = [ctx.Process(target=_burn, args=(deadline, condition == "bursty", i), daemon=True)
                   for i in range(os.cpu_count() or 1)]
        for w in workers:
            w.start()
        time.sleep(0.5)
    try:
        yield
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.join()


# ---- the candidate -------------------------------------------------------------------------------


def sliced(feed: dict[str, np.ndarray], tokens: int) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(array[:, :tokens]) for name, array in feed.items()}


def slower(session: Any, feed: dict[str, np.ndarray], tokens: int) -> Callable[[], None]:
    """The model's run, then again on the first `tokens` tokens (0: no extra run)."""
    part = sliced(feed, tokens)

    def run() -> None:
        session.run(None, feed)
        if tokens:
            session.run(None, part)

    return run


def cpu_cost(session: Any, feed: dict[str, np.ndarray], tokens: int, calls: int) -> float:
    """Extra one-thread CPU time of the candidate over a plain call: medians of alternated calls."""
    runs = (slower(session, feed, tokens), slower(session, feed, 0))
    times: tuple[list[int], list[int]] = ([], [])
    for _ in range(calls):
        for run, out in zip(runs, times):
            t0 = thread_time_ns()
            run()
            out.append(thread_time_ns() - t0)
    return float(np.median(times[0]) / np.median(times[1]) - 1)


def calibrate(setup: Setup, shape: Shape, extra: float, calls: int = 40) -> tuple[int, float]:
    """The slice length whose extra run costs closest to `extra` (bisection), and that cost."""
    session = setup.session_at(1)
    feed = setup.feed(session, shape)
    low, high = 1, shape.sequence_length
    while low < high:
        middle = (low + high) // 2
        if cpu_cost(session, feed, middle, calls) < extra:
            low = middle + 1
        else:
            high = middle
    candidates = {tokens: cpu_cost(session, feed, tokens, calls) for tokens in {max(low - 1, 1), low}}
    return min(candidates.items(), key=lambda item: abs(item[1] - extra))


# ---- one run of each design --------------------------------------------------------------------


@contextmanager
def raw_pairs() -> Iterator[dict[str, np.ndarray]]:
    """The per-pair times of the phases of one `latency.measure` (cpu / wall), for the per-pair sigma."""
    captured: dict[str, np.ndarray] = {}
    timed = latency._timed_pairs

    def spy(pair: Any, *, thread_clock: bool, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        a, b = timed(pair, thread_clock=thread_clock, **kwargs)
        captured["cpu" if thread_clock else "wall"] = np.log(a / b)
        return a, b

    latency._timed_pairs = spy
    try:
        yield captured
    finally:
        latency._timed_pairs = timed


def new_run(setup: Setup, shape: Shape, tokens: int, timing: TimingSpec) -> dict[str, Any]:
    def sessions(threads: int) -> tuple[Any, Any]:
        return setup.session_at(threads), setup.session_at(threads)

    with raw_pairs() as logs:
        original, candidate = sessions(1)
        feed = setup.feed(original, shape)
        wall = sessions(setup.threads) if setup.threads != 1 else (original, candidate)
        result = latency.measure_pairs(
            latency.Pair(partial(original.run, None, feed), slower(candidate, feed, tokens)),
            latency.Pair(partial(wall[0].run, None, feed), slower(wall[1], feed, tokens)),
            timing, shape.batch_size, setup.threads,
        )
    return {"latency": dataclasses.asdict(result), "pair_sigma": {k: _robust_sigma(v) for k, v in logs.items()}}


def legacy_run(setup: Setup, shape: Shape, tokens: int) -> dict[str, Any]:
    original, candidate = setup.session_at(setup.threads), setup.session_at(setup.threads)
    feed = setup.feed(original, shape)
    result = legacy_gate.measure(partial(original.run, None, feed), slower(candidate, feed, tokens))
    return {**dataclasses.asdict(result), "pair_sigma": _robust_sigma(np.array(result.block_log_ratios))}


def _robust_sigma(logs: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: a sigma the odd 3x outlier does not dominate."""
    return float(1.4826 * np.median(np.abs(logs - np.median(logs))))


# ---- judging -------------------------------------------------------------------------------------


def _case(latency_result: LatencyResult) -> CaseResult:
    score = AccuracyResult("token-classification", 1.0, 1.0, 1.0, 1.0, "micro", {}, 1, "word", 1, 0, "default", 0.0)
    return CaseResult(nodeid="bench", test="bench", case_id="bench", model="bench", batch_size=1,
                      sequence_length=1, variant={}, accuracy_original=score, accuracy_optimized=score,
                      latency=latency_result)


def new_statuses(run: dict[str, Any], baseline: dict[str, Any]) -> dict[str, str]:
    """What policy.judge says of the run's latency checks against `baseline`, and what its speedup
    rule would say of the wall-clock speedup."""
    measured, recorded = _latency(run), _latency(baseline)
    entry = entry_from_result(_case(recorded))
    checks = judge(_case(measured), BaselineMatch(Path("bench"), "bench", entry, "bench"), Tolerances()).checks
    statuses = {c.metric: c.status for c in checks if c.metric in ("cpu.speedup", "optimized.cpu_ms")}
    statuses["wall.speedup"] = speedup_vs_baseline(measured.wall_speedup, recorded.wall_speedup, 0.10).status
    return statuses


def _latency(run: dict[str, Any]) -> LatencyResult:
    return LatencyResult.from_dict(run["latency"])


# ---- the experiment ------------------------------------------------------------------------------


def schedule(args: argparse.Namespace, seed: int) -> list[tuple[str, str]]:
    """(design, arm) in a seeded random order, starting with an A/A run of each design."""
    runs = [("new", "+10%")] * args.arm + [("new", "+25%")] * args.arm + [("new", "A/A")] * (args.aa - 1)
    runs += [("old", "+10%")] * args.legacy_arm + [("old", "+25%")] * args.legacy_arm
    runs += [("old", "A/A")] * max(args.legacy_aa - 1, 0)
    random.Random(seed).shuffle(runs)
    first = [("new", "A/A")] + ([("old", "A/A")] if args.legacy_aa else [])
    return first + runs


def run_condition(setup: Setup, shape: Shape, tokens: dict[str, int], condition: str, args: argparse.Namespace,
                  timing: TimingSpec) -> list[dict[str, Any]]:
    plan = schedule(args, seed=CONDITIONS.index(condition))
    runs: list[dict[str, Any]] = []
    with neighbour(condition, seconds=args.neighbour_deadline):
        for index, (design, arm) in enumerate(plan):
            start = perf_counter()
            run = new_run(setup, shape, tokens[arm], timing) if design == "new" else legacy_run(setup, shape, tokens[arm])
            runs.append({**run, "design": design, "arm": arm, "condition": condition, "index": index,
                         "seconds": perf_counter() - start})
            log(f"{condition} {index + 1}/{len(plan)} {design} {arm}: {_brief(runs[-1])}")
    return runs


def judge_runs(runs: list[dict[str, Any]]) -> None:
    """Set each run's `statuses`: judged against the previous A/A run of its design and condition."""
    last_aa: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        key = (run["design"], run["condition"])
        baseline = last_aa.get(key)
        run.pop("statuses", None)
        if baseline is not None:
            run["statuses"] = (new_statuses(run, baseline) if run["design"] == "new" else
                               {"speedup": "fail" if legacy_gate.gate_fails(_legacy(run), baseline["value"]) else "pass"})
        if run["arm"] == "A/A":
            last_aa[key] = run


def _legacy(run: dict[str, Any]) -> legacy_gate.LegacyResult:
    fields = {f.name for f in dataclasses.fields(legacy_gate.LegacyResult)}
    return legacy_gate.LegacyResult(**{k: run[k] for k in fields})


def _brief(run: dict[str, Any]) -> str:
    if run["design"] == "old":
        text = f"speedup {run['value']:.3f} [{run['ci_low']:.3f}, {run['ci_high']:.3f}]"
    else:
        cpu = run["latency"]["cpu"]
        text = (f"cpu speedup {cpu['speedup']['value']:.3f} [{cpu['speedup']['ci_low']:.3f}, {cpu['speedup']['ci_high']:.3f}]"
                f" n={cpu['speedup']['n_pairs']}, cpu {cpu['original_ms']:.2f}/{cpu['optimized_ms']:.2f} ms,"
                f" wall speedup {run['latency']['wall_speedup']['value']:.3f}")
    return f"{text} {run['seconds']:.1f} s"


def cross_load(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each loaded new-design A/A run judged against the idle A/A run of the same rank."""
    aa = {c: [r for r in runs if r["design"] == "new" and r["arm"] == "A/A" and r["condition"] == c] for c in CONDITIONS}
    out = []
    for condition in CONDITIONS[1:]:
        for run, baseline in zip(aa[condition], aa["idle"]):
            out.append({"condition": condition, "statuses": new_statuses(run, baseline)})
    return out


# ---- summaries -------------------------------------------------------------------------------------


def wilson(hits: int, n: int) -> dict[str, float]:
    if not n:
        return {"hits": 0, "n": 0, "rate": math.nan, "low": math.nan, "high": math.nan}
    low, high = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"hits": hits, "n": n, "rate": hits / n if n else math.nan, "low": float(low), "high": float(high)}


# signal -> (design, its log slowdown of the candidate in a run, its per-pair sigma, the check that gates it)
SIGNALS: dict[str, tuple[str, Callable[[dict[str, Any]], float], Callable[[dict[str, Any]], float], str]] = {
    "old: wall, all cores, ratio of means": ("old", lambda r: -math.log(r["value"]), lambda r: r["pair_sigma"], "speedup"),
    "new: cpu time, 1 thread, HL": ("new", lambda r: -math.log(r["latency"]["cpu"]["speedup"]["value"]),
                                    lambda r: r["pair_sigma"].get("cpu", math.nan), "cpu.speedup"),
    "new rule on wall time, all cores, HL": ("new", lambda r: -math.log(r["latency"]["wall_speedup"]["value"]),
                                             lambda r: r["pair_sigma"].get("wall", math.nan), "wall.speedup"),
    "new: optimized cpu ms (absolute)": ("new", lambda r: math.log(r["latency"]["cpu"]["optimized_ms"]),
                                         lambda r: math.nan, "optimized.cpu_ms"),
}


def summarize(runs: list[dict[str, Any]], cross: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for condition in CONDITIONS:
        for signal, (design, estimate, sigma, metric) in SIGNALS.items():
            mine = [r for r in runs if r["condition"] == condition and r["design"] == design]
            if not mine:
                continue
            aa = [r for r in mine if r["arm"] == "A/A"]
            row = {"condition": condition, "signal": signal,
                   "pair_sigma": float(np.median([sigma(r) for r in mine])),
                   "run_sigma": float(np.std([estimate(r) for r in aa], ddof=1)) if len(aa) > 2 else math.nan,
                   "seconds": float(np.mean([r["seconds"] for r in mine]))}
            for arm in ARMS:
                judged = [r for r in mine if r["arm"] == arm and "statuses" in r]
                row[arm] = wilson(sum(r["statuses"][metric] == "fail" for r in judged), len(judged))
                row[f"{arm} inconclusive"] = sum(r["statuses"][metric] == "inconclusive" for r in judged)
                shifted = [estimate(r) for r in mine if r["arm"] == arm]
                row[f"{arm} realized"] = (math.expm1(float(np.median(shifted) - np.median([estimate(r) for r in aa])))
                                          if shifted and aa else math.nan)
            if design == "new":
                loaded = [c for c in cross if c["condition"] == condition]
                row["vs idle baseline"] = wilson(sum(c["statuses"][metric] == "fail" for c in loaded), len(loaded))
            rows.append(row)
    return rows


def _rate(r: dict[str, float]) -> str:
    if not r or not r["n"]:
        return "–"
    return f"{r['hits']}/{r['n']} ({r['rate']:.1%}; {r['low']:.1%}–{r['high']:.1%})"


def render(result: dict[str, Any]) -> str:
    header = ["load", "signal", "per-pair σ (log)", "run-to-run σ (log)", "A/A false alarms", "A/A inconclusive",
              "+10% caught", "+25% caught", "realized +10% / +25%", "idle baseline, this load: false alarms",
              "s per run"]
    rows = []
    for r in result["summary"]:
        absolute = r["signal"].startswith("new: optimized")
        rows.append([
            r["condition"], r["signal"], "–" if absolute else f"{r['pair_sigma']:.3f}", f"{r['run_sigma']:.3f}",
            _rate(r["A/A"]), r["A/A inconclusive"], _rate(r["+10%"]), _rate(r["+25%"]),
            f"{r['+10% realized']:+.1%} / {r['+25% realized']:+.1%}", _rate(r.get("vs idle baseline", {})),
            f"{r['seconds']:.1f}",
        ])
    lines = [header, ["---"] * len(header), *rows]
    table = "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)
    m = result["machine"]
    cal = ", ".join(f"{arm}: {c['tokens']} extra tokens, {c['cost']:+.1%} cpu" for arm, c in result["calibration"].items())
    return (
        f"### 1. Latency gate: old and new design side by side, three loads\n\n{table}\n\n"
        f"Shape {result['shape']}; candidate calibration ({cal}). Rates with Wilson 95% intervals; \"caught\" = the"
        " check failed. The absolute row is the optimized model's CPU time per call against cpu_time_rtol"
        f" {Tolerances().cpu_time_rtol:g}: its +10%/+25% columns count slowdowns it caught on its own."
        f" Run {result['started']} ({result['seconds'] / 60:.0f} min) on {m['brand']}, {m['key']},"
        f" {m['threads']} threads for the wall clock, load average before {result['load_before']}."
        f" Reproduce: `{result['command']}`. Raw numbers: `{RESULTS.relative_to(REPO)}`."
    )


def measure_all(args: argparse.Namespace) -> dict[str, Any]:
    timing = TimingSpec()
    setup = load_setup(ensure_model(), None, timing)
    shape = Shape.parse(args.shape)
    started, start, load = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), perf_counter(), os.getloadavg()
    calibration = {arm: dict(zip(("tokens", "cost"), calibrate(setup, shape, extra))) for arm, extra in ARMS.items() if extra}
    tokens = {"A/A": 0, **{arm: c["tokens"] for arm, c in calibration.items()}}
    log(f"calibration: {calibration}")
    runs = [run for c in args.conditions for run in run_condition(setup, shape, tokens, c, args, timing)]
    hardware = detect()
    return {
        "command": "bench/latency_gate.py " + " ".join(sys.argv[1:]), "started": started,
        "seconds": perf_counter() - start, "load_before": "/".join(f"{x:.2f}" for x in load),
        "machine": {"brand": hardware.brand, "key": hardware.key, "threads": setup.threads},
        "shape": str(shape), "timing": dataclasses.asdict(timing), "tolerances": dataclasses.asdict(Tolerances()),
        "calibration": calibration, "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="1x128", help="one-thread call ~37 ms: a slice of the input can add 10%%")
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument("--aa", type=int, default=200, help="new-design A/A runs per condition")
    parser.add_argument("--arm", type=int, default=60, help="new-design runs per slowdown arm per condition")
    parser.add_argument("--legacy-aa", type=int, default=20, help="old-design A/A runs per condition")
    parser.add_argument("--legacy-arm", type=int, default=10, help="old-design runs per slowdown arm per condition")
    parser.add_argument("--neighbour-deadline", type=float, default=3600.0, help="seconds a neighbour lives at most")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    parser.add_argument("--rejudge", action="store_true",
                        help="judge the runs of bench/results/latency-gate.json again with today's policy, and re-render")
    args = parser.parse_args()
    if args.rejudge:
        result = json.loads(RESULTS.read_text())
        result["tolerances"] = dataclasses.asdict(Tolerances())
    else:
        result = measure_all(args)
    judge_runs(result["runs"])
    result["cross_load"] = cross_load(result["runs"])
    result["summary"] = summarize(result["runs"], result["cross_load"])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, default=float) + "\n")
    text = render(result)
    print(text)
    if not args.no_doc:
        DOC.write_text(splice(DOC.read_text(), {"latency-gate": text}))


if __name__ == "__main__":
    main()
