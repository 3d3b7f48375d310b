"""Does the latency gate measure what it claims? Experiments on the real example model (issue 3).

    overhead  the harness's mean latency vs a bare `InferenceSession.run` loop, interleaved rounds
    aa        the fp32 model against itself: how often the 95% CI holds 1.0, how often the gate fails
    power     a candidate slower by real compute (an extra run of the model on a slice of the input):
              how often the default gate catches it
    matrix    wall time of `pytest --qbench examples`, with a fresh build cache and then a warm one
    accuracy  evaluation throughput (sentences/s) of the fp32 and the dynamic int8 model

    .venv/bin/python bench/measurement.py                                 # overhead, aa, power
    .venv/bin/python bench/measurement.py --experiments matrix accuracy

Latency experiments use the default `TimingSpec` budget and judge with `policy.judge` itself against a
baseline speedup of exactly 1.0. Each run writes a JSON file under bench/results/ and replaces its
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
from functools import partial
from pathlib import Path
from statistics import median
from time import perf_counter, perf_counter_ns
from typing import Any, Callable

import numpy as np
from scipy.stats import binomtest

from pytest_qbench.baselines import BaselineMatch, entry_from_result
from pytest_qbench.cache import BuildCache, library_versions
from pytest_qbench.config import DataSpec, TimingSpec, Tolerances, VariantSpec
from pytest_qbench.data import latency_inputs, load_split
from pytest_qbench.hardware import detect
from pytest_qbench.latency import make_session, measure, measure_callables, resolve_threads
from pytest_qbench.policy import judge
from pytest_qbench.results import AccuracyResult, CaseResult, LatencyResult
from pytest_qbench.tasks import task_for
from pytest_qbench.variants import build_variant, export_original

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "examples"))
from conll_model import conll_dir, ensure_model  # noqa: E402 - the example model and its data

EXPERIMENTS = ("overhead", "aa", "power", "matrix", "accuracy")
DEFAULT_EXPERIMENTS = ("overhead", "aa", "power")
HEADLINE_SHAPES = ("1x32", "4x64", "8x128")
ALL_SHAPES = tuple(f"{b}x{n}" for b in (1, 4, 8) for n in (32, 64, 128))
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
        return make_session(self.onnx, self.threads)

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


# ---- the gate, as the plugin applies it ---------------------------------------------------------


def gate_fails(latency: LatencyResult, shape: Shape, tolerances: Tolerances = Tolerances()) -> bool:
    """`policy.judge`'s speedup check against a baseline speedup of exactly 1.0. The case's accuracy and
    absolute timings equal their baseline's, so only the speedup can fail."""
    score = AccuracyResult(1.0, 1.0, 1.0, 1.0, {}, 1, 1, 0, "default", 0.0)
    result = CaseResult(
        nodeid="bench", test="bench", case_id=str(shape), model="bench", batch_size=shape.batch_size,
        sequence_length=shape.sequence_length, variant={}, accuracy_original=score, accuracy_optimized=score,
        latency=latency,
    )
    entry = entry_from_result(result)
    entry["latency"]["speedup"]["value"] = 1.0
    checks = judge(result, BaselineMatch(Path("bench"), "bench", entry, "bench"), tolerances).checks
    return any(c.metric == "speedup" and c.status == "fail" for c in checks)


def record(latency: LatencyResult, shape: Shape, **extra: Any) -> dict[str, Any]:
    speedup = latency.speedup
    return {
        "shape": str(shape), **extra, "speedup": speedup.value, "ci_low": speedup.ci_low, "ci_high": speedup.ci_high,
        "n_blocks": speedup.n_blocks, "stop_reason": latency.stop_reason, "seconds": latency.seconds,
        "original_ms": latency.original.mean_ms, "optimized_ms": latency.optimized.mean_ms,
        "original_cv": latency.original.cv, "optimized_cv": latency.optimized.cv,
        "gate_fails": gate_fails(latency, shape),
    }


def rate(hits: int, runs: int) -> dict[str, float]:
    """A proportion with its exact (Clopper-Pearson) 95% interval."""
    interval = binomtest(hits, runs).proportion_ci(confidence_level=0.95)
    return {"hits": hits, "runs": runs, "rate": hits / runs, "ci_low": interval.low, "ci_high": interval.high}


def summarize_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    values = np.array([r["speedup"] for r in runs])
    widths = [(r["ci_high"] - r["ci_low"]) / r["speedup"] for r in runs]
    return {
        "runs": len(runs),
        "ci_holds_1": rate(sum(r["ci_low"] <= 1.0 <= r["ci_high"] for r in runs), len(runs)),
        "gate_fails": rate(sum(r["gate_fails"] for r in runs), len(runs)),
        "speedup_median": float(np.median(values)),
        "speedup_p2_5": float(np.percentile(values, 2.5)),
        "speedup_p97_5": float(np.percentile(values, 97.5)),
        "ci_width_median": float(median(widths)),
        "stopped_on_ci_width": sum(r["stop_reason"] == "ci_width" for r in runs),
        "seconds_mean": float(np.mean([r["seconds"] for r in runs])),
    }


def group_by(runs: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run[key], []).append(run)
    return groups


# ---- 1. overhead ----------------------------------------------------------------------------------


def bare_loop_ms(session: Any, feed: dict[str, np.ndarray], calls: int) -> float:
    """Mean call time of the plainest timing loop there is."""
    start = perf_counter_ns()
    for _ in range(calls):
        session.run(None, feed)
    return (perf_counter_ns() - start) / calls / 1e6


def harness_ms(session: Any, feed: dict[str, np.ndarray], timing: TimingSpec, shape: Shape) -> float:
    """`latency.measure` of the model against itself: the mean over all calls of both sides."""
    result = measure(session, session, feed, timing, shape.batch_size)
    sides = (result.original, result.optimized)
    return sum(s.mean_ms * s.n_samples for s in sides) / sum(s.n_samples for s in sides)


def overhead_shape(setup: Setup, shape: Shape, rounds: int) -> dict[str, Any]:
    session = setup.session()
    feed = setup.feed(session, shape)
    timing = setup.timing
    # The bare loop gets the calls the harness's minimums ask of each side.
    warm_ms = bare_loop_ms(session, feed, timing.warmup_iterations)
    calls = max(timing.min_iterations, math.ceil(timing.min_seconds * 1e3 / warm_ms))
    pairs = []
    for index in range(rounds):  # alternate which goes first, so a drift hits both alike
        if index % 2 == 0:
            bare, harness = bare_loop_ms(session, feed, calls), harness_ms(session, feed, timing, shape)
        else:
            harness, bare = harness_ms(session, feed, timing, shape), bare_loop_ms(session, feed, calls)
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


# ---- 2. A/A ------------------------------------------------------------------------------------------


def run_aa(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    shapes = [Shape.parse(s) for s in args.aa_shapes]
    original, optimized = setup.session(), setup.session()  # two sessions of one file, as two variants get
    feeds = {shape: setup.feed(original, shape) for shape in shapes}
    runs = []
    for repeat in range(args.aa_repeats):  # round-robin: every shape sees the same spread of machine load
        for shape in shapes:
            latency = measure(original, optimized, feeds[shape], setup.timing, shape.batch_size)
            runs.append(record(latency, shape, repeat=repeat))
            log(f"aa {shape} {repeat + 1}/{args.aa_repeats}: {_speedup_text(runs[-1])}")
    summary = {shape: summarize_runs(group) for shape, group in group_by(runs, "shape").items()}
    return {"summary": summary, "overall": summarize_runs(runs), "runs": runs}


def _speedup_text(run: dict[str, Any]) -> str:
    verdict = "FAIL" if run["gate_fails"] else "pass"
    return f"speedup {run['speedup']:.3f} [{run['ci_low']:.3f}, {run['ci_high']:.3f}] {run['stop_reason']} {verdict}"


# ---- 3. power ----------------------------------------------------------------------------------------


def sliced(feed: dict[str, np.ndarray], tokens: int) -> dict[str, np.ndarray]:
    return {name: np.ascontiguousarray(array[:, :tokens]) for name, array in feed.items()}


def slower(session: Any, feed: dict[str, np.ndarray], tokens: int) -> Callable[[], None]:
    """The candidate: the model's run, then a second run of it on the first `tokens` tokens."""
    part = sliced(feed, tokens)

    def run() -> None:
        session.run(None, feed)
        session.run(None, part)

    return run


def extra_cost(session: Any, feed: dict[str, np.ndarray], tokens: int, calls: int) -> float:
    """How much longer the candidate takes than a full run: medians of alternated calls."""
    runs = {"candidate": slower(session, feed, tokens), "full": partial(session.run, None, feed)}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(calls):
        for name, run in runs.items():
            start = perf_counter()
            run()
            times[name].append(perf_counter() - start)
    return median(times["candidate"]) / median(times["full"]) - 1


def calibrate(session: Any, feed: dict[str, np.ndarray], extra: float, calls: int) -> tuple[int, float]:
    """The fewest leading tokens whose extra run costs at least `extra` of a full run (bisection),
    with the extra cost measured for it."""
    low, high = 1, next(iter(feed.values())).shape[1]
    while low < high:
        middle = (low + high) // 2
        if extra_cost(session, feed, middle, calls) < extra:
            low = middle + 1
        else:
            high = middle
    return low, extra_cost(session, feed, low, calls)


def run_power(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    shapes = [Shape.parse(s) for s in args.power_shapes]
    original, candidate = setup.session(), setup.session()
    arms, calibration = [], {}
    for shape in shapes:
        feed = setup.feed(original, shape)
        for extra in args.slowdowns:
            arm = f"{shape}+{extra:.0%}"
            tokens, ratio = calibrate(candidate, feed, extra, args.calibration_calls)
            calibration[arm] = {"shape": str(shape), "target": extra, "slice_tokens": tokens, "measured_cost": ratio}
            log(f"power {arm}: a {tokens}-token extra run costs {ratio:.1%} of a full run")
            arms.append((arm, shape, partial(original.run, None, feed), slower(candidate, feed, tokens)))
    runs = []
    for repeat in range(args.power_repeats):
        for arm, shape, run_a, run_b in arms:
            latency = measure_callables(run_a, run_b, setup.timing, shape.batch_size, setup.threads)
            runs.append(record(latency, shape, repeat=repeat, arm=arm))
            log(f"power {arm} {repeat + 1}/{args.power_repeats}: {_speedup_text(runs[-1])}")
    summary = {arm: summarize_runs(group) for arm, group in group_by(runs, "arm").items()}
    for arm, stats in summary.items():  # the candidate's real extra cost, as the harness saw it
        stats.update(calibration[arm], realized_slowdown=1 / stats["speedup_median"] - 1)
    return {"summary": summary, "runs": runs}


# ---- 4. matrix -------------------------------------------------------------------------------------


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
        cache_dir = work / "coldcache"  # fresh: nothing of the variants is built yet
        baseline_args = []  # gate against baselines/
        if mode == "update":  # the real baselines/ stay untouched
            baseline_args = ["--qbench-update-baselines", "--qbench-baselines", str(work / "baselines")]
        runs = [pytest_run(label, cache_dir, baseline_args, work) for label in ("cold", "warm")]
    return {"mode": mode, "runs": runs}


# ---- 5. accuracy -------------------------------------------------------------------------------------


def run_accuracy(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    int8 = build_variant(setup.original_dir, INT8, preset=detect().preset, calibration=None, cache=setup.cache)
    task = task_for(setup.config)
    rows = []
    for name, path in (("fp32", setup.onnx), (f"int8 {INT8.id}", int8.optimized)):
        session = make_session(path, setup.threads)
        for repeat in range(args.accuracy_repeats):
            scores = task.evaluate(session, setup.tokenizer, setup.validation, DataSpec(None), setup.config.id2label)
            rows.append({"model": name, "repeat": repeat, "sentences": scores.num_samples, "seconds": scores.seconds,
                         "sentences_per_s": scores.num_samples / scores.seconds, "f1": scores.f1})
            log(f"accuracy {name}: {scores.num_samples} sentences in {scores.seconds:.1f} s, F1 {scores.f1:.4f}")
    return {"runs": rows, "quantization": asdict(int8.quantization)}


# ---- the report --------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value:+.1%}"


def _rate_text(r: dict[str, float]) -> str:
    return f"{r['hits']}/{r['runs']} ({r['rate']:.1%}; 95% CI {r['ci_low']:.1%}–{r['ci_high']:.1%})"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def render_overhead(result: dict[str, Any]) -> str:
    rows = [[s["shape"], len(s["rounds"]), f"{s['bare_ms_median']:.3f}", f"{s['harness_ms_median']:.3f}",
             _pct(s["overhead_median"]), f"{_pct(s['overhead_min'])} to {_pct(s['overhead_max'])}"]
            for s in result["shapes"]]
    header = ["shape", "rounds", "bare loop, ms (median)", "harness, ms (median)", "overhead (median)", "range"]
    return "### 1. Harness overhead vs a bare `InferenceSession.run` loop\n\n" + _table(header, rows)


def _latency_rows(summary: dict[str, dict[str, Any]]) -> list[list[Any]]:
    return [[key, s["runs"], _rate_text(s["ci_holds_1"]), _rate_text(s["gate_fails"]), f"{s['speedup_median']:.3f}",
             f"{s['speedup_p2_5']:.3f}–{s['speedup_p97_5']:.3f}", f"{s['ci_width_median']:.1%}",
             f"{s['stopped_on_ci_width']}/{s['runs']}", f"{s['seconds_mean']:.1f}"]
            for key, s in summary.items()]


LATENCY_HEADER = ["speedup CI holds 1.0", "gate fails", "speedup (median)", "speedup 2.5–97.5%",
                  "CI width (median)", "stopped on CI width", "s per measurement"]


def render_aa(result: dict[str, Any]) -> str:
    rows = _latency_rows({**result["summary"], "all": result["overall"]})
    header = ["shape", "runs", *LATENCY_HEADER]
    return "### 2. A/A: the fp32 model against itself\n\n" + _table(header, rows)


def render_power(result: dict[str, Any]) -> str:
    summary = result["summary"]
    rows = [[*row[:1], f"+{s['target']:.0%}", f"{s['slice_tokens']} tokens, {s['measured_cost']:.1%}",
             _pct(s["realized_slowdown"]), *row[1:]]
            for row, s in zip(_latency_rows(summary), summary.values())]
    header = ["arm", "target extra cost", "extra run (calibrated cost)", "realized slowdown", "runs", *LATENCY_HEADER]
    return "### 3. Power: a candidate slower by real compute\n\n" + _table(header, rows)


def render_matrix(result: dict[str, Any]) -> str:
    rows = [[r["label"], result["mode"], f"{r['wall_seconds'] / 60:.1f} min", r["cases"],
             ", ".join(f"{v} {k}" for k, v in sorted(r["verdicts"].items())), f"{r['latency_seconds']:.0f} s",
             f"{r['stopped_on_ci_width']}/{r['cases']}", r["exit_code"]] for r in result["runs"]]
    header = ["build cache", "mode", "wall time", "cases", "verdicts", "in latency timing", "stopped on CI width",
              "exit code"]
    commands = "\n".join(f"- {r['label']}: `{r['command']}`" for r in result["runs"])
    return "### 4. Time to verdict: the reference matrix\n\n" + _table(header, rows) + "\n\n" + commands


def render_accuracy(result: dict[str, Any]) -> str:
    rows = [[r["model"], r["sentences"], f"{r['seconds']:.1f}", f"{r['sentences_per_s']:.0f}", f"{r['f1']:.4f}"]
            for r in result["runs"]]
    header = ["model", "sentences", "seconds", "sentences/s", "F1"]
    return "### 5. Accuracy evaluation throughput (validation split)\n\n" + _table(header, rows)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "overhead": render_overhead, "aa": render_aa, "power": render_power, "matrix": render_matrix,
    "accuracy": render_accuracy,
}


TIMED = ("overhead", "aa", "power")  # the experiments that time with the TimingSpec of the run


def render_sections(results: dict[str, Any], json_path: str, label: str) -> dict[str, str]:
    """Each experiment's markdown, keyed by its marker name (`label` tells apart runs of one experiment)."""
    m, t = results["machine"], results["timing"]
    where = f"{m['brand']}, {m['physical_cores']} physical / {m['logical_cores']} logical cores, {m['threads']} threads"
    budget = (f" Timing budget: min {t['min_iterations']} calls and {t['min_seconds']:g} s per model,"
              f" max {t['max_seconds']:g} s.")
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
    "overhead": run_overhead, "aa": run_aa, "power": run_power, "matrix": run_matrix, "accuracy": run_accuracy,
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
    add["run"]("--min-iterations", type=int, default=TimingSpec.min_iterations, help="TimingSpec budget, per model")
    add["run"]("--min-seconds", type=float, default=TimingSpec.min_seconds, help="TimingSpec budget, per model")
    add["run"]("--max-seconds", type=float, default=TimingSpec.max_seconds, help="TimingSpec budget, both models")
    add["overhead"]("--overhead-shapes", nargs="+", default=["1x32", "4x64"], metavar="BxLEN")
    add["overhead"]("--overhead-rounds", type=int, default=8, help="bare loop / harness pairs per shape")
    add["aa"]("--aa-shapes", nargs="+", default=list(HEADLINE_SHAPES), metavar="BxLEN",
              help="'all' for the 9 shapes of the reference card")
    add["aa"]("--aa-repeats", type=int, default=30)
    add["power"]("--power-shapes", nargs="+", default=["4x64"], metavar="BxLEN")
    add["power"]("--slowdowns", nargs="+", type=float, default=[0.10, 0.25],
                 help="extra cost of the candidate, as a fraction of a model run")
    add["power"]("--power-repeats", type=int, default=20)
    add["power"]("--calibration-calls", type=int, default=15, help="calls per side per step of the slice search")
    add["matrix"]("--matrix-mode", choices=("auto", "gate", "update"), default="auto",
                  help="gate against baselines/, or update a throw-away folder (auto: gate when baselines/ has files)")
    add["accuracy"]("--accuracy-repeats", type=int, default=1)
    return parser, options


def main(argv: list[str] | None = None) -> None:
    parser, options = build_parser()
    args = parser.parse_args(argv)
    if args.aa_shapes == ["all"]:
        args.aa_shapes = list(ALL_SHAPES)
    needs_model = set(args.experiments) != {"matrix"}
    timing = TimingSpec(threads=args.threads, min_iterations=args.min_iterations, min_seconds=args.min_seconds,
                        max_seconds=args.max_seconds)
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
