"""What a case measured, and with what: accuracy, latency, throughput within a budget, what the quantizer
did, what the original is, and the parameters that decide them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, TypeVar


@dataclass(frozen=True)
class MappedName:
    """What a label_map made of one name of the model or the dataset, on the evaluation split."""

    name: str  # an entity type (token classification) or a class of either side
    scored_as: str  # the name it is scored as; "O": left out of the score
    predicted: int  # spans (samples) of it among the model's predictions
    gold: int  # spans (samples) of it in the dataset
    # Of those spans, the parts that joined the entity before them (B-GIVEN_NAME B-SURNAME: SURNAME
    # joined); always 0 for classes, and when merging is off.
    predicted_joined: int = 0
    gold_joined: int = 0


@dataclass(frozen=True)
class LabelMapEffect:
    """What a label_map did (measure/label_map.py): whether it does real work or hides a mismatch."""

    unit: str  # what it counts: "span" (entities as each side tagged them) or "sample"
    names: list[MappedName]  # every name of either side, by what it is scored as (O last), then by name

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelMapEffect:
        return cls(unit=data["unit"], names=[MappedName(**row) for row in data["names"]])


@dataclass(frozen=True)
class AccuracyResult:
    """One model's scores on the evaluation split; the same fields for every task (measure/tasks.py)."""

    task: str  # "token-classification", "text-classification" or "question-answering"
    precision: float
    recall: float
    f1: float  # the gated score
    # Of words (token classification), samples (text classification) or questions answered exactly
    # (question answering: SQuAD's exact match, EM)
    accuracy: float
    # How precision, recall and F1 combine: "micro" over entities, "macro" over classes, or "question":
    # each question's score (its best gold answer's, as SQuAD's script scores it), averaged
    average: str
    per_label_f1: dict[str, float]  # per entity type, or per class; none for question answering
    num_samples: int
    unit: str  # what accuracy counts: "word", "sample" or "question"
    num_units: int
    truncated: int  # units the model's maximum length cut (a cut word is predicted "O")
    scoring: str  # "default" (seqeval/conlleval, or the only one) or "strict" (IOB2)
    seconds: float
    label_map: LabelMapEffect | None = None  # with a label_map only
    predictions: dict[str, str] | None = None  # question answering: each question's id -> the predicted answer

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracyResult:
        """The inverse of `dataclasses.asdict` (artifacts written before label_map have no such key)."""
        effect = data.get("label_map")
        return cls(**{**data, "label_map": None if effect is None else LabelMapEffect.from_dict(effect)})


@dataclass(frozen=True)
class LatencyStats:
    mean_ms: float
    stdev_ms: float
    cv: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    throughput: float  # samples (sequences) per second
    n_samples: int  # timed calls behind the percentiles; p99 needs >= 100 to mean much


@dataclass(frozen=True)
class Speedup:
    value: float  # original / optimized: Hodges-Lehmann of per-pair log-ratios (stats.paired_speedup)
    ci_low: float
    ci_high: float
    confidence: float
    n_pairs: int


@dataclass(frozen=True)
class CpuTime:
    """The gated signal: CPU time per call of one thread running each model (measure/latency.py)."""

    original_ms: float  # median per call
    optimized_ms: float
    speedup: Speedup


@dataclass(frozen=True)
class BudgetPoint:
    """One configuration of the throughput search: `streams` concurrent requests of `batch_size` sequences."""

    batch_size: int
    streams: int
    p90_ms: float  # wall time per request, 90th percentile
    throughput: float  # sequences per second, all streams together
    requests: int


@dataclass(frozen=True)
class BudgetThroughput:
    """One model's highest throughput whose p90 wall latency per request stays within the budget."""

    best: BudgetPoint | None  # None: no configuration tried met the budget
    points: list[BudgetPoint]  # every configuration tried

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BudgetThroughput:
        best = data["best"]
        return cls(None if best is None else BudgetPoint(**best), [BudgetPoint(**p) for p in data["points"]])


@dataclass(frozen=True)
class BudgetResult:
    """Throughput under a latency budget (measure/throughput.py): wall time, across batch sizes and
    stream counts at `threads` threads in all."""

    budget_ms: float
    threads: int
    original: BudgetThroughput
    optimized: BudgetThroughput

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BudgetResult:
        return cls(data["budget_ms"], data["threads"], BudgetThroughput.from_dict(data["original"]),
                   BudgetThroughput.from_dict(data["optimized"]))


# Fresh processes that decide a case confirmed in the run without its first look, which only chose it: two, so
# that one slow session still cannot fail the case (docs/BENCHMARKS.md §8j); with fewer (a merge of one rerun)
# every measurement decides.
DECIDING_PROCESSES = 2
T = TypeVar("T")


def deciding(measurements: Sequence[T]) -> Sequence[T]:
    """Of a case's measurements in the run (its first look first, then its fresh processes), those that decide it
    (gate/latency_stats.speedup_in_run)."""
    return measurements[1:] if len(measurements) > DECIDING_PROCESSES else measurements


def _cpu_time(data: dict[str, Any]) -> CpuTime:
    return CpuTime(**{**data, "speedup": Speedup(**data["speedup"])})


@dataclass(frozen=True)
class LatencyResult:
    original: LatencyStats  # wall clock at `threads`: what users see
    optimized: LatencyStats
    wall_speedup: Speedup
    cpu: CpuTime
    stop_reason: str  # of the CPU phase: "ci_width" (precise enough) or "max_seconds" (budget spent)
    threads: int
    seconds: float
    budget: BudgetResult | None = None  # when the case names a latency_budget_ms
    # Each CPU phase of a case confirmed in the run (measure/fresh.py): the first, then one per fresh
    # process; `cpu` is then their median. Empty when the first look decided.
    measurements: list[CpuTime] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyResult:
        """The inverse of `dataclasses.asdict`."""
        cpu = data["cpu"]
        return cls(
            original=LatencyStats(**data["original"]),
            optimized=LatencyStats(**data["optimized"]),
            wall_speedup=Speedup(**data["wall_speedup"]),
            cpu=_cpu_time(cpu),
            stop_reason=data["stop_reason"],
            threads=data["threads"],
            seconds=data["seconds"],
            budget=None if data.get("budget") is None else BudgetResult.from_dict(data["budget"]),
            measurements=[_cpu_time(m) for m in data.get("measurements", [])],
        )

    @property
    def best(self) -> CpuTime:
        """The deciding measurement of the highest CPU-time speedup (`cpu` when there is one): what the gate
        judges a case confirmed in the run on (gate/latency_stats.speedup_in_run)."""
        return max(deciding(self.measurements) or [self.cpu], key=lambda m: m.speedup.value)


@dataclass(frozen=True)
class QuantizationRecord:
    """What the quantizer really did to the graph, not what it was asked to do."""

    preset: str
    quantized_ops: dict[str, int]  # op type -> count in the quantized graph (MatMulInteger, QuantizeLinear...)
    excluded_nodes: list[str]
    note: str | None = None  # e.g. "dynamic quantization of ['Add'] quantized nothing"
    activations_dtype: str | None = None  # "uint8" / "int8"
    weights_dtype: str | None = None
    reduce_range: bool = False  # 7-bit weights

    @property
    def u8s8(self) -> bool:
        """Unsigned activations times signed 8-bit weights: the pairing that saturates on x86 without VNNI."""
        return (self.activations_dtype, self.weights_dtype, self.reduce_range) == ("uint8", "int8", False)


@dataclass(frozen=True)
class OriginalRecord:
    """What the original model is: fp32 as exported, or a graph that came already quantized."""

    precision: str  # "fp32", "fp16", "bf16", "int8", "int4", "int4+int8"...
    quantized_ops: dict[str, int]  # op type -> count: QuantizeLinear, MatMulInteger, MatMulNBits...
    # The fraction of exact zeros in the float weights of its MatMul and Gemm nodes (a pruned model's
    # sparsity); None where the weights are not in the graph file (external data, integer weights).
    weight_sparsity: float | None = None

    @property
    def quantized(self) -> bool:
        return bool(self.quantized_ops)


@dataclass(frozen=True)
class Parameters:
    """What decides a case's figures besides its model and input shape, as its baseline and the artifact
    record it ("parameters"): the variant (specs.VariantSpec.to_dict) with its evaluation
    (specs.DataSpec.to_dict, under "evaluation"). Which settings it holds depends on the runtime and the
    approach, and a baseline compares them all exactly: the record is kept as JSON reads it."""

    recorded: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "recorded", json.loads(json.dumps(self.recorded)))  # tuples as the lists JSON reads

    @property
    def approach(self) -> str:
        approach: str = self.recorded["approach"]
        return approach

    @property
    def operators(self) -> list[str]:
        operators: list[str] = self.recorded["operators"]
        return operators

    @property
    def runtime(self) -> str:
        runtime: str = self.recorded.get("runtime", "onnxruntime")  # recorded for OpenVINO variants only
        return runtime

    @property
    def quantized_file(self) -> str | None:
        return self.recorded.get("quantized_file")

    @property
    def evaluation(self) -> dict[str, Any] | None:
        return self.recorded.get("evaluation")

    @property
    def variant_id(self) -> str:
        """The case id without its input shape: "dynamic-Add+MatMul", "openvino-static", "given-model_quantized"."""
        if self.quantized_file is not None:
            return f"{self.approach}-{PurePosixPath(self.quantized_file).stem}"
        if self.runtime == "openvino":  # NNCF picks the operators: there is no set to name
            return f"openvino-{self.approach}"
        return f"{self.approach}-{'+'.join(self.operators)}"

    def flat(self, prefix: str = "") -> dict[str, Any]:
        """Every setting under a dotted name: {"calibration": {"split": "train"}} -> {"calibration.split": "train"}."""
        return _flat(self.recorded, prefix)


def _flat(tree: dict[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
