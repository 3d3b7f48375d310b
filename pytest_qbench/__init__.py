"""pytest-qbench: gate accuracy and latency regressions of int8-quantized transformers on CPUs.

The public API is what `__all__` lists: import those names from `pytest_qbench` itself; every other
module is internal and may move between releases. Importing this package imports nothing but this
file (pytest loads the plugin in every run): each name loads its module when it is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# name -> the module that defines it
_PUBLIC = {
    # errors and warnings (errors.py)
    **dict.fromkeys(
        (
            "QbenchError", "QbenchArtifactError", "QbenchBaselineError", "QbenchBuildError", "QbenchCaseError",
            "QbenchConfigError", "QbenchDataError", "QbenchFlushError", "QbenchMergeError", "QbenchModelError",
            "QbenchTerminated", "QbenchWarning", "QbenchCacheWarning", "QbenchInconclusiveWarning",
            "QbenchModelWarning",
        ),
        "pytest_qbench.errors",
    ),
    # a failed check: a test outcome (outcomes.py)
    **dict.fromkeys(("QbenchCheckFailed", "QbenchAccuracyLost"), "pytest_qbench.outcomes"),
    # what a test and the hooks receive
    "QbenchRun": "pytest_qbench.runner",  # the `qbench` fixture
    "CaseSpec": "pytest_qbench.specs",  # the `qbench_case` fixture, and what it is made of
    **dict.fromkeys(("VariantSpec", "CalibrationSpec", "DataSpec", "TimingSpec", "Tolerances", "DiagnosisSpec"),
                    "pytest_qbench.specs"),
    # a case's pipeline without pytest (build -> measure -> judge), for scripts and bench/
    **dict.fromkeys(("Pipeline", "CasePipeline", "CaseStageError"), "pytest_qbench.pipeline"),
    **dict.fromkeys(
        ("CaseResult", "Check", "Status", "Metric", "Against", "Parameters", "AccuracyResult", "LatencyResult",
         "BudgetResult", "QuantizationRecord", "OriginalRecord", "Diagnosis", "RepairResult", "Exclusion",
         "Environment"),
        "pytest_qbench.results",
    ),
    # hook helpers: the machine to run as (pytest_qbench_hardware)
    "Hardware": "pytest_qbench.hardware",
    "hardware_from_cpuinfo": "pytest_qbench.hardware",
    # data loaders and the build cache, for conftest fixtures and training scripts
    "parse_conll": "pytest_qbench.measure.data",
    "read_conll": "pytest_qbench.measure.data",
    "CONLL2003_LABELS": "pytest_qbench.measure.data",
    "read_squad": "pytest_qbench.measure.squad",
    "BuildCache": "pytest_qbench.variants.cache",
    "default_cache_root": "pytest_qbench.variants.cache",
}

# Written out, not computed: type checkers read a literal __all__ as what the package exports (tests/unit/test_api.py
# checks it lists _PUBLIC).
__all__ = [
    "__version__", "QbenchError", "QbenchArtifactError", "QbenchBaselineError", "QbenchBuildError", "QbenchCaseError",
    "QbenchConfigError", "QbenchDataError", "QbenchFlushError", "QbenchMergeError", "QbenchModelError",
    "QbenchTerminated", "QbenchWarning", "QbenchCacheWarning", "QbenchInconclusiveWarning", "QbenchModelWarning",
    "QbenchCheckFailed", "QbenchAccuracyLost", "QbenchRun", "CaseSpec", "VariantSpec", "CalibrationSpec", "DataSpec",
    "TimingSpec", "Tolerances", "DiagnosisSpec", "Pipeline", "CasePipeline", "CaseStageError", "CaseResult", "Check",
    "Status", "Metric", "Against", "Parameters", "AccuracyResult", "LatencyResult", "BudgetResult",
    "QuantizationRecord", "OriginalRecord", "Diagnosis", "RepairResult", "Exclusion", "Environment", "Hardware",
    "hardware_from_cpuinfo", "parse_conll", "read_conll", "CONLL2003_LABELS", "read_squad", "BuildCache",
    "default_cache_root",
]


def __getattr__(name: str) -> Any:
    """PEP 562: load a public name's module on first use, and keep the name here."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'pytest_qbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and IDEs read; at run time `__getattr__` serves these
    from .errors import (
        QbenchArtifactError,
        QbenchBaselineError,
        QbenchBuildError,
        QbenchCacheWarning,
        QbenchCaseError,
        QbenchConfigError,
        QbenchDataError,
        QbenchError,
        QbenchFlushError,
        QbenchInconclusiveWarning,
        QbenchMergeError,
        QbenchModelError,
        QbenchModelWarning,
        QbenchTerminated,
        QbenchWarning,
    )
    from .hardware import Hardware, hardware_from_cpuinfo
    from .measure.data import CONLL2003_LABELS, parse_conll, read_conll
    from .measure.squad import read_squad
    from .outcomes import QbenchAccuracyLost, QbenchCheckFailed
    from .pipeline import CasePipeline, CaseStageError, Pipeline
    from .results import (
        AccuracyResult,
        Against,
        BudgetResult,
        CaseResult,
        Check,
        Diagnosis,
        Environment,
        Exclusion,
        LatencyResult,
        Metric,
        OriginalRecord,
        Parameters,
        QuantizationRecord,
        RepairResult,
        Status,
    )
    from .runner import QbenchRun
    from .specs import CalibrationSpec, CaseSpec, DataSpec, DiagnosisSpec, TimingSpec, Tolerances, VariantSpec
    from .variants.cache import BuildCache, default_cache_root
