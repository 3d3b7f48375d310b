"""Result file -> markdown: one pure function per kind of doc block (bench/render_docs.py says how a
block names its kind and its sources, and how to add one).

Every table ends with a footer naming the run: when, the CPU (brand, vendor-family-model where the
result recorded it, hardware key), the load, what else ran, how to reproduce, the raw numbers.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class Result:
    path: str  # relative to the repository
    data: Any  # the parsed JSON, or the text of any other file


def load(repo: Path, source: str) -> Result:
    text = (repo / source).read_text()
    return Result(source, json.loads(text) if source.endswith(".json") else text)


# ---- shared pieces -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    when: str
    minutes: float | None
    machine: dict[str, Any]
    load_before: Sequence[float] | None
    load_after: Sequence[float] | None
    beside: str = ""


def run_of(record: dict[str, Any]) -> Run:
    """The run of a result written through bench/run_record.py (`run_info`)."""
    return Run(record["when"], record.get("minutes"), record["machine"], record.get("load_before"),
               record.get("load_after"), record.get("beside", ""))


def cpu(machine: dict[str, Any]) -> str:
    """"AMD EPYC (amd-26-2), `x86_64-avx512_vnni-2c`": the CPU as the result recorded it."""
    model = f" ({machine['cpu_model']})" if machine.get("cpu_model") else ""
    key = machine.get("hardware_key") or machine.get("key")
    return f"{machine['brand']}{model}, `{key}`" if key else f"{machine['brand']}{model}"


def _load(load: Sequence[float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def footer(run: Run, reproduce: str, raw: str, setting: str = "") -> str:
    m = run.machine
    took = f" ({run.minutes:.1f} min)" if run.minutes is not None else ""
    cores = f", {m['physical_cores']} physical / {m['logical_cores']} logical cores" if "physical_cores" in m else ""
    load = ""
    if run.load_before is not None:
        after = f", {_load(run.load_after)} after" if run.load_after is not None else ""
        load = f" Load average (1/5/15 min) {_load(run.load_before)} before{after}."
    beside = f" Beside it: {run.beside}." if run.beside else ""
    return (f"Run {run.when}{took} on {cpu(m)}{cores}{setting}.{load}{beside}"
            f" Reproduce: `{reproduce}`. Raw numbers: `{raw}`.")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "---") -> str:
    lines = [list(header), [align] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def _pct(value: float) -> str:
    return f"{value:+.1%}"


def _span(values: Sequence[float], digits: int = 2, unit: str = "") -> str:
    low, high = min(values), max(values)
    return f"{low:.{digits}f}{unit}" if f"{low:.{digits}f}" == f"{high:.{digits}f}" else f"{low:.{digits}f}–{high:.{digits}f}{unit}"


def _ci(estimate: dict[str, float], digits: int = 2) -> str:
    return f"x{estimate['value']:.{digits}f} ({estimate['ci_low']:.{digits}f}–{estimate['ci_high']:.{digits}f})"


def wilson(hits: int, n: int) -> str:
    """"2/597 (0.3%; 0.1%–1.2%)": a rate with its Wilson 95% interval."""
    from scipy.stats import binomtest

    if not n:
        return "–"
    low, high = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{hits}/{n} ({hits / n:.1%}; {low:.1%}–{high:.1%})"


# ---- bench/latency_gate.py ------------------------------------------------------------------------------

NEW, OLD, ABSOLUTE = "new: cpu time, 1 thread, HL", "old: wall, all cores, ratio of means", "new: optimized cpu ms (absolute)"


def render_latency_gate(result: Result) -> str:
    data = result.data
    header = ["load", "signal", "per-pair σ (log)", "run-to-run σ (log)", "A/A false alarms", "A/A inconclusive",
              "+10% caught", "+25% caught", "realized +10% / +25%", "idle baseline, this load: false alarms",
              "s per run"]
    rows = [[r["condition"], r["signal"], "–" if r["signal"] == ABSOLUTE else f"{r['pair_sigma']:.3f}",
             f"{r['run_sigma']:.3f}", _rate(r["A/A"]), r["A/A inconclusive"], _rate(r["+10%"]), _rate(r["+25%"]),
             f"{r['+10% realized']:+.1%} / {r['+25% realized']:+.1%}", _rate(r.get("vs idle baseline", {})),
             f"{r['seconds']:.1f}"] for r in data["summary"]]
    costs = ", ".join(f"{arm}: {c['tokens']} extra tokens, {c['cost']:+.1%} cpu" for arm, c in data["calibration"].items())
    machine = data["machine"]
    run = Run(data["started"], data["seconds"] / 60, machine, [float(x) for x in data["load_before"].split("/")], None)
    return "\n".join([
        "### 1. Latency gate: old and new design side by side, three loads", "", table(header, rows), "",
        *_gate_summary(data), "",
        f"Shape {data['shape']}; candidate calibration ({costs}). Rates with Wilson 95% intervals; \"caught\" = the"
        " check failed. The absolute row is the optimized model's CPU time per call against cpu_time_rtol"
        f" {data['tolerances']['cpu_time_rtol']:g}: its +10%/+25% columns count slowdowns it caught on its own. "
        + footer(run, f".venv/bin/python {data['command'].strip()}", result.path,
                 f", {machine['threads']} threads for the wall clock"),
    ])


def _gate_summary(data: dict[str, Any]) -> list[str]:
    by_signal = {signal: [r for r in data["summary"] if r["signal"] == signal] for signal in (NEW, OLD, ABSOLUTE)}
    new, old = by_signal[NEW], by_signal[OLD]

    def pooled(rows: list[dict[str, Any]], column: str) -> str:
        return wilson(sum(r[column]["hits"] for r in rows), sum(r[column]["n"] for r in rows))

    runs = [r["design"] for r in data["runs"]]
    inconclusive = sum(r[f"{arm} inconclusive"] for r in new for arm in ("A/A", "+10%", "+25%"))
    cost = {arm: f"{c['cost']:+.1%}" for arm, c in data["calibration"].items()}
    return [
        f"- {runs.count('new')} runs of the new design, {runs.count('old')} of the old, in one run of"
        f" {data['seconds'] / 60:.0f} min.",
        f"- The new gate false-alarmed in {pooled(new, 'A/A')} A/A runs and in {pooled(new, 'vs idle baseline')} runs"
        f" gated on a loaded machine against an idle baseline; it caught the +10% candidate ({cost['+10%']} CPU time)"
        f" in {pooled(new, '+10%')} runs and the +25% one ({cost['+25%']}) in {pooled(new, '+25%')}, with"
        f" {inconclusive} inconclusive, in {_span([r['seconds'] for r in new], 1)} s per run.",
        f"- Per-pair σ of the log-ratio: {_span([r['pair_sigma'] for r in new], 3)} on one-thread CPU time,"
        f" {_span([r['pair_sigma'] for r in old], 3)} on the old design's wall clock. Run-to-run σ: the speedup"
        f" {_span([r['run_sigma'] for r in new], 3)}, the optimized model's CPU time per call"
        f" {_span([r['run_sigma'] for r in by_signal[ABSOLUTE]], 3)}.",
        f"- The old design caught the +10% candidate in {pooled(old, '+10%')} runs, the +25% one in {pooled(old, '+25%')}.",
    ]


def _rate(r: dict[str, float]) -> str:
    return wilson(r["hits"], r["n"]) if r and r["n"] else "–"


# ---- bench/measurement.py: one result file holds one or more experiments -------------------------------


def _experiment(result: Result, name: str) -> tuple[dict[str, Any], Run]:
    data = result.data
    experiment = data["experiments"][name]
    return experiment, Run(experiment["started"], experiment["seconds"] / 60, data["machine"],
                           experiment["load_before"], experiment["load_after"], data.get("beside", ""))


def _threads(result: Result) -> str:
    return f", {result.data['machine']['threads']} threads"


def render_overhead(result: Result) -> str:
    experiment, run = _experiment(result, "overhead")
    shapes = experiment["shapes"]
    rows = [[s["shape"], len(s["rounds"]), f"{s['bare_ms_median']:.3f}", f"{s['harness_ms_median']:.3f}",
             _pct(s["overhead_median"]), f"{_pct(s['overhead_min'])} to {_pct(s['overhead_max'])}"] for s in shapes]
    header = ["shape", "rounds", "bare loop, ms (median)", "harness, ms (median)", "overhead (median)", "range"]
    ratios = ", ".join(f"{_pct(s['harness_ms_median'] / s['bare_ms_median'] - 1)} ({s['shape']})" for s in shapes)
    t = result.data["timing"]
    budget = (f"{_threads(result)}. Wall-clock phase: min {t['wall_iterations']} calls and {t['wall_seconds']:g} s per"
              f" model; CPU phase: min {t['min_pairs']} pairs and {t['min_seconds']:g} s, max {t['max_seconds']:g} s")
    return "\n".join([
        "### 2. Harness overhead vs a bare `InferenceSession.run` loop", "", table(header, rows), "",
        f"- The ratio of the medians (harness over bare loop): {ratios}.", "",
        footer(run, experiment["command"], result.path, budget),
    ])


def render_matrix(result: Result) -> str:
    experiment, run = _experiment(result, "matrix")
    rows = [[r["label"], experiment["mode"], f"{r['wall_seconds'] / 60:.1f} min", r["cases"],
             ", ".join(f"{v} {k}" for k, v in sorted(r["verdicts"].items())), f"{r['latency_seconds']:.0f} s",
             f"{r['stopped_on_ci_width']}/{r['cases']}", r["exit_code"]] for r in experiment["runs"]]
    header = ["build cache", "mode", "wall time", "cases", "verdicts", "in latency timing", "stopped on CI width",
              "exit code"]
    return "\n".join([
        "### 3. Time to verdict: the reference matrix", "", table(header, rows), "",
        "- the session: `pytest --qbench examples -k 'not hub'`, on the build cache the column names", "",
        footer(run, experiment["command"], result.path, _threads(result)),
    ])


def render_accuracy(result: Result) -> str:
    experiment, run = _experiment(result, "accuracy")
    rows = [[r["model"], r["sentences"], f"{r['seconds']:.1f}", f"{r['sentences_per_s']:.0f}", f"{r['f1']:.4f}"]
            for r in experiment["runs"]]
    header = ["model", "sentences", "seconds", "sentences/s", "F1"]
    return "\n".join([
        "### 4. Accuracy evaluation throughput (validation split)", "", table(header, rows), "",
        footer(run, experiment["command"], result.path, _threads(result)),
    ])


# ---- bench/diagnosis_cost.py, bench/calibration_reuse.py, bench/sharding.py ------------------------------


def render_diagnosis(result: Result) -> str:
    runs = result.data["runs"]
    rows = [[r["label"], f"{r['diagnosis_seconds']:.0f} s", f"{r['repair_seconds']:.0f} s",
             f"{r['evaluations']} ({', '.join(f'{n} {s}' for s, n in r['by_split'].items())})",
             "yes" if r["budget_spent"] else "no", f"{r['session_seconds'] / 60:.1f} min", r["exit_code"]]
            for r in runs]
    case = runs[0]["case"]
    diagnosis, repair, accuracy = case["diagnosis"], case["diagnosis"]["repair"], case["accuracy"]
    return "\n".join([
        "### 5. Diagnosis and repair of the static collapse", "",
        table(["build cache", "diagnosis", "repair", "evaluations", "cap reached", "whole session", "exit code"], rows),
        "",
        f"- case: `{case['nodeid']}` (F1 {accuracy['original']['f1']:.4f} -> {accuracy['optimized']['f1']:.4f});"
        f" diagnosis on {diagnosis['sentences']} sentences in {diagnosis['batches']} padded batches, pre-flight and"
        f" search on {diagnosis['preflight']['samples']} sentences, confirmation on the whole split",
        f"- found: `{'`, `'.join(repair['exclusion']['families'])}` + {len(repair['exclusion']['nodes'])} nodes,"
        f" F1 {repair['f1']:.4f} (target {repair['target_f1']:.4f}), cpu speedup x{repair['speedup']:.2f}",
        "- an evaluation builds one candidate (static: calibration + quantization, ~5 s cold) and scores it on"
        " the sample (~2 s) or the whole split (~8 s); warm, the builds come from the cache",
        "",
        footer(run_of(result.data), ".venv/bin/python bench/diagnosis_cost.py", result.path),
    ])


def render_calibration(result: Result) -> str:
    builds = result.data["builds"]
    anew, cached = (statistics.median(builds[arm]) for arm in ("calibrated anew", "cached ranges"))
    rows = [[arm, len(times), f"{statistics.median(times):.1f} s", f"{min(times):.1f}–{max(times):.1f} s"]
            for arm, times in builds.items()]
    return "\n".join([
        "### 6. Static calibration reused across exclusions", "",
        table(["static build of a new variant", "builds", "median", "range"], rows), "",
        f"- cached ranges / calibrated anew: x{cached / anew:.2f} of the build time per candidate (medians); a"
        " repair's static candidates after the first take the cached ranges, which give byte-identical"
        " variants (tests/test_variants.py)",
        "- example model, static [Add, MatMul] at optimization level 0 (the collapse), minmax on 100 train"
        " sentences of 128 tokens; each build keeps a different set of Adds in fp32; the arms alternate",
        "- §5's repair was measured before the ranges were cached: each of its static candidates calibrated"
        " anew",
        "",
        footer(run_of(result.data), ".venv/bin/python bench/calibration_reuse.py", result.path),
    ])


def render_sharding(result: Result) -> str:
    series = result.data["series"]
    slowest = {count: max(s["seconds"] for s in shards) / 60 for count, shards in series.items()}
    total = {count: sum(s["seconds"] for s in shards) / 60 for count, shards in series.items()}
    rows = [[count, " / ".join(f"{s['cases']}" for s in shards), " / ".join(f"{s['variants']}" for s in shards),
             " / ".join(f"{s['seconds'] / 60:.1f}" for s in shards), f"{total[count]:.1f}", f"{slowest[count]:.1f}",
             " / ".join(str(s["exit_code"]) for s in shards)] for count, shards in series.items()]
    one = slowest["1"]
    parts = ["### Shards of the reference matrix, run one after another", "",
             table(["shards", "cases per shard", "variants per shard", "minutes per shard", "sum, min",
                    "N parallel jobs: slowest shard, min", "exit codes"], rows), "",
             "- N parallel jobs: " + ", ".join(f"{c} shard{'s' if c != '1' else ''} {slowest[c]:.1f} min"
                                               + ("" if c == "1" else f" (x{one / slowest[c]:.1f})") for c in series),
             "- machine-minutes: " + " → ".join(f"{total[c]:.1f}" for c in series)]
    split = [s for s in result.data["pytest_split"] if s]
    if split:
        parts += ["", "### pytest-split on the same cases and durations", "",
                  table(["splits", "cases per group", "expected seconds per group", "variants on > 1 group", "builds repeated"],
                        [[s["count"], " / ".join(map(str, s["cases"])), " / ".join(f"{x:.0f}" for x in s["loads"]),
                          f"{s['split_variants']} of {s['variants']}", s["extra_builds"]] for s in split])]
    parts += ["", footer(run_of(result.data["info"]), ".venv/bin/python bench/sharding.py", result.path, ", build cache warm")]
    return "\n".join(parts)


# ---- bench/collapse.py ---------------------------------------------------------------------------------


def render_collapse(result: Result) -> str:
    data = result.data
    rows = [[f"`[{', '.join(r['operators'])}]`", r["exclusion"], r["excluded_nodes"],
             f"{r['fp32_f1']:.4f} → **{r['int8_f1']:.4f}**" if r["int8_f1"] < 0.5 else f"{r['fp32_f1']:.4f} → {r['int8_f1']:.4f}",
             _ci({"value": r["speedup"], "ci_low": r["ci"][0], "ci_high": r["ci"][1]})] for r in data["rows"]]
    return "\n".join([
        table(["static int8 of", "kept in fp32", "nodes kept in fp32", "F1 fp32 → int8", "cpu speedup (95% CI)"], rows),
        "", footer(run_of(data), ".venv/bin/python bench/collapse.py", result.path),
    ])


# ---- bench/example_gate.py: the example gate's own artifact ----------------------------------------------

CARD_TESTS = ("test_conll03_reference_card", "test_conll03_reference_card_static")
SENTIMENT_TEST = "test_rotten_tomatoes_int8"
CARD_ROW = re.compile(r"^\| `(\w+)` \| `\[(.*?)\]` \|(.*)$")
CARD_SHAPE = re.compile(r"batch size = (\d+), input length = (\d+)")
CARD_METRICS = ("precision", "recall", "f1", "accuracy")


def _gate_cases(result: Result, tests: Sequence[str]) -> list[dict[str, Any]]:
    return [c for c in result.data["artifact"]["cases"] if c["test"].split("::")[-1] in tests]


def _gate_footer(result: Result) -> str:
    env = result.data["artifact"]["environment"]
    return footer(run_of(result.data), ".venv/bin/python bench/example_gate.py --beside '...'", result.path,
                  f", onnxruntime {env['libraries'].get('onnxruntime')}")


def read_card(text: str) -> tuple[dict, dict]:
    """The reference card's (docs/reference-card.md) non-time rows {(approach, ops): [8 numbers]} and time
    rows {(bs, len, approach, ops): [4 numbers]}."""
    accuracy, timing, shape = {}, {}, None
    for line in text.splitlines():
        if match := CARD_SHAPE.search(line):
            shape = (int(match[1]), int(match[2]))
        elif match := CARD_ROW.match(line):
            numbers = [float(x) for x in re.findall(r"\d+\.\d+", match[3])]
            key = (match[1], "+".join(op.strip(" '") for op in match[2].split(",")))
            if shape is None:
                accuracy[key] = numbers
            else:
                timing[(*shape, *key)] = numbers
    return accuracy, timing


def _pair(ours: float | None, reference: float, digits: int) -> str:
    return f"{'–' if ours is None else f'{ours:.{digits}f}'} ({reference:.{digits}f})"


def render_card_accuracy(result: Result, card: Result) -> str:
    """Accuracy in the reference card's layout: each cell "ours (the card's)"."""
    header = ["quantization_approach", "operators_to_quantize"]
    for metric in CARD_METRICS:
        header += [f"{metric} (original)", f"{metric} (optimized)"]
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for case in _gate_cases(result, CARD_TESTS):
        seen.setdefault((case["approach"], "+".join(case["operators"])), case)
    rows = []
    for key, numbers in read_card(card.data)[0].items():
        case, cells = seen.get(key), [f"`{key[0]}`", f"`{key[1]}`"]
        for i, metric in enumerate(CARD_METRICS):
            for j, side in enumerate(("original", "optimized")):
                ours = None if case is None or case["accuracy"][side] is None else case["accuracy"][side][metric]
                cells.append(_pair(ours, numbers[2 * i + j], 3))
        rows.append(cells)
    return "\n".join([table(header, rows, ":-:"), "", _gate_footer(result)])


def render_card_latency(result: Result, card: Result) -> str:
    """Latency in the reference card's layout, one table per shape: each cell "ours (the card's)". The card's
    throughput is calls per second (1000 / latency at every batch size): ours is shown in that unit."""
    by_key = {(c["batch_size"], c["sequence_length"], c["approach"], "+".join(c["operators"])): c
              for c in _gate_cases(result, CARD_TESTS)}
    header = ["quantization_approach", "operators_to_quantize", "latency_mean (original, ms)",
              "latency_mean (optimized, ms)", "calls/s (original)", "calls/s (optimized)",
              "wall speedup [95% CI] (reference)", "cpu speedup [95% CI]"]
    shapes: dict[tuple[int, int], list[list[str]]] = {}
    for (bs, length, approach, ops), numbers in read_card(card.data)[1].items():
        latency = (by_key.get((bs, length, approach, ops)) or {}).get("latency")
        shapes.setdefault((bs, length), []).append([f"`{approach}`", f"`{ops}`", *_card_timing(latency, numbers)])
    parts = []
    for (bs, length), rows in shapes.items():
        parts += [f"Batch size = {bs}, input length = {length}.", "", table(header, rows, ":-:"), ""]
    return "\n".join([*parts, _gate_footer(result)])


def _card_timing(latency: dict[str, Any] | None, card: list[float]) -> list[str]:
    reference = f"({card[0] / card[1]:.2f})"
    if latency is None:
        return [_pair(None, card[i], 2) for i in range(4)] + [f"– {reference}", "–"]
    means = [latency[side]["mean_ms"] for side in ("original", "optimized")]
    wall, cpu_time = latency["wall_speedup"], latency["cpu"]["speedup"]
    return [_pair(means[0], card[0], 2), _pair(means[1], card[1], 2), _pair(1000 / means[0], card[2], 2),
            _pair(1000 / means[1], card[3], 2),
            f"{wall['value']:.2f} [{wall['ci_low']:.2f}, {wall['ci_high']:.2f}] {reference}",
            f"{cpu_time['value']:.2f} [{cpu_time['ci_low']:.2f}, {cpu_time['ci_high']:.2f}]"]


Renderer = Callable[..., str]
RENDERERS: dict[str, Renderer] = {
    "latency-gate": render_latency_gate,
    "overhead": render_overhead,
    "matrix": render_matrix,
    "accuracy": render_accuracy,
    "diagnosis": render_diagnosis,
    "calibration": render_calibration,
    "sharding": render_sharding,
    "collapse": render_collapse,
    "card-accuracy": render_card_accuracy,
    "card-latency": render_card_latency,
}
