"""What a case measured and decided: typed results that serialise to the JSON artifact.

The base of the house: frozen dataclasses that every stage fills or reads (measure/, diagnose/,
gate/, report/), with no behaviour beyond (de)serialising themselves.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Mapping, Sequence

Cause = Literal["graph", "kernel", "none", "undetermined"]  # of a lost accuracy (diagnose/diagnosis.py)
RESULT_PROPERTY = "qbench_result"  # the key of a case's result in its test report's user_properties


class _Word(str, Enum):
    """A value the artifact writes as a word: its member is equal to that word and says it."""

    def __str__(self) -> str:
        return self.value


class Status(_Word):
    """A check's status, and a case's verdict (gate/rules.py derives it from its checks)."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # a latency check that neither passed nor failed significantly
    SKIP = "skip"
    UPDATED = "updated"  # a verdict only: update mode wrote the measurement as the baseline
    ERROR = "error"  # nothing compared: the measurement failed

    @property
    def failing(self) -> bool:
        """A status that fails the test and the run."""
        return self in (Status.FAIL, Status.ERROR)


class Against(_Word):
    """What a check compares the measurement with."""

    BASELINE = "baseline"
    ORIGINAL = "original"  # the original model, measured in the same run


class Metric(_Word):
    """What a check compares: the kind of check (gate/rules.py and gate/latency_stats.py make them)."""

    F1 = "f1"  # the optimized model's scores
    PRECISION = "precision"
    RECALL = "recall"
    ACCURACY = "accuracy"
    ORIGINAL_F1 = "original.f1"  # the original model's, against its baseline
    ORIGINAL_PRECISION = "original.precision"
    ORIGINAL_RECALL = "original.recall"
    ORIGINAL_ACCURACY = "original.accuracy"
    MEASUREMENT = "measurement"  # a measurement missing: nothing compared
    BASELINE = "baseline"  # no baseline for the case
    PARAMETERS = "parameters"  # the model and parameters the baseline was recorded with
    LATENCY = "latency"  # latency measured, not gated here (a skip that says why)
    CPU_SPEEDUP = "cpu.speedup"  # the gated CPU-time speedup
    OPTIMIZED_CPU_MS = "optimized.cpu_ms"
    OPTIMIZED_BUDGET_THROUGHPUT = "optimized.budget_throughput"
    ORIGINAL_MEAN_MS = "original.mean_ms"  # wall clock
    ORIGINAL_THROUGHPUT = "original.throughput"
    OPTIMIZED_MEAN_MS = "optimized.mean_ms"
    OPTIMIZED_THROUGHPUT = "optimized.throughput"
    COMMON_CPU_MS = "cpu_ms.common"  # the run's own check: a slowdown common to every case

    @property
    def optimized_accuracy(self) -> bool:
        """A score of the optimized model: a failed check of it is lost accuracy."""
        return self in (Metric.F1, Metric.PRECISION, Metric.RECALL, Metric.ACCURACY)

    @property
    def case_latency(self) -> bool:
        """A gated latency figure of the case's own: what a confirmation measures again."""
        return self in (Metric.CPU_SPEEDUP, Metric.OPTIMIZED_CPU_MS)


# Of the baseline's accuracy record, the checks of each score: the optimized model's, the original's.
ACCURACY_CHECKS = {
    "precision": (Metric.PRECISION, Metric.ORIGINAL_PRECISION),
    "recall": (Metric.RECALL, Metric.ORIGINAL_RECALL),
    "f1": (Metric.F1, Metric.ORIGINAL_F1),
    "accuracy": (Metric.ACCURACY, Metric.ORIGINAL_ACCURACY),
}


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
    def from_dict(cls, data: dict[str, Any]) -> "LabelMapEffect":
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
    def from_dict(cls, data: dict[str, Any]) -> "AccuracyResult":
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
    def from_dict(cls, data: dict[str, Any]) -> "BudgetThroughput":
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
    def from_dict(cls, data: dict[str, Any]) -> "BudgetResult":
        return cls(data["budget_ms"], data["threads"], BudgetThroughput.from_dict(data["original"]),
                   BudgetThroughput.from_dict(data["optimized"]))


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
    def from_dict(cls, data: dict[str, Any]) -> "LatencyResult":
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
class Check:
    # A check that the pytest_qbench_checks hook adds may name a metric of its own (a str); words that
    # name a member (a hook's edit, an artifact read back) become the member.
    metric: Metric | str
    against: Against
    status: Status
    measured: float | None
    expected: float | None
    tolerance: str  # human-readable, e.g. "atol 0.005"
    reason: str  # one line a reviewer can act on
    limit: float | None = None  # the bound `measured` was held to on the failing side, where it has one

    def __post_init__(self) -> None:
        known = {m.value for m in Metric}
        object.__setattr__(self, "metric", Metric(self.metric) if self.metric in known else self.metric)
        object.__setattr__(self, "against", Against(self.against))
        object.__setattr__(self, "status", Status(self.status))

    def __str__(self) -> str:
        return f"[{self.status}] {self.metric} vs {self.against}: {self.reason}"

    @property
    def latency_not_gated(self) -> bool:
        """The skip the rules give latency on a machine without baseline runs of its own."""
        return self.metric is Metric.LATENCY and self.status is Status.SKIP

    @property
    def accuracy_lost(self) -> bool:
        """A failed check of the optimized model's accuracy, against the original or the baseline."""
        return self.status is Status.FAIL and isinstance(self.metric, Metric) and self.metric.optimized_accuracy

    @property
    def undecided(self) -> bool:
        """Inconclusive, or latency not gated: what --qbench-strict fails."""
        return self.status is Status.INCONCLUSIVE or self.latency_not_gated

    @property
    def latency_undecided(self) -> bool:
        """The case's own gated latency failed or was inconclusive: a confirmation measures it again."""
        return (self.status in (Status.FAIL, Status.INCONCLUSIVE) and isinstance(self.metric, Metric)
                and self.metric.case_latency)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "metric": str(self.metric), "against": str(self.against), "status": str(self.status)}


# ---- the diagnosis of a lost accuracy (diagnose/) ------------------------------------------------


@dataclass(frozen=True)
class NodeError:
    """One quantized node of the graph the quantizer consumed."""

    node: str
    op_type: str
    family: str  # its exclusion family (layernorm, gelu, residual, gather, softmax), else its op type
    layer: str  # "layer.3", "embeddings" or "-", from the node name
    sqnr_db: float | None  # its output as consumers read it, quantized vs fp32 model (capped at SQNR_CAP)
    # The noise it adds, relative to its output's signal: 10 log10(1/SQNR out - 1/SQNR in), with the
    # worst input as produced and the output as consumers read it. 0 dB: noise as large as the signal.
    added_noise_db: float | None
    out_of_scale: bool  # it reads or writes a tensor quantized over a range beyond RANGE_LIMIT


@dataclass(frozen=True)
class GroupError:
    family: str
    layer: str
    nodes: int
    worst_sqnr_db: float | None
    max_added_noise_db: float | None


@dataclass(frozen=True)
class RangeIssue:
    tensor: str
    low: float
    high: float
    source: str  # "calibrated" (static: fixed in the graph) or "observed" (dynamic: per batch, here)
    nodes: list[str]  # the quantized nodes that read or write it


@dataclass(frozen=True)
class Preflight:
    """Scores on the same sentences: fp32, int8 simulated in float, and int8 on this CPU's kernels."""

    samples: int
    original_f1: float
    simulated_f1: float | None  # None: the graph holds integer ops that cannot be simulated
    kernel_f1: float
    max_loss: float
    cause: Cause
    explanation: str


@dataclass(frozen=True)
class Exclusion:
    """Nodes kept in fp32: exclusion families and node names (a repair's answer, or a candidate)."""

    families: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.families or self.nodes)

    def plus(self, families: Sequence[str] = (), nodes: Sequence[str] = ()) -> "Exclusion":
        return Exclusion(tuple(dict.fromkeys((*self.families, *families))), tuple(dict.fromkeys((*self.nodes, *nodes))))

    def minus(self, other: "Exclusion") -> "Exclusion":
        return Exclusion(tuple(f for f in self.families if f not in other.families),
                         tuple(n for n in self.nodes if n not in other.nodes))

    def without(self, item: str) -> "Exclusion":
        return Exclusion(tuple(f for f in self.families if f != item), tuple(n for n in self.nodes if n != item))

    @property
    def marker(self) -> str:
        """The marker arguments that apply it, ready to paste."""
        parts = []
        if self.families:
            parts.append(f"exclude={json.dumps(list(self.families))}")
        if self.nodes:
            parts.append(f"nodes_to_exclude={json.dumps(list(self.nodes))}")
        return ", ".join(parts) or "(no exclusion needed)"


@dataclass(frozen=True)
class Trial:
    families: list[str]
    nodes: list[str]
    f1: float
    split: str  # "sample" (the search) or "full" (confirmation and refinement)


@dataclass(frozen=True)
class RepairResult:
    exclusion: Exclusion  # what to exclude besides what the case already does
    f1: float  # with it, on the whole evaluation split
    target_f1: float  # the original's F1 there minus the case's allowed loss
    sample_f1: float | None  # None: found on the whole split, never scored on the sample
    sample_target_f1: float
    samples: int  # sentences in the search sample
    evaluations: int
    budget_spent: bool  # the evaluation cap stopped the search
    trials: list[Trial] = field(default_factory=list)
    speedup: float | None = None  # CPU-time speedup over fp32 with it, at the case's shape
    seconds: float = 0.0

    @property
    def met(self) -> bool:
        return self.f1 >= self.target_f1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RepairResult":
        """The inverse of `dataclasses.asdict`."""
        exclusion = Exclusion(tuple(data["exclusion"]["families"]), tuple(data["exclusion"]["nodes"]))
        return cls(**{**data, "exclusion": exclusion, "trials": [Trial(**t) for t in data["trials"]]})


@dataclass(frozen=True)
class Diagnosis:
    case_id: str
    batches: int
    sentences: int
    padded_fraction: float  # of the token positions in the diagnosis batches
    output_sqnr_db: float | None  # of the model's first output (the logits)
    nodes: list[NodeError]  # quantized nodes, culprits first (rank order)
    groups: list[GroupError]  # family x layer, worst first
    ranges: list[RangeIssue]
    preflight: Preflight
    seconds: float
    repair: RepairResult | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Diagnosis":
        """The inverse of `dataclasses.asdict`."""
        return cls(**{
            **data,
            "nodes": [NodeError(**n) for n in data["nodes"]],
            "groups": [GroupError(**g) for g in data["groups"]],
            "ranges": [RangeIssue(**r) for r in data["ranges"]],
            "preflight": Preflight(**data["preflight"]),
            "repair": None if data["repair"] is None else RepairResult.from_dict(data["repair"]),
        })

    def families(self, members: Mapping[str, Sequence[str]]) -> list[str]:
        """Exclusion families that hold quantized nodes, in the rank of their worst node."""
        rank = {n.node: i for i, n in enumerate(self.nodes)}
        ranked = [(min(rank[m] for m in nodes if m in rank), f) for f, nodes in members.items()
                  if any(m in rank for m in nodes)]
        return [f for _, f in sorted(ranked)]


# ---- a case ---------------------------------------------------------------------------------------


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
        return self.recorded["approach"]

    @property
    def operators(self) -> list[str]:
        return self.recorded["operators"]

    @property
    def runtime(self) -> str:
        return self.recorded.get("runtime", "onnxruntime")  # recorded for OpenVINO variants only

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


@dataclass
class CaseResult:
    nodeid: str
    test: str  # baseline key: the test's path-independent name
    case_id: str
    model: str
    batch_size: int
    sequence_length: int
    parameters: Parameters
    quantization: QuantizationRecord | None = None
    original: OriginalRecord | None = None  # the precision of the model the variant was built from
    accuracy_original: AccuracyResult | None = None
    accuracy_optimized: AccuracyResult | None = None
    latency: LatencyResult | None = None
    baseline: dict[str, Any] | None = None
    checks: list[Check] = field(default_factory=list)
    verdict: Status = Status.ERROR
    error: str | None = None
    # A U8S8 model on x86 without VNNI and no run-time remedy: its int8 sums can saturate.
    saturation_risk: bool = False
    diagnosis: Diagnosis | None = None  # of a failed accuracy check, on request (--qbench-diagnose)
    expected_failure: bool = False  # the test is marked xfail and failed: pytest passes the run
    hardware_key: str = ""  # the machine's, under which its baseline is stored and matched
    cpu_model: str = "unrecorded"  # the machine's (hardware.Hardware.cpu_model): latency samples match on it
    run_id: str = ""  # the gate run's id: repeated measurements of a case by different runs combine
    confirmed_by: list[str] = field(default_factory=list)  # the runs whose repeats the merge combined with this one
    restart_sample: bool = False  # update mode: its latency differs significantly from the recorded runs
    seconds: float | None = None  # the test call's wall time: what balances shards next time
    sparse_decompression: str | None = None  # OpenVINO's sparse weight decompression, "on: ..." or "off: why"

    @property
    def runtime(self) -> str:
        return self.parameters.runtime

    @property
    def latency_not_gated(self) -> bool:
        """Its latency was measured, not gated: no baseline runs of this machine (Check.latency_not_gated)."""
        return any(c.latency_not_gated for c in self.checks)

    @property
    def undecided(self) -> bool:
        """A check of it neither passed nor failed (Check.undecided): what --qbench-strict fails."""
        return any(c.undecided for c in self.checks)

    @property
    def failing(self) -> bool:
        """Its verdict fails the run: failed or errored, and not an expected failure (xfail)."""
        return self.verdict.failing and not self.expected_failure

    @property
    def variant_id(self) -> str:
        return self.parameters.variant_id

    def to_json(self) -> dict[str, Any]:
        def opt(x: Any) -> Any:
            return None if x is None else asdict(x)

        return {
            "id": self.case_id,
            "nodeid": self.nodeid,
            "test": self.test,
            "model": self.model,
            "runtime": self.runtime,
            "approach": self.parameters.approach,
            "operators": self.parameters.operators,
            "batch_size": self.batch_size,
            "sequence_length": self.sequence_length,
            "parameters": self.parameters.recorded,
            "quantization": opt(self.quantization),
            "original": opt(self.original),
            "accuracy": {"original": opt(self.accuracy_original), "optimized": opt(self.accuracy_optimized)},
            "latency": opt(self.latency),
            "baseline": self.baseline,
            "verdict": str(self.verdict),
            "checks": [c.to_json() for c in self.checks],
            "error": self.error,
            "saturation_risk": self.saturation_risk,
            "expected_failure": self.expected_failure,
            "hardware_key": self.hardware_key,
            "cpu_model": self.cpu_model,
            "run_id": self.run_id,
            "confirmed_by": self.confirmed_by,
            "restart_sample": self.restart_sample,
            "seconds": self.seconds,
            "sparse_decompression": self.sparse_decompression,
            # through JSON text, so that tuples (repair.Exclusion) become arrays as the schema says
            "diagnosis": None if self.diagnosis is None else json.loads(json.dumps(asdict(self.diagnosis))),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CaseResult":
        """The inverse of `to_json` (xdist workers send results to the controller as JSON)."""
        def opt(kind: type, x: Any) -> Any:
            return None if x is None else kind(**x)

        latency, diagnosis = data["latency"], data.get("diagnosis")
        return cls(
            nodeid=data["nodeid"],
            test=data["test"],
            case_id=data["id"],
            model=data["model"],
            batch_size=data["batch_size"],
            sequence_length=data["sequence_length"],
            parameters=Parameters(data["parameters"]),
            quantization=opt(QuantizationRecord, data["quantization"]),
            original=opt(OriginalRecord, data.get("original")),
            accuracy_original=_accuracy(data["accuracy"]["original"]),
            accuracy_optimized=_accuracy(data["accuracy"]["optimized"]),
            latency=None if latency is None else LatencyResult.from_dict(latency),
            baseline=data["baseline"],
            checks=[Check(**c) for c in data["checks"]],
            verdict=Status(data["verdict"]),
            error=data["error"],
            saturation_risk=data["saturation_risk"],
            diagnosis=None if diagnosis is None else Diagnosis.from_dict(diagnosis),
            expected_failure=data.get("expected_failure", False),
            hardware_key=data.get("hardware_key", ""),
            cpu_model=data.get("cpu_model", "unrecorded"),
            run_id=data.get("run_id", ""),
            confirmed_by=data.get("confirmed_by", []),
            restart_sample=data.get("restart_sample", False),
            seconds=data.get("seconds"),
            sparse_decompression=data.get("sparse_decompression"),
        )


def _accuracy(data: dict[str, Any] | None) -> AccuracyResult | None:
    return None if data is None else AccuracyResult.from_dict(data)


# ---- what a baseline update wrote, what an artifact file holds --------------------------------------

CaseKey = tuple[str, str, str]  # (test, case id, hardware key)


@dataclass(frozen=True)
class FlushReport:
    """The baseline entries a flush created, updated or left unchanged (gate/baselines.py)."""

    created: list[CaseKey]
    updated: list[CaseKey]
    unchanged: list[CaseKey]


@dataclass(frozen=True)
class ArtifactFile:
    """A JSON artifact as read from a file and validated (report/artifact.py): a run, or a shard of one."""

    path: Path
    artifact: dict[str, Any]

    @property
    def hardware_key(self) -> str:
        return self.artifact["environment"]["hardware_key"]
