"""Build the variant a case gates: the original optimised and quantized as its `VariantSpec` says.

graph optimisation -> symbolic shape inference -> quantization (dynamic, or static with calibration
ranges, themselves cached per graph, operators, method and data), each step by the toolchain of
toolchain.py (optimum's ORTOptimizer and ORTQuantizer, or onnxruntime's own). Every
slow step goes through the `BuildCache`, so a second run reuses the optimised and quantized models.
A graph quantized elsewhere (a case's quantized_file) is adopted as it is instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import QbenchBuildError
from ..results import QuantizationRecord
from ..specs import VariantSpec
from .cache import MANIFEST, BuildCache, fingerprint_path, library_versions
from .export import CONFIG_FILE, ONNX_FILE, as_qbench_error, copy_model
from .inspect import given_record, nothing_quantized, quantized_ops
from .toolchain import backend

if TYPE_CHECKING:
    import datasets
    import onnx

OPTIMIZED_FILE = "model_optimized.onnx"
QUANTIZED_FILE = "model_optimized_quantized.onnx"  # the name ORTQuantizer gives it (and the direct path)
RECORD_FILE = "qbench_quantization.json"


@dataclass(frozen=True)
class BuiltVariant:
    original: Path  # the fp32 ONNX file
    optimized: Path  # the quantized ONNX file
    consumed: Path  # the fp32 graph the quantizer consumed (graph-optimized): what diagnosis compares with
    model_dir: Path  # config + tokenizer of the quantized model
    quantization: QuantizationRecord
    seconds: float  # spent in this call: the build, or just the cache lookup
    cached: bool

    @classmethod
    def from_entry(cls, entry: Path, optimized_file: str, *, original: Path, consumed: Path, start: float,
                   cached: bool) -> BuiltVariant:
        """The variant a cache entry holds, with the record of what its build quantized."""
        return cls(original=original, optimized=entry / optimized_file, consumed=consumed, model_dir=entry,
                   quantization=QuantizationRecord(**json.loads((entry / RECORD_FILE).read_text())),
                   seconds=time.perf_counter() - start, cached=cached)


def _step(spec: VariantSpec, what: str) -> contextlib.AbstractContextManager[None]:
    return as_qbench_error(QbenchBuildError, f"building variant {spec.id} failed at {what}")


def build_variant(
    original_dir: Path,
    spec: VariantSpec,
    *,
    preset: str,
    calibration: datasets.Dataset | None,
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
        "original": original_fingerprint(original_dir),
        "variant": variant,
        "calibration_data": dataset_fingerprint(calibration) if static else None,
        "libraries": library_versions(),
    }
    with _step(spec, f"graph optimisation (level {spec.optimization_level})"):
        consumed = optimized_original(original_dir, spec.optimization_level, cache)
    entry, cached = cache.get_or_build(
        key, lambda out: _build(consumed, spec, preset, calibration, out, cache)
    )
    return BuiltVariant.from_entry(entry, QUANTIZED_FILE, original=original_dir / ONNX_FILE,
                                   consumed=consumed / OPTIMIZED_FILE, start=start, cached=cached)


def adopt_quantized(original_dir: Path, file: Path, *, cache: BuildCache) -> BuiltVariant:
    """A graph quantized elsewhere (the case's quantized_file) as the optimized model, as it is: copied
    into a cache entry with the original's config and tokenizer and a record of what it holds."""
    start = time.perf_counter()

    def build(out: Path) -> None:
        graph = copy_model(file, original_dir, out / QUANTIZED_FILE).graph
        (out / RECORD_FILE).write_text(json.dumps(asdict(given_record(graph, file.name)), indent=1))

    key = {"kind": "given", "model": fingerprint_path(file), "original": original_fingerprint(original_dir)}
    entry, cached = cache.get_or_build(key, build)
    return BuiltVariant.from_entry(entry, QUANTIZED_FILE, original=original_dir / ONNX_FILE,
                                   consumed=original_dir / ONNX_FILE, start=start, cached=cached)


def original_fingerprint(original_dir: Path) -> str:
    # Only what decides the optimized bytes: the graph (and its external data) and the config.
    files = [original_dir / ONNX_FILE, original_dir / (ONNX_FILE + "_data"), original_dir / CONFIG_FILE]
    parts = [f"{f.name}:{fingerprint_path(f)}" for f in files if f.is_file()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def dataset_fingerprint(dataset: datasets.Dataset) -> str:
    text = json.dumps(dataset.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def optimized_original(original_dir: Path, level: int, cache: BuildCache) -> Path:
    """A cache entry holding `model_optimized.onnx`, the fp32 graph after graph optimisation at
    `level` and symbolic shape inference, with the config and tokenizer: what every variant of that
    level quantizes, built once for all of them."""
    key = {"kind": "optimized", "original": original_fingerprint(original_dir), "level": level,
           "libraries": library_versions()}

    def build(out: Path) -> None:
        _optimize(original_dir, level, out)
        _infer_shapes(out / OPTIMIZED_FILE)

    return cache.get_or_build(key, build)[0]


def _build(consumed: Path, spec: VariantSpec, preset: str,
           calibration: datasets.Dataset | None, out: Path, cache: BuildCache) -> None:
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
            types = backend().quantize(work, OPTIMIZED_FILE, spec, preset, excluded, ranges, out)
    with _step(spec, "reading the quantized graph"):
        quantized = onnx.load(str(out / QUANTIZED_FILE), load_external_data=False)
    counts = quantized_ops(quantized.graph)
    if not counts:
        notes.insert(0, nothing_quantized(spec))
    record = QuantizationRecord(
        preset=preset,
        quantized_ops=dict(sorted(counts.items())),
        excluded_nodes=excluded,
        note="; ".join(notes) or None,
        activations_dtype=types.activations_dtype,
        weights_dtype=types.weights_dtype,
        reduce_range=types.reduce_range,
    )
    (out / RECORD_FILE).write_text(json.dumps(asdict(record), indent=1))


def _optimize(original_dir: Path, level: int, work: Path) -> None:
    if level == 0:  # no optimisation: quantize the exported graph itself
        shutil.copyfile(original_dir / ONNX_FILE, work / OPTIMIZED_FILE)
        shutil.copyfile(original_dir / CONFIG_FILE, work / CONFIG_FILE)
        backend().save_preprocessors(original_dir, work)
        return
    backend().optimize(original_dir, ONNX_FILE, level, work)


def _infer_shapes(path: Path) -> None:
    # onnxruntime >= 1.31 quantization cannot type the outputs of fused com.microsoft ops
    # ("Unable to find data type for weight_name=..."): symbolic shape inference types them first.
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    onnx.save(SymbolicShapeInference.infer_shapes(onnx.load(str(path)), auto_merge=True), str(path))


def _exclusions(model: onnx.ModelProto, spec: VariantSpec) -> tuple[list[str], list[str]]:
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


def _check_columns(model: onnx.ModelProto, calibration: datasets.Dataset, spec: VariantSpec) -> None:
    inputs = {i.name for i in model.graph.input}
    if set(calibration.column_names) != inputs:
        raise QbenchBuildError(
            f"qbench: variant {spec.id}: calibration columns {sorted(calibration.column_names)}"
            f" are not the model inputs {sorted(inputs)}"
        )


RANGES_FILE = "ranges.npz"


def _calibration_ranges(consumed: Path, work: Path, spec: VariantSpec, calibration: datasets.Dataset,
                        cache: BuildCache) -> Any:
    """The activation ranges static quantization calibrates, through the cache: they depend on the
    graph, the operators, the method and the data, not on the nodes kept in fp32, so the candidates
    of a repair search (or variants differing in exclusions) calibrate once."""
    # `consumed` is a cache entry: its name is the digest of what decided its graph, no need to hash 100s of MB.
    key = {"kind": "calibration", "graph": consumed.name,
           "operators": list(spec.operators), "method": spec.calibration.method,
           "percentile": spec.calibration.percentile if spec.calibration.method == "percentile" else None,
           "data": dataset_fingerprint(calibration), "libraries": library_versions()}

    def fit(out: Path) -> None:
        _save_ranges(backend().calibrate(work, OPTIMIZED_FILE, spec, calibration), out / RANGES_FILE)

    return _load_ranges(cache.get_or_build(key, fit)[0] / RANGES_FILE)


def _save_ranges(ranges: Any, path: Path) -> None:
    """onnxruntime's TensorsData as arrays named "<tensor index>/<field>", the names and method in "meta"."""
    import numpy as np

    names = list(ranges.keys())
    arrays = {f"{i}/{field}": np.asarray(value) for i, name in enumerate(names)
              for field, value in ranges[name].to_dict().items() if field != "CLS"}
    meta = json.dumps({"method": ranges.calibration_method.name, "tensors": names})
    with open(path, "wb") as handle:
        # mypy matches **arrays against savez's allow_pickle: bool too; its keys are "index/field" names
        np.savez(handle, meta=np.array(meta), **arrays)  # type: ignore[arg-type]


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
