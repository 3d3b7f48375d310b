"""The terminal summary at the end of a run, and a diagnosis as the terminal shows it."""

from __future__ import annotations

import itertools

from ..results import CaseResult, Diagnosis, Environment
from ..specs import DiagnosisSpec
from .content import (
    BUDGET_TITLE,
    CONFIRMED_TITLE,
    LABEL_MAP_HEADERS,
    NODE_HEADERS,
    VERDICT_HEADERS,
    MappedCase,
    budget_lines,
    by_test,
    confirmed_in_run,
    decibels,
    diagnoses,
    failure_lines,
    hardware_notes,
    inconclusive_lines,
    label_map_notes,
    label_map_rows,
    label_map_title,
    mapped_cases,
    node_rows,
    preflight_line,
    ranges_line,
    repair_line,
    sparse_models,
    verdict_cells,
    warning_lines,
)
from .runtimes import RUNTIMES_TITLE, best_lines, runtime_rows


def summary_lines(results: list[CaseResult], environment: Environment, top: int = DiagnosisSpec.top) -> list[str]:
    header = ["case", *VERDICT_HEADERS]
    rows = {test: [[r.case_id, *verdict_cells(r)] for r in group] for test, group in by_test(results).items()}
    table = iter(_aligned([header, *itertools.chain(*rows.values())]))  # one width per column, across tests
    lines = [next(table)]
    for test, test_rows in rows.items():
        lines += [test, *itertools.islice(table, len(test_rows))]
    for title, expected in (("failures:", False), ("expected failures (xfail):", True)):
        problems = failure_lines(results, expected=expected)
        if problems:
            lines += [title, *(f"  {p}" for p in problems)]
    confirmed = confirmed_in_run(results)
    if confirmed:
        lines += [f"{CONFIRMED_TITLE}:", *(f"  {c}" for c in confirmed)]
    inconclusive = inconclusive_lines(results)
    if inconclusive:
        lines += ["inconclusive (not failed; measure longer or on a quieter machine):",
                  *(f"  {i}" for i in inconclusive)]
    warnings = warning_lines(results)
    if warnings:
        lines += ["warnings:", *(f"  {w}" for w in warnings)]
    for mapped in mapped_cases(results):
        lines += _label_map_terminal(mapped)
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
        lines += [f"hardware {environment.hardware_key}:", *(f"  {n}" for n in notes)]
    for test, diagnosis in diagnoses(results):
        lines += [test, *diagnosis_lines(diagnosis, top)]
    return lines


def _label_map_terminal(mapped: MappedCase) -> list[str]:
    effect = mapped.effect
    table = _aligned([LABEL_MAP_HEADERS, *label_map_rows(effect)])
    return [label_map_title(mapped) + ":", *table, *(f"  {note}" for note in label_map_notes(effect))]


def diagnosis_lines(diagnosis: Diagnosis, top: int) -> list[str]:
    """The diagnosis as the terminal shows it: cause, pre-flight, ranges, ranked nodes, groups, repair."""
    output = "" if diagnosis.output_sqnr_db is None else f"; output SQNR {diagnosis.output_sqnr_db:.1f} dB"
    lines = [
        f"diagnosis of {diagnosis.case_id} ({diagnosis.sentences} sentences in {diagnosis.batches} batches,"
        f" {diagnosis.padded_fraction:.0%} padding{output}; {diagnosis.seconds:.0f} s):",
        f"  cause: {diagnosis.preflight.explanation}",
        f"  {preflight_line(diagnosis)}",
    ]
    ranges = ranges_line(diagnosis)
    if ranges:
        lines.append(f"  {ranges}")
    lines += _aligned([NODE_HEADERS, *node_rows(diagnosis, top)])
    groups = ", ".join(f"{g.family} {g.layer} ({g.nodes} nodes, {decibels(g.max_added_noise_db)} dB)"
                       for g in diagnosis.groups[:5])
    lines.append(f"  family x layer, worst added noise first: {groups}")
    if diagnosis.repair is not None:
        lines.append(f"  {repair_line(diagnosis.repair)}")
    return lines


def _aligned(rows: list[list[str]]) -> list[str]:
    """The terminal's table: the rows indented, each column padded to its widest cell."""
    widths = [max(map(len, column)) for column in zip(*rows, strict=False)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)).rstrip()
            for cells in rows]
