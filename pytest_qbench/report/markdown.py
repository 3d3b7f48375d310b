"""The markdown report, in the layout of the reference benchmark card (Optimum's CoNLL-2003 card),
and the report of a merge."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..results import SCORES, CaseResult, Diagnosis, Environment
from ..specs import DiagnosisSpec
from .content import (
    BUDGET_TITLE,
    CONFIRMED_TITLE,
    LABEL_MAP_HEADERS,
    NODE_HEADERS,
    NONE,
    VERDICT_HEADERS,
    MappedCase,
    budget_lines,
    by_test,
    case_problems,
    confirmed_in_run,
    decibels,
    diagnoses,
    grouped,
    hardware_notes,
    inconclusive_lines,
    label_map_rows,
    label_map_text,
    mapped_cases,
    node_rows,
    original_precision,
    preflight_line,
    ranges_line,
    repair_line,
    scoring_lines,
    sparse_models,
    verdict_cells,
    warning_lines,
)
from .runtimes import RUNTIME_HEADERS, RUNTIMES_TITLE, best_lines, runtime_cells, runtime_rows

if TYPE_CHECKING:
    from ..gate.merge import Merged


NON_TIME_HEADERS = [
    "quantization_approach", "operators_to_quantize",
    *[h for metric in SCORES for h in ("", f"{metric} (original)", f"{metric} (optimized)")],
]

TIME_HEADERS = [
    "quantization_approach", "operators_to_quantize",
    "", "latency_mean (original, ms)", "latency_mean (optimized, ms)",
    "", "throughput (original, /s)", "throughput (optimized, /s)",
    "", "cpu_time (original, ms)", "cpu_time (optimized, ms)",
]

_CARD_NAMES = {"approach": "quantization_approach", "operators": "operators_to_quantize"}


def markdown(results: list[CaseResult], environment: Environment, top: int = DiagnosisSpec.top) -> str:
    parts = ["# pytest-qbench report", _environment(environment)]
    for test, group in by_test(results).items():
        parts += [f"## `{test}`", _parameters(group), "### Non-time metrics", *scoring_lines(group),
                  _non_time_table(group)]
        for mapped in mapped_cases(group):
            parts += _label_map_markdown(mapped)
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
    warnings = warning_lines(results)
    if warnings:
        parts += ["Warnings:", "\n".join(f"* {_escape(w)}" for w in warnings)]
    notes = hardware_notes(results, environment, per_case=True)
    if notes:
        parts += ["## This machine", "\n".join(f"  * {n.strip()}" if n.startswith("  ") else f"* {n}" for n in notes)]
    diagnosed = diagnoses(results)
    if diagnosed:
        parts.append("## Diagnosis")
        for test, diagnosis in diagnosed:
            parts += _diagnosis_markdown(test, diagnosis, top)
    return "\n\n".join(parts) + "\n"


def merged_markdown(merged: Merged) -> str:
    """The report of a merge (gate/merge.py): each hardware key's, with what is missing."""
    parts = [f"# pytest-qbench: merged verdict **{merged.verdict}**"]
    for key, environment in merged.environments.items():
        text = markdown([r for r in merged.results if r.hardware_key == key], environment)
        text = re.sub(r"(?m)^(#+) ", r"#\1 ", text)  # one level down, under the key's heading
        parts.append(text.replace("## pytest-qbench report", f"## Hardware key `{key}`", 1))
        if key in merged.skipped:
            parts.append("Skipped by pytest (ran, no result):\n" + "\n".join(f"* `{n}`" for n in merged.skipped[key]))
        if key in merged.missing:
            parts.append("Missing (selected, not run by any shard):\n"
                         + "\n".join(f"* `{n}`" for n in merged.missing[key]))
    return "\n\n".join(parts) + "\n"


def _environment(env: Environment) -> str:
    libraries = ", ".join(f"{name} {version}" for name, version in sorted(env.libraries.items()) if version)
    return "\n".join([
        f"* **Hardware:** `{env.brand}`, {env.physical_cores} physical / {env.logical_cores} logical cores",
        f"* **Hardware key:** `{env.hardware_key}`",
        f"* **Software:** Python {env.python}, {libraries}",
        f"* **Commit:** `{env.git_commit or 'unknown'}`, **created:** {env.created}",
    ])


def _parameters(results: list[CaseResult]) -> str:
    flat = [r.parameters.flat() for r in results]
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
    return grouped((repr(sorted(r.parameters.flat().items())), r) for r in results)


def _variant_cells(result: CaseResult) -> list[str]:
    operators = result.parameters.quantized_file or list(result.parameters.operators)  # given: the file
    return [_code(result.parameters.approach), _code(operators)]


def _non_time_table(results: list[CaseResult]) -> str:
    rows = []
    for group in _variants(results).values():
        # accuracy does not depend on the input shape: the variant's first measured case stands for all
        result = next((r for r in group if r.accuracy_optimized is not None), group[0])
        cells = _variant_cells(result)
        for metric in SCORES:
            cells += ["\\|"] + [
                NONE if acc is None else f"{getattr(acc, metric):.3f}"
                for acc in (result.accuracy_original, result.accuracy_optimized)
            ]
        rows.append(cells)
    return _table(NON_TIME_HEADERS, rows)


def _label_map_markdown(mapped: MappedCase) -> list[str]:
    rows = [[f"`{cells[0]}`", *cells[1:]] for cells in label_map_rows(mapped.effect)]
    return [_escape(label_map_text(mapped)), _table(LABEL_MAP_HEADERS, rows)]


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
    shapes = grouped(((r.batch_size, r.sequence_length), _time_row(r)) for r in results)
    for (batch_size, length), rows in sorted(shapes.items()):
        parts.append(f"Below, time metrics for batch size = {batch_size}, input length = {length}.")
        parts.append(_table(TIME_HEADERS, rows))
    return parts


def _time_row(result: CaseResult) -> list[str]:
    latency = result.latency
    stats = [None, None] if latency is None else [latency.original, latency.optimized]
    cpu = [NONE, NONE] if latency is None else [f"{latency.cpu.original_ms:.2f}", f"{latency.cpu.optimized_ms:.2f}"]
    return [
        *_variant_cells(result),
        "\\|", *(NONE if s is None else f"{s.mean_ms:.2f}" for s in stats),
        "\\|", *(NONE if s is None else f"{s.throughput:.2f}" for s in stats),
        "\\|", *cpu,
    ]


def _verdict_table(results: list[CaseResult]) -> str:
    headers = ["test", "case", *VERDICT_HEADERS, "failed checks"]
    rows = [
        [f"`{r.test}`", f"`{r.case_id}`", *verdict_cells(r), "<br>".join(map(_escape, case_problems(r)))]
        for r in results
    ]
    return _table(headers, rows)


def _runtimes_markdown(results: list[CaseResult]) -> list[str]:
    rows = runtime_rows(results)
    if not rows:
        return []
    parts = ["## Runtimes side by side", RUNTIMES_TITLE[0].upper() + RUNTIMES_TITLE[1:] + "."]
    for model in dict.fromkeys(r.model for r in rows):
        parts += [f"`{model}`",
                  _table(["shape", *RUNTIME_HEADERS], [[r.shape, *runtime_cells(r)] for r in rows if r.model == model])]
    return parts + ["\n".join(f"* {line}" for line in best_lines(rows))]


def _diagnosis_markdown(test: str, diagnosis: Diagnosis, top: int) -> list[str]:
    facts = [
        f"* **Cause:** {_escape(diagnosis.preflight.explanation)}",
        f"* {preflight_line(diagnosis)}",
        f"* {diagnosis.sentences} sentences in {diagnosis.batches} batches, {diagnosis.padded_fraction:.0%} padding;"
        f" output SQNR {decibels(diagnosis.output_sqnr_db)} dB; {diagnosis.seconds:.0f} s",
    ]
    ranges = ranges_line(diagnosis)
    if ranges:
        facts.append(f"* {_escape(ranges)}")
    if diagnosis.repair is not None:
        facts.append(f"* **{_escape(repair_line(diagnosis.repair))}**")
    rows = [[*cells[:1], f"`{cells[1]}`", *cells[2:]] for cells in node_rows(diagnosis, top)]
    groups = [[g.family, g.layer, str(g.nodes), decibels(g.worst_sqnr_db), decibels(g.max_added_noise_db)]
              for g in diagnosis.groups]
    return [
        f"### Diagnosis: `{test}` {diagnosis.case_id}", "\n".join(facts),
        _table(NODE_HEADERS, rows),
        _table(["family", "layer", "nodes", "worst SQNR dB", "max added noise dB"], groups),
    ]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    def row(cells: list[str]) -> str:
        return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"

    align = [":" + "-" * max(len(h) - 2, 1) + ":" for h in headers]
    return "\n".join([row(headers), row(align), *map(row, rows)])


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
