"""Which toolchain exports and quantizes: optimum-onnx where it is installed and imports with the
installed transformers (with_optimum.py), else torch's exporter and onnxruntime's own optimizer and
quantizer (with_onnxruntime.py). Decided once per process.

optimum-onnx 0.1.0, the newest, requires transformers<4.58 and fails at import with transformers 5:
the direct path is what a transformers 5 environment uses. Both read the same `VariantSpec` and preset
and build the same kind of graph (docs/toolchain.md).
"""

from __future__ import annotations

import enum
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import QbenchBuildError
from ..specs import VariantSpec

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel


class Toolchain(enum.Enum):
    OPTIMUM = "optimum"  # optimum-onnx: ORTModel export, ORTOptimizer, ORTQuantizer
    ONNXRUNTIME = "onnxruntime"  # torch.onnx.export, onnxruntime.transformers.optimizer, onnxruntime.quantization


@dataclass(frozen=True)
class ToolchainChoice:
    toolchain: Toolchain
    reason: str  # why this one: what was found, or why optimum-onnx was passed over


@dataclass(frozen=True)
class QuantizedTypes:
    """What a quantizer built, in the words of the quantization record."""

    activations_dtype: str  # "uint8", "int8"
    weights_dtype: str
    reduce_range: bool

    @classmethod
    def of(cls, activations: Any, weights: Any, reduce_range: bool) -> QuantizedTypes:
        """From onnxruntime's QuantType values."""
        from .inspect import dtype_name

        return cls(dtype_name(activations), dtype_name(weights), reduce_range)


class Backend(Protocol):
    """The steps a toolchain module provides (with_optimum.py, with_onnxruntime.py)."""

    def export_model(self, model: PreTrainedModel, out: Path, opset: int, task: str) -> None: ...

    def save_preprocessors(self, source: Path, target: Path) -> None: ...

    def optimize(self, original_dir: Path, onnx_file: str, level: int, work: Path) -> None: ...

    def quantize(self, work: Path, optimized_file: str, spec: VariantSpec, preset: str, excluded: list[str],
                 ranges: Any, out: Path) -> QuantizedTypes: ...

    def calibrate(self, work: Path, optimized_file: str, spec: VariantSpec, calibration: datasets.Dataset) -> Any: ...


OPTIMUM_MODULES = ("optimum.exporters.onnx", "optimum.onnxruntime", "optimum.onnxruntime.configuration",
                   "optimum.utils.save_utils")
DIRECT_MODULES = ("torch.onnx", "onnxruntime.transformers.optimizer", "onnxruntime.quantization")


def _import_all(modules: tuple[str, ...]) -> None:
    for module in modules:
        importlib.import_module(module)


def decide(import_optimum: Callable[[], None], import_direct: Callable[[], None]) -> ToolchainChoice:
    """optimum-onnx if `import_optimum` succeeds, else the direct path if `import_direct` does; neither:
    an error naming both failures and the fix."""
    try:
        import_optimum()
        return ToolchainChoice(Toolchain.OPTIMUM, f"optimum-onnx {_version('optimum-onnx')} imports"
                                                  f" with transformers {_version('transformers')}")
    except Exception as exc:  # transformers 5 breaks optimum-onnx 0.1.0 at import, not only ImportError
        passed_over = _failure(exc)
    try:
        import_direct()
    except Exception as exc:
        raise QbenchBuildError(
            "qbench: no toolchain can export and quantize models here: optimum-onnx is not usable"
            f" ({passed_over}) and neither are torch and onnxruntime ({_failure(exc)}); install"
            " `pytest-qbench[optimum]` with transformers<4.58, or torch and onnxruntime for the direct path"
        ) from exc
    return ToolchainChoice(Toolchain.ONNXRUNTIME, f"optimum-onnx not used: {passed_over}")


@functools.cache
def current() -> ToolchainChoice:
    """The toolchain of this process (the libraries installed do not change while it runs)."""
    return decide(lambda: _import_all(OPTIMUM_MODULES), lambda: _import_all(DIRECT_MODULES))


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _failure(exc: Exception) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"{exc.name} not installed"
    reason = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {reason}"


def backend() -> Backend:
    """The module that carries out the steps with the current toolchain."""
    if current().toolchain is Toolchain.OPTIMUM:
        from . import with_optimum

        return with_optimum
    from . import with_onnxruntime

    return with_onnxruntime
