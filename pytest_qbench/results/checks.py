"""What the gate decided of a case: its checks, each with the status of its kind, and the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class _Word(str, Enum):
    """A value the artifact writes as a word: its member is equal to that word and says it."""

    def __str__(self) -> str:
        return str(self.value)


class Status(_Word):
    """A check's status, and a case's verdict (gate/rules.py derives it from its checks)."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # a latency check that neither passed nor failed significantly
    SKIP = "skip"
    UPDATED = "updated"  # a verdict only: update mode wrote the measurement as the baseline
    ERROR = "error"  # nothing compared: the measurement failed

    @property
    def failing(self) -> bool:
        """A status that fails the test and the run."""
        return self in (Status.FAIL, Status.ERROR)


class Against(_Word):
    """What a check compares the measurement with."""

    BASELINE = "baseline"
    ORIGINAL = "original"  # the original model, measured in the same run


class Metric(_Word):
    """What a check compares: the kind of check (gate/rules.py and gate/latency_stats.py make them)."""

    F1 = "f1"  # the optimized model's scores
    PRECISION = "precision"
    RECALL = "recall"
    ACCURACY = "accuracy"
    ORIGINAL_F1 = "original.f1"  # the original model's, against its baseline
    ORIGINAL_PRECISION = "original.precision"
    ORIGINAL_RECALL = "original.recall"
    ORIGINAL_ACCURACY = "original.accuracy"
    MEASUREMENT = "measurement"  # a measurement missing: nothing compared
    BASELINE = "baseline"  # no baseline for the case
    PARAMETERS = "parameters"  # the model and parameters the baseline was recorded with
    LATENCY = "latency"  # latency measured, not gated here (a skip that says why)
    CPU_SPEEDUP = "cpu.speedup"  # the gated CPU-time speedup
    OPTIMIZED_BUDGET_THROUGHPUT = "optimized.budget_throughput"
    ORIGINAL_MEAN_MS = "original.mean_ms"  # wall clock
    ORIGINAL_THROUGHPUT = "original.throughput"
    OPTIMIZED_MEAN_MS = "optimized.mean_ms"
    OPTIMIZED_THROUGHPUT = "optimized.throughput"
    COMMON_CPU_MS = "cpu_ms.common"  # the run's own checks: a slowdown common to every case,
    EXCESS_CPU_MS = "cpu_ms.excess"  # and a case's optimized model slower beyond it

    @property
    def optimized_accuracy(self) -> bool:
        """A score of the optimized model: a failed check of it is lost accuracy."""
        return self in (Metric.F1, Metric.PRECISION, Metric.RECALL, Metric.ACCURACY)


# Of the baseline's accuracy record, the checks of each score: the optimized model's, the original's.
ACCURACY_CHECKS = {
    "precision": (Metric.PRECISION, Metric.ORIGINAL_PRECISION),
    "recall": (Metric.RECALL, Metric.ORIGINAL_RECALL),
    "f1": (Metric.F1, Metric.ORIGINAL_F1),
    "accuracy": (Metric.ACCURACY, Metric.ORIGINAL_ACCURACY),
}


@dataclass(frozen=True)
class Check:
    # A check that the pytest_qbench_checks hook adds may name a metric of its own (a str); words that
    # name a member (a hook's edit, an artifact read back) become the member.
    metric: Metric | str
    against: Against
    status: Status
    measured: float | None
    expected: float | None
    tolerance: str  # human-readable, e.g. "atol 0.005"
    reason: str  # one line a reviewer can act on
    limit: float | None = None  # the bound `measured` was held to on the failing side, where it has one

    def __post_init__(self) -> None:
        known = {m.value for m in Metric}
        object.__setattr__(self, "metric", Metric(self.metric) if self.metric in known else self.metric)
        object.__setattr__(self, "against", Against(self.against))
        object.__setattr__(self, "status", Status(self.status))

    def __str__(self) -> str:
        return f"[{self.status}] {self.metric} vs {self.against}: {self.reason}"

    @property
    def latency_not_gated(self) -> bool:
        """The skip the rules give latency on a machine without baseline runs of its own."""
        return self.metric is Metric.LATENCY and self.status is Status.SKIP

    @property
    def accuracy_lost(self) -> bool:
        """A failed check of the optimized model's accuracy, against the original or the baseline."""
        return self.status is Status.FAIL and isinstance(self.metric, Metric) and self.metric.optimized_accuracy

    @property
    def undecided(self) -> bool:
        """Inconclusive, or latency not gated: what --qbench-strict fails."""
        return self.status is Status.INCONCLUSIVE or self.latency_not_gated

    @property
    def latency_undecided(self) -> bool:
        """The case's speedup check failed or was inconclusive: a confirmation measures it again."""
        return self.status in (Status.FAIL, Status.INCONCLUSIVE) and self.metric is Metric.CPU_SPEEDUP

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "metric": str(self.metric), "against": str(self.against), "status": str(self.status)}
