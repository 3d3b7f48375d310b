"""The baseline a case is judged against: the entry a baseline file keeps of it (gate/baselines.py), its
latency runs, and what a gate run holds every latency check to; the artifact keeps them as the case's
"baseline"."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from statistics import NormalDist
from typing import Any

from .measured import BudgetResult, Parameters

# The z of the 95% interval a baseline records of each run's speedup (measure/stats.py's CONFIDENCE).
_Z95 = NormalDist().inv_cdf((1 + 0.95) / 2)


@dataclass(frozen=True)
class LatencyRun:
    """One run's gated latency figures of one case, as a baseline keeps them (gate/spread.py)."""

    cpu_model: str  # hardware.Fingerprint.cpu_model: latency samples of another CPU model do not compare
    speedup: float  # the one-thread CPU-time speedup
    ci_low: float
    ci_high: float
    original_ms: float  # median CPU time per call, one thread
    optimized_ms: float
    run: str  # the run's id: the same run given twice counts once
    when: str

    @property
    def log_speedup(self) -> float:
        return math.log(self.speedup)

    @property
    def log_se(self) -> float:
        """The standard error of log(speedup) that the run's own interval implies."""
        return math.log(self.ci_high / self.ci_low) / (2 * _Z95)

    @property
    def log_original_ms(self) -> float:
        """The machine's speed as the case saw it in this run: its original model's CPU time per call (log)."""
        return math.log(self.original_ms)


@dataclass(frozen=True)
class Spread:
    """The between-run standard deviation of a log figure, beyond each run's own error (gate/spread.py)."""

    sigma: float
    df: float  # the data's worth in degrees of freedom (0: the prior alone)
    runs: int  # runs behind the data part
    cases: int

    @property
    def source(self) -> str:
        return "prior" if self.df == 0 else f"{self.runs} runs of {self.cases} cases, shrunk toward the prior"


@dataclass(frozen=True)
class SpeedLine:
    """How a case's CPU-time speedup moves with the machine's speed: the least-squares slope of its log
    speedup on its original model's log CPU time per call over its recorded runs (gate/spread.py
    `fit_speed_line`), which the gate judges a run's speedup given (gate/latency_stats.py)."""

    test: str
    case: str  # the case id
    slope: float
    slope_se: float
    runs: int  # recorded runs it was fitted to


@dataclass(frozen=True)
class LatencyGate:
    """What a gate run holds every latency check to besides the case's own baseline entry
    (gate/latency_stats.py); a case's baseline record keeps it (without the lines: its own is beside it),
    for the merge to judge repeats with."""

    cpu_model: str  # this machine's: the baseline runs it compares with
    speedup_spread: Spread  # the between-run sigma of the key's recorded runs (given their speed lines)
    cases: int  # the family: the cases the run gates (the selected qbench cases)
    alpha: float  # false alarms per gate run under no change
    lines: tuple[SpeedLine, ...] = ()  # the cases whose recorded runs teach a speed line

    def line(self, test: str, case: str) -> SpeedLine | None:
        return next((line for line in self.lines if (line.test, line.case) == (test, case)), None)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "lines"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LatencyGate:
        return cls(data["cpu_model"], Spread(**data["speedup_spread"]), data["cases"], data["alpha"])


# ---- a baseline entry: what a baseline file keeps of a case under one hardware key -------------------


@dataclass(frozen=True)
class Scores:
    """A model's accuracy, as a baseline keeps it."""

    precision: float
    recall: float
    f1: float
    accuracy: float


@dataclass(frozen=True)
class WallFigures:
    """A model's wall-clock latency at the run's threads, as a baseline keeps it."""

    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    throughput: float


@dataclass(frozen=True)
class SpeedupFigures:
    """A speedup and its 95% interval, as a baseline keeps them."""

    value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class CpuFigures:
    """One-thread CPU time per call of both models, and their speedup, as a baseline keeps them."""

    original_ms: float
    optimized_ms: float
    speedup: SpeedupFigures


@dataclass(frozen=True)
class LatencyRecord:
    """A baseline's latency: the last recorded run's figures, and `runs`, the sample the gate compares
    with: the last runs of each CPU model, oldest first."""

    cpu: CpuFigures
    original: WallFigures
    optimized: WallFigures
    wall_speedup: SpeedupFigures
    runs: tuple[LatencyRun, ...]
    budget: BudgetResult | None = None  # the throughput within the case's latency budget, when it has one

    def to_json(self) -> dict[str, Any]:
        recorded = {"cpu": asdict(self.cpu), "original": asdict(self.original), "optimized": asdict(self.optimized),
                    "wall_speedup": asdict(self.wall_speedup), "runs": [asdict(run) for run in self.runs]}
        return recorded if self.budget is None else {**recorded, "budget": asdict(self.budget)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LatencyRecord:
        cpu = data["cpu"]
        return cls(
            cpu=CpuFigures(cpu["original_ms"], cpu["optimized_ms"], SpeedupFigures(**cpu["speedup"])),
            original=WallFigures(**data["original"]),
            optimized=WallFigures(**data["optimized"]),
            wall_speedup=SpeedupFigures(**data["wall_speedup"]),
            runs=tuple(LatencyRun(**run) for run in data["runs"]),
            budget=None if data.get("budget") is None else BudgetResult.from_dict(data["budget"]),
        )


@dataclass(frozen=True)
class BaselineEntry:
    """What a baseline file keeps of a case under one hardware key (gate/baselines.py's module doc)."""

    model: str
    parameters: Parameters
    accuracy_original: Scores
    accuracy_optimized: Scores
    latency: LatencyRecord

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "parameters": self.parameters.recorded,
            "accuracy": {"original": asdict(self.accuracy_original), "optimized": asdict(self.accuracy_optimized)},
            "latency": self.latency.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaselineEntry:
        accuracy = data["accuracy"]
        return cls(data["model"], Parameters(data["parameters"]), Scores(**accuracy["original"]),
                   Scores(**accuracy["optimized"]), LatencyRecord.from_json(data["latency"]))


SCORES = tuple(f.name for f in fields(Scores))  # what a baseline keeps of a model's accuracy


@dataclass(frozen=True)
class BaselineRecord:
    """The baseline a case was judged against, as its result keeps it (the artifact's "baseline"): what
    the store found for it and, in a gate run, what the rules held its latency to."""

    file: str
    hardware_key: str | None  # the key its entry was recorded under: this machine's, else the nearest one's
    hardware_match: bool  # recorded under this machine's key
    values: BaselineEntry | None  # the entry; None: no baseline for the case under any hardware key
    # A gate run's (not an update's): what the merge judges repeats of the case with (gate/rejudge.py).
    latency_gate: LatencyGate | None = None
    speedup_rtol: float | None = None  # None in artifacts of schema 5: the run's setting
    speed_line: SpeedLine | None = None  # the case's, when its recorded runs taught one
    cpu_time_rtol: float | None = None  # the case's, which the run's end holds it to; None: not gated

    @property
    def runs(self) -> list[LatencyRun]:
        """The entry's recorded latency runs, every CPU model's (none without an entry)."""
        return [] if self.values is None else list(self.values.latency.runs)

    def runs_of(self, cpu_model: str) -> list[LatencyRun]:
        """The runs the gate compares a machine of `cpu_model` with."""
        return [r for r in self.runs if r.cpu_model == cpu_model]

    def to_json(self) -> dict[str, Any]:
        recorded: dict[str, Any] = {
            "file": self.file, "hardware_key": self.hardware_key, "hardware_match": self.hardware_match,
            "values": None if self.values is None else self.values.to_json(),
        }
        if self.latency_gate is not None:
            recorded["latency_gate"] = self.latency_gate.to_json()
        if self.speedup_rtol is not None:
            recorded["speedup_rtol"] = self.speedup_rtol
        if self.speed_line is not None:
            recorded["speed_line"] = asdict(self.speed_line)
        if self.cpu_time_rtol is not None:
            recorded["cpu_time_rtol"] = self.cpu_time_rtol
        return recorded

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaselineRecord:
        gate, values, line = data.get("latency_gate"), data["values"], data.get("speed_line")
        return cls(data["file"], data["hardware_key"], data["hardware_match"],
                   None if values is None else BaselineEntry.from_json(values),
                   None if gate is None else LatencyGate.from_json(gate), data.get("speedup_rtol"),
                   None if line is None else SpeedLine(**line), data.get("cpu_time_rtol"))
