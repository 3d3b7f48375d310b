"""Record this host: its fingerprint and the gated latency signal of the example model (issue 22).

    .venv/bin/python bench/hosts.py        # about 2 min with the builds cached; the first run builds them

The gate compares a CPU-time speedup measured on one VM with a baseline recorded on another. How
far such a figure moves between measurements in one process, between processes on one host,
between hosts of one hardware key and between CPU models inside a key decides what the gate may
call a regression. One record is one host: `--processes` fresh Python processes, one after another,
each measuring every case `--repeats` times (in a shuffled order per pass), on the example model's
real variants (dynamic and static int8 of Add and MatMul, the reference card's O1 graph) at four
shapes. Per measurement: the one-thread CPU-time speedup with its 95% interval and each model's
median CPU time per call with its interval, as the gate measures them (measure/latency.py), here
to a tighter precision (`--target-ci-width`) so that the spread between runs is not hidden by each
run's own.

The record goes to bench/results/hosts/<date>-<cpu model>-<boot>.json with the host's fingerprint
(CPU vendor, family/model/stepping, microcode, caches, int8 flags, usable cores, kernel,
onnxruntime). Run it at the start of every session on a new machine and commit the record: no later
session can measure that host again. bench/variance.py reads every record.

    .venv/bin/python bench/hosts.py --artifacts RUN1.json RUN2.json --output bench/results/hosts/NAME.json

turns JSON artifacts of whole gate runs on one host (`pytest --qbench examples`, one process each) into a
record of the same form: one "process" per artifact, every case's CPU-time speedup and CPU times (their
medians have no interval there). `--host-json` supplies fingerprint fields an artifact lacks.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
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
from measurement import REPO, Shape, log  # noqa: E402

from pytest_qbench import BuildCache, CaseSpec, DataSpec, Pipeline, TimingSpec, VariantSpec  # noqa: E402

RECORDS = BENCH / "results" / "hosts"
APPROACHES = ("dynamic", "static")
OPERATORS = ("Add", "MatMul")
SHAPES = ("1x32", "1x128", "4x32", "4x64")
# Tighter than the gate's 0.05, so that each measurement's own noise stays below the spread between
# runs that the record is for; the gate's minimums otherwise.
PROBE_TIMING = TimingSpec(threads=1, target_ci_width=0.02, max_seconds=4.0)


def case_id(approach: str, shape: Shape) -> str:
    return f"{approach}-{'+'.join(OPERATORS)}-{shape}"


# ---- the cases, the same in the parent and in each child ----------------------------------------------


def cases(pipeline: Pipeline, timing: TimingSpec) -> dict[str, Any]:
    """The example model's dynamic and static int8 [Add, MatMul] (opset 11, O1; static: minmax on 100 train
    sentences of 128 tokens) at each shape, against fp32: case id -> its pipeline (pipeline.py)."""
    from conll_model import conll_dir, ensure_model

    model, conll = ensure_model(), str(conll_dir())
    return {case_id(approach, shape): pipeline.case(
                CaseSpec(None, DataSpec(None), VariantSpec(approach, OPERATORS), shape.batch_size,
                         shape.sequence_length, timing=timing), model, conll)
            for approach in APPROACHES for shape in map(Shape.parse, SHAPES)}


# ---- the parent: build once, run the processes, write the record -----------------------------------


def build(cache_dir: Path | None) -> None:
    """The fp32 export and both variants, through the plugin's build cache (or `cache_dir`): the
    children find them there."""
    for case in cases(Pipeline(BuildCache(cache_dir)), PROBE_TIMING).values():
        case.variant  # noqa: B018 - built, or found in the cache


def host() -> dict[str, Any]:
    pipeline = Pipeline()
    hardware = pipeline.hardware
    return {
        "brand": hardware.brand, "hardware_key": hardware.key, "tier": hardware.tier,
        "int8_flags": list(hardware.int8_flags), "usable_cores": hardware.physical_cores,
        "logical_cores": os.cpu_count(), **pipeline.fingerprint.to_dict(),
    }


def run_processes(args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="qbench-hosts-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"cache_dir": args.cache_dir and str(args.cache_dir), "repeats": args.repeats,
                                   "timing": dataclasses.asdict(args.timing)}))
        for index in range(args.processes):
            out = Path(tmp) / f"process-{index}.json"
            log(f"process {index + 1}/{args.processes}")
            subprocess.run([sys.executable, __file__, "--child", str(job), str(out), str(index)], check=True, cwd=REPO)
            runs.append(json.loads(out.read_text()))
    return runs


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def record_path(record: dict[str, Any]) -> Path:
    day = record["when"][:10]
    return RECORDS / f"{day}-{record['host']['cpu_model']}-{record['host']['boot']}.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=3, help="fresh processes, one after another")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the cases per process")
    parser.add_argument("--target-ci-width", type=float, default=PROBE_TIMING.target_ci_width)
    parser.add_argument("--cache-dir", type=Path, default=None, help="build cache (default: the plugin's)")
    parser.add_argument(
        "--output", type=Path, default=None, help="default: bench/results/hosts/<date>-<cpu>-<boot>.json"
    )
    parser.add_argument("--note", default="", help="what else ran on the host, if anything")
    parser.add_argument("--artifacts", nargs="+", type=Path, help="gate artifacts of one host to record instead")
    parser.add_argument("--host-json", type=Path, help="with --artifacts: fingerprint fields the artifacts lack")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    if args.artifacts:
        return write_record(from_artifacts(args.artifacts, args.host_json, args.note), args.output)
    args.timing = dataclasses.replace(PROBE_TIMING, target_ci_width=args.target_ci_width)
    sys.path.insert(0, str(REPO / "examples"))
    started, when = perf_counter(), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    build(args.cache_dir)
    load_before = list(os.getloadavg())
    measuring = perf_counter()
    runs = run_processes(args)
    record = {
        "schema": 1, "when": when, "host": host(), "git_commit": _git_commit(),
        "cases": [case_id(a, Shape.parse(s)) for a in APPROACHES for s in SHAPES],
        "timing": dataclasses.asdict(args.timing), "processes": args.processes, "repeats": args.repeats,
        "load_before": load_before, "load_after": list(os.getloadavg()), "note": args.note,
        "seconds": {"measuring": perf_counter() - measuring, "total": perf_counter() - started},
        "runs": runs,
    }
    write_record(record, args.output)


def write_record(record: dict[str, Any], output: Path | None) -> None:
    output = output or record_path(record)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=1) + "\n")
    log(f"record written to {output}")


def from_artifacts(paths: list[Path], host_json: Path | None, note: str) -> dict[str, Any]:
    """A record of gate runs: one artifact per process, the cases' gated figures as they were measured."""
    artifacts = [json.loads(p.read_text()) for p in paths]
    environment = artifacts[0]["environment"]
    given = json.loads(host_json.read_text()) if host_json else {}
    host_fields = {
        "brand": environment["brand"],
        "hardware_key": environment["hardware_key"],
        "tier": environment["tier"],
        "int8_flags": environment["int8_flags"],
        "usable_cores": environment["physical_cores"],
        "logical_cores": environment["logical_cores"],
        **environment.get("fingerprint", {}),
        **given,
    }
    runs = []
    for index, (path, artifact) in enumerate(zip(paths, artifacts, strict=True)):
        measurements = [
            {"case": f"{case['test']}::{case['id']}", "repeat": 0,
             "speedup": {k: case["latency"]["cpu"]["speedup"][k] for k in ("value", "ci_low", "ci_high", "n_pairs")},
             "original_ms": {"median": case["latency"]["cpu"]["original_ms"]},
             "optimized_ms": {"median": case["latency"]["cpu"]["optimized_ms"]},
             "stop_reason": case["latency"]["stop_reason"], "seconds": case["latency"]["seconds"]}
            for case in artifact["cases"] if case.get("latency")
        ]
        runs.append({"process": index, "artifact": path.name, "created": artifact["environment"]["created"],
                     "git_commit": artifact["environment"]["git_commit"], "measurements": measurements})
    return {
        "schema": 1, "when": environment["created"], "host": host_fields, "source": "gate artifacts", "note": note,
        "cases": sorted({m["case"] for run in runs for m in run["measurements"]}),
        "processes": len(runs), "repeats": 1, "runs": runs,
    }


# ---- a child: one fresh process ------------------------------------------------------------------------


def child(job_file: str, out: str, index: str) -> None:
    job = json.loads(Path(job_file).read_text())
    cache_dir = job["cache_dir"]
    measurers = {name: case.measurer for name, case in
                 cases(Pipeline(BuildCache(cache_dir and Path(cache_dir))), TimingSpec(**job["timing"])).items()}
    order = random.Random(int(index))
    started = perf_counter()
    measurements = []
    for repeat in range(job["repeats"]):
        names = list(measurers)
        order.shuffle(names)
        for name in names:
            measurements.append({"case": name, "repeat": repeat, **_measure(measurers[name])})
    result = {"process": int(index), "pid": os.getpid(), "seconds": perf_counter() - started,
              "measurements": measurements}
    Path(out).write_text(json.dumps(result))


def _measure(measurer: Any) -> dict[str, Any]:
    """The case's CPU phase (its one-thread sessions, kept for the whole process): the speedup and each
    model's median CPU time per call, with their intervals."""
    start = perf_counter()
    samples = measurer.cpu_phase()
    speedup = samples.speedup

    def ms(interval: tuple[float, float, float]) -> dict[str, float]:
        low, median, high = interval
        return {"median": median, "ci_low": low, "ci_high": high}

    original, optimized = samples.per_call_ms()
    return {
        "speedup": {"value": speedup.value, "ci_low": speedup.ci_low, "ci_high": speedup.ci_high,
                    "n_pairs": speedup.n_pairs},
        "original_ms": ms(original), "optimized_ms": ms(optimized),
        "stop_reason": samples.stop_reason, "seconds": perf_counter() - start,
    }


if __name__ == "__main__":
    main()
