"""Runtimes side by side: for a run that gated OpenVINO cases, each model and shape's fp32 on both
runtimes and every variant, with its speedup over its own runtime's fp32 (the gated, paired figure)
and over ONNX Runtime's fp32, the figure a user choosing a runtime compares.

The second speedup divides medians of one-thread CPU time per call measured in the same run, by
different cases: not paired, so it carries no interval and is never gated.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..results import CaseResult

ORT = "onnxruntime"


@dataclass(frozen=True)
class RuntimeRow:
    model: str
    shape: str  # "bs1-len32"
    runtime: str
    variant: str  # "fp32", or the case's variant id
    f1: float | None
    cpu_ms: float  # one-thread CPU time per call, median
    speedup: float | None  # over its own runtime's fp32, paired (None for the fp32 rows)
    over_ort_fp32: float | None  # ONNX Runtime fp32's CPU time / this row's (None: no ONNX Runtime case here)
    tests: tuple[str, ...]  # the tests of the cases the row is measured by (an fp32 row: every case beside it)

    @property
    def fp32(self) -> bool:
        """A runtime's fp32 original, not one of its variants."""
        return self.speedup is None


def _shape(result: CaseResult) -> str:
    return f"bs{result.batch_size}-len{result.sequence_length}"


def _fp32_row(model: str, shape: str, runtime: str, cases: list[CaseResult]) -> RuntimeRow | None:
    """fp32 on `runtime`: the median of its cases' originals (each case times the original beside its variant)."""
    own = [c for c in cases if c.runtime == runtime and c.original is not None and not c.original.quantized]
    if not own:
        return None
    accuracy = own[0].accuracy_original
    return RuntimeRow(model, shape, runtime, "fp32", None if accuracy is None else accuracy.f1,
                      statistics.median(c.latency.cpu.original_ms for c in own if c.latency), None, None,
                      tuple(dict.fromkeys(c.test for c in own)))


def runtime_rows(results: list[CaseResult]) -> list[RuntimeRow]:
    """The side-by-side rows of every model and shape that OpenVINO cases ran at; [] without any."""
    measured = [r for r in results if r.latency is not None]
    if not any(r.runtime != ORT for r in measured):
        return []
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for result in measured:
        groups.setdefault((result.model, _shape(result)), []).append(result)
    rows: list[RuntimeRow] = []
    for (model, shape), cases in groups.items():
        if all(c.runtime == ORT for c in cases):
            continue
        fp32 = [row for runtime in dict.fromkeys(sorted(c.runtime for c in cases))
                if (row := _fp32_row(model, shape, runtime, cases)) is not None]
        ort_ms = next((row.cpu_ms for row in fp32 if row.runtime == ORT), None)
        rows += [RuntimeRow(**{**row.__dict__, "over_ort_fp32": _over(ort_ms, row.cpu_ms)}) for row in fp32]
        ordered = sorted(cases, key=lambda c: (c.runtime, c.variant_id, c.test))
        repeated = {c.variant_id for c in ordered if [d.variant_id for d in ordered].count(c.variant_id) > 1}
        for case in ordered:
            if case.latency is None:
                continue
            accuracy = case.accuracy_optimized
            # one variant id in two tests (other settings: an unfused graph, exclusions): name the test
            variant = (f"{case.variant_id} ({case.test.rsplit('::', 1)[-1]})" if case.variant_id in repeated
                       else case.variant_id)
            rows.append(RuntimeRow(model, shape, case.runtime, variant, None if accuracy is None else accuracy.f1,
                                   case.latency.cpu.optimized_ms, case.latency.cpu.speedup.value,
                                   _over(ort_ms, case.latency.cpu.optimized_ms), (case.test,)))
    return rows


def _over(ort_ms: float | None, ms: float) -> float | None:
    return None if ort_ms is None else ort_ms / ms


def _times(value: float | None) -> str:
    return "-" if value is None else f"x{value:.2f}"


def runtime_cells(row: RuntimeRow) -> list[str]:
    return [row.runtime, row.variant, "-" if row.f1 is None else f"{row.f1:.4f}", f"{row.cpu_ms:.2f}",
            _times(row.speedup), _times(row.over_ort_fp32)]


RUNTIME_HEADERS = ["runtime", "variant", "f1", "cpu ms", "vs own fp32", "vs onnxruntime fp32"]


def best_lines(rows: list[RuntimeRow]) -> list[str]:
    """Per model and shape, the fastest variant over ONNX Runtime fp32 and its F1: what 'wins' there."""
    lines = []
    several = len({r.model for r in rows}) > 1
    for model, shape in dict.fromkeys((r.model, r.shape) for r in rows):
        candidates = [r for r in rows if (r.model, r.shape) == (model, shape) and r.over_ort_fp32 is not None]
        if candidates:
            best = max(candidates, key=lambda r: r.over_ort_fp32 or 0.0)
            f1 = "" if best.f1 is None else f", F1 {best.f1:.4f}"
            where = f"{model} {shape}" if several else shape
            lines.append(f"{where}: fastest {best.runtime} {best.variant}"
                         f" ({_times(best.over_ort_fp32)} over onnxruntime fp32{f1})")
    return lines


RUNTIMES_TITLE = ("runtimes side by side (one-thread CPU time per call; over onnxruntime fp32 divides medians of"
                  " this run's cases, unpaired, not gated)")
