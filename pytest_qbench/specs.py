"""What a qbench case is and what a run is asked to do: the marker's arguments and the session's
options, validated, as frozen dataclasses.

Pure Python on purpose: the plugin validates markers at collection time, and pytest loads the plugin
in every project where it is installed, so nothing heavy may be imported here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import QbenchConfigError
from .results import Parameters, RunRecord

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Spec = TypeVar("_Spec", bound="DataclassInstance")

APPROACHES = ("dynamic", "static")
# The runtime a variant is built for and timed on. OpenVINO's variants (variants/openvino.py) answer the
# same approaches with NNCF: "dynamic" is weight-only int8 (activations quantized at run time by the CPU
# plugin), "static" is post-training quantization with the transformer preset on the same calibration data.
RUNTIMES = ("onnxruntime", "openvino")
# NNCF's model type for OpenVINO's static int8: "transformer" keeps attention-mask arithmetic, Softmax
# and LayerNorm in float; "generic" (NNCF's default, no model type) quantizes them too.
NNCF_MODEL_TYPES = ("transformer", "generic")
GIVEN = "given"  # the approach of a quantized_file: a graph quantized elsewhere, gated as it is
# Union of onnxruntime's IntegerOps (dynamic), QLinearOps and QDQ (static) registries;
# tests/unit/test_config.py checks this list against the installed onnxruntime.
OPERATORS = (
    "Add", "ArgMax", "Attention", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv",
    "ConvTranspose", "CumSum", "EmbedLayerNormalization", "Flatten", "Gather", "GatherElements",
    "Gemm", "GlobalAveragePool", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "LSTM",
    "MatMul", "MaxPool", "Mul", "Pad", "Relu", "Reshape", "Resize", "Sigmoid", "Slice", "Softmax",
    "Split", "Squeeze", "TopK", "Transpose", "Unsqueeze", "Where",
)
EXCLUSION_FAMILIES = ("layernorm", "gelu", "residual", "gather", "softmax")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
OPTIMIZATION_LEVELS = (0, 1, 2, 99)
PRESETS = ("auto", "avx512_vnni", "avx512", "avx2", "arm64")
SCORING_MODES = ("default", "strict")
# On x86 CPUs without VNNI, onnxruntime's u8s8 kernels can saturate (hardware.Hardware.saturates_u8s8).
# The remedies of onnxruntime's quantization guide: 7-bit weights, unsigned weights, or the session
# option that runs such weights through the exact (slower) U8U8 kernels.
SATURATION_REMEDIES = ("none", "reduce_range", "u8u8", "x64quantprecision")


def _bad(what: str, value: Any, allowed: Iterable[Any]) -> QbenchConfigError:
    allowed_text = ", ".join(repr(a) for a in allowed)
    return QbenchConfigError(f"qbench: unknown {what} {value!r}; allowed: {allowed_text}")


@dataclass(frozen=True)
class CalibrationSpec:
    method: str = "minmax"
    num_samples: int = 100
    split: str = "train"
    sequence_length: int = 128
    percentile: float = 99.999


@dataclass(frozen=True)
class VariantSpec:
    """Everything that decides the bytes of the optimized model; the build cache keys on it."""

    approach: str
    operators: tuple[str, ...]
    opset: int = 11
    optimization_level: int = 1
    per_channel: bool = False
    reduce_range: bool = False
    calibration: CalibrationSpec = field(default_factory=CalibrationSpec)
    exclude: tuple[str, ...] = ()  # exclusion families, resolved to node names on the graph
    nodes_to_exclude: tuple[str, ...] = ()  # explicit node names
    preset: str = "auto"
    saturation_remedy: str = "none"  # one of SATURATION_REMEDIES
    quantized_file: str | None = None  # approach "given": this graph of the model folder, not built
    runtime: str = "onnxruntime"  # one of RUNTIMES
    # OpenVINO on CPUs with AMX: pack int8 weights at least this sparse (CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE).
    sparse_decompression_rate: float | None = None
    nncf_model_type: str = "transformer"  # one of NNCF_MODEL_TYPES; OpenVINO static only

    @property
    def openvino(self) -> bool:
        return self.runtime == "openvino"

    @property
    def ort_config_entries(self) -> dict[str, str]:
        """onnxruntime session config entries the optimized model must run with."""
        return {"session.x64quantprecision": "1"} if self.saturation_remedy == "x64quantprecision" else {}

    @property
    def quantize_reduced_range(self) -> bool:
        """Quantize with 7-bit ranges: asked for, or as the saturation remedy."""
        return self.reduce_range or self.saturation_remedy == "reduce_range"

    @property
    def force_unsigned_weights(self) -> bool:
        """uint8 weights whatever the preset says: the u8u8 saturation remedy."""
        return self.saturation_remedy == "u8u8"

    @property
    def id(self) -> str:
        """As results.Parameters derives it from what the variant records."""
        return Parameters(self.to_dict()).variant_id

    def to_dict(self) -> dict[str, Any]:
        if self.quantized_file is not None:  # no quantizer runs: its settings would mean nothing
            return {"approach": GIVEN, "operators": [], "quantized_file": self.quantized_file, "opset": self.opset,
                    "saturation_remedy": self.saturation_remedy}
        if self.openvino:  # what decides an NNCF build; ONNX Runtime's quantizer settings do not apply
            recorded = {"runtime": self.runtime, "approach": self.approach, "operators": [], "opset": self.opset}
            if self.sparse_decompression_rate is not None:
                recorded["sparse_decompression_rate"] = self.sparse_decompression_rate
            if self.approach == "static":
                recorded["calibration"] = {"num_samples": self.calibration.num_samples, "split": self.calibration.split,
                                           "sequence_length": self.calibration.sequence_length}
                if self.nncf_model_type != "transformer":  # recorded when not the default, so older baselines match
                    recorded["nncf_model_type"] = self.nncf_model_type
            return recorded
        return {
            "approach": self.approach,
            "operators": list(self.operators),
            "opset": self.opset,
            "optimization_level": self.optimization_level,
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "calibration": {
                "method": self.calibration.method,
                "num_samples": self.calibration.num_samples,
                "split": self.calibration.split,
                "sequence_length": self.calibration.sequence_length,
                "percentile": self.calibration.percentile,
            },
            "exclude": list(self.exclude),
            "nodes_to_exclude": list(self.nodes_to_exclude),
            "preset": self.preset,
            "saturation_remedy": self.saturation_remedy,
        }


@dataclass(frozen=True)
class Tolerances:
    """The comparison policy's knobs (see gate/rules.py)."""

    accuracy_atol: float = 0.005  # vs baseline, absolute
    accuracy_rtol: float = 0.0  # vs baseline, relative
    max_loss: float = 0.01  # optimized vs original in the same run, absolute (F1 points)
    max_relative_loss: float | None = None  # when set, replaces max_loss: e.g. 0.01 = 1% relative
    # CPU-time speedup vs the baseline runs' median: the slowdown the gate must catch; no change fails
    # a whole gate run at most qbench_false_alarm_rate of the time (gate/latency_stats.py).
    speedup_rtol: float = 0.10
    # The optimized model's CPU time per call vs the baseline runs' median beyond the move common to the
    # run's cases, judged at the run's end, same CPU model only; None: not gated. It moves several
    # percent from run to run (docs/BENCHMARKS.md §7): a point estimate against this wide limit catches a
    # large slowdown of one case; the run's common check catches a smaller one common to every case.
    cpu_time_rtol: float | None = 0.35
    # Wall-clock latency/throughput vs baseline, same hardware only; None: reported, not gated. A busy
    # neighbour slows a shared 2-core runner 2-3x, so only dedicated runners should set this.
    latency_rtol: float | None = None
    # The throughput under the case's latency_budget_ms vs baseline, same CPU model only; None: reported, not
    # gated. Wall time, like latency_rtol: on a shared runner a neighbour's load moves it.
    throughput_rtol: float | None = None

    def allowed_loss(self, original_f1: float) -> float:
        """How much F1 the optimized model may lose against the original scoring `original_f1`."""
        return self.max_loss if self.max_relative_loss is None else self.max_relative_loss * original_f1


@dataclass(frozen=True)
class DataSpec:
    """Where the evaluation and calibration text comes from, and how it is read."""

    dataset: str | None  # hub name, local file/folder, or None: the `qbench_dataset` fixture
    eval_split: str = "validation"
    # None: the model's task's (measure/tasks.py): tokens / ner_tags for token classification, text / label
    # for text classification.
    input_column: str | None = None
    label_column: str | None = None
    max_eval_samples: int | None = None  # None: all of the split
    scoring: str = "default"  # seqeval default (conlleval-like) or strict IOB2
    # Dynamic int8 computes activation scales per batch, so its scores depend on the batching.
    eval_batch_size: int = 64
    label_map: tuple[tuple[str, str], ...] = ()  # measure/label_map.py; sorted (name, scored name) pairs
    # Whether a label_map joins adjacent parts of one entity (B-GIVEN_NAME B-SURNAME: one PER).
    # None: not said by the marker; the plugin then takes the `qbench_label_map_merge` fixture's (True).
    label_map_merge: bool | None = None
    # Question answering: a context longer than the case's sequence length is read in windows of that
    # length, consecutive windows sharing `doc_stride` tokens; None: a third of the length (Hugging Face's
    # 128 at 384). An answer spans at most `max_answer_length` tokens.
    doc_stride: int | None = None
    max_answer_length: int = 30

    @property
    def resolved_input_column(self) -> str:
        """`input_column` once the case's task has filled it in (measure/tasks.py `columns_for`)."""
        return _resolved(self.input_column, "input_column")

    @property
    def resolved_label_column(self) -> str:
        """`label_column` once the case's task has filled it in (measure/tasks.py `columns_for`)."""
        return _resolved(self.label_column, "label_column")

    @property
    def merges_parts(self) -> bool:
        return self.label_map_merge is not False

    def stride(self, sequence_length: int) -> int:
        """The tokens consecutive windows of `sequence_length` share (question answering)."""
        return sequence_length // 3 if self.doc_stride is None else self.doc_stride

    @property
    def sets_windows(self) -> bool:
        """Whether the case sets a question-answering option."""
        return self.doc_stride is not None or self.max_answer_length != DataSpec.max_answer_length

    def to_dict(self) -> dict[str, Any]:
        """What decides the scores besides the model, as baselines record it (a label map and its
        merge rule only when there is a map, so that baselines recorded without one still match)."""
        recorded: dict[str, Any] = {
            "split": self.eval_split,
            "batch_size": self.eval_batch_size,
            "max_samples": self.max_eval_samples,
            "scoring": self.scoring,
        }
        if self.label_map:
            recorded["label_map"] = dict(self.label_map)
            recorded["label_map_merge"] = self.merges_parts
        if self.sets_windows:
            recorded["doc_stride"] = self.doc_stride
            recorded["max_answer_length"] = self.max_answer_length
        return recorded


@dataclass(frozen=True)
class TimingSpec:
    """The latency budget per case (measure/latency.py): a CPU-time phase on one thread, which the gate
    compares, then a wall-clock phase at `threads`, which users read."""

    threads: int | None = None  # wall-clock phase; None: the machine's physical cores
    warmup_iterations: int = 3  # per model per phase
    warmup_seconds: float = 0.1
    min_pairs: int = 10  # CPU phase
    min_seconds: float = 0.2  # CPU phase: CPU time per model
    max_seconds: float = 6.0  # CPU phase, both models, wall clock; the minimums win
    # CPU phase: stop once the speedup's 95% CI is this narrow (relative), or once it is small next
    # to the between-run sigma of the baseline runs, whichever is wider (runner.py: a run never
    # repeats to better than that sigma, so more precision buys nothing).
    target_ci_width: float = 0.05
    wall_iterations: int = 8  # wall-clock phase, per model
    wall_seconds: float = 0.5  # wall-clock phase, per model
    # Throughput under a latency budget (measure/throughput.py): the highest sequences/s whose p90 wall
    # latency per request stays within this many ms, across batch sizes and stream counts; None: not searched.
    latency_budget_ms: float | None = None
    budget_seconds: float = 0.5  # per configuration tried, per model
    # A case whose gated speedup fails or is inconclusive at first look is measured again in this many
    # fresh processes, which decide it on the best of their measurements (measure/fresh.py); 0: never.
    confirm_processes: int = 2


@dataclass(frozen=True)
class DiagnosisSpec:
    """How much a diagnosis (diagnose/diagnosis.py) and a repair search (diagnose/repair.py) may look at and spend."""

    batches: int = 4  # node errors: the first batches of the evaluation split, each padded to its longest
    batch_size: int = 8
    search_samples: int = 800  # pre-flight and repair search: the first sentences of the evaluation split
    max_evaluations: int = 40  # repair: candidate exclusions built and scored, at most
    top: int = 10  # ranked rows shown in the terminal summary and the markdown report


@dataclass(frozen=True)
class CaseSpec:
    """One test case: a variant at one input shape."""

    model: str | None  # hub id, local folder, .onnx file, or None: the `qbench_model` fixture
    data: DataSpec
    variant: VariantSpec
    batch_size: int
    sequence_length: int
    timing: TimingSpec = field(default_factory=TimingSpec)
    tolerances: Tolerances = field(default_factory=Tolerances)
    model_file: str | None = None  # a graph inside the model folder, e.g. "onnx/model_quantized.onnx"

    @property
    def id(self) -> str:
        return f"{self.variant.id}-bs{self.batch_size}-len{self.sequence_length}"

    @property
    def parameters(self) -> Parameters:
        """What its result and baseline record of it besides the model and the shape."""
        return Parameters({**self.variant.to_dict(), "evaluation": self.data.to_dict()})


@dataclass(frozen=True)
class Shard:
    """Run only shard `index` of `count` (`--qbench-shard I/N`); shard.py plans which cases it gets."""

    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in str(text).split("/"))
        except ValueError:
            index = count = 0
        if not 1 <= index <= count:
            raise QbenchConfigError(
                f"qbench: --qbench-shard {text!r} is not I/N with 1 <= I <= N;"
                " e.g. --qbench-shard 2/4 runs the second of four"
            )
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


BASELINES_FOLDER = "baselines"  # the stored baselines, relative to the project's root
ARTIFACT_FILE = ".qbench/results.json"  # the run's JSON artifact, relative to the project's root


@dataclass(frozen=True)
class QbenchOptions:
    """The session's command-line options and ini keys, read and checked by options.py."""

    enabled: bool
    update: bool
    baselines: Path
    json: Path
    markdown: Path | None
    html: Path | None
    history: Path | None
    cache_dir: Path | None
    timing: TimingSpec
    tolerances: Tolerances
    saturation_remedy: str
    diagnose: bool = False  # on a failed accuracy check
    repair: bool = False  # with the diagnosis
    diagnosis: DiagnosisSpec = DiagnosisSpec()
    shard: Shard | None = None  # run only this shard of the cases; baselines are then the merge's to write
    shard_durations: Path | None = None
    strict: bool = False  # an inconclusive check or latency not gated fails the case
    speed_lines: bool = False  # judge speedups given the machine's speed where recorded runs teach a line
    false_alarm_rate: float = 0.01  # false alarms allowed per gate run under no change, all its latency checks together
    baseline_runs: int = 10  # latency runs a baseline keeps per case and CPU model
    rerun_from: Path | None = None  # run only the cases whose latency this artifact found failing or inconclusive
    runtimes: tuple[str, ...] = ("onnxruntime",)  # a marker without runtime= runs on these

    @property
    def run_settings(self) -> RunSettings:
        return RunSettings(self.tolerances.speedup_rtol, self.false_alarm_rate, self.strict)


@dataclass(frozen=True)
class RunSettings:
    """What judges a run beyond its cases' own checks (the run's check of a slowdown common to every
    case, --qbench-strict): recorded in the artifact's "run" object, so a merge of the shards judges
    as the unsharded run would have."""

    speedup_rtol: float = Tolerances.speedup_rtol
    false_alarm_rate: float = QbenchOptions.false_alarm_rate
    strict: bool = QbenchOptions.strict

    def record(self, run: RunRecord) -> RunRecord:
        """`run`, recording these settings."""
        return replace(run, speedup_rtol=self.speedup_rtol, false_alarm_rate=self.false_alarm_rate, strict=self.strict)

    @classmethod
    def recorded(cls, run: RunRecord) -> dict[str, Any]:
        """The settings a run records (an older pytest-qbench's records none)."""
        return {f.name: getattr(run, f.name) for f in fields(cls) if getattr(run, f.name) is not None}


# ---- marker parsing ---------------------------------------------------------------------------

_MATRIX_KEYS = ("runtime", "approach", "operators", "batch_size", "sequence_length")
_VARIANT_KEYS = {f.name for f in fields(VariantSpec)} - {
    "runtime", "approach", "operators", "calibration", "quantized_file"}
_DATA_KEYS = {f.name for f in fields(DataSpec)} - {"dataset", "label_map"}
_TIMING_KEYS = {f.name for f in fields(TimingSpec)}
_TOLERANCE_KEYS = {f.name for f in fields(Tolerances)}
_CALIBRATION_KEYS = {"calibration_" + f.name for f in fields(CalibrationSpec)}
MARKER_KEYS = frozenset(
    {"model", "model_file", "quantized_file", "dataset", "label_map", *_MATRIX_KEYS, *_VARIANT_KEYS, *_DATA_KEYS,
     *_TIMING_KEYS, *_TOLERANCE_KEYS, *_CALIBRATION_KEYS}
)
# The matrix of a marker that leaves it out (approach: every one of APPROACHES; runtime: the session's).
MARKER_OPERATORS = ("Add", "MatMul")  # one set
MARKER_BATCH_SIZES = (1,)
MARKER_SEQUENCE_LENGTHS = (128,)


def _as_list(name: str, value: Any) -> list[Any]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise QbenchConfigError(f"qbench: {name} is empty; give at least one value")
    seen = set()
    for item in items:
        key = tuple(item) if isinstance(item, list) else item
        if key in seen:
            raise QbenchConfigError(f"qbench: {name} lists {item!r} twice; give each value once")
        seen.add(key)
    return items


def _resolved(column: str | None, name: str) -> str:
    if column is None:
        raise ValueError(f"qbench: {name} is read before the case's task named it (measure/tasks.py columns_for)")
    return column


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise QbenchConfigError(f"qbench: {name} must be a positive integer, got {value!r}")
    return value


def _choice(what: str, value: Any, allowed: Sequence[Any]) -> Any:
    if value not in allowed:
        raise _bad(what, value, allowed)
    return value


def _operators(value: Any) -> list[tuple[str, ...]]:
    # operators=["Add", "MatMul"] is one set; operators=[["Add", "MatMul"], ["Add"]] is two.
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        value = [value]
    sets = []
    for ops in _as_list("operators", value):
        if isinstance(ops, str) or not isinstance(ops, (list, tuple)) or not ops:
            raise QbenchConfigError(
                f"qbench: operators must be non-empty lists of operator names, got {ops!r};"
                " e.g. operators=[['Add', 'MatMul'], ['Add']]"
            )
        for op in ops:
            _choice("operator", op, OPERATORS)
        twice = sorted({op for op in ops if list(ops).count(op) > 1})
        if twice:
            raise QbenchConfigError(
                f"qbench: operator set {list(ops)!r} lists {', '.join(map(repr, twice))} twice; give each operator once"
            )
        sets.append(tuple(ops))
    return sets


def _typed(name: str, value: Any, template: Any) -> Any:
    """Check a fixed parameter against the type of its default."""
    if isinstance(template, bool):
        ok = isinstance(value, bool)
    elif isinstance(template, int) and not isinstance(template, bool):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(template, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(template, tuple):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:  # optional fields (None default): accept what the validators below check
        ok = True
    if not ok:
        raise QbenchConfigError(
            f"qbench: {name} must be of type {type(template).__name__}, got {value!r}"
        )
    return value


def _optional_number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise QbenchConfigError(f"qbench: {name} must be a positive number, or None to not gate it; got {value!r}")
    return float(value)


def _split(kwargs: Mapping[str, Any], keys: Iterable[str], prefix: str = "") -> dict[str, Any]:
    return {k[len(prefix):]: kwargs[k] for k in keys if k in kwargs}


def parse_marker(
    kwargs: Mapping[str, Any],
    *,
    timing: TimingSpec = TimingSpec(),
    tolerances: Tolerances = Tolerances(),
    saturation_remedy: str = VariantSpec.saturation_remedy,
    runtimes: Sequence[str] = QbenchOptions.runtimes,
) -> list[CaseSpec]:
    """Validate ``@pytest.mark.qbench(**kwargs)`` and expand it into its case matrix.

    `timing`, `tolerances`, `saturation_remedy` and `runtimes` carry the session defaults (command
    line and ini); marker keys win. OpenVINO variants have no operator sets (NNCF decides), so the
    operators multiply ONNX Runtime's cases only.
    """
    _check_keys(kwargs)
    quantized_file = _quantized_file(kwargs)
    runtimes, approaches, operator_sets = _variants(kwargs, quantized_file, runtimes)
    batch_sizes, lengths = _shapes(kwargs)

    calibration = _calibration(_split(kwargs, _CALIBRATION_KEYS, "calibration_"))
    variant_kw = _variant_settings(kwargs, saturation_remedy)
    sparse_rate = _sparse_rate(variant_kw.pop("sparse_decompression_rate", None), runtimes)

    data = _data(kwargs)
    _check_stride(data, lengths)
    timing = _replace_checked(timing, _split(kwargs, _TIMING_KEYS))
    tolerances = _replace_checked(tolerances, _split(kwargs, _TOLERANCE_KEYS))

    return [
        CaseSpec(
            model=kwargs.get("model"),
            model_file=_model_file(kwargs.get("model_file")),
            data=data,
            variant=VariantSpec(approach=a, operators=ops, calibration=calibration, quantized_file=quantized_file,
                                runtime=runtime,
                                sparse_decompression_rate=sparse_rate if runtime == "openvino" else None,
                                **variant_kw),
            batch_size=bs,
            sequence_length=n,
            timing=timing,
            tolerances=tolerances,
        )
        for runtime in runtimes
        for a, ops, bs, n in itertools.product(
            approaches, [()] if runtime == "openvino" else operator_sets, batch_sizes, lengths
        )
    ]


def _check_keys(kwargs: Mapping[str, Any]) -> None:
    unknown = sorted(set(kwargs) - MARKER_KEYS)
    if unknown:
        raise QbenchConfigError(
            f"qbench: unknown marker argument(s) {', '.join(unknown)}; allowed: "
            + ", ".join(sorted(MARKER_KEYS))
        )


def _shapes(kwargs: Mapping[str, Any]) -> tuple[list[int], list[int]]:
    """The marker's input shapes: its batch sizes and its sequence lengths."""
    batch_sizes = [_positive_int("batch_size", b)
                   for b in _as_list("batch_size", kwargs.get("batch_size", list(MARKER_BATCH_SIZES)))]
    lengths = [_positive_int("sequence_length", n)
               for n in _as_list("sequence_length", kwargs.get("sequence_length", list(MARKER_SEQUENCE_LENGTHS)))]
    return batch_sizes, lengths


def _variants(kwargs: Mapping[str, Any], quantized_file: str | None,
              runtimes: Sequence[str]) -> tuple[list[str], list[str], list[tuple[str, ...]]]:
    """The marker's runtimes, approaches and operator sets; a quantized_file is one variant, on ONNX Runtime."""
    if quantized_file is not None and "runtime" not in kwargs:
        runtimes = ("onnxruntime",)  # the session's default runtimes do not apply to a given ONNX graph
    chosen = [_choice("runtime", r, RUNTIMES) for r in _as_list("runtime", kwargs.get("runtime", list(runtimes)))]
    if quantized_file is None:
        approaches = [_choice("approach", a, APPROACHES)
                      for a in _as_list("approach", kwargs.get("approach", list(APPROACHES)))]
        return chosen, approaches, _operators(kwargs.get("operators", [list(MARKER_OPERATORS)]))
    if chosen != ["onnxruntime"]:
        raise QbenchConfigError(
            f"qbench: quantized_file gates an ONNX graph on ONNX Runtime; runtime={chosen!r} asks for"
            " OpenVINO too: drop runtime= for this test (OpenVINO variants are built from the model by NNCF)"
        )
    return chosen, [GIVEN], [()]


def _variant_settings(kwargs: Mapping[str, Any], saturation_remedy: str) -> dict[str, Any]:
    """The marker's settings of VariantSpec beyond its matrix, checked; `saturation_remedy`: the session's."""
    settings = {k: _typed(k, v, getattr(VariantSpec, k)) for k, v in _split(kwargs, _VARIANT_KEYS).items()}
    settings.setdefault("saturation_remedy", saturation_remedy)
    _choice("optimization_level", settings.get("optimization_level", VariantSpec.optimization_level),
            OPTIMIZATION_LEVELS)
    _choice("preset", settings.get("preset", VariantSpec.preset), PRESETS)
    _choice("saturation_remedy", settings["saturation_remedy"], SATURATION_REMEDIES)
    _choice("nncf_model_type", settings.get("nncf_model_type", VariantSpec.nncf_model_type), NNCF_MODEL_TYPES)
    _positive_int("opset", settings.get("opset", VariantSpec.opset))
    for family in settings.get("exclude", ()):
        _choice("exclusion family", family, EXCLUSION_FAMILIES)
    return settings


def _sparse_rate(rate: Any, runtimes: list[str]) -> float | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise QbenchConfigError(
            f"qbench: sparse_decompression_rate must be a fraction in (0, 1], got {rate!r}; e.g. 0.5"
        )
    if "openvino" not in runtimes:
        raise QbenchConfigError(
            "qbench: sparse_decompression_rate is an OpenVINO setting; add runtime=['openvino'] or leave it out"
        )
    return float(rate)


def _model_file(value: Any, name: str = "model_file", example: str = "onnx/model_quantized.onnx") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.endswith(".onnx") or value.startswith(("/", "~")):
        raise QbenchConfigError(
            f"qbench: {name} must be the path of a .onnx file relative to the model folder, got {value!r};"
            f" e.g. {name}=\"{example}\""
        )
    return value


# What configures the quantizer, which a quantized_file skips.
_QUANTIZER_KEYS = {"approach", "operators", "per_channel", "reduce_range", "exclude", "nodes_to_exclude", "preset",
                   "optimization_level", *_CALIBRATION_KEYS}


def _quantized_file(kwargs: Mapping[str, Any]) -> str | None:
    value = _model_file(kwargs.get("quantized_file"), "quantized_file")
    clash = sorted(_QUANTIZER_KEYS & set(kwargs)) if value is not None else []
    if clash:
        raise QbenchConfigError(
            f"qbench: quantized_file gates a graph quantized elsewhere, as it is; {', '.join(clash)} configure"
            " the quantizer, which does not run for it: leave them out (or drop quantized_file to build variants)"
        )
    return value


def _calibration(kw: dict[str, Any]) -> CalibrationSpec:
    spec = _replace_checked(CalibrationSpec(), kw)
    _choice("calibration method", spec.method, CALIBRATION_METHODS)
    _positive_int("calibration_num_samples", spec.num_samples)
    _positive_int("calibration_sequence_length", spec.sequence_length)
    return spec


def parse_label_map(value: Any) -> tuple[tuple[str, str], ...]:
    """A `label_map` (marker argument or `qbench_label_map` fixture) as DataSpec keeps it."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not value or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
    ):
        raise QbenchConfigError(
            f"qbench: label_map must be a non-empty dict of label names to scored names, got {value!r};"
            " e.g. label_map={'GIVEN_NAME': 'PER', 'SURNAME': 'PER', 'CITY': 'LOC', '*': 'O'}"
        )
    return tuple(sorted(value.items()))


def parse_label_map_merge(value: Any) -> bool:
    """`label_map_merge` (marker argument or `qbench_label_map_merge` fixture)."""
    if not isinstance(value, bool):
        raise QbenchConfigError(
            f"qbench: label_map_merge must be True (join adjacent parts of one entity, the default) or False"
            f" (score every span the model tagged as its own entity), got {value!r}"
        )
    return value


def _data(kwargs: Mapping[str, Any]) -> DataSpec:
    spec = _replace_checked(DataSpec(dataset=kwargs.get("dataset")), _split(kwargs, _DATA_KEYS))
    spec = replace(spec, label_map=parse_label_map(kwargs.get("label_map")))
    if "label_map_merge" in kwargs:
        parse_label_map_merge(kwargs["label_map_merge"])
    _choice("scoring mode", spec.scoring, SCORING_MODES)
    for name in ("input_column", "label_column"):
        column = getattr(spec, name)
        if column is not None and not (isinstance(column, str) and column):
            raise QbenchConfigError(f"qbench: {name} must be a column name, got {column!r}")
    if spec.max_eval_samples is not None:
        _positive_int("max_eval_samples", spec.max_eval_samples)
    _positive_int("eval_batch_size", spec.eval_batch_size)
    if spec.doc_stride is not None:
        _positive_int("doc_stride", spec.doc_stride)
    _positive_int("max_answer_length", spec.max_answer_length)
    return spec


def _check_stride(data: DataSpec, lengths: list[int]) -> None:
    """Windows of each sequence length must move on: they share fewer tokens than they hold."""
    for length in lengths:
        if data.doc_stride is not None and data.doc_stride >= length:
            raise QbenchConfigError(
                f"qbench: doc_stride={data.doc_stride} is not smaller than sequence_length={length}: consecutive"
                f" windows of a long context would share all their tokens; use doc_stride < {length}, or leave it"
                f" out for a third of the length ({DataSpec(None).stride(length)})"
            )


# A number, or None: not gated (not searched, for the budget).
_OPTIONAL_NUMBERS = ("cpu_time_rtol", "latency_rtol", "throughput_rtol", "max_relative_loss", "latency_budget_ms")


def _replace_checked(obj: _Spec, kw: dict[str, Any]) -> _Spec:
    checked = {k: _optional_number(k, v) if k in _OPTIONAL_NUMBERS else _typed(k, v, getattr(obj, k))
               for k, v in kw.items()}
    if "threads" in checked and checked["threads"] is not None:
        _positive_int("threads", checked["threads"])
    return replace(obj, **checked)
