"""A case's result, what the session collects and the artifact holds of it; what a baseline update
wrote, what an artifact file holds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .baseline import BaselineRecord
from .checks import Check, Status
from .diagnosis import Diagnosis
from .environment import Environment
from .measured import AccuracyResult, LatencyResult, OriginalRecord, Parameters, QuantizationRecord
from .run import RunRecord

RESULT_PROPERTY = "qbench_result"  # the key of a case's result in its test report's user_properties


@dataclass
class CaseResult:
    nodeid: str
    test: str  # baseline key: the test's path-independent name
    case_id: str
    model: str
    batch_size: int
    sequence_length: int
    parameters: Parameters
    quantization: QuantizationRecord | None = None
    original: OriginalRecord | None = None  # the precision of the model the variant was built from
    accuracy_original: AccuracyResult | None = None
    accuracy_optimized: AccuracyResult | None = None
    latency: LatencyResult | None = None
    baseline: BaselineRecord | None = None
    checks: list[Check] = field(default_factory=list)
    verdict: Status = Status.ERROR
    error: str | None = None
    # A U8S8 model on x86 without VNNI and no run-time remedy: its int8 sums can saturate.
    saturation_risk: bool = False
    diagnosis: Diagnosis | None = None  # of a failed accuracy check, on request (--qbench-diagnose)
    expected_failure: bool = False  # the test is marked xfail and failed: pytest passes the run
    hardware_key: str = ""  # the machine's, under which its baseline is stored and matched
    cpu_model: str = "unrecorded"  # the machine's (hardware.Hardware.cpu_model): latency samples match on it
    run_id: str = ""  # the gate run's id: repeated measurements of a case by different runs combine
    confirmed_by: list[str] = field(default_factory=list)  # the runs whose repeats the merge combined with this one
    restart_sample: bool = False  # update mode: its latency differs significantly from the recorded runs
    seconds: float | None = None  # the test call's wall time: what balances shards next time
    sparse_decompression: str | None = None  # OpenVINO's sparse weight decompression, "on: ..." or "off: why"

    @property
    def runtime(self) -> str:
        return self.parameters.runtime

    @property
    def latency_not_gated(self) -> bool:
        """Its latency was measured, not gated: no baseline runs of this machine (Check.latency_not_gated)."""
        return any(c.latency_not_gated for c in self.checks)

    @property
    def undecided(self) -> bool:
        """A check of it neither passed nor failed (Check.undecided): what --qbench-strict fails."""
        return any(c.undecided for c in self.checks)

    @property
    def failing(self) -> bool:
        """Its verdict fails the run: failed or errored, and not an expected failure (xfail)."""
        return self.verdict.failing and not self.expected_failure

    @property
    def variant_id(self) -> str:
        return self.parameters.variant_id

    def to_json(self) -> dict[str, Any]:
        def opt(x: Any) -> Any:
            return None if x is None else asdict(x)

        return {
            "id": self.case_id,
            "nodeid": self.nodeid,
            "test": self.test,
            "model": self.model,
            "runtime": self.runtime,
            "approach": self.parameters.approach,
            "operators": self.parameters.operators,
            "batch_size": self.batch_size,
            "sequence_length": self.sequence_length,
            "parameters": self.parameters.recorded,
            "quantization": opt(self.quantization),
            "original": opt(self.original),
            "accuracy": {"original": opt(self.accuracy_original), "optimized": opt(self.accuracy_optimized)},
            "latency": opt(self.latency),
            "baseline": None if self.baseline is None else self.baseline.to_json(),
            "verdict": str(self.verdict),
            "checks": [c.to_json() for c in self.checks],
            "error": self.error,
            "saturation_risk": self.saturation_risk,
            "expected_failure": self.expected_failure,
            "hardware_key": self.hardware_key,
            "cpu_model": self.cpu_model,
            "run_id": self.run_id,
            "confirmed_by": self.confirmed_by,
            "restart_sample": self.restart_sample,
            "seconds": self.seconds,
            "sparse_decompression": self.sparse_decompression,
            # through JSON text, so that tuples (repair.Exclusion) become arrays as the schema says
            "diagnosis": None if self.diagnosis is None else json.loads(json.dumps(asdict(self.diagnosis))),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        """The inverse of `to_json` (xdist workers send results to the controller as JSON)."""
        def opt(kind: type, x: Any) -> Any:
            return None if x is None else kind(**x)

        latency, diagnosis = data["latency"], data.get("diagnosis")
        return cls(
            nodeid=data["nodeid"],
            test=data["test"],
            case_id=data["id"],
            model=data["model"],
            batch_size=data["batch_size"],
            sequence_length=data["sequence_length"],
            parameters=Parameters(data["parameters"]),
            quantization=opt(QuantizationRecord, data["quantization"]),
            original=opt(OriginalRecord, data.get("original")),
            accuracy_original=_accuracy(data["accuracy"]["original"]),
            accuracy_optimized=_accuracy(data["accuracy"]["optimized"]),
            latency=None if latency is None else LatencyResult.from_dict(latency),
            baseline=None if data["baseline"] is None else BaselineRecord.from_json(data["baseline"]),
            checks=[Check(**c) for c in data["checks"]],
            verdict=Status(data["verdict"]),
            error=data["error"],
            saturation_risk=data["saturation_risk"],
            diagnosis=None if diagnosis is None else Diagnosis.from_dict(diagnosis),
            expected_failure=data.get("expected_failure", False),
            hardware_key=data.get("hardware_key", ""),
            cpu_model=data.get("cpu_model", "unrecorded"),
            run_id=data.get("run_id", ""),
            confirmed_by=data.get("confirmed_by", []),
            restart_sample=data.get("restart_sample", False),
            seconds=data.get("seconds"),
            sparse_decompression=data.get("sparse_decompression"),
        )


def _accuracy(data: dict[str, Any] | None) -> AccuracyResult | None:
    return None if data is None else AccuracyResult.from_dict(data)


# ---- what a baseline update wrote, what an artifact file holds --------------------------------------

CaseKey = tuple[str, str, str]  # (test, case id, hardware key)


@dataclass(frozen=True)
class FlushReport:
    """The baseline entries a flush created, updated or left unchanged (gate/baselines.py)."""

    created: list[CaseKey]
    updated: list[CaseKey]
    unchanged: list[CaseKey]


@dataclass(frozen=True)
class ArtifactFile:
    """A JSON artifact as read from a file and validated (report/artifact.py): a run, or a shard of one.
    The values read from it are typed as the artifact schema validated them."""

    path: Path
    artifact: dict[str, Any]

    @cached_property
    def environment(self) -> Environment:
        return Environment.from_json(self.artifact["environment"])

    @property
    def hardware_key(self) -> str:
        return self.environment.hardware_key

    @cached_property
    def run(self) -> RunRecord:
        return RunRecord.from_json(self.artifact["run"])

    @property
    def run_id(self) -> str:
        """The run's id; an artifact written before runs had ids is a run of its own."""
        return self.run.id or str(self.path)

    def results(self) -> list[CaseResult]:
        """Its cases, each with its machine's hardware key and its run's id (which older artifacts record
        for the whole run only)."""
        results = [CaseResult.from_json(case) for case in self.artifact["cases"]]
        for result in results:
            result.hardware_key = result.hardware_key or self.hardware_key
            result.run_id = result.run_id or self.run_id
        return results
