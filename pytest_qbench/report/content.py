"""What every report format says: the verdict cells, failures, inconclusive and confirmed cases,
warnings, hardware notes, label maps, budgets and the diagnosis, as cells and lines; the formats
(terminal.py, markdown.py, annotations.py, html.py) lay them out."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from ..diagnose.diagnosis import RANGE_LIMIT
from ..gate.baselines import UPDATE_COMMAND
from ..gate.rules import LATENCY_NOT_GATED
from ..results import (
    AccuracyResult,
    BudgetResult,
    BudgetThroughput,
    CaseResult,
    Diagnosis,
    Environment,
    LabelMapEffect,
    LatencyRun,
    Metric,
    RepairResult,
    Status,
)

VERDICT_HEADERS = ["f1 original -> optimized", "cpu speedup (CI)", "wall speedup", "verdict"]

NONE = "-"

SPARSE_NOTE = 0.05  # weight sparsity from which the reports name it

K = TypeVar("K")

V = TypeVar("V")


def verdict_cells(result: CaseResult) -> list[str]:
    """The VERDICT_HEADERS cells: F1 original -> optimized, the gated speedup with its CI, the
    wall-clock speedup, the verdict."""
    original, optimized = result.accuracy_original, result.accuracy_optimized
    f1 = NONE if original is None or optimized is None else f"{original.f1:.4f} -> {optimized.f1:.4f}"
    cpu = wall = NONE
    if result.latency is not None:
        s = result.latency.cpu.speedup
        cpu = f"{s.value:.2f} ({s.ci_low:.2f} to {s.ci_high:.2f})"
        wall = f"{result.latency.wall_speedup.value:.2f}"
    return [f1, cpu, wall, str(result.verdict)]


def case_problems(result: CaseResult) -> list[str]:
    errors = [] if result.error is None else [f"could not measure: {result.error}"]
    return errors + [str(c) for c in result.checks if c.status.failing]


def grouped(pairs: Iterable[tuple[K, V]]) -> dict[K, list[V]]:
    """The values of each key, keys in first-seen order."""
    groups: dict[K, list[V]] = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return groups


def with_cases(message: str, case_ids: list[str]) -> str:
    cases = ", ".join(case_ids) if len(case_ids) <= 3 else f"{len(case_ids)} cases"
    return f"{message} [{cases}]"


def skips_by_reason(results: list[CaseResult], *, ungated: bool = True) -> dict[str, list[str]]:
    """reason -> the case ids it was said of, so a warning true of many cases is shown once;
    without the latency checks skipped for a hardware-key mismatch unless `ungated`."""
    return grouped(
        (c.reason, r.case_id) for r in results for c in r.checks
        if c.status is Status.SKIP and (ungated or not c.latency_not_gated)
    )


def failure_lines(results: list[CaseResult], *, expected: bool = False) -> list[str]:
    """`case: problem` per failed check or failed measurement, of the xfail cases if `expected`, else of the others."""
    return [f"{r.case_id}: {p}" for r in results if r.expected_failure == expected for p in case_problems(r)]


def inconclusive_lines(results: list[CaseResult]) -> list[str]:
    return [f"{r.case_id}: {c.reason}" for r in results for c in r.checks if c.status is Status.INCONCLUSIVE]


CONFIRMED_TITLE = ("measured again in fresh processes (a slow session only slows: judged on the best of them,"
                   " failed only when each fails)")


def confirmed_in_run(results: list[CaseResult]) -> list[str]:
    """The cases whose first look at latency did not pass, with each measurement, the best and the verdict
    (an update's run measures every case again and judges no speedup: none of its cases is listed)."""
    return [f"{r.case_id}: cpu speedups {', '.join(f'{m.speedup.value:.3f}' for m in r.latency.measurements)}"
            f" -> best {r.latency.best.speedup.value:.3f}: {r.verdict}"
            for r in results if r.latency is not None and r.latency.measurements
            and any(c.metric is Metric.CPU_SPEEDUP for c in r.checks)]


def warning_lines(results: list[CaseResult]) -> list[str]:
    notes = grouped((r.quantization.note, r.case_id) for r in results if r.quantization and r.quantization.note)
    sparse_off = grouped((f"sparse weight decompression {r.sparse_decompression}", r.case_id) for r in results
                          if r.sparse_decompression and r.sparse_decompression.startswith("off"))
    # Ungated latency gets its own section (hardware_notes), with the speedups.
    found = {**skips_by_reason(results, ungated=False), **notes, **sparse_off}
    return [with_cases(message, ids) for message, ids in found.items()] + _prequantized(results)


def sparse_models(results: list[CaseResult]) -> list[str]:
    """One note per model whose linear weights are mostly zero (a pruned model): say how sparse."""
    sparse = {r.model: r.original.weight_sparsity for r in results
              if r.original is not None and (r.original.weight_sparsity or 0) >= SPARSE_NOTE}
    return [f"{model}: {share:.1%} of its MatMul/Gemm weights are zero (a pruned model)"
            for model, share in sparse.items()]


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


def by_test(results: list[CaseResult]) -> dict[str, list[CaseResult]]:
    return grouped((r.test, r) for r in results)


def _speedup(result: CaseResult) -> str:
    if result.latency is None:
        return "not measured"
    s = result.latency.cpu.speedup
    return f"x{s.value:.2f} ({s.ci_low:.2f}-{s.ci_high:.2f})"


def _nearest_runs(result: CaseResult) -> tuple[str, list[LatencyRun]] | None:
    """The baseline the case fell back to (its key's, of other CPU models, or the nearest key's): its
    hardware key and runs; None without any."""
    baseline = result.baseline
    if baseline is None or baseline.values is None or baseline.hardware_key is None:
        return None
    return baseline.hardware_key, baseline.runs


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
        if nearest is not None and result.latency is not None:
            key, runs = nearest
            ratio = result.latency.cpu.speedup.value / statistics.median(r.speedup for r in runs)
            ratios.setdefault(key, []).append(ratio)
    ranges = [f"speedup here / on {key}: x{min(values):.2f} to x{max(values):.2f}" for key, values in ratios.items()]
    unmatched = len(cases) - sum(map(len, ratios.values()))
    ranges += [f"{unmatched} with no baseline at all"] if unmatched else []
    return f"  {test}: {len(cases)} cases, {'; '.join(ranges)}"


def _ungated_notes(ungated: list[CaseResult], environment: Environment, per_case: bool) -> list[str]:
    """Latency recorded, not gated: the speedups beside the nearest baseline's, each case's (`per_case`)
    or one line per test; and what to run to gate it here."""
    if per_case:
        said = "Its cpu speedups (95% CI) beside the nearest baseline's (median of its runs):"
        speedups = [f"  {r.case_id}: {_speedup(r)} here, {_nearest(r)}" for r in ungated]
    else:
        said = ("Per test, its cpu speedups over the nearest baseline's (median of its runs; the markdown and"
                " HTML reports give each case's):")
        speedups = [_folded(test, cases) for test, cases in by_test(ungated).items()]
    return [
        f"{LATENCY_NOT_GATED}: no baseline runs of this machine (hardware key {environment.hardware_key}, CPU model"
        f" {environment.cpu_model or 'unrecorded'}) for {len(ungated)} cases; accuracy was gated. {said}",
        *speedups,
        f"  To gate latency here, record this machine's runs: `{UPDATE_COMMAND}` on this class of machine"
        " (or take the proposed files written beside the JSON artifact), then review and commit them.",
    ]


def hardware_notes(results: list[CaseResult], environment: Environment, *, per_case: bool) -> list[str]:
    """What this machine's class means for the verdicts: latency only recorded on a hardware key
    without baselines, with the speedups beside the baseline machine's (`per_case`, for the reports;
    else one line per test, for the terminal); on x86 without VNNI, what int8 bought here and, for
    U8S8 models, the saturation risk and its remedy."""
    key = environment.hardware_key
    ungated = [r for r in results if r.latency_not_gated and r.latency is not None]
    lines = _ungated_notes(ungated, environment, per_case) if ungated else []
    if not environment.saturates_u8s8:
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


_AVERAGES = {
    "micro": "micro-averaged over entities (seqeval)",
    "macro": "macro-averaged over classes (scikit-learn)",
    "question": "of the best gold answer averaged over questions (the official SQuAD v1.1 script; accuracy is its"
                " exact match)",
}


def scoring_lines(results: list[CaseResult]) -> list[str]:
    """How the scores were computed, once per task, scoring mode and split size: tasks average differently."""
    scored: dict[tuple[str, str, int], AccuracyResult] = {}
    for result in results:
        if result.accuracy_original is not None:
            acc = result.accuracy_original
            scored.setdefault((acc.task, acc.scoring, acc.num_samples), acc)
    return [
        f"Scored as {acc.task}: precision, recall and F1 {_AVERAGES[acc.average]}"
        f"{', strict IOB2' if acc.scoring == 'strict' else ''}; accuracy over {acc.unit}s; {acc.num_samples} samples."
        for acc in scored.values()
    ]


LABEL_MAP_HEADERS = ["name -> scored as", "predicted", "gold"]


@dataclass(frozen=True)
class MappedCase:
    """A case scored through a label_map, and what the map did to its original model's scoring."""

    result: CaseResult
    effect: LabelMapEffect


def mapped_cases(results: list[CaseResult]) -> list[MappedCase]:
    """The first case of each model and evaluation setup scored through a label_map: what the map did
    to its original model's predictions and to the dataset stands for all its cases."""
    first: dict[tuple[str, str], MappedCase] = {}
    for r in results:
        if r.accuracy_original is not None and r.accuracy_original.label_map is not None:
            key = (r.model, json.dumps(r.parameters.evaluation, sort_keys=True))
            first.setdefault(key, MappedCase(r, r.accuracy_original.label_map))
    return list(first.values())


def label_map_title(mapped: MappedCase) -> str:
    result, effect = mapped.result, mapped.effect
    merge: bool | None = (result.parameters.evaluation or {}).get("label_map_merge")
    rule = {True: "; adjacent parts of one entity merged", False: "; parts not merged", None: ""}.get(merge, "")
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


def label_map_notes(effect: LabelMapEffect) -> list[str]:
    unused = [n.name for n in effect.names if not (n.predicted or n.gold)]
    notes = [f"no {effect.unit}s on either side: {', '.join(unused)}"] if unused else []
    if effect.unit == "span":
        predicted = sum(n.predicted_joined for n in effect.names)
        gold = sum(n.gold_joined for n in effect.names)
        notes.append(f"merges: {predicted} predicted and {gold} gold spans joined the entity before them")
    return notes


def label_map_text(mapped: MappedCase) -> str:
    """The title and the notes above a label map's table, as sentences (the markdown and HTML reports)."""
    notes = "".join(f" {note[0].upper() + note[1:]}." for note in label_map_notes(mapped.effect))
    return f"{label_map_title(mapped)}.{notes}"


BUDGET_TITLE = ("throughput within the latency budget (wall time: the most sequences/s whose p90 per request"
                " stays within the budget, across batch sizes and streams)")


def _budget_point(throughput: BudgetThroughput) -> str:
    best = throughput.best
    if best is None:
        return "none within the budget"
    return (f"{best.throughput:.1f}/s (batch {best.batch_size} x {best.streams} stream{'s' * (best.streams > 1)},"
            f" p90 {best.p90_ms:.1f} ms)")


@dataclass(frozen=True)
class BudgetedCase:
    """A case that searched its throughput within a latency budget, and what the search found."""

    result: CaseResult
    budget: BudgetResult


def budgeted(results: list[CaseResult]) -> list[BudgetedCase]:
    """The cases that searched their throughput within a latency budget."""
    return [BudgetedCase(r, r.latency.budget) for r in results
            if r.latency is not None and r.latency.budget is not None]


def budget_line(budgeted_case: BudgetedCase) -> str:
    """What a budgeted case's search found, original and optimized."""
    result, budget = budgeted_case.result, budgeted_case.budget
    gain = ""
    if budget.original.best is not None and budget.optimized.best is not None:
        gain = f", x{budget.optimized.best.throughput / budget.original.best.throughput:.2f}"
    threads = f"{budget.threads} thread{'s' * (budget.threads > 1)}"
    return (f"{result.case_id} (p90 <= {budget.budget_ms:g} ms, {threads}): original"
            f" {_budget_point(budget.original)}, optimized {_budget_point(budget.optimized)}{gain}")


def budget_lines(results: list[CaseResult]) -> list[str]:
    """One line per case that searched its throughput within a latency budget."""
    return [budget_line(r) for r in budgeted(results)]


NODE_HEADERS = ["rank", "node", "op", "family", "layer", "SQNR dB", "added noise dB", "range"]


def decibels(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}"


def node_rows(diagnosis: Diagnosis, top: int) -> list[list[str]]:
    return [
        [str(rank), n.node, n.op_type, n.family, n.layer, decibels(n.sqnr_db), decibels(n.added_noise_db),
         "out of scale" if n.out_of_scale else ""]
        for rank, n in enumerate(diagnosis.nodes[:top], 1)
    ]


def preflight_line(diagnosis: Diagnosis) -> str:
    p = diagnosis.preflight
    simulated = NONE if p.simulated_f1 is None else f"{p.simulated_f1:.4f}"
    return (f"pre-flight on {p.samples} sentences: F1 original {p.original_f1:.4f}, int8 simulated in float"
            f" {simulated}, int8 on this CPU's kernels {p.kernel_f1:.4f}")


def ranges_line(diagnosis: Diagnosis) -> str | None:
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


def diagnoses(results: list[CaseResult]) -> list[tuple[str, Diagnosis]]:
    """(test, diagnosis) once per diagnosed variant: its shapes share one."""
    seen: dict[tuple[str, str], Diagnosis] = {}
    for r in results:
        if r.diagnosis is not None:
            seen.setdefault((r.test, r.diagnosis.case_id), r.diagnosis)
    return [(test, d) for (test, _), d in seen.items()]
