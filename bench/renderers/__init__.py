"""Result file -> markdown: one pure function per kind of doc block, registered below. A renderer takes
the block's sources in the order its marker names them (`Result`: path and parsed JSON or text) and
returns markdown ending with `common.footer` (the run, the CPU, the load, what else ran, how to
reproduce). bench/render_docs.py says how a block names its kind and sources.

To add a kind: write `render_x` in the module of the doc it goes in (benchmarks.py: docs/BENCHMARKS.md
and docs/SCALING.md; results.py: docs/RESULTS.md; readme.py: README.md; code_shape.py: the code-shape
section of docs/BENCHMARKS.md) and add it to `RENDERERS`.
A renderer of one file takes one `Result`; one that compares files (hosts, runtimes) takes as many as
its marker names, `def render_x(*records: Result)`.
"""

from __future__ import annotations

from collections.abc import Callable

from .benchmarks import (
    render_accuracy,
    render_calibration,
    render_cold_demo,
    render_cpu_model_offset,
    render_cpu_time_rule,
    render_diagnosis,
    render_gate_periods,
    render_gate_replay,
    render_gate_tails,
    render_gate_targets,
    render_int8_gate,
    render_latency_gate,
    render_live_gate,
    render_matrix,
    render_overhead,
    render_sessions,
    render_sharding,
    render_slow_looks,
    render_slow_periods,
    render_variance,
    render_warm_gate,
)
from .code_shape import render_code_shape, render_refactor_equivalence
from .common import Result, load
from .readme import render_readme_summary
from .results import (
    render_card_accuracy,
    render_card_latency,
    render_card_summary,
    render_collapse,
    render_diagnosis_findings,
    render_label_map_split,
    render_preset_gap,
    render_presets,
    render_qa,
    render_runtimes,
    render_saturation,
    render_sentiment,
    render_sparse,
)

__all__ = ["RENDERERS", "Result", "load"]

Renderer = Callable[..., str]
RENDERERS: dict[str, Renderer] = {
    "latency-gate": render_latency_gate,
    "latency-gate-int8": render_int8_gate,
    "variance": render_variance,
    "cpu-model-offset": render_cpu_model_offset,
    "gate-replay": render_gate_replay,
    "gate-tails": render_gate_tails,
    "gate-targets": render_gate_targets,
    "sessions": render_sessions,
    "overhead": render_overhead,
    "matrix": render_matrix,
    "accuracy": render_accuracy,
    "diagnosis": render_diagnosis,
    "diagnosis-findings": render_diagnosis_findings,
    "calibration": render_calibration,
    "sharding": render_sharding,
    "collapse": render_collapse,
    "card-accuracy": render_card_accuracy,
    "card-latency": render_card_latency,
    "card-summary": render_card_summary,
    "sentiment": render_sentiment,
    "saturation": render_saturation,
    "readme-summary": render_readme_summary,
    "presets": render_presets,
    "preset-gap": render_preset_gap,
    "label-map-split": render_label_map_split,
    "runtimes": render_runtimes,
    "sparse": render_sparse,
    "qa": render_qa,
    "live-gate": render_live_gate,
    "warm-gate": render_warm_gate,
    "slow-periods": render_slow_periods,
    "gate-periods": render_gate_periods,
    "slow-looks": render_slow_looks,
    "cpu-time-rule": render_cpu_time_rule,
    "cold-demo": render_cold_demo,
    "code-shape": render_code_shape,
    "refactor-equivalence": render_refactor_equivalence,
}
