"""Does the latency gate measure what it claims? Experiments on the real example model (issue 3).

    overhead  the harness's mean latency vs a bare `InferenceSession.run` loop, interleaved rounds
    matrix    wall time of `pytest --qbench examples`, with a fresh build cache and then a warm one
              (or, --matrix-builds warm, once on the plugin's cache)
    accuracy  evaluation throughput (sentences/s) of the fp32 and the dynamic int8 model

    .venv/bin/python bench/measurement.py                                 # overhead
    .venv/bin/python bench/measurement.py --experiments matrix accuracy

False alarms and detection power of the latency gate: bench/latency_gate.py. Each run writes a JSON file under bench/results/ and replaces its
experiments' sections of docs/BENCHMARKS.md (between `<!-- measurement:NAME -->` markers).
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
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median
from time import perf_counter, perf_counter_ns
from typing import Any, Callable

import numpy as np

from pytest_qbench.variants.cache import BuildCache, default_cache_root, library_versions
from pytest_qbench.variants.export import export_original
from pytest_qbench.variants.quantize import build_variant
from pytest_qbench.specs import DataSpec, TimingSpec, VariantSpec
from pytest_qbench.hardware import detect
from pytest_qbench.measure.data import latency_inputs, load_split
from pytest_qbench.measure.latency import measure
from pytest_qbench.measure.ort_session import make_ort_session, resolve_threads
from pytest_qbench.measure.tasks import task_for

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "examples"))
from conll_model import conll_dir, ensure_model  # noqa: E402 - the example model and its data

EXPERIMENTS = ("overhead", "matrix", "accuracy")
DEFAULT_EXPERIMENTS = ("overhead",)
OPSET = 11  # the reference card's
INT8 = VariantSpec("dynamic", ("Add", "MatMul"))  # the reference card's dynamic variant
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
    """The fp32 ONNX export of the model, its tokenizer and config, and the validation split."""

    model: Path
    original_dir: Path
    tokenizer: Any
    config: Any
    validation: Any
    cache: BuildCache
    timing: TimingSpec

    @property
    def threads(self) -> int:
        return resolve_threads(self.timing.threads)

    @property
    def onnx(self) -> Path:
        return self.original_dir / "model.onnx"

    def session(self) -> Any:
        return make_ort_session(self.onnx, self.threads)

    def session_at(self, threads: int) -> Any:
        return make_ort_session(self.onnx, threads)

    def feed(self, session: Any, shape: Shape) -> dict[str, np.ndarray]:
        names = [i.name for i in session.get_inputs()]
        return latency_inputs(self.tokenizer, self.validation, "tokens", shape.batch_size, shape.sequence_length, names)


def load_setup(model: Path, cache_dir: Path | None, timing: TimingSpec) -> Setup:
    from transformers import AutoConfig, AutoTokenizer

    cache = BuildCache(cache_dir)
    original_dir = export_original(model, OPSET, cache)
    return Setup(
        model=model,
        original_dir=original_dir,
        tokenizer=AutoTokenizer.from_pretrained(original_dir),
        config=AutoConfig.from_pretrained(original_dir),
        validation=load_split(conll_dir(), "validation"),
        cache=cache,
        timing=timing,
    )


# ---- 1. overhead ----------------------------------------------------------------------------------


def bare_loop_ms(session: Any, feed: dict[str, np.ndarray], calls: int) -> float:
    """Mean call time of the plainest timing loop there is."""
    start = perf_counter_ns()
    for _ in range(calls):
        session.run(None, feed)
    return (perf_counter_ns() - start) / calls / 1e6


def harness_ms(setup: Setup, session: Any, feed: dict[str, np.ndarray], shape: Shape) -> float:
    """`latency.measure` of the model against itself: the mean wall-clock call over both sides."""
    result = measure(lambda threads: (session, session) if threads == setup.threads else
                     (setup.session_at(threads),) * 2, feed, setup.timing, shape.batch_size)
    sides = (result.original, result.optimized)
    return sum(s.mean_ms * s.n_samples for s in sides) / sum(s.n_samples for s in sides)


def overhead_shape(setup: Setup, shape: Shape, rounds: int) -> dict[str, Any]:
    session = setup.session()
    feed = setup.feed(session, shape)
    timing = setup.timing
    # The bare loop gets the calls the harness's minimums ask of each side.
    warm_ms = bare_loop_ms(session, feed, timing.warmup_iterations)
    calls = max(timing.wall_iterations, math.ceil(timing.wall_seconds * 1e3 / warm_ms))
    pairs = []
    for index in range(rounds):  # alternate which goes first, so a drift hits both alike
        if index % 2 == 0:
            bare, harness = bare_loop_ms(session, feed, calls), harness_ms(setup, session, feed, shape)
        else:
            harness, bare = harness_ms(setup, session, feed, shape), bare_loop_ms(session, feed, calls)
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
        "label": label, "command": shlex.join(["time", *command]), "exit_code": done.returncode,
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
    int8 = build_variant(setup.original_dir, INT8, preset=detect().preset, calibration=None, cache=setup.cache)
    task = task_for(setup.config)
    rows = []
    for name, path in (("fp32", setup.onnx), (f"int8 {INT8.id}", int8.optimized)):
        session = make_ort_session(path, setup.threads)
        for repeat in range(args.accuracy_repeats):
            scores = task.evaluate(session, setup.tokenizer, setup.validation, DataSpec(None), setup.config.id2label)
            rows.append({"model": name, "repeat": repeat, "sentences": scores.num_samples, "seconds": scores.seconds,
                         "sentences_per_s": scores.num_samples / scores.seconds, "f1": scores.f1})
            log(f"accuracy {name}: {scores.num_samples} sentences in {scores.seconds:.1f} s, F1 {scores.f1:.4f}")
    return {"runs": rows, "quantization": asdict(int8.quantization)}


# ---- the report --------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value:+.1%}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def render_overhead(result: dict[str, Any]) -> str:
    rows = [[s["shape"], len(s["rounds"]), f"{s['bare_ms_median']:.3f}", f"{s['harness_ms_median']:.3f}",
             _pct(s["overhead_median"]), f"{_pct(s['overhead_min'])} to {_pct(s['overhead_max'])}"]
            for s in result["shapes"]]
    header = ["shape", "rounds", "bare loop, ms (median)", "harness, ms (median)", "overhead (median)", "range"]
    return "### 2. Harness overhead vs a bare `InferenceSession.run` loop\n\n" + _table(header, rows)


def render_matrix(result: dict[str, Any]) -> str:
    rows = [[r["label"], result["mode"], f"{r['wall_seconds'] / 60:.1f} min", r["cases"],
             ", ".join(f"{v} {k}" for k, v in sorted(r["verdicts"].items())), f"{r['latency_seconds']:.0f} s",
             f"{r['stopped_on_ci_width']}/{r['cases']}", r["exit_code"]] for r in result["runs"]]
    header = ["build cache", "mode", "wall time", "cases", "verdicts", "in latency timing", "stopped on CI width",
              "exit code"]
    commands = "\n".join(f"- {r['label']}: `{r['command']}`" for r in result["runs"])
    return "### 3. Time to verdict: the reference matrix\n\n" + _table(header, rows) + "\n\n" + commands


def render_accuracy(result: dict[str, Any]) -> str:
    rows = [[r["model"], r["sentences"], f"{r['seconds']:.1f}", f"{r['sentences_per_s']:.0f}", f"{r['f1']:.4f}"]
            for r in result["runs"]]
    header = ["model", "sentences", "seconds", "sentences/s", "F1"]
    return "### 4. Accuracy evaluation throughput (validation split)\n\n" + _table(header, rows)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "overhead": render_overhead, "matrix": render_matrix,
    "accuracy": render_accuracy,
}


TIMED = ("overhead",)  # the experiments that time with the TimingSpec of the run


def render_sections(results: dict[str, Any], json_path: str, label: str) -> dict[str, str]:
    """Each experiment's markdown, keyed by its marker name (`label` tells apart runs of one experiment)."""
    m, t = results["machine"], results["timing"]
    where = f"{m['brand']}, {m['physical_cores']} physical / {m['logical_cores']} logical cores, {m['threads']} threads"
    budget = (f" Wall-clock phase: min {t['wall_iterations']} calls and {t['wall_seconds']:g} s per model;"
              f" CPU phase: min {t['min_pairs']} pairs and {t['min_seconds']:g} s, max {t['max_seconds']:g} s.")
    sections = {}
    for name, result in results["experiments"].items():
        heading, table = RENDERERS[name](result).split("\n", 1)
        footer = (
            f"Run {result['started']} ({result['seconds'] / 60:.1f} min) on {where}.{budget if name in TIMED else ''}"
            f" Load average (1/5/15 min) {_load(result['load_before'])} before, {_load(result['load_after'])} after."
            f" Reproduce: `{result['command']}`. Raw numbers: `{json_path}`."
        )
        sections[f"{name}-{label}" if label else name] = f"{heading}{f' ({label})' if label else ''}\n{table}\n\n{footer}"
    return sections


def _load(load: list[float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def splice(text: str, sections: dict[str, str]) -> str:
    """`text` with each named section replaced between its markers, or appended when it has none."""
    for name, body in sections.items():
        begin, end = f"<!-- measurement:{name} -->", f"<!-- /measurement:{name} -->"
        block = f"{begin}\n{body}\n{end}"
        if begin in text and end in text:
            text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
        else:
            text = text.rstrip("\n") + f"\n\n{block}\n"
    return text


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


def machine(threads: int) -> dict[str, Any]:
    hardware = detect()
    return {
        "brand": hardware.brand, "hardware_key": hardware.key, "physical_cores": hardware.physical_cores,
        "logical_cores": hardware.logical_cores, "threads": threads, "libraries": library_versions(),
    }


def run_start() -> dict[str, Any]:
    """When a bench script started, and the load it started under (for `run_info`)."""
    return {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "began": perf_counter(),
            "load_before": list(os.getloadavg())}


def run_info(start: dict[str, Any], threads: int = 2) -> dict[str, Any]:
    """What a bench script's results record of its run: when, how long, where, under which load."""
    return {"when": start["when"], "minutes": (perf_counter() - start["began"]) / 60, "machine": machine(threads),
            "load_before": start["load_before"], "load_after": list(os.getloadavg())}


def run_footer(info: dict[str, Any], script: str, raw: str, setting: str = "") -> str:
    """The closing line of a bench script's section: the run, the machine, the load, how to reproduce."""
    m = info["machine"]
    return (f"Run {info['when']} ({info['minutes']:.1f} min) on {m['brand']}, {m['physical_cores']} physical /"
            f" {m['logical_cores']} logical cores{setting}. Load average (1/5/15 min) {_load(info['load_before'])}"
            f" before, {_load(info['load_after'])} after. Reproduce: `.venv/bin/python {script}`. Raw numbers: `{raw}`.")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, list[argparse.Action]]]:
    """The parser, and per experiment the options it reads ("run": the ones every experiment reads)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", choices=EXPERIMENTS, default=list(DEFAULT_EXPERIMENTS))
    parser.add_argument("--output", type=Path, default=None, help="JSON results (default: bench/results/<time>.json)")
    parser.add_argument("--markdown", type=Path, default=REPO / "docs" / "BENCHMARKS.md",
                        help="file whose experiment sections are replaced with this run's tables")
    parser.add_argument("--label", default="", help="names this run's sections apart from the default run's")
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
        "schema": 1, "machine": machine(resolve_threads(args.threads)), "timing": asdict(timing),
        "model": str(setup.model if setup else ensure_model()),
        "experiments": {
            name: run_experiment(name, setup, args, command_for(name, args, options)) for name in args.experiments
        },
    }
    output = args.output or REPO / "bench" / "results" / f"measurement-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n")
    log(f"results written to {output}")
    if args.markdown is not None:
        sections = render_sections(results, _relative(str(output)), args.label)
        args.markdown.write_text(splice(_read(args.markdown), sections))
        log(f"tables written to {args.markdown}")


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else "# Benchmarks\n"


if __name__ == "__main__":
    main()
