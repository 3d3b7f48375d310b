"""OpenVINO variants: the exported original read by OpenVINO, and NNCF's int8 of it.

Both sides of an OpenVINO case are OpenVINO IR folders (`openvino_model.xml` + `.bin`, with the
original's config and tokenizer), each a `BuildCache` entry of its own:

- the original: the exported fp32 `model.onnx` read by OpenVINO and saved at fp32 (OpenVINO's
  `save_model` would halve the weights to fp16 unless told not to);
- "dynamic": NNCF weight compression to int8 (`compress_weights`, INT8_ASYM, per channel): int8
  weights; at run time the CPU plugin quantizes the activations per group of 32 and multiplies in
  int8 where the CPU has int8 dot products. The nearest match to ONNX Runtime's dynamic quantization.
- "static": NNCF post-training quantization with the transformer preset (`ModelType.TRANSFORMER`),
  on the same calibration samples as ONNX Runtime's static variant: int8 FakeQuantize on MatMul
  inputs; the preset keeps the attention-mask arithmetic, Softmax and LayerNorm in float
  (`nncf_model_type="generic"`: NNCF without a model type, which quantizes those too).

NNCF quantizes the graph as exported (OpenVINO fuses on its own), so `optimization_level`,
`operators`, `per_channel`, the exclusions and the ONNX Runtime presets do not apply.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import QbenchBuildError, QbenchConfigError
from ..results import QuantizationRecord
from ..specs import VariantSpec
from .cache import MANIFEST, BuildCache, library_versions
from .export import ONNX_FILE, as_qbench_error
from .quantize import RECORD_FILE, BuiltVariant, dataset_fingerprint, original_fingerprint

if TYPE_CHECKING:
    import datasets
    import openvino

IR_FILE = "openvino_model.xml"
OPENVINO_LIBRARIES = ("openvino", "nncf")
MISSING = ("qbench: runtime 'openvino' needs OpenVINO and NNCF, which are not installed: "
           "pip install 'pytest-qbench[openvino]' (or drop runtime='openvino')")


def require_openvino() -> None:
    """Raise the error that names the extra when OpenVINO or NNCF cannot be imported."""
    try:
        import nncf  # noqa: F401
        import openvino  # noqa: F401
    except ImportError as error:
        raise QbenchConfigError(MISSING) from error


def openvino_original(original_dir: Path, cache: BuildCache) -> Path:
    """A cache entry holding the exported original as fp32 OpenVINO IR, with its config and tokenizer."""
    require_openvino()
    key = {"kind": "openvino original", "original": original_fingerprint(original_dir),
           "libraries": library_versions(OPENVINO_LIBRARIES)}

    def build(out: Path) -> None:
        import openvino as ov

        with as_qbench_error(QbenchBuildError, "OpenVINO could not read the exported model"):
            _save(ov.Core().read_model(str(original_dir / ONNX_FILE)), original_dir, out)

    return cache.get_or_build(key, build)[0]


def build_openvino_variant(original_dir: Path, spec: VariantSpec, *, calibration: datasets.Dataset | None,
                           cache: BuildCache) -> BuiltVariant:
    """The OpenVINO original and `spec`'s NNCF int8 of it, through the cache."""
    start = time.perf_counter()
    static = spec.approach == "static"
    if static and calibration is None:
        raise QbenchBuildError(f"qbench: variant {spec.id}: static quantization needs calibration data")
    fp32 = openvino_original(original_dir, cache)
    key = {
        "kind": "openvino variant",
        "original": original_fingerprint(original_dir),
        "variant": {k: v for k, v in spec.to_dict().items() if k != "sparse_decompression_rate"},  # a run-time setting
        "calibration_data": dataset_fingerprint(calibration) if static else None,
        "libraries": library_versions(OPENVINO_LIBRARIES),
    }
    entry, cached = cache.get_or_build(key, lambda out: _build(fp32, spec, calibration, out))
    return BuiltVariant.from_entry(entry, IR_FILE, original=fp32 / IR_FILE, consumed=fp32 / IR_FILE, start=start,
                                   cached=cached)


def _build(fp32: Path, spec: VariantSpec, calibration: datasets.Dataset | None, out: Path) -> None:
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(fp32 / IR_FILE))
    with as_qbench_error(QbenchBuildError, f"building variant {spec.id} failed at NNCF {spec.approach} quantization"):
        if spec.approach == "static":
            assert calibration is not None
            # One sample per item, as ONNX Runtime's calibration reads them: a batch of one.
            items = [{name: value[None] for name, value in row.items()} for row in calibration.with_format("numpy")]
            model_type = nncf.ModelType.TRANSFORMER if spec.nncf_model_type == "transformer" else None
            quantized = nncf.quantize(model, nncf.Dataset(items), model_type=model_type, subset_size=len(items))
        else:
            quantized = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    _save(quantized, fp32, out)
    (out / RECORD_FILE).write_text(json.dumps(asdict(_record(quantized, spec)), indent=1))


def _save(model: openvino.Model, config_dir: Path, out: Path) -> None:
    """`model` as IR in `out` at the precision it has, beside `config_dir`'s config and tokenizer files."""
    import openvino as ov

    ov.save_model(model, str(out / IR_FILE), compress_to_fp16=False)
    for file in config_dir.iterdir():
        if file.is_file() and file.suffix not in (".onnx", ".xml", ".bin") and not file.name.endswith("_data") \
                and file.name not in (MANIFEST, RECORD_FILE):
            shutil.copyfile(file, out / file.name)


def _record(model: openvino.Model, spec: VariantSpec) -> QuantizationRecord:
    """What NNCF put in the graph: FakeQuantize nodes (static), int8 weight constants (dynamic)."""
    counts: dict[str, int] = {}
    for op in model.get_ops():
        name = op.get_type_name()
        if name == "FakeQuantize":
            counts[name] = counts.get(name, 0) + 1
        elif name == "Constant" and op.get_output_element_type(0).get_type_name() in ("u8", "i8"):
            counts["int8 weights"] = counts.get("int8 weights", 0) + 1
    static = spec.approach == "static"
    return QuantizationRecord(
        preset=f"nncf {spec.nncf_model_type}" if static else "nncf int8 weights",
        quantized_ops=dict(sorted(counts.items())),
        excluded_nodes=[],
        note=None if counts else f"NNCF {spec.approach} quantization quantized nothing",
        weights_dtype="int8",
    )
