"""Build the models a case compares: the fp32 ONNX original and an int8 variant of it.

export (torch -> ONNX) -> graph optimisation (ORTOptimizer) -> symbolic shape inference ->
quantization (ORTQuantizer, dynamic or static with calibration). Every slow step goes through the
`BuildCache`, so a second run reuses the exported and quantized models.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..config import GIVEN, VariantSpec
from ..results import OriginalRecord, QuantizationRecord
from .cache import MANIFEST, BuildCache, fingerprint_path, library_versions

if TYPE_CHECKING:
    import datasets
    import onnx

ONNX_FILE = "model.onnx"
CONFIG_FILE = "config.json"
EXPORT_INFO = "qbench_export.json"
OPTIMIZED_FILE = "model_optimized.onnx"
QUANTIZED_FILE = "model_optimized_quantized.onnx"  # the name ORTQuantizer gives it
RECORD_FILE = "qbench_quantization.json"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# Op types that only appear in a graph when the quantizer changed something.
QUANTIZED_OP_TYPES = frozenset({
    "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QuantizeLinear", "DequantizeLinear",
    "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QAttention", "QEmbedLayerNormalization",
    "QGemm", "QLinearMatMul", "QLinearConv", "QLinearAdd", "QLinearMul", "QLinearSoftmax",
    "QLinearSigmoid", "QLinearLeakyRelu", "QLinearConcat", "QLinearAveragePool",
    "QLinearGlobalAveragePool", "QLinearWhere", "DynamicQuantizeLSTM",
    "MatMulNBits", "MatMulBnb4", "GatherBlockQuantized",  # 2- to 8-bit block-quantized weights
})
_BLOCK_QUANTIZED = {"MatMulNBits": 4, "MatMulBnb4": 4, "GatherBlockQuantized": 4}  # default bits
_FLOAT_NAMES = {1: "fp32", 10: "fp16", 16: "bf16", 11: "fp64"}  # onnx.TensorProto data types


class QbenchModelError(ValueError):
    """The model argument cannot be turned into an ONNX original; the message says why."""


class QbenchBuildError(RuntimeError):
    """A step of building a variant failed; the message names the variant and the step."""


class QbenchModelWarning(UserWarning):
    """The model builds, but its results may not mean what the user expects."""


@dataclass(frozen=True)
class BuiltVariant:
    original: Path  # the fp32 ONNX file
    optimized: Path  # the quantized ONNX file
    consumed: Path  # the fp32 graph the quantizer consumed (graph-optimized): what diagnosis compares with
    model_dir: Path  # config + tokenizer of the quantized model
    quantization: QuantizationRecord
    seconds: float  # spent in this call: the build, or just the cache lookup
    cached: bool


@contextlib.contextmanager
def _reraise(error: type[Exception], context: str) -> Iterator[None]:
    """Turn a library's exception into one line naming what qbench was doing."""
    try:
        yield
    except (QbenchModelError, QbenchBuildError):
        raise
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise error(f"qbench: {context}: {type(exc).__name__}: {reason}") from exc


def _step(spec: VariantSpec, what: str) -> contextlib.AbstractContextManager[None]:
    return _reraise(QbenchBuildError, f"building variant {spec.id} failed at {what}")


# ---- the original ------------------------------------------------------------------------------


def export_original(model: str | Path, opset: int, cache: BuildCache) -> Path:
    """A folder holding the fp32 `model.onnx`, `config.json` and the tokenizer files.

    `model` is a hub id, a local Hugging Face folder (exported here), or an existing ONNX model:
    a `.onnx` file or a folder with `model.onnx`, used as it is.
    """
    path = Path(model).expanduser()
    if path.exists():
        return _local_original(path, opset, cache)
    if isinstance(model, Path) or _looks_like_path(str(model)):
        raise QbenchModelError(f"qbench: model path {str(model)!r} does not exist")
    return _hub_original(str(model), opset, cache)


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.endswith(".onnx") or model.count("/") > 1


ONNX_FOLDER = "onnx"  # the hub's layout (every transformers.js model): config at the top, graphs in onnx/


def _local_original(path: Path, opset: int, cache: BuildCache) -> Path:
    if path.is_file():
        if path.suffix != ".onnx":
            raise QbenchModelError(
                f"qbench: model {str(path)!r} is a file but not .onnx; pass a Hugging Face model"
                " folder, a .onnx file, or a hub id"
            )
        config_dir = _config_dir(path)
        if config_dir == path.parent and path.name == ONNX_FILE:
            return path.parent
        return _adopt_onnx(path, config_dir, cache)
    _require_config(path)
    if (path / ONNX_FILE).is_file():
        return path
    graphs = sorted((path / ONNX_FOLDER).glob("*.onnx")) if (path / ONNX_FOLDER).is_dir() else []
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        if len(graphs) == 1 or (path / ONNX_FOLDER / ONNX_FILE) in graphs:
            return _local_original(graphs[0] if len(graphs) == 1 else path / ONNX_FOLDER / ONNX_FILE, opset, cache)
        listed = f"; its {ONNX_FOLDER}/ holds {', '.join(g.name for g in graphs)}: name one with model_file=" if graphs else ""
        raise QbenchModelError(
            f"qbench: model folder {str(path)!r} has no weights ({', '.join(WEIGHT_FILES)}), no {ONNX_FILE}"
            f" and no {ONNX_FOLDER}/{ONNX_FILE}{listed}"
        )
    key = {"kind": "export", "model": fingerprint_path(path), "opset": opset, "libraries": library_versions()}
    entry, _ = cache.get_or_build(key, lambda out: _export(str(path), out, opset))
    return _checked_export(entry, str(path))


def _config_dir(onnx_file: Path) -> Path:
    """Where a .onnx file's config and tokenizer are: beside it, or one level up (the hub's onnx/)."""
    for folder in (onnx_file.parent, onnx_file.parent.parent):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise QbenchModelError(
        f"qbench: {str(onnx_file.parent)!r} has no {CONFIG_FILE}, nor has its parent; a .onnx file needs the"
        " Hugging Face config and tokenizer files beside it (model.onnx, config.json, tokenizer.json) or one"
        f" level up (the hub's layout: config.json at the top, the graphs in {ONNX_FOLDER}/)"
    )


def _require_config(folder: Path) -> None:
    if not (folder / CONFIG_FILE).is_file():
        raise QbenchModelError(
            f"qbench: {str(folder)!r} has no {CONFIG_FILE}; a model folder needs the Hugging Face"
            " config and tokenizer files next to the weights or the .onnx file"
        )


def _adopt_onnx(file: Path, config_dir: Path, cache: BuildCache) -> Path:
    """Copy an ONNX file named or placed otherwise into a cache entry as `model.onnx`, with the config
    and tokenizer of `config_dir`."""

    key = {"kind": "adopt", "model": fingerprint_path(file), "config": fingerprint_path(config_dir / CONFIG_FILE)}
    return cache.get_or_build(key, lambda out: _copy_model(file, config_dir, out / ONNX_FILE))[0]


def _copy_model(file: Path, config_dir: Path, target: Path) -> "onnx.ModelProto":
    """`file` saved as `target` (external data inlined), with the config and tokenizer of `config_dir`
    beside it; returns the graph."""
    import onnx
    from optimum.utils.save_utils import maybe_save_preprocessors

    with _reraise(QbenchModelError, f"reading ONNX model {str(file)!r} failed"):
        model = onnx.load(str(file))
    onnx.save(model, str(target))
    shutil.copyfile(config_dir / CONFIG_FILE, target.parent / CONFIG_FILE)
    maybe_save_preprocessors(config_dir, target.parent)
    return model


def _hub_original(model_id: str, opset: int, cache: BuildCache) -> Path:
    from transformers.utils import cached_file

    try:
        config_path = Path(cached_file(model_id, CONFIG_FILE))
    except OSError as exc:
        raise QbenchModelError(
            f"qbench: model {model_id!r} is not a local path and could not be fetched from the"
            f" Hugging Face hub (unreachable, or no such model: {str(exc).splitlines()[0]});"
            " check the id, or pass a local model folder or .onnx file"
        ) from None
    revision = config_path.parent.name  # the hub cache stores files under snapshots/<commit>/
    key = {"kind": "export", "hub_id": model_id, "revision": revision, "opset": opset,
           "libraries": library_versions()}
    entry, _ = cache.get_or_build(key, lambda out: _export(model_id, out, opset, revision))
    return _checked_export(entry, model_id)


def _export(source: str, out: Path, opset: int, revision: str | None = None) -> None:
    import transformers
    from optimum.exporters.onnx import onnx_export_from_model
    from torch.jit import TracerWarning

    from ..measure.tasks import task_for

    with _reraise(QbenchModelError, f"reading the config of {source!r} failed"):
        config = transformers.AutoConfig.from_pretrained(source, revision=revision)
    task = task_for(config)
    with _reraise(QbenchModelError, f"loading {source!r} as a {task.name} model failed"):
        # Eager attention: below opset 14 the exporter cannot express scaled_dot_product_attention.
        model, loading = getattr(transformers, task.auto_class).from_pretrained(
            source, revision=revision, attn_implementation="eager", output_loading_info=True
        )
    with (
        _reraise(QbenchModelError, f"exporting {source!r} to ONNX (opset {opset}) failed"),
        warnings.catch_warnings(),
    ):
        # The exporter's own noise (tracing notes, torch deprecating the TorchScript exporter):
        # nothing a qbench user can act on.
        warnings.simplefilter("ignore", TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        onnx_export_from_model(model, out, opset=opset, task=task.name)
    info = {"source": source, "revision": revision, "opset": opset, "task": task.name,
            "newly_initialised": sorted(loading["missing_keys"])}
    (out / EXPORT_INFO).write_text(json.dumps(info, indent=1))


def _checked_export(entry: Path, model: str) -> Path:
    info = json.loads((entry / EXPORT_INFO).read_text())
    fresh = info["newly_initialised"]
    if fresh:
        warnings.warn(
            f"qbench: model {model!r} has no trained {info.get('task', 'token-classification')} head;"
            f" {', '.join(fresh)}"
            " were initialised at random, so its accuracy is meaningless until it is fine-tuned",
            QbenchModelWarning,
            stacklevel=4,
        )
    return entry


# ---- the variant -------------------------------------------------------------------------------


def build_variant(
    original_dir: Path,
    spec: VariantSpec,
    *,
    preset: str,
    calibration: "datasets.Dataset | None",
    cache: BuildCache,
) -> BuiltVariant:
    """Optimise and quantize `original_dir/model.onnx` as `spec` says, through the cache.

    `preset` is the machine's (`Hardware.preset`), used when `spec.preset` is "auto".
    `calibration` holds exactly the model-input columns; static quantization needs it.
    """
    start = time.perf_counter()
    preset = preset if spec.preset == "auto" else spec.preset
    static = spec.approach == "static"
    if not (original_dir / ONNX_FILE).is_file():
        raise QbenchBuildError(f"qbench: variant {spec.id}: {str(original_dir)!r} has no {ONNX_FILE}")
    if static and calibration is None:
        raise QbenchBuildError(f"qbench: variant {spec.id}: static quantization needs calibration data")
    variant = {**spec.to_dict(), "preset": preset}
    if not static:
        variant.pop("calibration")  # dynamic quantization never reads it
    key = {
        "kind": "variant",
        "original": _original_fingerprint(original_dir),
        "variant": variant,
        "calibration_data": _dataset_fingerprint(calibration) if static else None,
        "libraries": library_versions(),
    }
    with _step(spec, f"graph optimisation (level {spec.optimization_level})"):
        consumed = optimized_original(original_dir, spec.optimization_level, cache)
    entry, cached = cache.get_or_build(
        key, lambda out: _build(consumed, spec, preset, calibration, out, cache)
    )
    record = QuantizationRecord(**json.loads((entry / RECORD_FILE).read_text()))
    return BuiltVariant(
        original=original_dir / ONNX_FILE,
        optimized=entry / QUANTIZED_FILE,
        consumed=consumed / OPTIMIZED_FILE,
        model_dir=entry,
        quantization=record,
        seconds=time.perf_counter() - start,
        cached=cached,
    )


def adopt_quantized(original_dir: Path, file: Path, *, cache: BuildCache) -> BuiltVariant:
    """A graph quantized elsewhere (the case's quantized_file) as the optimized model, as it is: copied
    into a cache entry with the original's config and tokenizer and a record of what it holds."""
    start = time.perf_counter()

    def build(out: Path) -> None:
        graph = _copy_model(file, original_dir, out / QUANTIZED_FILE).graph
        (out / RECORD_FILE).write_text(json.dumps(asdict(_given_record(graph, file.name)), indent=1))

    key = {"kind": "given", "model": fingerprint_path(file), "original": _original_fingerprint(original_dir)}
    entry, cached = cache.get_or_build(key, build)
    return BuiltVariant(
        original=original_dir / ONNX_FILE,
        optimized=entry / QUANTIZED_FILE,
        consumed=original_dir / ONNX_FILE,
        model_dir=entry,
        quantization=QuantizationRecord(**json.loads((entry / RECORD_FILE).read_text())),
        seconds=time.perf_counter() - start,
        cached=cached,
    )


def _quantized_ops(graph: Any) -> Counter[str]:
    return Counter(n.op_type for n in graph.node if n.op_type in QUANTIZED_OP_TYPES)


def _given_record(graph: Any, name: str) -> QuantizationRecord:
    ops = _quantized_ops(graph)
    activations, weights = _integer_types(graph)
    note = None if ops else f"quantized_file {name} holds no quantized op: it is gated as given, but it is not int8"
    return QuantizationRecord(preset=GIVEN, quantized_ops=dict(sorted(ops.items())), excluded_nodes=[], note=note,
                              activations_dtype=activations, weights_dtype=weights)


def _integer_types(graph: Any) -> tuple[str | None, str | None]:
    """The 8-bit types of a quantized graph's activations (DynamicQuantizeLinear's, or a QuantizeLinear's
    zero point) and weights (the initializers MatMulInteger, ConvInteger or DequantizeLinear read)."""
    initializers = {t.name: t.data_type for t in graph.initializer}
    names = {2: "uint8", 3: "int8"}  # onnx.TensorProto.UINT8, INT8
    activations = weights = None
    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            activations = activations or "uint8"
        elif node.op_type == "QuantizeLinear" and len(node.input) > 2:
            activations = activations or names.get(initializers.get(node.input[2]))
        weight = {"MatMulInteger": 1, "ConvInteger": 1, "DequantizeLinear": 0}.get(node.op_type)
        if weight is not None:
            weights = weights or names.get(initializers.get(node.input[weight]))
    return activations, weights


def original_record(onnx_file: Path) -> OriginalRecord:
    """What precision the original graph computes in, read from its ops and weights (external data
    is not loaded): quantized ops make it int8 or n-bit whatever its float tensors are."""
    import onnx

    graph = onnx.load(str(onnx_file), load_external_data=False).graph
    ops = _quantized_ops(graph)
    kinds = []
    for node in graph.node:
        if node.op_type in _BLOCK_QUANTIZED:
            bits = next((a.i for a in node.attribute if a.name == "bits"), _BLOCK_QUANTIZED[node.op_type])
            kinds.append(f"int{bits}")
    if ops.keys() - _BLOCK_QUANTIZED.keys():
        kinds.append("int8")
    if not kinds:
        floats = Counter(t.data_type for t in graph.initializer if t.data_type in _FLOAT_NAMES)
        kinds.append(_FLOAT_NAMES[floats.most_common(1)[0][0]] if floats else "fp32")
    return OriginalRecord(precision="+".join(sorted(set(kinds))), quantized_ops=dict(sorted(ops.items())))


def _original_fingerprint(original_dir: Path) -> str:
    # Only what decides the optimized bytes: the graph (and its external data) and the config.
    files = [original_dir / ONNX_FILE, original_dir / (ONNX_FILE + "_data"), original_dir / CONFIG_FILE]
    parts = [f"{f.name}:{fingerprint_path(f)}" for f in files if f.is_file()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _dataset_fingerprint(dataset: "datasets.Dataset") -> str:
    text = json.dumps(dataset.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def optimized_original(original_dir: Path, level: int, cache: BuildCache) -> Path:
    """A cache entry holding `model_optimized.onnx`, the fp32 graph after graph optimisation at
    `level` and symbolic shape inference, with the config and tokenizer: what every variant of that
    level quantizes, built once for all of them."""
    key = {"kind": "optimized", "original": _original_fingerprint(original_dir), "level": level,
           "libraries": library_versions()}

    def build(out: Path) -> None:
        _optimize(original_dir, level, out)
        _infer_shapes(out / OPTIMIZED_FILE)

    return cache.get_or_build(key, build)[0]


def _build(consumed: Path, spec: VariantSpec, preset: str,
           calibration: "datasets.Dataset | None", out: Path, cache: BuildCache) -> None:
    import onnx

    with tempfile.TemporaryDirectory(prefix="qbench-") as tmp:
        work = Path(tmp)
        for file in consumed.iterdir():  # optimum's quantizer writes beside its input: work on a copy
            if file.is_file() and file.name != MANIFEST:
                shutil.copyfile(file, work / file.name)
        model = onnx.load(str(work / OPTIMIZED_FILE), load_external_data=False)
        excluded, notes = _exclusions(model, spec)
        static = spec.approach == "static"  # dynamic scales at run time: it calibrates nothing, whatever it is given
        if static:
            _check_columns(model, calibration, spec)
        with _step(spec, f"{spec.approach} quantization"):
            ranges = _calibration_ranges(consumed, work, spec, calibration, cache) if static else None
            config = _quantize(work, spec, preset, excluded, ranges, out)
    with _step(spec, "reading the quantized graph"):
        quantized = onnx.load(str(out / QUANTIZED_FILE), load_external_data=False)
    counts = _quantized_ops(quantized.graph)
    if not counts:
        notes.insert(0, _nothing_quantized(spec))
    record = QuantizationRecord(
        preset=preset,
        quantized_ops=dict(sorted(counts.items())),
        excluded_nodes=excluded,
        note="; ".join(notes) or None,
        activations_dtype=_dtype_name(config.activations_dtype),
        weights_dtype=_dtype_name(config.weights_dtype),
        reduce_range=config.reduce_range,
    )
    (out / RECORD_FILE).write_text(json.dumps(asdict(record), indent=1))


def _optimize(original_dir: Path, level: int, work: Path) -> None:
    if level == 0:  # no optimisation: quantize the exported graph itself
        from optimum.utils.save_utils import maybe_save_preprocessors

        shutil.copyfile(original_dir / ONNX_FILE, work / OPTIMIZED_FILE)
        shutil.copyfile(original_dir / CONFIG_FILE, work / CONFIG_FILE)
        maybe_save_preprocessors(original_dir, work)
        return
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import OptimizationConfig

    optimizer = ORTOptimizer.from_pretrained(original_dir, file_names=[ONNX_FILE])
    optimizer.optimize(optimization_config=OptimizationConfig(optimization_level=level), save_dir=work)


def _infer_shapes(path: Path) -> None:
    # onnxruntime >= 1.31 quantization cannot type the outputs of fused com.microsoft ops
    # ("Unable to find data type for weight_name=..."): symbolic shape inference types them first.
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    onnx.save(SymbolicShapeInference.infer_shapes(onnx.load(str(path)), auto_merge=True), str(path))


def _exclusions(model: "onnx.ModelProto", spec: VariantSpec) -> tuple[list[str], list[str]]:
    """Node names to keep in fp32, and notes on what the request did not match."""
    from .exclusion import resolve_family

    notes, names = [], []
    for family in spec.exclude:
        matched = resolve_family(model, family)
        if not matched:
            notes.append(f"exclusion family {family!r} matched no node of the optimized graph")
        names += matched
    present = {n.name for n in model.graph.node}
    missing = [n for n in spec.nodes_to_exclude if n not in present]
    if missing:
        notes.append(f"nodes_to_exclude not in the optimized graph: {', '.join(missing)}")
    names += [n for n in spec.nodes_to_exclude if n in present]
    return list(dict.fromkeys(names)), notes


def _check_columns(model: "onnx.ModelProto", calibration: "datasets.Dataset", spec: VariantSpec) -> None:
    inputs = {i.name for i in model.graph.input}
    if set(calibration.column_names) != inputs:
        raise QbenchBuildError(
            f"qbench: variant {spec.id}: calibration columns {sorted(calibration.column_names)}"
            f" are not the model inputs {sorted(inputs)}"
        )


def _quantize(work: Path, spec: VariantSpec, preset: str, excluded: list[str], ranges: Any, out: Path) -> Any:
    """Quantize `work`'s optimized graph into `out` (static: with the calibration `ranges`); returns
    the quantization config used."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    static = spec.approach == "static"
    operators = list(spec.operators)
    config = getattr(AutoQuantizationConfig, preset)(
        is_static=static, per_channel=spec.per_channel, operators_to_quantize=operators,
        nodes_to_exclude=excluded,
    )
    # Not every preset takes these as arguments.
    config.reduce_range = spec.reduce_range or spec.saturation_remedy == "reduce_range"
    if spec.saturation_remedy == "u8u8":
        from onnxruntime.quantization import QuantType

        config.weights_dtype = QuantType.QUInt8
    quantizer = ORTQuantizer.from_pretrained(work, file_name=OPTIMIZED_FILE)
    quantizer.quantize(quantization_config=config, save_dir=out, calibration_tensors_range=ranges)
    return config


RANGES_FILE = "ranges.npz"


def _calibration_ranges(consumed: Path, work: Path, spec: VariantSpec, calibration: "datasets.Dataset",
                        cache: BuildCache) -> Any:
    """The activation ranges static quantization calibrates, through the cache: they depend on the
    graph, the operators, the method and the data, not on the nodes kept in fp32, so the candidates
    of a repair search (or variants differing in exclusions) calibrate once."""
    # `consumed` is a cache entry: its name is the digest of what decided its graph, no need to hash 100s of MB.
    key = {"kind": "calibration", "graph": consumed.name,
           "operators": list(spec.operators), "method": spec.calibration.method,
           "percentile": spec.calibration.percentile if spec.calibration.method == "percentile" else None,
           "data": _dataset_fingerprint(calibration), "libraries": library_versions()}

    def fit(out: Path) -> None:
        from optimum.onnxruntime import ORTQuantizer

        quantizer = ORTQuantizer.from_pretrained(work, file_name=OPTIMIZED_FILE)
        ranges = quantizer.fit(
            calibration, _calibration_config(spec, calibration),
            onnx_augmented_model_name=work / "augmented.onnx",  # optimum's default is the cwd
            operators_to_quantize=list(spec.operators),
        )
        _save_ranges(ranges, out / RANGES_FILE)

    return _load_ranges(cache.get_or_build(key, fit)[0] / RANGES_FILE)


def _save_ranges(ranges: Any, path: Path) -> None:
    """onnxruntime's TensorsData as arrays named "<tensor index>/<field>", the names and method in "meta"."""
    import numpy as np

    names = list(ranges.keys())
    arrays = {f"{i}/{field}": np.asarray(value) for i, name in enumerate(names)
              for field, value in ranges[name].to_dict().items() if field != "CLS"}
    meta = json.dumps({"method": ranges.calibration_method.name, "tensors": names})
    with open(path, "wb") as handle:
        np.savez(handle, meta=np.array(meta), **arrays)


def _load_ranges(path: Path) -> Any:
    import numpy as np
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

    with np.load(path) as stored:
        meta = json.loads(str(stored["meta"]))
        fields: dict[int, dict[str, Any]] = {}
        for key in stored.files:
            if key != "meta":
                index, field = key.split("/", 1)
                fields.setdefault(int(index), {})[field] = stored[key]
    data = {name: TensorData(**fields[i]) for i, name in enumerate(meta["tensors"])}
    return TensorsData(CalibrationMethod[meta["method"]], data)


def _dtype_name(quant_type: Any) -> str:
    return {"QInt8": "int8", "QUInt8": "uint8"}.get(quant_type.name, quant_type.name.lower())


def _calibration_config(spec: VariantSpec, calibration: "datasets.Dataset") -> Any:
    from optimum.onnxruntime.configuration import AutoCalibrationConfig

    method = spec.calibration.method
    if method == "percentile":
        return AutoCalibrationConfig.percentiles(calibration, percentile=spec.calibration.percentile)
    return getattr(AutoCalibrationConfig, method)(calibration)  # minmax, entropy


def _nothing_quantized(spec: VariantSpec) -> str:
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    if spec.approach == "dynamic" and not set(spec.operators) & set(IntegerOpsRegistry):
        return (
            f"dynamic quantization of {list(spec.operators)} quantized nothing: onnxruntime has no"
            f" dynamic (integer) kernel for {', '.join(spec.operators)}; the variant is the fp32 graph"
        )
    return (
        f"{spec.approach} quantization of {list(spec.operators)} quantized nothing: no node of those"
        " types was left to quantize (all excluded, or fused away by graph optimisation);"
        " the variant is the fp32 graph"
    )
