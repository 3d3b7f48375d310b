"""The optimum-onnx toolchain (toolchain.py chooses it where it imports): ORTModel's exporter,
ORTOptimizer and ORTQuantizer with optimum's `AutoQuantizationConfig` presets. The same steps as
with_onnxruntime.py, which does them without optimum."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..specs import VariantSpec
from .toolchain import QuantizedTypes

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel


def export_model(model: PreTrainedModel, out: Path, opset: int, task: str) -> None:
    """`model` as `out/model.onnx`, with its config and the tokenizer of its folder."""
    from optimum.exporters.onnx import onnx_export_from_model
    from torch.jit import TracerWarning  # type: ignore[attr-defined]  # torch.jit's __all__ omits its import of it

    with warnings.catch_warnings():
        # The exporter's own noise (tracing notes, torch deprecating the TorchScript exporter):
        # nothing a qbench user can act on.
        warnings.simplefilter("ignore", TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        onnx_export_from_model(model, out, opset=opset, task=task)


def save_preprocessors(source: Path, target: Path) -> None:
    from optimum.utils.save_utils import maybe_save_preprocessors

    maybe_save_preprocessors(source, target)


def optimize(original_dir: Path, onnx_file: str, level: int, work: Path) -> None:
    """`work/<onnx_file stem>_optimized.onnx`: the graph optimised at `level` (1 or more)."""
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import OptimizationConfig

    optimizer = ORTOptimizer.from_pretrained(original_dir, file_names=[onnx_file])
    optimizer.optimize(optimization_config=OptimizationConfig(optimization_level=level), save_dir=work)


def quantize(work: Path, optimized_file: str, spec: VariantSpec, preset: str, excluded: list[str], ranges: Any,
             out: Path) -> QuantizedTypes:
    """Quantize `work/optimized_file` into `out` (static: with the calibration `ranges`)."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    static = spec.approach == "static"
    operators = list(spec.operators)
    quantization_config = getattr(AutoQuantizationConfig, preset)(
        is_static=static, per_channel=spec.per_channel, operators_to_quantize=operators,
        nodes_to_exclude=excluded,
    )
    # Not every preset takes these as arguments.
    quantization_config.reduce_range = spec.quantize_reduced_range
    if spec.force_unsigned_weights:
        from onnxruntime.quantization import QuantType

        quantization_config.weights_dtype = QuantType.QUInt8
    quantizer = ORTQuantizer.from_pretrained(work, file_name=optimized_file)
    quantizer.quantize(quantization_config=quantization_config, save_dir=out, calibration_tensors_range=ranges)
    return QuantizedTypes.of(quantization_config.activations_dtype, quantization_config.weights_dtype,
                             quantization_config.reduce_range)


def calibrate(work: Path, optimized_file: str, spec: VariantSpec, calibration: datasets.Dataset) -> Any:
    """The activation ranges (onnxruntime's TensorsData) of `work/optimized_file` on `calibration`."""
    from optimum.onnxruntime import ORTQuantizer

    quantizer = ORTQuantizer.from_pretrained(work, file_name=optimized_file)
    return quantizer.fit(
        calibration, _calibration_config(spec, calibration),
        onnx_augmented_model_name=work / "augmented.onnx",  # optimum's default is the cwd
        operators_to_quantize=list(spec.operators),
    )


def _calibration_config(spec: VariantSpec, calibration: datasets.Dataset) -> Any:
    from optimum.onnxruntime.configuration import AutoCalibrationConfig

    method = spec.calibration.method
    if method == "percentile":
        return AutoCalibrationConfig.percentiles(calibration, percentile=spec.calibration.percentile)
    return getattr(AutoCalibrationConfig, method)(calibration)  # minmax, entropy
