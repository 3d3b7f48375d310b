"""The original a case compares against: the model as given, exported to an fp32 ONNX folder.

A hub id or a local Hugging Face folder is exported (torch -> ONNX, through the `BuildCache`); an
existing ONNX model (a `.onnx` file, a folder with `model.onnx`, or the hub's `onnx/` layout) is used
as it is, or copied into the cache with its config and tokenizer when it is named or placed otherwise.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import QbenchBuildError, QbenchModelError, QbenchModelWarning
from .cache import BuildCache, fingerprint_path, library_versions

if TYPE_CHECKING:
    import onnx

ONNX_FILE = "model.onnx"
CONFIG_FILE = "config.json"
EXPORT_INFO = "qbench_export.json"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


@contextlib.contextmanager
def as_qbench_error(error: type[Exception], context: str) -> Iterator[None]:
    """Turn a library's exception into one line naming what qbench was doing."""
    try:
        yield
    except (QbenchModelError, QbenchBuildError):
        raise
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise error(f"qbench: {context}: {type(exc).__name__}: {reason}") from exc


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
        listed = (f"; its {ONNX_FOLDER}/ holds {', '.join(g.name for g in graphs)}: name one with model_file="
                  if graphs else "")
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
    return cache.get_or_build(key, lambda out: copy_model(file, config_dir, out / ONNX_FILE))[0]


def copy_model(file: Path, config_dir: Path, target: Path) -> onnx.ModelProto:
    """`file` saved as `target` (external data inlined), with the config and tokenizer of `config_dir`
    beside it; returns the graph."""
    import onnx

    from .toolchain import backend

    with as_qbench_error(QbenchModelError, f"reading ONNX model {str(file)!r} failed"):
        model = onnx.load(str(file))
    onnx.save(model, str(target))
    shutil.copyfile(config_dir / CONFIG_FILE, target.parent / CONFIG_FILE)
    backend().save_preprocessors(config_dir, target.parent)
    return model


def _hub_original(model_id: str, opset: int, cache: BuildCache) -> Path:
    from transformers.utils.hub import cached_file

    try:
        found = cached_file(model_id, CONFIG_FILE)
        if found is None:  # only when asked not to raise for a missing file, which this call does not ask
            raise OSError(f"no {CONFIG_FILE} in {model_id!r}")
        config_path = Path(found)
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

    from ..measure.tasks import task_for
    from .toolchain import backend

    with as_qbench_error(QbenchModelError, f"reading the config of {source!r} failed"):
        model_config = transformers.AutoConfig.from_pretrained(source, revision=revision)
    task = task_for(model_config)
    with as_qbench_error(QbenchModelError, f"loading {source!r} as a {task.name} model failed"):
        # Eager attention: below opset 14 the exporter cannot express scaled_dot_product_attention.
        model, loading = getattr(transformers, task.auto_class).from_pretrained(
            source, revision=revision, attn_implementation="eager", output_loading_info=True
        )
    with as_qbench_error(QbenchModelError, f"exporting {source!r} to ONNX (opset {opset}) failed"):
        backend().export_model(model, out, opset, task.name)
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
