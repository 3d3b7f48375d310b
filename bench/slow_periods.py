"""How long a case's slow speedup lasts, and what moves with it: the cases that went slow in the live gate,
timed again and again in fresh pytest processes, so that a confirmation knows how long to wait (issue 31
item 1; docs/BENCHMARKS.md §8e).

    PYTHONPATH=. .venv/bin/python bench/slow_periods.py --minutes 60 --beside "what else runs"

The 42-case live study (bench/results/live-gate-x86_64-amx-2c-42.json) saw 17 first looks more than 6% below
their case's median; the fresh processes of the in-run confirmation, seconds later, were slow too in 4, and
one case was still 5% slow in the next run, minutes later. Here the shapes that went slow there (`--cases`)
run back to back, all of them in each `pytest --qbench` process with no confirmation (its first look is all
it measures) against an empty baselines folder, until `--minutes` pass. Per process: when it started, its
seconds and load; per case: the CPU-time speedup and each model's CPU ms per call. Reported per case and
over all: the first looks more than EXCURSION below their case's median (with a Wilson interval); whether
the int8 or the fp32 model moved; and, for each such excursion, how often the same case is still slow
(more than HALF_EXCURSION below) at the next looks, by how long after (the lags' bins), against how often
any look is: the time a confirmation must wait to be independent of a first look's slow state. Also how
often another case in the same process is slow with it, and how much of a case's speedup follows the
fp32 model's CPU time per call, the machine's speed at the time (slope, correlation, what is left).
Written to bench/results/slow-periods-<key>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
from live_gate import EXCURSION, case_name, child_env, collect, wilson  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

CASES = (
    "test_rotten_tomatoes_int8[static-Add+MatMul-bs1-len64]",
    "test_conll03_reference_card_static[static-Add+MatMul-bs1-len32]",
    "test_conll03_reference_card[dynamic-Add+MatMul-bs1-len32]",
    "test_conll03_reference_card_static[static-Add+MatMul-bs8-len128]",
)
SELECT = "(rotten or reference_card) and Add+MatMul and not openvino and not budget and not hub"
HALF_EXCURSION = EXCURSION / 2
LAG_BINS = (0, 60, 120, 300, 600, 1200, math.inf)  # seconds after a slow first look


def one_process(nodeids: list[str], work: Path, index: int) -> dict[str, Any]:
    """One pytest process timing every case once (no confirmation), against an empty baselines folder."""
    artifact = work / f"run-{index}.json"
    command = [sys.executable, "-m", "pytest", "--qbench", *nodeids, "-q", "-p", "no:cacheprovider",
               "--qbench-baselines", str(work / "baselines"), "--qbench-confirm-processes", "0",
               "--qbench-json", str(artifact)]
    load, started = list(os.getloadavg()), time.time()
    done = subprocess.run(command, cwd=REPO, env=child_env({}), capture_output=True, text=True, check=False)
    if not artifact.is_file():
        sys.exit(f"process {index} wrote no artifact (exit {done.returncode}):\n"
                 f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    cases = {}
    for case in json.loads(artifact.read_text())["cases"]:
        cpu = (case.get("latency") or {}).get("cpu")
        if cpu:
            cases[case_name(case)] = {"speedup": cpu["speedup"]["value"], "original_ms": cpu["original_ms"],
                                      "optimized_ms": cpu["optimized_ms"]}
    return {"started": started, "seconds": time.time() - started, "load_before": load, "exit_code": done.returncode,
            "cases": cases}


def looks(processes: list[dict[str, Any]]) -> dict[str, list[dict[str, float]]]:
    """Per case, its looks in time order: the process, seconds since the first process, and the log
    residuals of the speedup and of each model's CPU ms against the case's medians."""
    start = processes[0]["started"]
    names = sorted({name for p in processes for name in p["cases"]})
    series: dict[str, list[dict[str, float]]] = {}
    for name in names:
        mine = [(i, p["started"] - start, p["cases"][name]) for i, p in enumerate(processes) if name in p["cases"]]
        medians = {k: statistics.median(math.log(c[k]) for _, _, c in mine)
                   for k in ("speedup", "original_ms", "optimized_ms")}
        series[name] = [{"process": i, "at": at, **{k: math.log(c[k]) - medians[k] for k in medians}}
                        for i, at, c in mine]
    return series


def persistence(series: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    """For each lag bin: of the looks that follow a slow look of the same case by that long, how many are
    slow still (more than HALF_EXCURSION below), and their median residual."""
    rows = []
    for low, high in zip(LAG_BINS, LAG_BINS[1:], strict=False):
        after = [later["speedup"] for s in series.values() for i, look in enumerate(s) if look["speedup"] < -EXCURSION
                 for later in s[i + 1:] if low <= later["at"] - look["at"] < high]
        rows.append({"from_s": low, "to_s": None if math.isinf(high) else high,
                     "still_slow": wilson(sum(r < -HALF_EXCURSION for r in after), len(after)) if after else None,
                     "median_residual": statistics.median(after) if after else None})
    return rows


def per_case(looks: list[dict[str, float]]) -> dict[str, Any]:
    """A case's excursions and spread; and how much of its log speedup follows the fp32 model's CPU time
    per call (the machine's speed at the time): the least-squares slope, the correlation, and the
    spread and excursions left once that part is taken out."""
    import numpy as np

    speedup, fp32 = (np.array([x[k] for x in looks]) for k in ("speedup", "original_ms"))
    slope, intercept = np.polyfit(fp32, speedup, 1)
    adjusted = speedup - (slope * fp32 + intercept)
    return {"looks": len(looks), "excursions": wilson(int(np.sum(speedup < -EXCURSION)), len(looks)),
            "sd": float(np.std(speedup, ddof=1)), "fp32_slope": float(slope),
            "fp32_correlation": float(np.corrcoef(fp32, speedup)[0, 1]), "sd_adjusted": float(np.std(adjusted, ddof=2)),
            "excursions_adjusted": int(np.sum(adjusted < -EXCURSION)), "out_of_sample": out_of_sample(speedup, fp32)}


def out_of_sample(speedup: Any, fp32: Any) -> dict[str, int]:
    """The slope learned on one half of the looks, applied to the other, both ways: the other half's looks
    more than EXCURSION below the first half's median, then below the first half's line."""
    import numpy as np

    half = len(speedup) // 2
    before = after = 0
    for train, test in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
        slope, intercept = np.polyfit(fp32[train], speedup[train], 1)
        before += int(np.sum(speedup[test] - np.median(speedup[train]) < -EXCURSION))
        after += int(np.sum(speedup[test] - (slope * fp32[test] + intercept) < -EXCURSION))
    return {"before": before, "after": after}


def summarize(processes: list[dict[str, Any]]) -> dict[str, Any]:
    """Excursions per case and overall, which model moved in them, their persistence, and the processes in
    which more than one case was slow."""
    series = looks(processes)
    every = [look for s in series.values() for look in s]
    slow = [look for look in every if look["speedup"] < -EXCURSION]
    slow_per_process = [sum(look["process"] == i for look in slow) for i in range(len(processes))]
    return {
        "looks": len(every), "excursions": wilson(len(slow), len(every)),
        "half_slow": wilson(sum(x["speedup"] < -HALF_EXCURSION for x in every), len(every)),
        "slow_looks": [{k: look[k] for k in ("process", "at", "speedup", "original_ms", "optimized_ms")}
                       | {"case": name} for name, s in series.items() for look in s if look["speedup"] < -EXCURSION],
        "per_case": {name: per_case(s) for name, s in series.items()},
        "persistence": persistence(series),
        "processes_with_excursion": sum(n > 0 for n in slow_per_process),
        "processes_with_several": sum(n > 1 for n in slow_per_process),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), help="the cases' names, as pytest's item.name")
    parser.add_argument("--minutes", type=float, default=60, help="start no process after this long")
    parser.add_argument("--beside", required=True, help="what else ran on the machine meanwhile")
    parser.add_argument("--output", type=Path, help="default: bench/results/slow-periods-<hardware key>.json")
    args = parser.parse_args()
    nodeids = [n for n in collect(SELECT) if n.rsplit("::", 1)[-1] in args.cases]
    if len(nodeids) != len(args.cases):
        sys.exit(f"--cases: not all of them are collected by {SELECT!r}: found {nodeids}")
    start = run_start()
    processes: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="qbench-slow-periods-") as tmp:
        one_process(nodeids, Path(tmp), -1)  # builds what is not cached, warms the page cache: not counted
        while time.perf_counter() - start["began"] < args.minutes * 60:
            processes.append(one_process(nodeids, Path(tmp), len(processes)))
            print(f"process {len(processes)}: {processes[-1]['seconds']:.0f} s", flush=True)
    info = run_info(start, beside=args.beside)
    output = args.output or BENCH / "results" / f"slow-periods-{info['machine']['hardware_key']}.json"
    command = f"bench/slow_periods.py --minutes {args.minutes:g}"
    if list(args.cases) != list(CASES):
        command += " --cases " + " ".join(f"'{c}'" for c in args.cases)
    save_result(output, {**info, "command": command, "cases": args.cases, "excursion": EXCURSION,
                         "processes": processes, "summary": summarize(processes)})


if __name__ == "__main__":
    main()
