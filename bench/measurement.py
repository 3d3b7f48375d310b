"""Does the latency gate measure what it claims? Experiments on the real example model (issue 3).

    overhead  the harness's mean latency vs a bare `InferenceSession.run` loop, interleaved rounds
    matrix    wall time of `pytest --qbench examples`, with a fresh build cache and then a warm one
              (or, --matrix-builds warm, once on the plugin's cache)
    accuracy  evaluation throughput (sentences/s) of the fp32 and the dynamic int8 model

The model and its variant go through the plugin's pipeline (pipeline.py), as a gate run builds,
scores and times them.

    .venv/bin/python bench/measurement.py                                 # overhead
    .venv/bin/python bench/measurement.py --experiments matrix accuracy

False alarms and detection power of the latency gate: bench/live_gate.py. Each run writes
bench/results/measurement-<experiments>.json (or --output) and re-renders the doc blocks that read it
(docs/BENCHMARKS.md §2-4; bench/render_docs.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from time import perf_counter, perf_counter_ns
from typing import Any

import numpy as np

from pytest_qbench import BuildCache, CaseSpec, DataSpec, Pipeline, TimingSpec, VariantSpec, default_cache_root

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "examples"))
sys.path.insert(0, str(REPO / "bench"))
from conll_model import conll_dir, ensure_model  # noqa: E402 - the example model and its data
from run_record import machine, save_result  # noqa: E402

EXPERIMENTS = ("overhead", "matrix", "accuracy")
DEFAULT_EXPERIMENTS = ("overhead",)
OPSET = 11  # the reference card's
INT8 = VariantSpec("dynamic", ("Add", "MatMul"), opset=OPSET)  # the reference card's dynamic variant
MATRIX_PYTEST = ("-m", "pytest", "--qbench", "examples", "-k", "not hub", "-p", "no:cacheprovider")
BASELINES = REPO / "baselines"


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---- the model under test -----------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    batch_size: int
    sequence_length: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        batch, length = text.lower().split("x")
        return cls(int(batch), int(length))

    def __str__(self) -> str:
        return f"bs{self.batch_size}-len{self.sequence_length}"


@dataclass(frozen=True)
class Setup:
    """The model under test through the plugin's pipeline (pipeline.py): its fp32 ONNX export and the
    reference card's dynamic int8 variant, on the example's CoNLL data, at the run's threads."""

    model: Path
    pipeline: Pipeline
    timing: TimingSpec

    def case(self, shape: Shape) -> Any:
        """The int8 variant at `shape`: its measurer's original is the fp32 model."""
        spec = CaseSpec(None, DataSpec(None), INT8, shape.batch_size, shape.sequence_length, timing=self.timing)
        return self.pipeline.case(spec, self.model, str(conll_dir()))

    @property
    def threads(self) -> int:
        return self.pipeline.threads(self.case(Shape(1, 32)).spec)


def load_setup(model: Path, cache_dir: Path | None, timing: TimingSpec) -> Setup:
    return Setup(model=model, pipeline=Pipeline(BuildCache(cache_dir)), timing=timing)


# ---- 1. overhead ----------------------------------------------------------------------------------


def bare_loop_ms(session: Any, feed: dict[str, np.ndarray], calls: int) -> float:
    """Mean call time of the plainest timing loop there is."""
    start = perf_counter_ns()
    for _ in range(calls):
        session.run(None, feed)
    return (perf_counter_ns() - start) / calls / 1e6


def harness_ms(measurer: Any) -> float:
    """The gate's latency measurement (measure/latency.py) of the fp32 model against itself, on the
    sessions the bare loop uses: the mean wall-clock call over both sides."""
    result = measurer.latency(optimized=measurer.original)
    sides = (result.original, result.optimized)
    return sum(s.mean_ms * s.n_samples for s in sides) / sum(s.n_samples for s in sides)


def overhead_shape(setup: Setup, shape: Shape, rounds: int) -> dict[str, Any]:
    measurer = setup.case(shape).measurer
    session = measurer.inference_session(measurer.original)
    feed = measurer.inputs(shape.batch_size)
    timing = setup.timing
    # The bare loop gets the calls the harness's minimums ask of each side.
    warm_ms = bare_loop_ms(session, feed, timing.warmup_iterations)
    calls = max(timing.wall_iterations, math.ceil(timing.wall_seconds * 1e3 / warm_ms))
    pairs = []
    for index in range(rounds):  # alternate which goes first, so a drift hits both alike
        if index % 2 == 0:
            bare, harness = bare_loop_ms(session, feed, calls), harness_ms(measurer)
        else:
            harness, bare = harness_ms(measurer), bare_loop_ms(session, feed, calls)
        pairs.append({"bare_ms": bare, "harness_ms": harness, "overhead": harness / bare - 1})
        log(f"overhead {shape} round {index + 1}/{rounds}: bare {bare:.3f} ms, harness {harness:.3f} ms")
    overheads = [p["overhead"] for p in pairs]
    return {
        "shape": str(shape), "bare_calls": calls, "rounds": pairs,
        "overhead_median": median(overheads), "overhead_min": min(overheads), "overhead_max": max(overheads),
        "bare_ms_median": median(p["bare_ms"] for p in pairs),
        "harness_ms_median": median(p["harness_ms"] for p in pairs),
    }


def run_overhead(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    shapes = [Shape.parse(s) for s in args.overhead_shapes]
    return {"shapes": [overhead_shape(setup, s, args.overhead_rounds) for s in shapes]}


# ---- 2. matrix -------------------------------------------------------------------------------------


def matrix_mode(requested: str) -> str:
    if requested != "auto":
        return requested
    return "gate" if any(BASELINES.glob("*.json")) else "update"


def pytest_run(label: str, cache_dir: Path, baseline_args: list[str], work: Path) -> dict[str, Any]:
    artifact = work / f"{label}.json"
    command = [_relative(sys.executable), *MATRIX_PYTEST, "--qbench-cache-dir", str(cache_dir),
               "--qbench-json", str(artifact), *baseline_args]
    shown = [".venv/bin/python", *MATRIX_PYTEST, *(["--qbench-update-baselines"] if baseline_args else [])]
    log(f"matrix {label}: {shlex.join(command)}")
    start = perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = perf_counter() - start
    cases = json.loads(artifact.read_text())["cases"] if artifact.is_file() else []
    verdicts: dict[str, int] = {}
    for case in cases:
        verdicts[case["verdict"]] = verdicts.get(case["verdict"], 0) + 1
    timed = [c["latency"] for c in cases if c["latency"]]
    log(f"matrix {label}: {seconds:.0f} s, exit {done.returncode}, {verdicts}")
    return {
        "label": label, "command": shlex.join(shown), "exit_code": done.returncode,
        "wall_seconds": seconds, "cases": len(cases), "verdicts": verdicts,
        "latency_seconds": sum(t["seconds"] for t in timed),
        "stopped_on_ci_width": sum(t["stop_reason"] == "ci_width" for t in timed),
        "failures": [f"{c['id']}: {ch['reason']}" for c in cases for ch in c["checks"] if ch["status"] == "fail"],
        "output_tail": done.stdout.splitlines()[-15:],
    }


def run_matrix(setup: Setup | None, args: argparse.Namespace) -> dict[str, Any]:
    mode = matrix_mode(args.matrix_mode)
    with tempfile.TemporaryDirectory(prefix="qbench-matrix-") as tmp:
        work = Path(tmp)
        # fresh: nothing of the variants is built yet; or the plugin's own cache, warm from earlier runs
        cache_dir = work / "coldcache" if args.matrix_builds == "cold" else default_cache_root()
        baseline_args = []  # gate against baselines/
        if mode == "update":  # the real baselines/ stay untouched
            baseline_args = ["--qbench-update-baselines", "--qbench-baselines", str(work / "baselines")]
        labels = ("cold", "warm") if args.matrix_builds == "cold" else ("warm",)
        runs = [pytest_run(label, cache_dir, baseline_args, work) for label in labels]
    return {"mode": mode, "runs": runs}


# ---- 3. accuracy -------------------------------------------------------------------------------------


def run_accuracy(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    case = setup.case(Shape(1, 128))
    int8, measurer = case.variant, case.measurer
    rows = []
    for name, path in (("fp32", int8.original), (f"int8 {INT8.id}", int8.optimized)):
        session = measurer.inference_session(path)
        for repeat in range(args.accuracy_repeats):
            scores = measurer.evaluate(session)  # each repeat scores anew (measurer.score keeps the first)
            rows.append({"model": name, "repeat": repeat, "sentences": scores.num_samples, "seconds": scores.seconds,
                         "sentences_per_s": scores.num_samples / scores.seconds, "f1": scores.f1})
            log(f"accuracy {name}: {scores.num_samples} sentences in {scores.seconds:.1f} s, F1 {scores.f1:.4f}")
    return {"runs": rows, "quantization": asdict(int8.quantization)}


# ---- the run -------------------------------------------------------------------------------------------


RUNNERS: dict[str, Callable[[Setup, argparse.Namespace], dict[str, Any]]] = {
    "overhead": run_overhead, "matrix": run_matrix, "accuracy": run_accuracy,
}


def run_experiment(name: str, setup: Setup | None, args: argparse.Namespace, command: str) -> dict[str, Any]:
    log(f"{name}: start, load {os.getloadavg()}")
    load_before, start = os.getloadavg(), perf_counter()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    result = RUNNERS[name](setup, args)
    return {
        "command": command,
        "started": started,
        "seconds": perf_counter() - start,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
        **result,
    }


def command_for(name: str, args: argparse.Namespace, options: dict[str, list[argparse.Action]]) -> str:
    """The command line that runs experiment `name` alone as `args` did: its options that differ from
    their defaults."""
    words = [_relative(sys.executable), _relative(__file__), "--experiments", name]
    for action in (*options["run"], *options[name]):
        value = getattr(args, action.dest)
        if value != action.default:
            words += [action.option_strings[0], *map(str, value if isinstance(value, list) else [value])]
    return shlex.join(words)


def _relative(path: str) -> str:
    absolute = Path(path).absolute()
    return str(absolute.relative_to(REPO)) if absolute.is_relative_to(REPO) else str(absolute)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, list[argparse.Action]]]:
    """The parser, and per experiment the options it reads ("run": the ones every experiment reads)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", choices=EXPERIMENTS, default=list(DEFAULT_EXPERIMENTS))
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON results (default: bench/results/measurement-<experiments>.json, which the docs read)",
    )
    parser.add_argument(
        "--beside", default="not recorded", help="what else ran on the machine meanwhile, recorded with the figures"
    )
    groups = {name: parser.add_argument_group(name) for name in ("run", *EXPERIMENTS)}
    options: dict[str, list[argparse.Action]] = {name: [] for name in groups}

    def option(name: str) -> Callable[..., None]:
        return lambda *flags, **kwargs: options[name].append(groups[name].add_argument(*flags, **kwargs))

    add = {name: option(name) for name in groups}
    add["run"]("--model", type=Path, default=None,
               help="a Hugging Face token-classification folder (default: the example model, trained if missing)")
    add["run"]("--cache-dir", type=Path, default=None, help="build cache (default: the plugin's)")
    add["run"]("--threads", type=int, default=None, help="ONNX Runtime threads (default: physical cores)")
    add["overhead"]("--overhead-shapes", nargs="+", default=["1x32", "4x64"], metavar="BxLEN")
    add["overhead"]("--overhead-rounds", type=int, default=8, help="bare loop / harness pairs per shape")
    add["matrix"]("--matrix-builds", choices=("cold", "warm"), default="cold",
                  help="cold: a fresh build cache, then the same again warm; warm: one run on the plugin's cache")
    add["matrix"]("--matrix-mode", choices=("auto", "gate", "update"), default="auto",
                  help="gate against baselines/, or update a throw-away folder (auto: gate when baselines/ has files)")
    add["accuracy"]("--accuracy-repeats", type=int, default=1)
    return parser, options


def main(argv: list[str] | None = None) -> None:
    parser, options = build_parser()
    args = parser.parse_args(argv)
    needs_model = set(args.experiments) != {"matrix"}
    timing = TimingSpec(threads=args.threads)
    setup = load_setup(args.model or ensure_model(), args.cache_dir, timing) if needs_model else None
    results = {
        "schema": 1, "machine": machine(args.threads or Pipeline().hardware.physical_cores), "timing": asdict(timing),
        "model": (setup.model if setup else ensure_model()).name, "beside": args.beside,
        "experiments": {
            name: run_experiment(name, setup, args, command_for(name, args, options)) for name in args.experiments
        },
    }
    output = args.output or REPO / "bench" / "results" / f"measurement-{'-'.join(args.experiments)}.json"
    save_result(output, results)
    log(f"results written to {output}")


if __name__ == "__main__":
    main()
