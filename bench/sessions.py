"""One slow session: does a session's speed belong to the session, the process, or neither? (issue 31)

    .venv/bin/python bench/sessions.py                         # every condition, about 20 min
    .venv/bin/python bench/sessions.py --conditions quiet churn --processes 3 --sessions 6

In full gate runs about 1 case-run in 70 had an int8 session 8-11% slow for its whole life while its
fp32 original ran as always. This probe creates many session pairs (the fp32 original and one int8
variant of the example NER model, each a new one-thread ONNX Runtime session) in several fresh
processes, and times each pair as the gate does (measure/latency.py's CPU phase, the gate's own
timing) at two shapes, twice each ("passes"): a slowness that belongs to the session shows in both
passes of that session and not in the next one; one that belongs to the process shows in all its
sessions.

Conditions (each its own set of processes):
    quiet     session pairs created back to back, nothing else in the process
    churn     between pairs, what a gate run does between cases: a two-thread session of the int8
              model scores 64 real sentences (kept alive, as the plugin's memo keeps it), and the
              Python heap is churned (tokenizer calls, numpy temporaries)
    no_arena  churn, with ONNX Runtime's CPU memory arena off in the timed sessions
    huge      churn, with glibc's malloc asking for transparent huge pages (GLIBC_TUNABLES
              glibc.malloc.hugetlb=1; the kernel's default here is madvise, so only then does the
              process's heap get them)

The record goes to bench/results/sessions-<hardware key>.json; bench/renderers renders it into
docs/BENCHMARKS.md ("One slow session").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from hosts import build, host  # noqa: E402 - the example model's variants through the plugin's cache
from measurement import REPO, Shape, log  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

from pytest_qbench.specs import TimingSpec  # noqa: E402

CONDITIONS = ("quiet", "churn", "no_arena", "huge")
SHAPES = ("1x64", "1x32")
PASSES = 2
GATE_TIMING = TimingSpec(threads=1)  # the gate's own CPU phase: its minimums, its 5% target width


def output_path(hardware_key: str) -> Path:
    return BENCH / "results" / f"sessions-{hardware_key}.json"


# ---- a child: one fresh process, many session pairs ----------------------------------------------------


def _session(path: str, arena: bool) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _gate_activity(paths: dict[str, str], variant: str, tokenizer: Any, sentences: list[list[str]], kept: list[Any]) -> None:
    """What a gate run does between two cases' timings: a two-thread session scores real sentences
    (and stays alive), tokenizer and numpy work churn the heap."""
    import numpy as np

    from pytest_qbench.measure.ort_session import make_ort_session

    session = make_ort_session(paths[variant], 2)
    names = [i.name for i in session.get_inputs()]
    for start in range(0, len(sentences), 16):
        batch = tokenizer(sentences[start:start + 16], is_split_into_words=True, padding=True, truncation=True,
                          max_length=128, return_tensors="np")
        session.run(None, {n: batch[n].astype(np.int64) for n in names})
        _ = [np.random.default_rng(start).standard_normal(1000 + 97 * i) for i in range(50)]
    kept.append(session)


def child(job_file: str, out: str, index: str) -> None:
    import numpy as np
    from conll_model import VALID_FILE, conll_dir
    from transformers import AutoTokenizer

    from pytest_qbench.measure.data import latency_inputs, parse_conll
    from pytest_qbench.measure.latency import Pair, cpu_phase, runner

    job = json.loads(Path(job_file).read_text())
    condition, paths, variant = job["condition"], job["paths"], job["variant"]
    timing = TimingSpec(**job["timing"])
    tokenizer = AutoTokenizer.from_pretrained(paths["model_dir"])
    validation = parse_conll(conll_dir() / VALID_FILE)
    rng = random.Random(int(index))
    sentences = [validation[i]["tokens"] for i in rng.sample(range(len(validation)), 64 * job["sessions"])]
    shapes = [Shape.parse(s) for s in SHAPES]
    names = [i.name for i in _session(paths["original"], True).get_inputs()]
    feeds = {s: latency_inputs(tokenizer, validation, "tokens", s.batch_size, s.sequence_length, names) for s in shapes}
    kept: list[Any] = []
    measurements = []
    for pair in range(job["sessions"]):
        if condition != "quiet":
            _gate_activity(paths, variant, tokenizer, sentences[64 * pair: 64 * (pair + 1)], kept)
        arena = condition != "no_arena"
        original, optimized = _session(paths["original"], arena), _session(paths[variant], arena)
        for repeat in range(PASSES):
            for shape in shapes:
                samples = cpu_phase(Pair(runner(original, feeds[shape]), runner(optimized, feeds[shape])), timing)
                measurements.append({
                    "session": pair, "pass": repeat, "shape": str(shape), "speedup": samples.speedup.value,
                    "ci_low": samples.speedup.ci_low, "ci_high": samples.speedup.ci_high,
                    "original_ms": float(np.median(samples.original)) * 1e-6,
                    "optimized_ms": float(np.median(samples.optimized)) * 1e-6, "pairs": samples.speedup.n_pairs,
                })
        del original, optimized
    Path(out).write_text(json.dumps({"process": int(index), "pid": os.getpid(), "measurements": measurements}))


# ---- the parent --------------------------------------------------------------------------------------


def run_condition(paths: dict[str, str], condition: str, variant: str, args: argparse.Namespace, first: int) -> list[dict[str, Any]]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="qbench-sessions-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"paths": paths, "condition": condition, "variant": variant,
                                   "sessions": args.sessions, "timing": dataclasses.asdict(GATE_TIMING)}))
        for index in range(first, first + args.processes):
            out = Path(tmp) / f"process-{index}.json"
            log(f"{condition} {variant}: process {index - first + 1}/{args.processes}")
            started, load = perf_counter(), os.getloadavg()[0]
            env = {**os.environ, **({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"} if condition == "huge" else {})}
            subprocess.run([sys.executable, __file__, "--child", str(job), str(out), str(index)], check=True, cwd=REPO,
                           env=env)
            run = json.loads(out.read_text())
            runs.append({**run, "condition": condition, "variant": variant, "load_before": load,
                         "seconds": perf_counter() - started})
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    parser.add_argument("--variants", nargs="+", choices=("dynamic", "static"), default=["dynamic", "static"])
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per condition and variant")
    parser.add_argument("--sessions", type=int, default=6, help="session pairs per process")
    parser.add_argument("--beside", default="", help="what else ran on the host")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    sys.path.insert(0, str(REPO / "examples"))
    start = run_start()
    paths = build(None)
    runs: list[dict[str, Any]] = []
    for condition in args.conditions:
        for variant in args.variants:
            runs += run_condition(paths, condition, variant, args, first=len(runs))
    info = run_info(start, threads=1, beside=args.beside)
    record = {
        **info, "shapes": list(SHAPES), "passes": PASSES, "timing": dataclasses.asdict(GATE_TIMING),
        "processes": args.processes, "sessions": args.sessions, "excursion": EXCURSION,
        "transparent_hugepage": Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().strip(),
        "summary": summarize(runs), "runs": runs,
    }
    output = args.output or output_path(info["machine"]["hardware_key"])
    save_result(output, record)
    log(f"record written to {output}")


# ---- what the record says ---------------------------------------------------------------------------

EXCURSION = 0.05  # a measurement this much (log) below its group's median speedup is an excursion


def _robust_sd(values: list[float]) -> float:
    import numpy as np

    if len(values) < 2:
        return float("nan")
    array = np.array(values)
    return float(1.4826 * np.median(np.abs(array - np.median(array))))


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per condition, variant and shape: the spread of the log speedup at each level (a pass of one
    session, sessions of one process, processes; robust sds), and the excursions: how many, how
    large, whether they persist over both passes of their session, and which model moved."""
    import math
    from collections import defaultdict

    import numpy as np

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        for m in run["measurements"]:
            groups[(run["condition"], run["variant"], m["shape"])].append({**m, "process": run["process"]})
    summary = []
    for (condition, variant, shape), found in groups.items():
        centre = float(np.median([math.log(m["speedup"]) for m in found]))
        optimized = float(np.median([m["optimized_ms"] for m in found]))
        original = float(np.median([m["original_ms"] for m in found]))
        sessions: dict[tuple[int, int], list[float]] = defaultdict(list)
        for m in found:
            sessions[(m["process"], m["session"])].append(math.log(m["speedup"]) - centre)
        processes: dict[int, list[float]] = defaultdict(list)
        for (process, _), values in sessions.items():
            processes[process].append(float(np.mean(values)))
        slow = [m for m in found if math.log(m["speedup"]) - centre < -EXCURSION]
        persistent = [k for k, v in sessions.items() if len(v) > 1 and all(x < -EXCURSION for x in v)]
        summary.append({
            "condition": condition, "variant": variant, "shape": shape, "measurements": len(found),
            "sessions": len(sessions), "processes": len(processes), "median_speedup": math.exp(centre),
            "sd_pass": _robust_sd([(v[0] - v[1]) / math.sqrt(2) for v in sessions.values() if len(v) > 1]),
            "sd_session": _robust_sd([x - float(np.mean(v)) for v in processes.values() for x in v]),
            "sd_process": _robust_sd([float(np.mean(v)) for v in processes.values()]),
            "excursions": len(slow), "excursion_sessions": len({(m["process"], m["session"]) for m in slow}),
            "persistent_sessions": len(persistent),
            "worst": math.expm1(min(math.log(m["speedup"]) - centre for m in found)),
            "moved": [{"optimized": m["optimized_ms"] / optimized - 1, "original": m["original_ms"] / original - 1}
                      for m in slow],
        })
    return summary


if __name__ == "__main__":
    main()
