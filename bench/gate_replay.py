"""The latency gate across fresh VMs: replayed on recorded runs, simulated where no host was reached (issue 22).

    .venv/bin/python bench/gate_replay.py

Written to bench/results/gate-replay.json (docs/BENCHMARKS.md renders it):

- Replay. Every pair of recorded gate runs of one host (bench/results/hosts/*-gate-runs.json) is
   judged as a new user would meet it: the later run against a baseline of the earlier one alone
   (one run, the prior's between-run sigma), all cases of the run one family. Also the runs of one
   CPU model against the committed baselines of another inside the same key, as the rule would judge
   them if such baselines were gated.
- Simulation of gate runs on fresh VMs of one key and CPU model, calibrated on measured components
   (bench/results/variance.json): the true speedups and each case's own standard error are those of a
   recorded gate run of the example (42 cases); every run draws a common process shift and a per-case
   shift with the measured between-process sigmas, and a host shift of `--host-sigma` (not yet
   measured: hosts of one CPU model reached so far are one per model; the default is the
   between-process tau again, doubling the per-run variance beyond the interval). Baselines of N
   runs, each on its own VM; the between-run sigma the gate pools from them, shrunk to its prior.
   Reported: false alarms per gate run (any case failing under no change), the detection of one
   variant slowed by 10% on a single VM and with one confirmation on another, the smallest slowdown
   caught 90% of the time, and the run-level test of a slowdown common to every variant through the
   CPU time per call.
The live part, bench/int8_gate.py, measures the same rule on a real int8 slowdown on this host.
bench/gate_tails.py draws from the same `Model` with slow int8 sessions added (`tail_p`, `tail_sizes`) and
simulates the in-run confirmation (`simulate_in_run`: a case that does not pass at first look measured again
in fresh processes on the same VM and judged on the median, as measure/stats.py median_cpu does).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.stats import binomtest

from run_record import run_info, run_start, save_result

from pytest_qbench.gate.latency_stats import SpeedupRule
from pytest_qbench.gate.spread import (
    PRIOR_DF, PRIOR_SPEEDUP_SIGMA, Measured, between_run_sigma, combine, compare,
)
from pytest_qbench.measure.stats import median_variance_factor

BENCH = Path(__file__).resolve().parent
RECORDS = BENCH / "results" / "hosts"
VARIANCE = BENCH / "results" / "variance.json"
RESULTS = BENCH / "results" / "gate-replay.json"
Z95 = 1.959964


def wilson(hits: int, n: int) -> dict[str, float]:
    low, high = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"hits": hits, "n": n, "rate": hits / n, "low": float(low), "high": float(high)}


# ---- 1. replay ------------------------------------------------------------------------------------------


def _cases(run: dict[str, Any]) -> dict[str, tuple[float, float]]:
    out = {}
    for m in run["measurements"]:
        s = m["speedup"]
        out[m["case"]] = (math.log(s["value"]), math.log(s["ci_high"] / s["ci_low"]) / (2 * Z95))
    return out


def judge_run(measured: dict[str, tuple[float, float]], baseline: dict[str, list[tuple[float, float]]],
              rule: SpeedupRule, sigma: float) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "inconclusive": 0}
    for case, (value, se) in measured.items():
        if case in baseline:
            counts[rule.status(compare(Measured(value, se), baseline[case], sigma))] += 1
    return counts


def replay(rtol: float, alpha: float) -> list[dict[str, Any]]:
    out = []
    for path in sorted(RECORDS.glob("*-gate-runs.json")):
        record = json.loads(path.read_text())
        runs = [_cases(r) for r in record["runs"]]
        rule = SpeedupRule(rtol=rtol, alpha=alpha, cases=len(runs[0]), df=PRIOR_DF)  # the prior alone, as a first run
        for i in range(1, len(runs)):
            baseline = {c: [v] for c, v in runs[i - 1].items()}
            out.append({"record": path.name, "cpu_model": record["host"]["cpu_model"], "baseline": f"run {i}",
                        "gated": f"run {i + 1}", **judge_run(runs[i], baseline, rule, PRIOR_SPEEDUP_SIGMA)})
    return out


# ---- 2. simulation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """What one gate run of the example draws, per case (log scale)."""

    speedups: np.ndarray  # true log speedup per case
    errors: np.ndarray  # each case's own standard error in a run
    process: float  # sigma of the shift common to every case of a run
    interaction: float  # sigma of one case's own shift
    host: float  # sigma of a fresh VM's shift, common to its cases
    tail_p: float = 0.0  # a case-run's chance of a slow int8 session (bench/gate_tails.py)
    tail_sizes: tuple[float, ...] = ()  # the log slowdowns such a session brings, drawn with equal weight

    def run(self, rng: np.random.Generator, shift: np.ndarray | float = 0.0, host: float | None = None) -> np.ndarray:
        """One process's log speedups; `host`: the VM's shift when the process shares a VM with others."""
        n = self.speedups.size
        common = rng.normal(0, self.process) + (rng.normal(0, self.host) if host is None else host)
        drawn = self.speedups - shift + common + rng.normal(0, self.interaction, n) + rng.normal(0, 1, n) * self.errors
        return drawn - self.slow_sessions(rng, n) if self.tail_p else drawn

    def slow_sessions(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Per case, the log slowdown of its int8 session: one of `tail_sizes` with chance `tail_p`, else 0."""
        return (rng.random(n) < self.tail_p) * rng.choice(np.array(self.tail_sizes), n)


def _components(figure: str) -> dict[str, float]:
    """The between-process sigmas of `figure`, pooled over the measured hosts (their variances' mean)."""
    hosts = json.loads(VARIANCE.read_text())["figures"][figure]["hosts"]
    parts = {}
    for name in ("process", "interaction", "repeat"):
        values = [h["components"][name][0] for h in hosts if h["components"][name] is not None]
        parts[name] = math.sqrt(float(np.mean(np.square(values)))) if values else 0.0
    parts["tau"] = math.sqrt(sum(v**2 for v in parts.values()))
    return parts


def example_run() -> tuple[np.ndarray, np.ndarray]:
    record = json.loads(next(RECORDS.glob("*amd-26-2*-gate-runs.json")).read_text())
    cases = _cases(record["runs"][0])
    values = np.array([v for v, _ in cases.values()])
    return values, np.array([se for _, se in cases.values()])


def simulate_gate(model: Model, baseline_runs: int, rule: SpeedupRule, trials: int, slowdown: float,
                  confirm: bool, rng: np.random.Generator) -> dict[str, float]:
    """Per trial: N baseline runs on their own VMs, then one gate run (case 0 slowed by `slowdown`),
    and with `confirm` a second run of every failing or inconclusive case on another VM, combined."""
    t_shift = np.zeros(model.speedups.size)
    t_shift[0] = math.log1p(slowdown)
    any_fail = caught = 0
    for _ in range(trials):
        runs = np.array([model.run(rng) for _ in range(baseline_runs)])  # [N, cases]
        samples = [[(float(runs[j, c]), float(model.errors[c])) for j in range(baseline_runs)]
                   for c in range(model.speedups.size)]
        spread = between_run_sigma(samples, PRIOR_SPEEDUP_SIGMA)
        sigma, rule = spread.sigma, replace(rule, df=spread.df + PRIOR_DF)
        first = model.run(rng, t_shift)
        second = model.run(rng, t_shift) if confirm else None
        failed = []
        for c in range(model.speedups.size):
            measured = Measured(float(first[c]), float(model.errors[c]))
            status = rule.status(compare(measured, samples[c], sigma))
            if confirm and status != "pass":
                both = combine([measured, Measured(float(second[c]), float(model.errors[c]))], sigma)
                status = rule.status(compare(both, samples[c], sigma, repeats=2))
            if status == "fail":
                failed.append(c)
        any_fail += bool([c for c in failed if c != 0] if slowdown else failed)
        caught += 0 in failed
    return {"false_alarm_runs": any_fail / trials, "caught": caught / trials if slowdown else math.nan}


@dataclass(frozen=True)
class InRun:
    """A gate design for the in-run confirmation (measure/fresh.py)."""

    baseline_runs: int
    confirm: int  # fresh processes that measure a case again when its first look does not pass (0: none)
    same_host: bool = False  # the baseline runs recorded on the gated VM, else each on its own


def confirmed_status(first: float, again: Callable[[], float], error: float, baseline: list[tuple[float, float]],
                     sigma: float, rule: SpeedupRule, processes: int) -> tuple[str, int]:
    """A case's speedup status as the plugin decides it, and the fresh processes it took: the first look;
    unless it passes, the median of it and `processes` more (stats.median_cpu: its standard error a median's,
    the between-run sigma not shrunk)."""
    status = rule.status(compare(Measured(first, error), baseline, sigma))
    if status == "pass" or not processes:
        return status, 0
    logs = [first] + [again() for _ in range(processes)]
    se = math.sqrt(median_variance_factor(len(logs)) * error**2 / len(logs))
    return rule.status(compare(Measured(float(np.median(logs)), se), baseline, sigma)), processes


def in_run_trial(model: Model, design: InRun, rule: SpeedupRule, slowdown: float,
                 rng: np.random.Generator) -> tuple[list[str], int]:
    """One gate run, case 0 slowed by `slowdown`: every case's status and the fresh processes it took.
    The confirmations share the gated VM's host shift; process, case, own error and slow sessions are redrawn."""
    host = rng.normal(0, model.host)
    shift = np.zeros(model.speedups.size)
    shift[0] = math.log1p(slowdown)
    runs = np.array([model.run(rng, host=host if design.same_host else None) for _ in range(design.baseline_runs)])
    samples = [[(float(v), float(model.errors[c])) for v in runs[:, c]] for c in range(model.speedups.size)]
    spread = between_run_sigma(samples, PRIOR_SPEEDUP_SIGMA)
    rule = replace(rule, df=spread.df + PRIOR_DF)
    first = model.run(rng, shift, host)
    judged = [confirmed_status(float(first[c]), lambda c=c: float(model.run(rng, shift, host)[c]), float(model.errors[c]),
                               samples[c], spread.sigma, rule, design.confirm) for c in range(model.speedups.size)]
    return [status for status, _ in judged], sum(n for _, n in judged)


def simulate_in_run(model: Model, design: InRun, rule: SpeedupRule, slowdown: float, trials: int,
                    rng: np.random.Generator) -> dict[str, Any]:
    """Gate runs per trial: false alarms lenient (a case fails) and strict (fails or is inconclusive), with a
    slowdown among the cases other than the slowed one; the slowed case failing; fresh processes per run."""
    lenient = strict = caught = processes = 0
    for _ in range(trials):
        statuses, spent = in_run_trial(model, design, rule, slowdown, rng)
        others = statuses[1:] if slowdown else statuses
        lenient += "fail" in others
        strict += any(s != "pass" for s in others)
        caught += statuses[0] == "fail"
        processes += spent
    return {"lenient": wilson(lenient, trials), "strict": wilson(strict, trials),
            "caught": wilson(caught, trials) if slowdown else None, "processes_per_run": processes / trials}


def smallest_caught(model: Model, baseline_runs: int, rule: SpeedupRule, trials: int, confirm: bool,
                    rng: np.random.Generator, target: float = 0.9) -> float | None:
    """The smallest slowdown (on a 0.5% grid up to 20%) caught at least `target` of the time; None above it."""
    for percent in np.arange(2.0, 20.5, 0.5):
        if simulate_gate(model, baseline_runs, rule, trials, percent / 100, confirm, rng)["caught"] >= target:
            return float(percent)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--host-sigma", type=float, default=None, help="default: the measured between-process tau")
    parser.add_argument("--rtol", type=float, default=0.10)
    parser.add_argument("--alpha", type=float, default=0.01)
    args = parser.parse_args()
    start = run_start()
    rng = np.random.default_rng(0)
    speed = _components("speedup")
    speedups, errors = example_run()
    host = speed["tau"] if args.host_sigma is None else args.host_sigma
    model = Model(speedups, errors, speed["process"], math.hypot(speed["interaction"], speed["repeat"]), host)
    rule = SpeedupRule(rtol=args.rtol, alpha=args.alpha, cases=speedups.size)
    rows = []
    for width in (None, 0.03):
        timed = model if width is None else replace(model, errors=np.minimum(errors, width / (2 * Z95)))
        for n in (1, 3, 5, 10):
            for confirm in (False, True):
                aa = simulate_gate(timed, n, rule, args.trials, 0.0, confirm, rng)
                slow = simulate_gate(timed, n, rule, args.trials, 0.10, confirm, rng)
                rows.append({"target_ci_width": width, "baseline_runs": n, "confirm": confirm,
                             "false_alarm_runs": aa["false_alarm_runs"], "caught_10": slow["caught"],
                             "smallest_caught_90": smallest_caught(timed, n, rule, args.trials // 4, confirm, rng)})
                print(rows[-1])
    save_result(RESULTS, {
        **run_info(start, threads=1), "components": speed, "host_sigma": host, "trials": args.trials,
        "rtol": args.rtol, "alpha": args.alpha, "cases": int(speedups.size), "replay": replay(args.rtol, args.alpha),
        "simulation": rows,
    })


if __name__ == "__main__":
    main()
