"""What a person reads: the terminal summary, the markdown report in the layout of the reference
benchmark card (Optimum's CoNLL-2003 card), and GitHub Actions annotations."""

from __future__ import annotations

import itertools
import json
import re
import statistics
from typing import TYPE_CHECKING, Any, Iterable, TypeVar

from ..diagnose.diagnosis import RANGE_LIMIT
from ..gate.baselines import ACCURACY_METRICS, UPDATE_COMMAND
from ..gate.policy import LATENCY_NOT_GATED, flatten, latency_not_gated, ungated_latency
from ..results import BudgetThroughput, CaseResult, Diagnosis, LabelMapEffect, RepairResult
from .runtimes import RUNTIME_HEADERS, RUNTIMES_TITLE, best_lines, runtime_cells, runtime_rows

if TYPE_CHECKING:
    from ..gate.merge import Merged
    from ..gate.spread import LatencyRun

NON_TIME_HEADERS = [
    "quantization_approach", "operators_to_quantize",
    *[h for metric in ACCURACY_METRICS for h in ("", f"{metric} (original)", f"{metric} (optimized)")],
]
TIME_HEADERS = [
    "quantization_approach", "operators_to_quantize",
    "", "latency_mean (original, ms)", "latency_mean (optimized, ms)",
    "", "throughput (original, /s)", "throughput (optimized, /s)",
    "", "cpu_time (original, ms)", "cpu_time (optimized, ms)",
]
VERDICT_HEADERS = ["f1 original -> optimized", "cpu speedup (CI)", "wall speedup", "verdict"]
_CARD_NAMES = {"approach": "quantization_approach", "operators": "operators_to_quantize"}
_NONE = "-"
SPARSE_NOTE = 0.05  # weight sparsity from which the reports name it
K = TypeVar("K")
V = TypeVar("V")


# ---- shared pieces --------------------------------------------------------------------------------


def _cells(result: CaseResult) -> list[str]:
    """The VERDICT_HEADERS cells: F1 original -> optimized, the gated speedup with its CI, the
    wall-clock speedup, the verdict."""
    original, optimized = result.accuracy_original, result.accuracy_optimized
    f1 = _NONE if original is None or optimized is None else f"{original.f1:.4f} -> {optimized.f1:.4f}"
    cpu = wall = _NONE
    if result.latency is not None:
        s = result.latency.cpu.speedup
        cpu = f"{s.value:.2f} ({s.ci_low:.2f} to {s.ci_high:.2f})"
        wall = f"{result.latency.wall_speedup.value:.2f}"
    return [f1, cpu, wall, result.verdict]


def _problems(result: CaseResult) -> list[str]:
    errors = [] if result.error is None else [f"could not measure: {result.error}"]
    return errors + [str(c) for c in result.checks if c.status in ("fail", "error")]


def _grouped(pairs: Iterable[tuple[K, V]]) -> dict[K, list[V]]:
    """The values of each key, keys in first-seen order."""
    groups: dict[K, list[V]] = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return groups


def _with_cases(message: str, case_ids: list[str]) -> str:
    cases = ", ".join(case_ids) if len(case_ids) <= 3 else f"{len(case_ids)} cases"
    return f"{message} [{cases}]"


def _skips(results: list[CaseResult], *, ungated: bool = True) -> dict[str, list[str]]:
    """reason -> the case ids it was said of, so a warning true of many cases is shown once;
    without the latency checks skipped for a hardware-key mismatch unless `ungated`."""
    return _grouped(
        (c.reason, r.case_id) for r in results for c in r.checks
        if c.status == "skip" and (ungated or not latency_not_gated(c))
    )


def failure_lines(results: list[CaseResult], *, expected: bool = False) -> list[str]:
    """`case: problem` per failed check or failed measurement, of the xfail cases if `expected`, else of the others."""
    return [f"{r.case_id}: {p}" for r in results if r.expected_failure == expected for p in _problems(r)]


def inconclusive_lines(results: list[CaseResult]) -> list[str]:
    return [f"{r.case_id}: {c.reason}" for r in results for c in r.checks if c.status == "inconclusive"]


CONFIRMED_TITLE = "measured again in fresh processes (a slow session is outvoted; judged on the median)"


def confirmed_in_run(results: list[CaseResult]) -> list[str]:
    """The cases whose first look at latency did not pass, with each measurement and the verdict on their median."""
    return [f"{r.case_id}: cpu speedups {', '.join(f'{m.speedup.value:.3f}' for m in r.latency.measurements)}"
            f" -> median {r.latency.cpu.speedup.value:.3f}: {r.verdict}"
            for r in results if r.latency is not None and r.latency.measurements]


def _warnings(results: list[CaseResult]) -> list[str]:
    notes = _grouped((r.quantization.note, r.case_id) for r in results if r.quantization and r.quantization.note)
    sparse_off = _grouped((f"sparse weight decompression {r.sparse_decompression}", r.case_id) for r in results
                          if r.sparse_decompression and r.sparse_decompression.startswith("off"))
    # Ungated latency gets its own section (hardware_notes), with the speedups.
    found = {**_skips(results, ungated=False), **notes, **sparse_off}
    return [_with_cases(message, ids) for message, ids in found.items()] + _prequantized(results)


def sparse_models(results: list[CaseResult]) -> list[str]:
    """One note per model whose linear weights are mostly zero (a pruned model): say how sparse."""
    sparse = {r.model: r.original.weight_sparsity for r in results
              if r.original is not None and (r.original.weight_sparsity or 0) >= SPARSE_NOTE}
    return [f"{model}: {share:.1%} of its MatMul/Gemm weights are zero (a pruned model)" for model, share in sparse.items()]


def _prequantized(results: list[CaseResult]) -> list[str]:
    """One note per model that came already quantized: its "original" is not fp32."""
    originals = {r.model: r.original for r in results if r.original is not None and r.original.quantized}
    return [
        f"{model} is already quantized ({record.precision}: "
        + ", ".join(f"{op} x{count}" for op, count in record.quantized_ops.items())
        + "): \"original\" in these results is that model, not fp32, and each variant quantizes it again on top"
        " (onnxruntime quantizes its dequantized tensors anew). To gate a quantized graph against its fp32"
        " source, give the fp32 graph as the model (e.g. model_file=\"onnx/model.onnx\")"
        for model, record in originals.items()
    ]


def original_precision(results: list[CaseResult]) -> str:
    """The originals' precision as reports name it: "fp32" as exported, else what they are."""
    precisions = sorted({r.original.precision for r in results if r.original is not None}) or ["fp32"]
    return "/".join(precisions)


def _by_test(results: list[CaseResult]) -> dict[str, list[CaseResult]]:
    return _grouped((r.test, r) for r in results)


def _speedup(result: CaseResult) -> str:
    s = result.latency.cpu.speedup
    return f"x{s.value:.2f} ({s.ci_low:.2f}-{s.ci_high:.2f})"


def _nearest_runs(result: CaseResult) -> tuple[str, list["LatencyRun"]] | None:
    """The baseline the case fell back to (its key's, of other CPU models, or the nearest key's): its
    hardware key and runs; None without any."""
    from ..gate.baselines import entry_runs

    record = result.baseline or {}
    if record.get("values") is None:
        return None
    return record["hardware_key"], entry_runs(record["values"])


def _nearest(result: CaseResult) -> str:
    nearest = _nearest_runs(result)
    if nearest is None:
        return "no baseline at all"
    key, runs = nearest
    median = statistics.median(r.speedup for r in runs)
    models = ", ".join(sorted({r.cpu_model for r in runs}))
    return f"x{median:.2f} on {key} ({models}, {len(runs)} run{'s' * (len(runs) > 1)})"


def _folded(test: str, cases: list[CaseResult]) -> str:
    """One line for a test's ungated cases: the range of their cpu speedup here over the nearest
    baseline's (the median of its runs), per baseline key."""
    ratios: dict[str, list[float]] = {}
    for result in cases:
        nearest = _nearest_runs(result)
        if nearest is not None:
            key, runs = nearest
            ratios.setdefault(key, []).append(result.latency.cpu.speedup.value / statistics.median(r.speedup for r in runs))
    ranges = [f"speedup here / on {key}: x{min(values):.2f} to x{max(values):.2f}" for key, values in ratios.items()]
    unmatched = len(cases) - sum(map(len, ratios.values()))
    ranges += [f"{unmatched} with no baseline at all"] if unmatched else []
    return f"  {test}: {len(cases)} cases, {'; '.join(ranges)}"


def _ungated_notes(ungated: list[CaseResult], environment: dict[str, Any], per_case: bool) -> list[str]:
    """Latency recorded, not gated: the speedups beside the nearest baseline's, each case's (`per_case`)
    or one line per test; and what to run to gate it here."""
    if per_case:
        said = "Its cpu speedups (95% CI) beside the nearest baseline's (median of its runs):"
        speedups = [f"  {r.case_id}: {_speedup(r)} here, {_nearest(r)}" for r in ungated]
    else:
        said = ("Per test, its cpu speedups over the nearest baseline's (median of its runs; the markdown and"
                " HTML reports give each case's):")
        speedups = [_folded(test, cases) for test, cases in _by_test(ungated).items()]
    return [
        f"{LATENCY_NOT_GATED}: no baseline runs of this machine (hardware key {environment['hardware_key']}, CPU model"
        f" {environment.get('cpu_model', 'unrecorded')}) for {len(ungated)} cases; accuracy was gated. {said}",
        *speedups,
        f"  To gate latency here, record this machine's runs: `{UPDATE_COMMAND}` on this class of machine"
        " (or take the proposed files written beside the JSON artifact), then review and commit them.",
    ]


def hardware_notes(results: list[CaseResult], environment: dict[str, Any], *, per_case: bool) -> list[str]:
    """What this machine's class means for the verdicts: latency only recorded on a hardware key
    without baselines, with the speedups beside the baseline machine's (`per_case`, for the reports;
    else one line per test, for the terminal); on x86 without VNNI, what int8 bought here and, for
    U8S8 models, the saturation risk and its remedy."""
    key = environment["hardware_key"]
    ungated = [r for r in ungated_latency(results) if r.latency is not None]
    lines = _ungated_notes(ungated, environment, per_case) if ungated else []
    if not environment["saturates_u8s8"]:
        return lines
    quantized = sorted(
        r.latency.wall_speedup.value for r in results if r.latency and r.quantization and r.quantization.quantized_ops
    )
    if quantized:
        lines.append(
            f"int8 without VNNI buys little: this CPU ({key}) ran the int8 variants x{quantized[0]:.2f}-"
            f"{quantized[-1]:.2f} the fp32 speed (wall clock); CPUs with VNNI or AMX gain more (docs/RESULTS.md)."
        )
    risky = [r for r in results if r.saturation_risk]
    if risky:
        lines.append(
            f"u8s8 can saturate here: onnxruntime multiplies u8 activations by s8 weights with vpmaddubsw,"
            f" whose 16-bit sums can clip and cost accuracy; {len(risky)} cases ran U8S8 models unremedied."
            " Remedy: marker saturation_remedy=\"x64quantprecision\" (or ini qbench_saturation_remedy),"
            " or \"u8u8\" / \"reduce_range\" (docs/RESULTS.md compares them)."
        )
    return lines


# ---- terminal ---------------------------------------------------------------------------------------


def summary_lines(results: list[CaseResult], environment: dict[str, Any], top: int = 10) -> list[str]:
    header = ["case", *VERDICT_HEADERS]
    rows = {test: [[r.case_id, *_cells(r)] for r in group] for test, group in _by_test(results).items()}
    widths = [max(map(len, column)) for column in zip(header, *itertools.chain(*rows.values()))]

    def line(cells: list[str]) -> str:
        return "  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    lines = [line(header)]
    for test, test_rows in rows.items():
        lines += [test, *map(line, test_rows)]
    for title, expected in (("failures:", False), ("expected failures (xfail):", True)):
        problems = failure_lines(results, expected=expected)
        if problems:
            lines += [title, *(f"  {p}" for p in problems)]
    confirmed = confirmed_in_run(results)
    if confirmed:
        lines += [f"{CONFIRMED_TITLE}:", *(f"  {c}" for c in confirmed)]
    inconclusive = inconclusive_lines(results)
    if inconclusive:
        lines += ["inconclusive (not failed; measure longer or on a quieter machine):", *(f"  {i}" for i in inconclusive)]
    warnings = _warnings(results)
    if warnings:
        lines += ["warnings:", *(f"  {w}" for w in warnings)]
    for result in mapped_cases(results):
        lines += _label_map_terminal(result)
    sparse = sparse_models(results)
    if sparse:
        lines += ["sparse models:", *(f"  {line}" for line in sparse)]
    fastest = best_lines(runtime_rows(results))
    if fastest:
        lines += [f"{RUNTIMES_TITLE}:", *(f"  {line}" for line in fastest)]
    budgets = budget_lines(results)
    if budgets:
        lines += [f"{BUDGET_TITLE}:", *(f"  {line}" for line in budgets)]
    notes = hardware_notes(results, environment, per_case=False)
    if notes:
        lines += [f"hardware {environment['hardware_key']}:", *(f"  {n}" for n in notes)]
    for test, diagnosis in _diagnosed(results):
        lines += [test, *diagnosis_lines(diagnosis, top)]
    return lines


# ---- markdown -----------------------------------------------------------------------------------------


def markdown(results: list[CaseResult], environment: dict[str, Any], top: int = 10) -> str:
    parts = ["# pytest-qbench report", _environment(environment)]
    for test, group in _by_test(results).items():
        parts += [f"## `{test}`", _parameters(group), "### Non-time metrics", *scoring_lines(group), _non_time_table(group)]
        for result in mapped_cases(group):
            parts += _label_map_markdown(result)
        parts += ["### Time metrics", *_time_tables(group)]
    sparse = sparse_models(results)
    if sparse:
        parts += ["Sparse models:", "\n".join(f"* {_escape(line)}" for line in sparse)]
    parts += _runtimes_markdown(results)
    budgets = budget_lines(results)
    if budgets:
        parts += ["## Throughput within the latency budget", BUDGET_TITLE[0].upper() + BUDGET_TITLE[1:] + ".",
                  "\n".join(f"* {_escape(line)}" for line in budgets)]
    parts += ["## Verdicts", _verdict_table(results)]
    confirmed = confirmed_in_run(results)
    if confirmed:
        parts += [f"Cases {CONFIRMED_TITLE}:", "\n".join(f"* {_escape(c)}" for c in confirmed)]
    inconclusive = inconclusive_lines(results)
    if inconclusive:
        parts += ["Inconclusive (not failed):", "\n".join(f"* {_escape(i)}" for i in inconclusive)]
    warnings = _warnings(results)
    if warnings:
        parts += ["Warnings:", "\n".join(f"* {_escape(w)}" for w in warnings)]
    notes = hardware_notes(results, environment, per_case=True)
    if notes:
        parts += ["## This machine", "\n".join(f"  * {n.strip()}" if n.startswith("  ") else f"* {n}" for n in notes)]
    diagnosed = _diagnosed(results)
    if diagnosed:
        parts.append("## Diagnosis")
        for test, diagnosis in diagnosed:
            parts += _diagnosis_markdown(test, diagnosis, top)
    return "\n\n".join(parts) + "\n"


BUDGET_TITLE = ("throughput within the latency budget (wall time: the most sequences/s whose p90 per request"
                " stays within the budget, across batch sizes and streams)")


def _budget_point(throughput: BudgetThroughput) -> str:
    best = throughput.best
    if best is None:
        return "none within the budget"
    return f"{best.throughput:.1f}/s (batch {best.batch_size} x {best.streams} stream{'s' * (best.streams > 1)}, p90 {best.p90_ms:.1f} ms)"


def budgeted(results: list[CaseResult]) -> list[CaseResult]:
    """The cases that searched their throughput within a latency budget."""
    return [r for r in results if r.latency is not None and r.latency.budget is not None]


def budget_line(result: CaseResult) -> str:
    """What a budgeted case's search found, original and optimized."""
    budget = result.latency.budget
    gain = ""
    if budget.original.best is not None and budget.optimized.best is not None:
        gain = f", x{budget.optimized.best.throughput / budget.original.best.throughput:.2f}"
    threads = f"{budget.threads} thread{'s' * (budget.threads > 1)}"
    return (f"{result.case_id} (p90 <= {budget.budget_ms:g} ms, {threads}): original"
            f" {_budget_point(budget.original)}, optimized {_budget_point(budget.optimized)}{gain}")


def budget_lines(results: list[CaseResult]) -> list[str]:
    """One line per case that searched its throughput within a latency budget."""
    return [budget_line(r) for r in budgeted(results)]


def _runtimes_markdown(results: list[CaseResult]) -> list[str]:
    rows = runtime_rows(results)
    if not rows:
        return []
    parts = ["## Runtimes side by side", RUNTIMES_TITLE[0].upper() + RUNTIMES_TITLE[1:] + "."]
    for model in dict.fromkeys(r.model for r in rows):
        parts += [f"`{model}`", _table(["shape", *RUNTIME_HEADERS], [[r.shape, *runtime_cells(r)] for r in rows if r.model == model])]
    return parts + ["\n".join(f"* {line}" for line in best_lines(rows))]


def merged_markdown(merged: "Merged") -> str:
    """The report of a merge (gate/merge.py): each hardware key's, with what is missing."""
    parts = [f"# pytest-qbench: merged verdict **{merged.verdict}**"]
    for key, environment in merged.environments.items():
        text = markdown([r for r in merged.results if r.hardware_key == key], environment)
        text = re.sub(r"(?m)^(#+) ", r"#\1 ", text)  # one level down, under the key's heading
        parts.append(text.replace("## pytest-qbench report", f"## Hardware key `{key}`", 1))
        if key in merged.skipped:
            parts.append("Skipped by pytest (ran, no result):\n" + "\n".join(f"* `{n}`" for n in merged.skipped[key]))
        if key in merged.missing:
            parts.append("Missing (selected, not run by any shard):\n" + "\n".join(f"* `{n}`" for n in merged.missing[key]))
    return "\n\n".join(parts) + "\n"


def _environment(env: dict[str, Any]) -> str:
    libraries = ", ".join(f"{name} {version}" for name, version in sorted(env["libraries"].items()) if version)
    return "\n".join([
        f"* **Hardware:** `{env['brand']}`, {env['physical_cores']} physical / {env['logical_cores']} logical cores",
        f"* **Hardware key:** `{env['hardware_key']}`",
        f"* **Software:** Python {env['python']}, {libraries}",
        f"* **Commit:** `{env['git_commit'] or 'unknown'}`, **created:** {env['created']}",
    ])


def _parameters(results: list[CaseResult]) -> str:
    flat = [flatten(r.variant) for r in results]
    keys = dict.fromkeys(k for f in flat for k in f)
    values = {k: list(dict.fromkeys(_code(f.get(k)) for f in flat)) for k in keys}  # distinct values, in order
    fixed = [f"* **{k}**: {v[0]}" for k, v in values.items() if len(v) == 1]
    benchmarked = [f"* **{_CARD_NAMES.get(k, k)}**: {', '.join(v)}" for k, v in values.items() if len(v) > 1]
    lines = [f"**model_name_or_path**: `{results[0].model}` ({original_precision(results)})"]
    for title, items in (("Fixed parameters:", fixed), ("Benchmarked parameters:", benchmarked)):
        if items:
            lines += ["", title, *items]
    return "\n".join(lines)


def _code(value: Any) -> str:
    return f"`{value}`" if isinstance(value, str) else f"`{value!r}`"


def _variants(results: list[CaseResult]) -> dict[str, list[CaseResult]]:
    return _grouped((repr(sorted(flatten(r.variant).items())), r) for r in results)


def _variant_cells(result: CaseResult) -> list[str]:
    operators = result.variant.get("quantized_file") or list(result.variant["operators"])  # given: the file
    return [_code(result.variant["approach"]), _code(operators)]


_AVERAGES = {
    "micro": "micro-averaged over entities (seqeval)",
    "macro": "macro-averaged over classes (scikit-learn)",
    "question": "of the best gold answer averaged over questions (the official SQuAD v1.1 script; accuracy is its exact match)",
}


def scoring_lines(results: list[CaseResult]) -> list[str]:
    """How the scores were computed, once per task, scoring mode and split size: tasks average differently."""
    scored = {}
    for result in results:
        if result.accuracy_original is not None:
            acc = result.accuracy_original
            scored.setdefault((acc.task, acc.scoring, acc.num_samples), acc)
    return [
        f"Scored as {acc.task}: precision, recall and F1 {_AVERAGES[acc.average]}"
        f"{', strict IOB2' if acc.scoring == 'strict' else ''}; accuracy over {acc.unit}s; {acc.num_samples} samples."
        for acc in scored.values()
    ]


def _non_time_table(results: list[CaseResult]) -> str:
    rows = []
    for group in _variants(results).values():
        # accuracy does not depend on the input shape: the variant's first measured case stands for all
        result = next((r for r in group if r.accuracy_optimized is not None), group[0])
        cells = _variant_cells(result)
        for metric in ACCURACY_METRICS:
            cells += ["\\|"] + [
                _NONE if acc is None else f"{getattr(acc, metric):.3f}"
                for acc in (result.accuracy_original, result.accuracy_optimized)
            ]
        rows.append(cells)
    return _table(NON_TIME_HEADERS, rows)


# ---- label maps ---------------------------------------------------------------------------------------

LABEL_MAP_HEADERS = ["name -> scored as", "predicted", "gold"]


def mapped_cases(results: list[CaseResult]) -> list[CaseResult]:
    """The first case of each model and evaluation setup scored through a label_map: what the map did
    to its original model's predictions and to the dataset stands for all its cases."""
    first: dict[tuple[str, str], CaseResult] = {}
    for r in results:
        if r.accuracy_original is not None and r.accuracy_original.label_map is not None:
            first.setdefault((r.model, json.dumps(r.variant.get("evaluation"), sort_keys=True)), r)
    return list(first.values())


def _label_map_title(result: CaseResult) -> str:
    effect: LabelMapEffect = result.accuracy_original.label_map
    merge = result.variant.get("evaluation", {}).get("label_map_merge")
    rule = {True: "; adjacent parts of one entity merged", False: "; parts not merged"}.get(merge, "")
    if effect.unit != "span":
        rule = ""
    return f"label_map on {result.model}: {effect.unit}s of each name (the original model, {result.case_id}){rule}"


def label_map_rows(effect: LabelMapEffect) -> list[list[str]]:
    """A row per name that either side has spans of: "n" or "n (k joined)" on each side."""
    def count(units: int, joined: int) -> str:
        return f"{units} ({joined} joined)" if joined else str(units)

    return [
        [f"{n.name} -> {n.scored_as}", count(n.predicted, n.predicted_joined), count(n.gold, n.gold_joined)]
        for n in effect.names if n.predicted or n.gold
    ]


def _label_map_notes(effect: LabelMapEffect) -> list[str]:
    unused = [n.name for n in effect.names if not (n.predicted or n.gold)]
    notes = [f"no {effect.unit}s on either side: {', '.join(unused)}"] if unused else []
    if effect.unit == "span":
        predicted = sum(n.predicted_joined for n in effect.names)
        gold = sum(n.gold_joined for n in effect.names)
        notes.append(f"merges: {predicted} predicted and {gold} gold spans joined the entity before them")
    return notes


def label_map_text(result: CaseResult) -> str:
    """The title and the notes above a label map's table, as sentences (the markdown and HTML reports)."""
    notes = "".join(f" {note[0].upper() + note[1:]}." for note in _label_map_notes(result.accuracy_original.label_map))
    return f"{_label_map_title(result)}.{notes}"


def _label_map_terminal(result: CaseResult) -> list[str]:
    effect = result.accuracy_original.label_map
    rows = [LABEL_MAP_HEADERS, *label_map_rows(effect)]
    widths = [max(map(len, column)) for column in zip(*rows)]
    table = ["  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in rows]
    return [_label_map_title(result) + ":", *table, *(f"  {note}" for note in _label_map_notes(effect))]


def _label_map_markdown(result: CaseResult) -> list[str]:
    effect = result.accuracy_original.label_map
    rows = [[f"`{cells[0]}`", *cells[1:]] for cells in label_map_rows(effect)]
    return [_escape(label_map_text(result)), _table(LABEL_MAP_HEADERS, rows)]


def _time_tables(results: list[CaseResult]) -> list[str]:
    measured = [r.latency for r in results if r.latency is not None]
    parts = []
    if measured:
        seconds = sum(m.seconds for m in measured) / len(measured)
        parts.append(
            f"Time benchmarks ran {seconds:.1f} seconds per config on average, original and optimized"
            f" interleaved in one process. Latency and throughput: wall clock at {measured[0].threads} threads;"
            " cpu_time: median CPU time per call on one thread, the signal the gate compares."
        )
    shapes = _grouped(((r.batch_size, r.sequence_length), _time_row(r)) for r in results)
    for (batch_size, length), rows in sorted(shapes.items()):
        parts.append(f"Below, time metrics for batch size = {batch_size}, input length = {length}.")
        parts.append(_table(TIME_HEADERS, rows))
    return parts


def _time_row(result: CaseResult) -> list[str]:
    latency = result.latency
    stats = [None, None] if latency is None else [latency.original, latency.optimized]
    cpu = [_NONE, _NONE] if latency is None else [f"{latency.cpu.original_ms:.2f}", f"{latency.cpu.optimized_ms:.2f}"]
    return [
        *_variant_cells(result),
        "\\|", *(_NONE if s is None else f"{s.mean_ms:.2f}" for s in stats),
        "\\|", *(_NONE if s is None else f"{s.throughput:.2f}" for s in stats),
        "\\|", *cpu,
    ]


def _verdict_table(results: list[CaseResult]) -> str:
    headers = ["test", "case", *VERDICT_HEADERS, "failed checks"]
    rows = [
        [f"`{r.test}`", f"`{r.case_id}`", *_cells(r), "<br>".join(map(_escape, _problems(r)))]
        for r in results
    ]
    return _table(headers, rows)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    def row(cells: list[str]) -> str:
        return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"

    align = [":" + "-" * max(len(h) - 2, 1) + ":" for h in headers]
    return "\n".join([row(headers), row(align), *map(row, rows)])


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


# ---- GitHub Actions -------------------------------------------------------------------------------------


def github_annotations(results: list[CaseResult]) -> list[str]:
    """`::error` per failed check or failed measurement, one `::warning` per distinct skip reason."""
    lines = []
    for r in (r for r in results if not r.expected_failure):
        file = r.nodeid.split("::", 1)[0]
        if r.error is not None:
            lines.append(_annotation("error", f"qbench {r.case_id}: could not measure", r.error, file))
        for c in r.checks:
            if c.status in ("fail", "error"):
                lines.append(_annotation("error", f"qbench {r.case_id}: {c.metric} vs {c.against}", c.reason, file))
            elif c.status == "inconclusive":
                lines.append(_annotation("warning", f"qbench {r.case_id}: {c.metric} inconclusive", c.reason, file))
    for reason, case_ids in _skips(results).items():
        lines.append(_annotation("warning", "qbench: check skipped", _with_cases(reason, case_ids)))
    return lines


def _annotation(kind: str, title: str, message: str, file: str | None = None) -> str:
    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    props = ([f"file={prop(file)}"] if file else []) + [f"title={prop(title)}"]
    return f"::{kind} {','.join(props)}::{data(message)}"


# ---- diagnosis --------------------------------------------------------------------------------------

NODE_HEADERS = ["rank", "node", "op", "family", "layer", "SQNR dB", "added noise dB", "range"]


def _db(value: float | None) -> str:
    return _NONE if value is None else f"{value:.1f}"


def node_rows(diagnosis: Diagnosis, top: int) -> list[list[str]]:
    return [
        [str(rank), n.node, n.op_type, n.family, n.layer, _db(n.sqnr_db), _db(n.added_noise_db),
         "out of scale" if n.out_of_scale else ""]
        for rank, n in enumerate(diagnosis.nodes[:top], 1)
    ]


def _preflight_line(diagnosis: Diagnosis) -> str:
    p = diagnosis.preflight
    simulated = _NONE if p.simulated_f1 is None else f"{p.simulated_f1:.4f}"
    return (f"pre-flight on {p.samples} sentences: F1 original {p.original_f1:.4f}, int8 simulated in float"
            f" {simulated}, int8 on this CPU's kernels {p.kernel_f1:.4f}")


def _ranges_line(diagnosis: Diagnosis) -> str | None:
    if not diagnosis.ranges:
        return None
    r = diagnosis.ranges[0]
    more = f" and {len(diagnosis.ranges) - 1} more" if len(diagnosis.ranges) > 1 else ""
    return (f"out-of-scale ranges (|range| > {RANGE_LIMIT:g}): {r.tensor} [{r.low:.3g}, {r.high:.3g}] ({r.source}),"
            f" at {', '.join(r.nodes) or 'no quantized node'}{more}")


def repair_line(repair: RepairResult) -> str:
    verdict = "met" if repair.met else "NOT met: the best found"
    speed = "" if repair.speedup is None else f", cpu speedup x{repair.speedup:.2f}"
    spent = ", evaluation cap reached" if repair.budget_spent else ""
    return (f"repair: {repair.exclusion.marker}: F1 {repair.f1:.4f} on the full split (target {repair.target_f1:.4f}:"
            f" {verdict}){speed}; {repair.evaluations} evaluations (search on {repair.samples} sentences){spent},"
            f" {repair.seconds:.0f} s")


def diagnosis_lines(diagnosis: Diagnosis, top: int) -> list[str]:
    """The diagnosis as the terminal shows it: cause, pre-flight, ranges, ranked nodes, groups, repair."""
    output = "" if diagnosis.output_sqnr_db is None else f"; output SQNR {diagnosis.output_sqnr_db:.1f} dB"
    lines = [
        f"diagnosis of {diagnosis.case_id} ({diagnosis.sentences} sentences in {diagnosis.batches} batches,"
        f" {diagnosis.padded_fraction:.0%} padding{output}; {diagnosis.seconds:.0f} s):",
        f"  cause: {diagnosis.preflight.explanation}",
        f"  {_preflight_line(diagnosis)}",
    ]
    ranges = _ranges_line(diagnosis)
    if ranges:
        lines.append(f"  {ranges}")
    rows = node_rows(diagnosis, top)
    widths = [max(map(len, column)) for column in zip(NODE_HEADERS, *rows)]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [NODE_HEADERS, *rows]]
    groups = ", ".join(f"{g.family} {g.layer} ({g.nodes} nodes, {_db(g.max_added_noise_db)} dB)" for g in diagnosis.groups[:5])
    lines.append(f"  family x layer, worst added noise first: {groups}")
    if diagnosis.repair is not None:
        lines.append(f"  {repair_line(diagnosis.repair)}")
    return lines


def _diagnosed(results: list[CaseResult]) -> list[tuple[str, Diagnosis]]:
    """(test, diagnosis) once per diagnosed variant: its shapes share one."""
    seen = {}
    for r in results:
        if r.diagnosis is not None:
            seen.setdefault((r.test, r.diagnosis.case_id), r.diagnosis)
    return [(test, d) for (test, _), d in seen.items()]


def _diagnosis_markdown(test: str, diagnosis: Diagnosis, top: int) -> list[str]:
    facts = [
        f"* **Cause:** {_escape(diagnosis.preflight.explanation)}",
        f"* {_preflight_line(diagnosis)}",
        f"* {diagnosis.sentences} sentences in {diagnosis.batches} batches, {diagnosis.padded_fraction:.0%} padding;"
        f" output SQNR {_db(diagnosis.output_sqnr_db)} dB; {diagnosis.seconds:.0f} s",
    ]
    ranges = _ranges_line(diagnosis)
    if ranges:
        facts.append(f"* {_escape(ranges)}")
    if diagnosis.repair is not None:
        facts.append(f"* **{_escape(repair_line(diagnosis.repair))}**")
    rows = [[*cells[:1], f"`{cells[1]}`", *cells[2:]] for cells in node_rows(diagnosis, top)]
    groups = [[g.family, g.layer, str(g.nodes), _db(g.worst_sqnr_db), _db(g.max_added_noise_db)] for g in diagnosis.groups]
    return [
        f"### Diagnosis: `{test}` {diagnosis.case_id}", "\n".join(facts),
        _table(NODE_HEADERS, rows),
        _table(["family", "layer", "nodes", "worst SQNR dB", "max added noise dB"], groups),
    ]
