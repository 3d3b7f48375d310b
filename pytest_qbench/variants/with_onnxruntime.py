"""The direct toolchain, for environments where optimum-onnx cannot be used (transformers 5): torch's
TorchScript exporter, onnxruntime's transformers optimizer and onnxruntime's quantizers, set up as
with_optimum.py's optimum calls set them up, so that a case's preset, operators, exclusions and
calibration method mean the same graph on both paths (tests/unit/test_toolchain.py compares them).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch  # toolchain.py imports this module only where torch imports

from ..errors import QbenchBuildError
from ..specs import VariantSpec
from .toolchain import QuantizedTypes

if TYPE_CHECKING:
    import datasets
    import numpy as np
    from transformers import PreTrainedModel


@dataclass(frozen=True)
class TaskOutputs:
    names: tuple[str, ...]  # optimum's output names for the task
    per_token: bool  # one value per token (axis 1 is the sequence), else one per input


TASK_OUTPUTS = {
    "token-classification": TaskOutputs(("logits",), per_token=True),
    "text-classification": TaskOutputs(("logits",), per_token=False),
    "question-answering": TaskOutputs(("start_logits", "end_logits"), per_token=True),
}
# The encoder inputs optimum's exporter declares, in the order of the model's forward; token_type_ids
# only where the model has more than one token type (BERT: yes; DistilBERT, RoBERTa: no).
ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DUMMY_SHAPE = (2, 16)  # optimum's default dummy batch and sequence
BATCH_AXES = {0: "batch_size"}
TOKEN_AXES = {0: "batch_size", 1: "sequence_length"}


def export_model(model: PreTrainedModel, out: Path, opset: int, task: str) -> None:
    """`model` as `out/model.onnx` (TorchScript exporter, dynamic batch and sequence axes, optimum's
    input and output names), with its config and the tokenizer of its folder."""
    outputs = TASK_OUTPUTS[task]
    names = _input_names(model)
    model.config.return_dict = True
    model.train(False)  # eval mode: no dropout
    axes = {name: TOKEN_AXES for name in names} | {
        name: TOKEN_AXES if outputs.per_token else BATCH_AXES for name in outputs.names}
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes and torch deprecating the TorchScript exporter: nothing a qbench user can act on.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        warnings.simplefilter("ignore", DeprecationWarning)
        # transformers 5's mask code indexes with non-negative positions only (the exported graph
        # matches torch on padded inputs of other shapes: tests/unit/test_toolchain.py).
        warnings.filterwarnings("ignore", "Exporting aten::index operator of advanced indexing", UserWarning)
        torch.onnx.export(
            model, (_dummy_inputs(model, names),), str(out / "model.onnx"),  # a last dict: the keyword inputs
            input_names=list(names), output_names=list(outputs.names), dynamic_axes=axes,
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )
    model.config.save_pretrained(out)
    if model.name_or_path:
        save_preprocessors(model.name_or_path, out)


def _input_names(model: PreTrainedModel) -> tuple[str, ...]:
    import inspect

    accepted = inspect.signature(model.forward).parameters
    multi_type = getattr(model.config, "type_vocab_size", 0) > 1
    return tuple(n for n in accepted if n in ENCODER_INPUTS and (n != "token_type_ids" or multi_type))


def _dummy_inputs(model: PreTrainedModel, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, DUMMY_SHAPE, generator=generator)
    mask = torch.ones(DUMMY_SHAPE, dtype=torch.int64)
    mask[1, DUMMY_SHAPE[1] // 2:] = 0  # padding: a mask of ones only could be traced as no mask at all
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    return {name: values[name] for name in names}


def save_preprocessors(source: str | Path, target: Path) -> None:
    """The tokenizer of `source`, saved in `target` (a model without one: nothing)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)  # type: ignore[no-untyped-call, unused-ignore]  # unannotated in 4.x
    except (OSError, ValueError):  # no tokenizer files: optimum's helper skips them too
        return
    tokenizer.save_pretrained(target)


# optimum's map of model types to onnxruntime's transformers optimizer types, for the encoders.
ORT_MODEL_TYPES = dict.fromkeys(
    ("albert", "bert", "big_bird", "camembert", "deberta", "deberta-v2", "distilbert", "electra", "modernbert",
     "mpnet", "nystromformer", "roberta", "xlm-roberta"), "bert")


def optimize(original_dir: Path, onnx_file: str, level: int, work: Path) -> None:
    """`work/<onnx_file stem>_optimized.onnx`: the graph optimised at `level` (1 or more), as optimum's
    `OptimizationConfig(optimization_level=level)` asks onnxruntime's transformers optimizer."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(original_dir)
    model_type = ORT_MODEL_TYPES.get(config.model_type)
    if model_type is None:
        raise QbenchBuildError(
            f"qbench: graph optimisation of {config.model_type!r} models is not supported without optimum"
            f" (supported: {', '.join(sorted(ORT_MODEL_TYPES))}); use optimization_level=0"
        )
    options = FusionOptions(model_type)
    options.enable_embed_layer_norm = False  # optimum's OptimizationConfig default
    optimizer = optimize_model(
        str(original_dir / onnx_file), model_type, config.num_attention_heads, config.hidden_size,
        opt_level=level, optimization_options=options, use_gpu=False, only_onnxruntime=False,
    )
    work.mkdir(parents=True, exist_ok=True)
    optimizer.save_model_to_file(str(work / f"{Path(onnx_file).stem}_optimized.onnx"))
    config.save_pretrained(work)
    save_preprocessors(original_dir, work)


@dataclass(frozen=True)
class Preset:
    """optimum's `AutoQuantizationConfig` preset, as onnxruntime's quantizers take it."""

    unsigned_weights: bool  # weights uint8 (u8u8), else int8 (u8s8); activations are always uint8


PRESETS = {"avx2": Preset(unsigned_weights=True), "avx512": Preset(unsigned_weights=False),
           "avx512_vnni": Preset(unsigned_weights=False), "arm64": Preset(unsigned_weights=False)}
SUBGRAPH_OPS = ("If", "Loop", "Scan", "SequenceMap")


def quantize(work: Path, optimized_file: str, spec: VariantSpec, preset: str, excluded: list[str], ranges: Any,
             out: Path) -> QuantizedTypes:
    """Quantize `work/optimized_file` into `out` (static: QDQ with the calibration `ranges`; dynamic:
    QOperator), with the quantizer and settings optimum's `ORTQuantizer.quantize` uses."""
    import onnx
    from onnxruntime.quantization import QuantizationMode, QuantType
    from onnxruntime.quantization.onnx_quantizer import ONNXQuantizer
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer

    static = spec.approach == "static"
    unsigned = PRESETS[preset].unsigned_weights or spec.force_unsigned_weights
    weights = QuantType.QUInt8 if unsigned else QuantType.QInt8
    reduce_range = spec.quantize_reduced_range
    model = onnx.load(str(work / optimized_file))
    subgraphs = any(node.op_type in SUBGRAPH_OPS for node in model.graph.node)
    if subgraphs and static:
        raise QbenchBuildError(f"qbench: variant {spec.id}: static quantization of a graph with subgraphs"
                               f" ({', '.join(SUBGRAPH_OPS)}) is not supported; use approach='dynamic'")
    extra = {"WeightSymmetric": True, "ActivationSymmetric": False, "EnableSubgraph": subgraphs,
             "ForceSymmetric": False, "AddQDQPairToWeight": False, "DedicatedQDQPair": False,
             "QDQOpTypePerChannelSupportToAxis": {"MatMul": 1}}
    common = {"model": model, "per_channel": spec.per_channel, "reduce_range": reduce_range,
              "weight_qType": weights, "activation_qType": QuantType.QUInt8, "tensors_range": ranges,
              "nodes_to_quantize": [], "nodes_to_exclude": excluded, "op_types_to_quantize": list(spec.operators),
              "extra_options": extra}
    quantizer = (QDQQuantizer(**common) if static
                 else ONNXQuantizer(mode=QuantizationMode.IntegerOps, static=False, **common))
    quantizer.quantize_model()
    out.mkdir(parents=True, exist_ok=True)
    quantizer.model.save_model_to_file(str(out / f"{Path(optimized_file).stem}_quantized.onnx"), False)
    _copy_config(work, out)
    return QuantizedTypes.of(QuantType.QUInt8, weights, reduce_range)


def _copy_config(source: Path, target: Path) -> None:
    from transformers import AutoConfig

    AutoConfig.from_pretrained(source).save_pretrained(target)
    save_preprocessors(source, target)


def calibrate(work: Path, optimized_file: str, spec: VariantSpec, calibration: datasets.Dataset) -> Any:
    """The activation ranges (onnxruntime's TensorsData) of `work/optimized_file` on `calibration`, one
    example at a time, with optimum's `AutoCalibrationConfig` settings for the method."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    calibrator = create_calibrator(
        str(work / optimized_file), op_types_to_calibrate=list(spec.operators),
        augmented_model_path=str(work / "augmented.onnx"), calibrate_method=methods[spec.calibration.method],
        extra_options=_calibration_settings(spec),
    )
    calibrator.collect_data(_Reader(calibration))
    return calibrator.compute_data()


def _calibration_settings(spec: VariantSpec) -> dict[str, float | bool]:
    """optimum's `AutoCalibrationConfig` values for the case's method."""
    method = spec.calibration.method
    if method == "minmax":
        return {"symmetric": False, "moving_average": False, "averaging_constant": 0.01}
    if method == "entropy":
        return {"symmetric": False, "num_bins": 128, "num_quantized_bins": 128}
    return {"symmetric": False, "num_bins": 2048, "percentile": spec.calibration.percentile}


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a dataset, one example per batch."""

    def __init__(self, dataset: datasets.Dataset) -> None:
        self._rows = iter(dataset)

    def get_next(self) -> dict[str, np.ndarray[Any, Any]] | None:
        import numpy as np

        row = next(self._rows, None)
        return None if row is None else {name: np.asarray([value]) for name, value in row.items()}
