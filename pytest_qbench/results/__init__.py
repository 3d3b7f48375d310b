"""What a case measured and decided: typed results that serialise to the JSON artifact.

The base of the house: frozen dataclasses that every stage fills or reads (measure/, diagnose/,
gate/, report/), with no behaviour beyond (de)serialising themselves and saying what they hold.
Import them from here: measured.py (accuracy, latency, the quantizer's record, the parameters),
checks.py (checks, statuses, what a check compares), diagnosis.py (a lost accuracy's diagnosis),
baseline.py (the baseline a case is judged against: its entry, runs and latency gate), environment.py
(where a run ran), run.py (what a run was asked to run, with which settings), case.py (a case's
result, an artifact file).
"""

from .baseline import (
    SCORES,
    BaselineEntry,
    BaselineRecord,
    CpuFigures,
    LatencyGate,
    LatencyRecord,
    LatencyRun,
    Scores,
    SpeedLine,
    SpeedupFigures,
    Spread,
    WallFigures,
)
from .case import RESULT_PROPERTY, ArtifactFile, CaseKey, CaseResult, FlushReport
from .checks import ACCURACY_CHECKS, Against, Check, Metric, Status
from .diagnosis import Cause, Diagnosis, Exclusion, GroupError, NodeError, Preflight, RangeIssue, RepairResult, Trial
from .environment import Environment
from .measured import (
    AccuracyResult,
    BudgetPoint,
    BudgetResult,
    BudgetThroughput,
    CpuTime,
    LabelMapEffect,
    LatencyResult,
    LatencyStats,
    MappedName,
    OriginalRecord,
    Parameters,
    QuantizationRecord,
    Speedup,
    deciding,
)
from .run import RunRecord

__all__ = [
    "SCORES", "BaselineEntry", "BaselineRecord", "CpuFigures", "LatencyGate", "LatencyRecord", "LatencyRun", "Scores",
    "SpeedLine", "SpeedupFigures", "Spread", "WallFigures",
    "RESULT_PROPERTY", "ArtifactFile", "CaseKey", "CaseResult", "FlushReport",
    "ACCURACY_CHECKS", "Against", "Check", "Metric", "Status",
    "Environment", "RunRecord",
    "Cause", "Diagnosis", "Exclusion", "GroupError", "NodeError", "Preflight", "RangeIssue", "RepairResult", "Trial",
    "deciding",
    "AccuracyResult", "BudgetPoint", "BudgetResult", "BudgetThroughput", "CpuTime", "LabelMapEffect", "LatencyResult",
    "LatencyStats", "MappedName", "OriginalRecord", "Parameters", "QuantizationRecord", "Speedup",
]
