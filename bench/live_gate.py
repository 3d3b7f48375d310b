"""The example gate's false alarms and its detection of a real int8 slowdown, counted on whole pytest runs
(issue 31 item 4: live figures, not only simulated ones).

    PYTHONPATH=. .venv/bin/python bench/live_gate.py --beside "what else runs"
    PYTHONPATH=. .venv/bin/python bench/live_gate.py --study bench/results/live-studies/NAME \
        --output bench/results/live-gate-NAME.json --minutes 150 --beside "what else runs"

BENCHMARKS §8 simulated gate runs and §1 timed one case per process (archived studies: bench/ARCHIVE.md);
here every run is the real thing: `pytest --qbench examples -k SELECT` (default: the example gate's 42 ONNX
Runtime cases), a process of its own with its own JSON artifact, as a CI job runs it. First `--baseline-runs`
update runs record baselines into an empty folder; then `--runs` A/A gate runs and `--runs`
runs in which ONE case (`--target`) times its int8 model slowed by an extra MatMulInteger calibrated to
+10% of its one-thread CPU time (bench/int8_slowdown.py), injected through the pytest plugin
bench/qbench_live_slowdown.py, so that the in-process timing and the in-run confirmation in fresh
processes both time it. The gate runs are shuffled (one seed) so that a drift of the machine hits both
arms alike. A run is red, leniently, when pytest exits non-zero or any case's speedup check
(`cpu.speedup`) fails; strictly, also when any check is inconclusive. Reported: false alarms per A/A run
(lenient and strict), the +10% case caught (its speedup check failed) per slowed run, with Wilson 95%
intervals; per run the red cases, how many were confirmed in the run, seconds, load average and the VM.
Written to bench/results/live-gate-<hardware key>.json (or --output), after every run.

A study of the gate that learns each case's speed line from a history (`qbench_speed_lines`, gate/spread.py): a
new `--study FOLDER` that holds FOLDER/history (bench/seed_history.py) when it begins; each gate run learns from
a copy of it, so that none adds to it. `--baselines-from STUDY` begins a study on another's baselines instead
of recording its own.

A study longer than one sitting: with `--study FOLDER` its baselines and the order of its runs stay in
FOLDER (commit it; a few dozen KB), `--minutes` stops it starting runs, and the same command later resumes
where --output's record stops, on whichever machine of the class it then runs: as in CI, the baselines
were recorded on one VM and gate runs on others; each run records its VM (boot hash), each session its
calibration of the slowdown (on this machine's builds, from one uncounted run of the target case).
The example models must be trained first (`make demo` trains them; the script says which is missing). The
42 cases took 3.4-3.7 min of a gate run on the idle 2-core AMX VM (bench/results/live-gate-x86_64-amx-2c-42.json)
and 8-11 min on loaded machines (bench/results/example-gate-*.json), so the defaults (3 + 2 x 20 runs) take
2.5-8 hours, plus the variants' builds in the first run where this machine has none cached.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from time import perf_counter
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "examples")]
from qbench_live_slowdown import RECORD_ENV, SLOWED_ENV, TARGET_ENV  # noqa: E402
from renderers.common import was_confirmed  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

SELECT = "(reference_card or collapse or repaired or rotten) and not openvino and not budget and not hub"
TARGET = "test_conll03_reference_card[dynamic-Add+MatMul-bs1-len32]"
SLOWDOWN = 0.10
ARMS = ("aa", "slow")
SPEEDUP = "cpu.speedup"
EXCURSION = 0.06  # a first look this far (log) below its case's median over the study's runs is a slow session


@functools.cache
def this_host() -> str:
    """This VM's boot hash (as bench/hosts.py names its records): the runs of a study may span several."""
    from pytest_qbench import Pipeline

    return Pipeline().fingerprint.boot


# ---- one pytest run ------------------------------------------------------------------------------------------


def pytest_command(select: str, baselines: Path, keep_runs: int, artifact: Path, update: bool,
                   history: Path | None = None) -> list[str]:
    """One run of the example gate against (or, with `update`, into) `baselines`, writing `artifact`; learning
    from (and adding itself to) the history folder `history`, the speed lines on (a study of them)."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "--qbench",
        "examples",
        "-k",
        select,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "qbench_live_slowdown",
        "--qbench-baselines",
        str(baselines),
        "-o",
        f"qbench_baseline_runs={keep_runs}",
        "--qbench-json",
        str(artifact),
        *(["--qbench-update-baselines"] if update else []),
        *(["--qbench-history", str(history), "-o", "qbench_speed_lines=true"] if history else []),
    ]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment with the checkout and bench/ first on the path (the plugin is imported from there)."""
    path = os.pathsep.join(p for p in (str(REPO), str(BENCH), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def run_pytest(command: list[str], env: dict[str, str], artifact: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's artifact and its process record: exit code, seconds, load average before and after."""
    load_before, start = list(os.getloadavg()), perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    process = {"exit_code": done.returncode, "seconds": perf_counter() - start, "load_before": load_before,
               "load_after": list(os.getloadavg())}
    if not artifact.is_file():
        sys.exit(f"the gate wrote no artifact (exit {done.returncode}; {artifact.parent} kept):\n"
                 f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return json.loads(artifact.read_text()), process


# ---- judging a run from its artifact -------------------------------------------------------------------------


def wilson(hits: int, n: int) -> dict[str, float]:
    """A rate with its Wilson 95% interval."""
    from scipy.stats import binomtest

    low, high = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"hits": hits, "n": n, "rate": hits / n, "low": float(low), "high": float(high)}


def case_name(case: dict[str, Any]) -> str:
    """The test's name with its parameters, as pytest's item.name: `test_x[dynamic-Add-bs1-len32]`."""
    return case["nodeid"].rsplit("::", 1)[-1]


def speedup_status(case: dict[str, Any]) -> str | None:
    return next((c["status"] for c in case["checks"] if c["metric"] == SPEEDUP), None)


def not_passed(case: dict[str, Any]) -> dict[str, str]:
    """The case's failed or inconclusive checks, metric to status; an expected failure's own (the xfail
    collapse's accuracy) left out."""
    return {c["metric"]: c["status"] for c in case["checks"] if c["status"] in ("fail", "inconclusive")
            and not (case["expected_failure"] and c["metric"] != SPEEDUP)}


def first_phase(case: dict[str, Any]) -> dict[str, Any]:
    """The case's first CPU phase: before any confirmation replaced it with a median."""
    return case["latency"]["measurements"][0] if case["latency"].get("measurements") else case["latency"]["cpu"]


def first_look(case: dict[str, Any]) -> float:
    """The speedup of the case's first CPU phase."""
    return float(first_phase(case)["speedup"]["value"])


def first_ms(case: dict[str, Any]) -> list[float]:
    """Each model's CPU ms per call in the case's first CPU phase, fp32 then int8: the machine's speed at
    the time, which the speedup of small shapes follows (docs/BENCHMARKS.md §8e)."""
    cpu = first_phase(case)
    return [float(cpu["original_ms"]), float(cpu["optimized_ms"])]


def latency_gate(cases: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the run held every speedup check to (its between-run sigma, family, alpha): for a replay of its
    confirmations (bench/slow_looks.py)."""
    return next(((c["baseline"] or {}).get("latency_gate") for c in cases
                 if (c.get("baseline") or {}).get("latency_gate")), None)


def judge(artifact: dict[str, Any], exit_code: int, target: str) -> dict[str, Any]:
    """A gate run as CI would see it: red leniently (non-zero exit or a failed speedup check) or strictly
    (also an inconclusive check); which cases; how many were confirmed in the run; the target's verdict."""
    cases = artifact["cases"]
    failed = sorted(case_name(c) for c in cases if speedup_status(c) == "fail")
    flagged = {case_name(c): not_passed(c) for c in cases if not_passed(c)}
    by_name = {case_name(c): c for c in cases}
    return {
        "exit_code": exit_code, "cases": len(cases),
        "red_lenient": exit_code != 0 or bool(failed), "red_strict": exit_code != 0 or bool(flagged),
        "speedup_failed": failed, "flagged": flagged,
        "run_checks": {c["metric"]: c["status"] for c in artifact.get("run_checks", [])},  # what else exits non-zero
        "confirmed": sum(was_confirmed(c) for c in cases),
        "target": speedup_status(by_name[target]) if target in by_name else "absent",
        "speedups": {case_name(c): [c["latency"]["cpu"]["speedup"][k] for k in ("value", "ci_low", "ci_high")]
                     for c in cases if c.get("latency")},
        "first_looks": {case_name(c): first_look(c) for c in cases if c.get("latency")},
        "first_ms": {case_name(c): first_ms(c) for c in cases if c.get("latency")},
        # every CPU phase of a confirmed case, the first look then the fresh processes, as the artifact has them
        "confirmations": {case_name(c): c["latency"]["measurements"] for c in cases
                          if c.get("latency") and was_confirmed(c)},
        "latency_gate": latency_gate(cases),
    }


def excursions(runs: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """Slow sessions among the first looks of the runs' unslowed cases: a first look more than EXCURSION (log)
    below the median of its case's first looks over all the runs."""
    looks: dict[str, list[float]] = {}
    for run in runs:
        for name, value in run["first_looks"].items():
            if not (run["arm"] == "slow" and name == target):
                looks.setdefault(name, []).append(math.log(value))
    drops = sorted(value - median(values) for values in looks.values() for value in values)
    slow = [d for d in drops if d < -EXCURSION]
    return {"case_runs": len(drops), "threshold": EXCURSION, "drops": slow,
            "rate": wilson(len(slow), len(drops)) if drops else None}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per arm that ran: red runs lenient and strict, the target caught, confirmed cases and seconds per run."""
    summary: dict[str, Any] = {}
    for arm in ARMS:
        mine = [r for r in runs if r["arm"] == arm]
        if mine:
            summary[arm] = {
                "runs": len(mine), "red_lenient": wilson(sum(r["red_lenient"] for r in mine), len(mine)),
                "red_strict": wilson(sum(r["red_strict"] for r in mine), len(mine)),
                "target_caught": wilson(sum(r["target"] == "fail" for r in mine), len(mine)),
                "target_inconclusive": sum(r["target"] == "inconclusive" for r in mine),
                "confirmed_per_run": sum(r["confirmed"] for r in mine) / len(mine),
                "seconds_median": median(r["seconds"] for r in mine),
            }
    return summary


def judged(runs: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """The record's part that follows from its runs: the runs, their summary per arm and the slow sessions."""
    return {"runs": runs, "summary": summarize(runs), "excursions": excursions(runs, target)}


# ---- the study -----------------------------------------------------------------------------------------------


def collect(select: str) -> list[str]:
    """The node ids of the selection, as `pytest --collect-only` lists them (nothing is built or trained)."""
    command = [sys.executable, "-m", "pytest", "--qbench", "examples", "-k", select, "-q", "-p", "no:cacheprovider",
               "--collect-only"]
    done = subprocess.run(command, cwd=REPO, env=child_env({}), capture_output=True, text=True, check=False)
    nodeids = [line for line in done.stdout.splitlines() if "::" in line]
    if done.returncode or not nodeids:
        sys.exit(
            f"the selection collects no case (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return nodeids


def check_selection(nodeids: list[str], target: str, arms: list[str]) -> None:
    """Stop before any run when the slowed case is not selected or an example model it needs is not trained."""
    if "slow" in arms and target not in {nodeid.rsplit("::", 1)[-1] for nodeid in nodeids}:
        sys.exit(f"--target {target} is not in the selection: pick one of the names of"
                 " `pytest --qbench examples -k SELECT --collect-only -q`")
    from conll_model import find_model as conll
    from sentiment_model import find_model as sentiment

    sentiment_cases = [nodeid.startswith("examples/sentiment/") for nodeid in nodeids]
    needed = [
        ("conll_model.py", conll, not all(sentiment_cases)),
        ("sentiment_model.py", sentiment, any(sentiment_cases)),
    ]
    missing = [script for script, find, needs in needed if needs and find() is None]
    if missing:
        sys.exit("an example model of the selection is not trained on this machine; train it first (minutes each): "
                 + " && ".join(f".venv/bin/python examples/{script}" for script in missing))


def slowed_model(record: Path, work: Path) -> tuple[Path, dict[str, Any]]:
    """The target's int8 model slowed by SLOWDOWN of its one-thread CPU time, calibrated on its own inputs."""
    import numpy as np
    from int8_slowdown import calibrate

    from pytest_qbench import Pipeline

    target = json.loads((record / "target.json").read_text())
    with np.load(record / "inputs.npz") as stored:
        feed = {name: stored[name] for name in stored.files}
    pipeline = Pipeline()  # its one-thread sessions, as the gate's CPU phase opens them
    model, columns, cost = calibrate(lambda p: pipeline.ort_session(p, 1, target["config_entries"]),
                                     Path(target["optimized"]), work / "slowed", target["hidden_size"], feed, SLOWDOWN)
    return model, {"case": target["case"], "columns": columns, "cost": cost}


def plan(runs: int, arms: list[str], seed: int = 0) -> list[str]:
    """The gate runs' arms in a shuffled order (one seed)."""
    order = [arm for arm in arms for _ in range(runs)]
    random.Random(seed).shuffle(order)
    return order


STUDY_FILE = "study.json"


@dataclass(frozen=True)
class Study:
    """What stays fixed over a study's sessions: its cases, the slowed one, its baselines' runs and the
    shuffled order of its gate runs. Kept in FOLDER/study.json beside FOLDER/baselines."""

    select: str
    target: str
    baseline_runs: int
    order: tuple[str, ...]
    history: bool = False  # the gate runs learn from FOLDER/history (each from a copy: none adds to it)

    @classmethod
    def read(cls, folder: Path) -> Study:
        data = json.loads((folder / STUDY_FILE).read_text())
        return cls(data["select"], data["target"], data["baseline_runs"], tuple(data["order"]),
                   data.get("history", False))

    def write(self, folder: Path) -> None:
        (folder / STUDY_FILE).write_text(json.dumps(asdict(self), indent=1) + "\n")


def open_study(args: argparse.Namespace, folder: Path, output: Path) -> tuple[Study, dict[str, Any] | None]:
    """The study in `folder` and its record at `output` so far; a new one of the arguments (no record yet)
    when the folder has none."""
    if not (folder / STUDY_FILE).is_file():
        order = tuple(plan(args.runs, args.arms, args.seed))
        return Study(args.select, args.target, args.baseline_runs, order, (folder / "history").is_dir()), None
    study = Study.read(folder)
    if not output.is_file():
        sys.exit(f"{folder} holds a study but {output} has no record of it: pass its record with --output")
    record = json.loads(output.read_text())
    if len(record["runs"]) >= len(study.order):
        sys.exit(f"the study in {folder} has run all its {len(study.order)} gate runs: nothing to resume")
    return study, record


def begin(study: Study, folder: Path, baselines_from: Path | None) -> dict[str, Any]:
    """A new study's baselines recorded into folder/baselines (or those of the study in `baselines_from`,
    copied), then its study.json written (last: a folder without it holds no study to resume); its record
    so far."""
    folder.mkdir(parents=True, exist_ok=True)
    if baselines_from is None:
        baseline_runs: list[dict[str, Any]] | str = record_baselines(study, folder / "baselines")
    else:
        shutil.copytree(baselines_from / "baselines", folder / "baselines")
        baseline_runs = f"those of {baselines_from.as_posix()}"
    study.write(folder)
    return {"baseline_runs": baseline_runs, "runs": [], "sessions": []}


def record_baselines(study: Study, baselines: Path) -> list[dict[str, Any]]:
    """The update runs into `baselines`, each its own process."""
    processes = []
    for index in range(study.baseline_runs):
        artifact = baselines.parent / f"baseline-{index}.json"
        command = pytest_command(study.select, baselines, study.baseline_runs, artifact, update=True)
        _, process = run_pytest(command, child_env({}), artifact)
        artifact.unlink()
        if process["exit_code"]:
            sys.exit(f"baseline run {index + 1} exited {process['exit_code']}: its baselines are not a study's")
        processes.append({**process, "host": this_host()})
        print(f"baseline {index + 1}/{study.baseline_runs}: {process['seconds']:.0f} s", flush=True)
    return processes


def record_target(study: Study, nodeids: list[str], work: Path) -> Path:
    """The target case alone, run once on this machine (not counted) to record in work/target what its
    slowdown is calibrated on: its models are this machine's builds."""
    (nodeid,) = [n for n in nodeids if n.rsplit("::", 1)[-1] == study.target]
    artifact = work / "target-run.json"
    command = pytest_command(study.select, work / "target-baselines", 1, artifact, update=True)
    command[command.index("-k") : command.index("-k") + 2] = []
    command[command.index("examples")] = nodeid
    run_pytest(command, child_env({TARGET_ENV: study.target, RECORD_ENV: str(work / "target")}), artifact)
    return work / "target"


def gate_runs(study: Study, done: list[dict[str, Any]], folder: Path, work: Path, slowed: Path | None,
              deadline: float, keep: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    """The study's gate runs after the `done` ones, in its order, each its own process against a copy of its
    baselines (a failed case's .obtained.json stays out of them), judged; none starts after `deadline`
    (perf_counter). `keep` saves the runs so far after each one, so that a stopped session keeps them."""
    runs = list(done)
    here = shutil.copytree(folder / "baselines", work / "baselines", dirs_exist_ok=True)
    for index in range(len(done), len(study.order)):
        if perf_counter() > deadline:
            break
        arm = study.order[index]
        artifact = work / f"run-{index}-{arm}.json"
        env = child_env({TARGET_ENV: study.target, **({SLOWED_ENV: str(slowed)} if arm == "slow" else {})})
        history = None
        if study.history:
            history = work / f"history-{index}"
            shutil.copytree(folder / "history", history)
        data, process = run_pytest(pytest_command(study.select, here, study.baseline_runs, artifact, update=False,
                                                  history=history), env, artifact)
        run = {"arm": arm, **process, "host": this_host(), **judge(data, process["exit_code"], study.target)}
        runs.append(run)
        print(f"run {index + 1}/{len(study.order)} {arm}: lenient {'red' if run['red_lenient'] else 'green'}, strict"
              f" {'red' if run['red_strict'] else 'green'}, target {run['target']}, {run['confirmed']} confirmed,"
              f" {run['seconds']:.0f} s", flush=True)
        keep(runs)
    return runs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-runs", type=int, default=3, help="update runs recording the baselines")
    parser.add_argument("--runs", type=int, default=20, help="gate runs per arm")
    parser.add_argument(
        "--arms", nargs="+", default=list(ARMS), choices=ARMS, help="aa: unchanged; slow: the target +10%%"
    )
    parser.add_argument("--select", default=SELECT, help="pytest -k expression of the example gate's cases")
    parser.add_argument("--target", default=TARGET, help="the case slowed in the slow arm, as pytest names it")
    parser.add_argument("--beside", help="what else ran on the machine meanwhile (required but with --rejudge)")
    parser.add_argument("--output", type=Path, help="default: bench/results/live-gate-<hardware key>.json")
    parser.add_argument("--study", type=Path, metavar="FOLDER",
                        help="the study's lasting folder (its baselines and order; commit it): begun there if new,"
                             " else resumed where --output's record stops, on this machine. Default: a new"
                             " throw-away folder")
    parser.add_argument("--baselines-from", type=Path, metavar="STUDY",
                        help="a new study's baselines: those of the study folder STUDY, copied (no update runs)")
    parser.add_argument("--seed", type=int, default=0, help="of the gate runs' shuffled order")
    parser.add_argument("--minutes", type=float, default=math.inf,
                        help="start no gate run after this many minutes (the study resumes later with --study)")
    parser.add_argument("--keep", action="store_true", help="keep the session's scratch folder (artifacts, models)")
    parser.add_argument("--rejudge", type=Path, metavar="FOLDER",
                        help="judge again the artifacts of a session kept in FOLDER (--keep) into --output's record")
    args = parser.parse_args()
    if not args.rejudge and not args.beside:
        parser.error("--beside is required: what else ran on the machine meanwhile")
    return args


def rejudge(output: Path, work: Path) -> None:
    """The record at `output` judged again from its session's artifacts in `work`, as this script judges now."""
    record = json.loads(output.read_text())
    target, process = record["target"], ("arm", "exit_code", "seconds", "load_before", "load_after", "host")
    artifacts = {index: work / f"run-{index}-{run['arm']}.json" for index, run in enumerate(record["runs"])}
    # a run of another session, whose artifacts are not in `work`, stays as it was judged
    runs = [{**{k: v for k, v in run.items() if k in process},
             **judge(json.loads(artifacts[index].read_text()), run["exit_code"], target)}
            if artifacts[index].is_file() else run for index, run in enumerate(record["runs"])]
    save_result(output, {**record, **judged(runs, target)})


def command(study: Study, args: argparse.Namespace, output: Path) -> str:
    """The command that begins the study again as it began (and, with --study, resumes it); --beside aside."""
    words = ["bench/live_gate.py", "--baseline-runs", str(study.baseline_runs), "--runs",
             str(len(study.order) // len(set(study.order))), "--arms", *sorted(set(study.order)),
             "--select", study.select, "--target", study.target]
    if args.study:
        words += ["--study", _in_repo(args.study), "--output", _in_repo(output)]
    if args.baselines_from:
        words += ["--baselines-from", _in_repo(args.baselines_from)]
    if args.seed:
        words += ["--seed", str(args.seed)]
    return shlex.join(words)


def _in_repo(path: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(REPO).as_posix() if resolved.is_relative_to(REPO) else path.as_posix()


def main() -> None:
    from pytest_qbench import Pipeline

    args = parse_args()
    if args.rejudge:
        return rejudge(args.output or sys.exit("--rejudge needs --output: the record to judge again"), args.rejudge)
    hardware, start = Pipeline().hardware, run_start()
    deadline = start["began"] + args.minutes * 60
    folder = args.study or Path(tempfile.mkdtemp(prefix="qbench-live-study-"))
    output = args.output or BENCH / "results" / f"live-gate-{hardware.key}.json"
    study, record = open_study(args, folder, output)
    nodeids = collect(study.select)
    check_selection(nodeids, study.target, sorted(set(study.order)))
    if record is None:
        record = begin(study, folder, args.baselines_from)
    work = Path(tempfile.mkdtemp(prefix="qbench-live-gate-"))
    slowed, calibration = (slowed_model(record_target(study, nodeids, work), work) if "slow" in study.order
                           else (None, {}))
    session = {"host": this_host(), "first_run": len(record["runs"]), "calibration": calibration}

    def keep(runs: list[dict[str, Any]]) -> None:
        info = run_info(start, threads=hardware.physical_cores, beside=args.beside)
        sessions = [*record["sessions"], {**session, **info, "runs": len(runs) - session["first_run"]}]
        save_result(output, {
            # the gate's own threads: the physical cores for the wall-clock phase, one for the CPU phase it judges
            **info, "select": study.select, "cases": len(nodeids), "target": study.target, "slowdown": SLOWDOWN,
            "calibration": calibration, "baseline_runs": record["baseline_runs"], "history": study.history,
            "planned_runs": len(study.order),
            "sessions": sessions, **judged(runs, study.target),
            "command": command(study, args, output),
        })

    keep(record["runs"])  # the session on record before its first run: a study resumes from its record
    runs = gate_runs(study, record["runs"], folder, work, slowed, deadline, keep)
    print(json.dumps(summarize(runs), indent=1))
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work)
    if not args.study:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
