"""The slow first looks of the live gate studies: which model moved, whether the in-run confirmation cleared
them, and whether judging a speedup given the machine's speed at the time (the remedy docs/BENCHMARKS.md
§8e proposed, issue 31) would have judged the first looks better.

    PYTHONPATH=. .venv/bin/python bench/slow_looks.py --studies NAME [NAME ...]

A study NAME is a live gate study (bench/live_gate.py): its record bench/results/live-gate-NAME.json, whose
runs recorded each case's first look (its CPU-time speedup and each model's CPU ms per call) and each
confirmed case's phases, and its baselines in bench/results/live-studies/NAME/baselines.

1. The slow first looks: more than EXCURSION (log) below their case's median over the study's runs (a
   slowed run's target left out). For each, how far the fp32 and the int8 model's CPU ms per call moved
   from their medians, what the confirmation's fresh processes measured, and the case's verdict in the
   run. A look whose int8 model alone slowed is a slow session of that model; one whose fp32 model sped up
   with the speedup is the machine's speed, which a covariate could take out.
2. The covariates, tested: every first look judged again, as the gate judges it before any confirmation,
   by the package's own rule (gate/latency_stats.speedup_vs_runs) against the study's baseline runs, three
   ways. Today's: the gate without speed lines, its sigma pooled from the runs as they are. Given the
   machine's speed: the gate with `qbench_speed_lines` (gate/spread.gate_from_runs): each case's line of log
   speedup on log fp32 CPU time where its runs teach one, the sigma pooled from the lines' residuals. Given the
   case's excess: the same lines, fitted to and applied at each run's fp32 CPU time divided by the move common
   to that run's cases (their median against the baseline), so that a machine slow for every model alike
   predicts no change. All learn from the same data: the baseline runs and a history of the study's other
   runs (leave one run out), what `--qbench-history` would hold after the study's hours. A first look's own
   standard error is its case's median over the baseline runs (the record keeps the first look's value
   only). Counted per rule: first looks failed and inconclusive, A/A runs red at first look, the slowed
   target caught, and the standardized drops' tail.
3. The confirmation replayed: each confirmed case's measurements judged by the gate's three rules: the median,
   the best of all of them, and the best of the fresh processes (the first look only chose the case).
4. The slowed target's first looks: against the baseline runs' medians, its speedup and its fp32 model's CPU
   time per call, and that of the run's other cases (the machine's speed over the run), with the run's verdict
   on it: whether a miss went with the machine running slow at that moment.
5. Baselines of more runs: every run judged again against its study's update runs and the first looks of other
   runs, to BASELINE_RUNS runs a case, by the pooled sigma (the gate's rule) and by each case's own where its
   runs spread more (tried, not adopted): what `qbench_baseline_runs` (10 by default) would have made of the same
   measurements.
Written to bench/results/slow-looks-<hardware key>.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from live_gate import EXCURSION, SPEEDUP, wilson  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

from pytest_qbench.gate.latency_stats import (  # noqa: E402
    SpeedupRule,
    compared,
    intersection_union,
    speedup_in_run,
    speedup_vs_runs,
)
from pytest_qbench.gate.spread import fit_speed_line, gate_from_runs  # noqa: E402
from pytest_qbench.measure.stats import CONFIDENCE, median_cpu, two_sided_z  # noqa: E402
from pytest_qbench.report.history import latency_runs, load  # noqa: E402
from pytest_qbench.results import CpuTime, LatencyGate, LatencyRun, Speedup, Status  # noqa: E402
from pytest_qbench.specs import QbenchOptions, Tolerances  # noqa: E402

RESULTS = BENCH / "results"
RULES = ("today", "given_speed", "given_excess")
RTOL, ALPHA = Tolerances.speedup_rtol, QbenchOptions.false_alarm_rate  # the example gate's: the defaults
TAIL = (2.0, 3.0)  # standardized drops counted beyond these


def baseline_runs(folder: Path) -> dict[str, list[LatencyRun]]:
    """The study's baseline runs per case, named as pytest names the case: `test_x[params]`."""
    runs: dict[str, list[LatencyRun]] = {}
    for path in sorted((folder / "baselines").glob("*.json")):
        if path.name.endswith(".obtained.json"):  # a failed case's measurement, not a baseline
            continue
        test = path.stem.split("--", 1)[1]
        for params, keys in json.loads(path.read_text())["cases"].items():
            for entry in keys.values():
                runs.setdefault(f"{test}[{params}]", []).extend(
                    LatencyRun(**r) for r in entry.get("latency", {}).get("runs", []))
    return runs


def learned_from(run: dict[str, Any], name: str, target: str) -> bool:
    """Whether a case's look in `run` tells how the case varies: not the slowed run's target."""
    return not (run["arm"] == "slow" and name == target)


def first_looks(live: dict[str, Any], runs_of: dict[str, list[LatencyRun]]) -> list[dict[str, CpuTime]]:
    """Per run, each gated case's first look; its speedup's interval is its case's median over the baseline
    runs (the record keeps the first look's value only)."""
    se = {name: statistics.median(r.log_se for r in runs) for name, runs in runs_of.items()}
    looks = []
    for run in live["runs"]:
        own = {}
        for name, value in run["first_looks"].items():
            if name in runs_of:
                half = two_sided_z(CONFIDENCE) * se[name]
                speedup = Speedup(value, value * math.exp(-half), value * math.exp(half), CONFIDENCE, 0)
                own[name] = CpuTime(*run["first_ms"][name], speedup)
        looks.append(own)
    return looks


def history(looks: list[dict[str, CpuTime]], live: dict[str, Any], cpu_model: str,
            leave: int | None = None) -> dict[str, list[LatencyRun]]:
    """Every run's looks, as a history folder would hold them, but run `leave`'s and the slowed runs' target."""
    kept: dict[str, list[LatencyRun]] = {}
    for i, (run, own) in enumerate(zip(live["runs"], looks, strict=True)):
        for name, look in own.items():
            if i != leave and learned_from(run, name, live["target"]):
                kept.setdefault(name, []).append(as_run(look, cpu_model, i))
    return kept


def as_run(look: CpuTime, cpu_model: str, index: int) -> LatencyRun:
    """Run `index`'s first look of a case as a baseline or a history keeps a run."""
    s = look.speedup
    return LatencyRun(cpu_model, s.value, s.ci_low, s.ci_high, look.original_ms, look.optimized_ms, f"live-{index}", "")


# ---- 1. the slow first looks ---------------------------------------------------------------------------------


def slow_first_looks(live: dict[str, Any]) -> list[dict[str, Any]]:
    """Each first look more than EXCURSION below its case's median: both models' moves, the confirmation's."""
    target, runs = live["target"], live["runs"]
    by_case: dict[str, list[np.ndarray]] = {}
    for run in runs:
        for name in run["first_looks"]:
            if learned_from(run, name, target):
                by_case.setdefault(name, []).append(log_figures(run["first_looks"][name], *run["first_ms"][name]))
    medians = {name: np.median(rows, axis=0) for name, rows in by_case.items()}
    slow = []
    for index, run in enumerate(runs):
        for name, value in run["first_looks"].items():
            if not learned_from(run, name, target):
                continue
            moved = log_figures(value, *run["first_ms"][name]) - medians[name]
            if moved[0] >= -EXCURSION:
                continue
            phases = run.get("confirmations", {}).get(name, [])
            checks = run["flagged"].get(name, {})
            slow.append({"run": index, "arm": run["arm"], "case": name, "moved": moved.tolist(),
                         "confirmation": [(log_figures(p["speedup"]["value"], p["original_ms"], p["optimized_ms"])
                                           - medians[name]).tolist() for p in phases[1:]],
                         "checks": checks})
    return slow


def log_figures(speedup: float, fp32_ms: float, int8_ms: float) -> np.ndarray:
    """A look's speedup and each model's CPU ms per call (fp32, int8), as logs."""
    return np.log([speedup, fp32_ms, int8_ms])


def kinds(slow: list[dict[str, Any]]) -> dict[str, int]:
    """The slow first looks by which model moved: the int8 model slower by at least half the drop while fp32
    did not speed up by as much (a slow int8 session); else the fp32 model faster (the machine's speed)."""
    counts = {"int8 slower": 0, "fp32 faster": 0}
    for look in slow:
        drop, fp32, int8 = look["moved"]
        counts["int8 slower" if int8 >= -drop / 2 and -fp32 < int8 else "fp32 faster"] += 1
    return counts


# ---- 2. the covariate, tested --------------------------------------------------------------------------------


def key(name: str) -> tuple[str, str]:
    """A pytest name `test_x[params]` as the package keys a case: (test, case id)."""
    test, case = name[:-1].split("[", 1)
    return test, case


def gates(recorded: dict[str, list[LatencyRun]], cpu_model: str) -> dict[str, LatencyGate]:
    """The latency gate over the cases' recorded runs as the package builds it (gate/spread.py), without speed
    lines (today's) and with them."""
    keyed = {key(n): runs for n, runs in recorded.items()}
    return {"today": gate_from_runs(keyed, cpu_model, len(recorded), ALPHA, speed_lines=False),
            "lined": gate_from_runs(keyed, cpu_model, len(recorded), ALPHA, speed_lines=True)}


def common_move(moves: list[float]) -> float:
    """A run's move of the fp32 model's log CPU time per call common to its cases: their median."""
    return float(np.median(moves))


def beyond_common(runs: dict[str, list[LatencyRun]], reference: dict[str, float]) -> dict[str, list[LatencyRun]]:
    """Each recorded run with its fp32 CPU time per call divided by its run's common move (over the cases
    that run recorded, against each case's `reference` log ms): what is left is the case's own excess."""
    moves: dict[str, list[float]] = {}
    for name, recorded in runs.items():
        for r in recorded:
            moves.setdefault(r.run, []).append(r.log_original_ms - reference[name])
    common = {run: common_move(m) for run, m in moves.items()}
    return {name: [replace(r, original_ms=r.original_ms / math.exp(common[r.run])) for r in recorded]
            for name, recorded in runs.items()}


def judge_run(own: dict[str, CpuTime], base: dict[str, list[LatencyRun]], past: dict[str, list[LatencyRun]],
              cpu_model: str) -> dict[str, Any]:
    """Each case's first look of one run by each rule (gate/latency_stats.speedup_vs_runs against the baseline
    runs, the gate learnt from them and `past`): its status and standardized drop; each rule's sigma. Today's:
    no line. Given the machine's speed: the package's speed lines. Given the case's excess: the same lines
    fitted to, and applied at, each run's fp32 CPU time beyond the move common to that run's cases."""
    names = sorted(own)
    reference = {n: float(np.median([r.log_original_ms for r in base[n]])) for n in names}
    common = common_move([math.log(own[n].original_ms) - reference[n] for n in names])
    own_excess = {n: replace(look, original_ms=look.original_ms / math.exp(common)) for n, look in own.items()}
    base_excess = beyond_common({n: base[n] for n in names}, reference)
    past_excess = beyond_common({n: past[n] for n in names if n in past}, reference)
    as_measured = gates({n: base[n] + past.get(n, []) for n in names}, cpu_model)
    excess = gates({n: base_excess[n] + past_excess.get(n, []) for n in names}, cpu_model)
    inputs = {
        "today": ((own, base), as_measured["today"]),
        "given_speed": ((own, base), as_measured["lined"]),
        "given_excess": ((own_excess, base_excess), excess["lined"]),
    }
    judged: dict[str, Any] = {}
    for rule, ((looks, runs), gate) in inputs.items():
        cases = {}
        for n in names:
            line = gate.line(*key(n))
            comparison = compared([looks[n]], runs[n], gate, line)
            check = speedup_vs_runs(looks[n], runs[n], gate, RTOL, line)
            cases[n] = {"status": check.status.value, "z": comparison.drop / comparison.se}
        judged[rule] = {"sigma": gate.speedup_spread.sigma, "cases": cases}
    return judged


def rule_summary(runs: list[dict[str, Any]], rule: str, target: str) -> dict[str, Any]:
    """One rule's first-look verdicts: over every run's unslowed cases; the A/A runs red; the slowed target."""
    statuses, zs, red_lenient, red_strict = [], [], 0, 0
    for run in runs:
        others = [c for n, c in run[rule]["cases"].items() if learned_from(run, n, target)]
        statuses += [c["status"] for c in others]
        zs += [c["z"] for c in others]
        if run["arm"] == "aa":
            red_lenient += any(c["status"] == Status.FAIL.value for c in others)
            red_strict += any(c["status"] != Status.PASS.value for c in others)
    aa = sum(run["arm"] == "aa" for run in runs)
    slowed = [r[rule]["cases"][target]["status"] for r in runs if r["arm"] == "slow" and target in r[rule]["cases"]]
    return {
        "case_runs": len(statuses),
        "failed": wilson(statuses.count(Status.FAIL.value), len(statuses)),
        "inconclusive": wilson(statuses.count(Status.INCONCLUSIVE.value), len(statuses)),
        "aa_runs": aa,
        "aa_red_lenient": wilson(red_lenient, aa) if aa else None,
        "aa_red_strict": wilson(red_strict, aa) if aa else None,
        "target_caught": wilson(slowed.count(Status.FAIL.value), len(slowed)) if slowed else None,
        "tail": {f"{t:g}": sum(z > t for z in zs) for t in TAIL},
        "sigma_median": statistics.median(r[rule]["sigma"] for r in runs),
    }


def describe(runs: list[LatencyRun]) -> dict[str, Any]:
    """A case's line over every run: slope, its error, the correlation, the sd of log speedup before and after."""
    line = fit_speed_line(runs)
    y, x = np.array([r.log_speedup for r in runs]), np.array([r.log_original_ms for r in runs])
    return {"points": len(runs), "slope": line.slope, "slope_se": line.slope_se,
            "correlation": float(np.corrcoef(x, y)[0, 1]) if np.ptp(x) and np.ptp(y) else None,
            "sd": float(np.std(y, ddof=1)),
            "sd_given_speed": float(np.std([r for r, _ in line.residuals], ddof=1)), "fp32_range": float(np.ptp(x))}


def covariate(live: dict[str, Any], runs_of: dict[str, list[LatencyRun]],
              seeded: dict[str, list[LatencyRun]]) -> dict[str, Any]:
    """The rules at first look, each run's history the study's other runs and the history it was `seeded` with."""
    cpu_model = next(r.cpu_model for runs in runs_of.values() for r in runs)
    looks = first_looks(live, runs_of)

    def learnt(leave: int | None) -> dict[str, list[LatencyRun]]:
        own = history(looks, live, cpu_model, leave=leave)
        return {n: seeded.get(n, []) + own.get(n, []) for n in set(own) | set(seeded)}

    runs = [{"arm": run["arm"], **judge_run(own, runs_of, learnt(i), cpu_model)}
            for i, (run, own) in enumerate(zip(live["runs"], looks, strict=True))]
    every = learnt(None)
    return {"rules": {rule: rule_summary(runs, rule, live["target"]) for rule in RULES},
            "lines": {n: describe(runs_of[n] + every.get(n, [])) for n in sorted(runs_of)}}


# ---- 3. the confirmation, replayed ----------------------------------------------------------------------------


ESTIMATORS = ("median", "best", "fresh")
VERDICTS = (Status.FAIL, Status.INCONCLUSIVE, Status.PASS)


def best_of_all(measured: list[CpuTime], runs: list[LatencyRun], gate: LatencyGate) -> Status:
    """The gate's rule from 2ca4090 until the fresh processes alone decided (docs/BENCHMARKS.md §8j): the first
    look decided with them, failing only when every measurement failed on its own."""
    rule = replace(SpeedupRule.of(gate, RTOL), chances=len(measured))
    return intersection_union([rule.status(compared([m], runs, gate, None)) for m in measured])


def replay(live: dict[str, Any], runs_of: dict[str, list[LatencyRun]]) -> dict[str, Any]:
    """Every confirmed case's measurements judged again by the gate's three rules: the median of the first look
    and the fresh processes, judged as one measurement (before 2ca4090); the best of them all, failed only when
    each fails on its own (`best_of_all`); the best of the fresh processes, the first look having only chosen
    the case (gate/latency_stats.speedup_in_run, the gate now). One of them must give every verdict the study's
    runs recorded (the script stops otherwise): the rule the runs used. Counted by each: the statuses of the A/A
    cases confirmed, the slowed target over every slowed run (a target that passed at first look was not
    confirmed: a pass by any), and the A/A runs red, leniently and strictly."""
    cases, recorded = [], []
    for index, run in enumerate(live["runs"]):
        gate = LatencyGate.from_json(run["latency_gate"]) if run["confirmations"] else None
        for name, phases in run["confirmations"].items():
            measured = as_measured(phases)
            runs = [r for r in runs_of[name] if r.cpu_model == gate.cpu_model]
            cases.append({"run": index, "arm": run["arm"], "case": name,
                          "target": not learned_from(run, name, live["target"]),
                          "speedups": [m.speedup.value for m in measured],
                          "median": speedup_vs_runs(median_cpu(measured), runs, gate, RTOL).status.value,
                          "best": best_of_all(measured, runs, gate).value,
                          "fresh": speedup_in_run(measured, runs, gate, RTOL).status.value})
            recorded.append(run["flagged"].get(name, {}).get(SPEEDUP, Status.PASS.value))
    used = [e for e in ESTIMATORS if all(c[e] == r for c, r in zip(cases, recorded, strict=True))]
    if not used:
        sys.exit("no rule gives every recorded verdict of the study: not a study of this gate (a study of the"
                 " speed lines, with a history, is not replayed)")
    slowed = sum(run["arm"] == "slow" for run in live["runs"])
    counts = {e: {"unslowed": {v.value: sum(c[e] == v.value for c in cases if not c["target"]) for v in VERDICTS},
                  "target": {v.value: sum(c[e] == v.value for c in cases if c["target"]) for v in VERDICTS}}
              for e in ESTIMATORS}
    for e in ESTIMATORS:  # the slowed runs whose target passed at first look
        counts[e]["target"][Status.PASS.value] += slowed - sum(c["target"] for c in cases)
    red = {e: {"lenient": 0, "strict": 0} for e in ESTIMATORS}
    for index, run in enumerate(live["runs"]):
        mine = [c for c in cases if c["run"] == index and not c["target"]]
        if run["arm"] == "aa":
            for e in ESTIMATORS:
                red[e]["lenient"] += any(c[e] == Status.FAIL.value for c in mine)
                red[e]["strict"] += any(c[e] != Status.PASS.value for c in mine)
    return {"cases": cases, "judged_by": used, "aa_runs": sum(run["arm"] == "aa" for run in live["runs"]),
            "red": red, "counts": counts}


def as_measured(phases: list[dict[str, Any]]) -> list[CpuTime]:
    """A confirmed case's recorded measurements: its first look, then its fresh processes."""
    return [CpuTime(p["original_ms"], p["optimized_ms"], Speedup(**p["speedup"])) for p in phases]


# ---- 4. the slowed target's first looks ---------------------------------------------------------------------------


def slowed_targets(live: dict[str, Any], runs_of: dict[str, list[LatencyRun]]) -> list[dict[str, Any]]:
    """Per slowed run, the target's first look against the baseline runs' medians (log): its speedup, its fp32 CPU
    ms per call, the median of the run's other cases' fp32 moves; and the run's verdict on the target."""
    fp32 = {name: float(np.median([math.log(r.original_ms) for r in runs])) for name, runs in runs_of.items()}
    target, looks = live["target"], []
    for run in live["runs"]:
        if run["arm"] != "slow":
            continue
        moved = {n: math.log(ms[0]) - fp32[n] for n, ms in run["first_ms"].items() if n in fp32}
        speedup = math.log(run["first_looks"][target]) - float(np.median([r.log_speedup for r in runs_of[target]]))
        own = moved.pop(target)
        looks.append({"speedup": speedup, "fp32": own, "fp32_others": float(np.median(list(moved.values()))),
                      "verdict": run["target"]})
    return looks


# ---- 5. baselines of more runs, replayed -----------------------------------------------------------------------

BASELINE_RUNS = (5, 10, 20)  # beside the study's own: baselines of this many runs
OWN_PRIOR_DF = 6  # the pool weighs as much as six degrees of freedom of a case's own runs


def more_baseline_runs(live: dict[str, Any], runs_of: dict[str, list[LatencyRun]],
                       confirmed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every run judged again as the gate judges it, against baselines of more runs: the study's update runs and
    the first looks of as many of its other runs as it takes (the runs after the judged one, in a cycle; a slowed
    run's target left out), the gate's sigma pooled from them, and each case judged by that pooled sigma (the
    gate's rule) and by its own where its runs spread more (`own_sigma`, not adopted). A case that
    passes at first look passes; one that
    does not is decided by its fresh processes (gate/latency_stats.speedup_in_run) when the run confirmed it, else
    it keeps its first look's verdict, counted apart: no fresh process measured it. The study's own baselines
    come first; judged by the pooled sigma they must give the verdicts the runs recorded, a `confirmed` case's as
    `replay` judges it by the gate's rule now (the script stops otherwise)."""
    cpu_model = next(r.cpu_model for runs in runs_of.values() for r in runs)
    looks = first_looks(live, runs_of)
    rows = []
    for own_spread in (False, True):
        for count in (0, *BASELINE_RUNS):  # 0: the study's own baselines
            judged = []
            for index, run in enumerate(live["runs"]):
                extra = following_runs(looks, live, cpu_model, index, count)
                base = {n: (runs_of[n] + extra.get(n, []))[:max(count, len(runs_of[n]))] for n in looks[index]}
                if any(len(runs) < count for runs in base.values()):
                    break  # too few other runs for baselines of `count`
                judged.append(judge_against(base, run, looks[index], cpu_model, own_spread))
            else:
                rows.append({"own_spread": own_spread, **baseline_row(count, judged, live)})
    if rows[0]["flagged"] != as_the_runs_judged(live, confirmed) or any(rows[0]["unconfirmed"]):
        sys.exit("the study's own baselines, judged by the pooled sigma, do not give the verdicts its runs recorded"
                 " (their confirmations by the gate's rule now): not a study of this gate")
    return [{**r, **{field: {str(i): cases for i, cases in enumerate(r[field]) if cases}  # the runs with any
                     for field in ("flagged", "unconfirmed")}} for r in rows]


def as_the_runs_judged(live: dict[str, Any], confirmed: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Per run, the cases it flagged (their speedup check not passed), each confirmed one as the gate's rule now
    judges its measurements."""
    passed = Status.PASS.value
    flagged = [{n: c[SPEEDUP] for n, c in run["flagged"].items() if c.get(SPEEDUP, passed) != passed}
               for run in live["runs"]]
    for case in confirmed:
        flagged[case["run"]].pop(case["case"], None)
        if case["fresh"] != Status.PASS.value:
            flagged[case["run"]][case["case"]] = case["fresh"]
    return flagged


def following_runs(looks: list[dict[str, CpuTime]], live: dict[str, Any], cpu_model: str, index: int,
                   count: int) -> dict[str, list[LatencyRun]]:
    """Per case, the first looks of the `count` runs after run `index` (in a cycle) that can teach it."""
    runs, kept = live["runs"], {}
    for j in [(index + k) % len(runs) for k in range(1, len(runs))]:
        for name, look in looks[j].items():
            mine = kept.setdefault(name, [])
            if len(mine) < count and learned_from(runs[j], name, live["target"]):
                mine.append(as_run(look, cpu_model, j))
    return kept


def own_sigma(pooled: float, runs: list[LatencyRun]) -> float:
    """A case's between-run sigma from its own runs where they spread more than the pool: their variance beyond
    their own errors, moderated toward the pooled sigma (weighing OWN_PRIOR_DF degrees of freedom), never below it.
    Tried and not adopted (docs/BENCHMARKS.md §8k): restated here to replay it."""
    if len(runs) < 2:
        return pooled
    own = float(np.var([r.log_speedup for r in runs], ddof=1)) - float(np.mean([r.log_se**2 for r in runs]))
    df = len(runs) - 1
    return max(pooled, math.sqrt((OWN_PRIOR_DF * pooled**2 + df * max(own, 0.0)) / (OWN_PRIOR_DF + df)))


def judge_against(base: dict[str, list[LatencyRun]], run: dict[str, Any], own: dict[str, CpuTime],
                  cpu_model: str, own_spread: bool) -> dict[str, Any]:
    """One run's cases against `base`, by the pooled sigma or, with `own_spread`, each by `own_sigma`: the verdicts
    of those decided (passed at first look, or confirmed by the run) and the first looks of those that did not
    pass but that the run did not confirm."""
    pooled = gate_from_runs({key(n): runs for n, runs in base.items()}, cpu_model, run["latency_gate"]["cases"],
                            ALPHA, speed_lines=False)
    decided, unconfirmed = {}, {}
    for name, look in own.items():
        sigma = own_sigma(pooled.speedup_spread.sigma, base[name]) if own_spread else pooled.speedup_spread.sigma
        gate = replace(pooled, speedup_spread=replace(pooled.speedup_spread, sigma=sigma))
        phases = run["confirmations"].get(name)
        measured = as_measured(phases) if phases else [look]
        status = speedup_vs_runs(measured[0], base[name], gate, RTOL).status
        if status is not Status.PASS and phases:
            status = speedup_in_run(measured, base[name], gate, RTOL).status
        elif status is not Status.PASS:
            unconfirmed[name] = status.value
            continue
        decided[name] = status
    return {"flagged": {n: s.value for n, s in decided.items() if s is not Status.PASS}, "unconfirmed": unconfirmed,
            "sigma": pooled.speedup_spread.sigma}


def baseline_row(count: int, judged: list[dict[str, Any]], live: dict[str, Any]) -> dict[str, Any]:
    """The runs' verdicts against baselines of `count` runs (0: the study's own): the A/A runs red by the cases
    decided, and those with a case left unconfirmed; the A/A cases flagged; the slowed target caught."""
    target, runs = live["target"], live["runs"]
    aa = [j for run, j in zip(runs, judged, strict=True) if run["arm"] == "aa"]
    slowed = [j for run, j in zip(runs, judged, strict=True) if run["arm"] == "slow"]

    def per_case(field: str) -> dict[str, int]:
        return dict(Counter(name for j in aa for name in j[field]))

    return {
        "baseline_runs": count,
        "flagged": [j["flagged"] for j in judged],
        "unconfirmed": [j["unconfirmed"] for j in judged],
        "aa_red_lenient": wilson(sum(Status.FAIL.value in j["flagged"].values() for j in aa), len(aa)),
        "aa_red_strict": wilson(sum(bool(j["flagged"]) for j in aa), len(aa)),
        "aa_unconfirmed": sum(bool(j["unconfirmed"]) for j in aa),
        "aa_cases_flagged": per_case("flagged"),
        "aa_cases_unconfirmed": per_case("unconfirmed"),
        "target_caught": wilson(sum(j["flagged"].get(target) == Status.FAIL.value for j in slowed), len(slowed))
        if slowed else None,
        "target_unconfirmed": sum(target in j["unconfirmed"] for j in slowed),
        "sigma_median": statistics.median(j["sigma"] for j in judged),
    }


def study(name: str) -> dict[str, Any]:
    record = RESULTS / f"live-gate-{name}.json"
    live = json.loads(record.read_text())
    if any("first_ms" not in run for run in live["runs"]):
        sys.exit(f"{record}: its runs record no first_ms; judge its kept artifacts again with"
                 " `bench/live_gate.py --rejudge FOLDER --output` (or run the study again)")
    slow = slow_first_looks(live)
    folder = RESULTS / "live-studies" / name
    runs_of = baseline_runs(folder)
    seeded = seeded_history(folder / "history", live["machine"]["hardware_key"], runs_of)
    confirmation = None if seeded else replay(live, runs_of)
    return {"name": name, "record": record.relative_to(BENCH.parent).as_posix(), "when": live["when"],
            "machine": live["machine"], "beside": live["beside"], "cases": live["cases"], "runs": len(live["runs"]),
            "excursion": EXCURSION, "slow_looks": slow, "kinds": kinds(slow), "seeded": sum(map(len, seeded.values())),
            "covariate": covariate(live, runs_of, seeded),
            # its runs were judged with speed lines learnt from that history: no rule here gives their verdicts
            "confirmation": confirmation,
            "targets": slowed_targets(live, runs_of),
            "baselines": confirmation and more_baseline_runs(live, runs_of, confirmation["cases"])}


def seeded_history(folder: Path, hardware_key: str,
                   runs_of: dict[str, list[LatencyRun]]) -> dict[str, list[LatencyRun]]:
    """The history a study's gate runs learnt from (bench/live_gate.py --history), per case as this script names it."""
    if not folder.is_dir():
        return {}
    cpu_model = next(r.cpu_model for runs in runs_of.values() for r in runs)
    return {f"{test.rsplit('::', 1)[-1]}[{case}]": runs
            for (test, case), runs in latency_runs(load(folder), hardware_key, cpu_model).items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", nargs="+", required=True,
                        help="live gate studies: bench/results/live-gate-NAME.json and live-studies/NAME/baselines")
    parser.add_argument("--output", type=Path, help="default: bench/results/slow-looks-<hardware key>.json")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = run_start()
    studies = [study(name) for name in args.studies]
    info = run_info(start, beside="nothing: it reads records")
    output = args.output or RESULTS / f"slow-looks-{studies[0]['machine']['hardware_key']}.json"
    save_result(output, {**info, "studies": studies})
    for s in studies:
        replayed = s["confirmation"] and s["confirmation"]["red"]
        print(s["name"], s["kinds"], {r: v["aa_red_lenient"]["hits"] for r, v in s["covariate"]["rules"].items()},
              replayed or "its confirmations not replayed (judged with speed lines)")


if __name__ == "__main__":
    main()
