"""Synthetic `CaseResult`s for the unit tests of the policy, baselines, artifact and reports."""

from __future__ import annotations

from pytest_qbench.gate.spread import PRIOR_SPEEDUP_SIGMA
from pytest_qbench.results import (
    AccuracyResult,
    BaselineEntry,
    BaselineRecord,
    CaseResult,
    CpuTime,
    Environment,
    LatencyGate,
    LatencyResult,
    LatencyStats,
    Parameters,
    QuantizationRecord,
    Speedup,
    Spread,
)
from pytest_qbench.specs import QbenchOptions, VariantSpec

TEST = "examples/test_conll.py::test_ner"
HW = "x86_64-avx512_vnni-2c"
CPU_MODEL = "amd-26-2"
BASELINE_FILE = "baselines/examples.test_conll.py--test_ner.json"
ENVIRONMENT = Environment.from_json({  # as the session passes it to build_artifact and markdown
    "brand": "AMD EPYC 9R14",
    "flags": ["avx2", "avx512_vnni", "avx512f"],
    "hardware_key": HW,
    "tier": "avx512_vnni",
    "saturates_u8s8": False,
    "physical_cores": 2,
    "logical_cores": 2,
    "python": "3.11.9",
    "libraries": {"onnxruntime": "1.31.1", "optimum": "2.1.0", "torch": None},
    "git_commit": None,
    "created": "2026-11-21T20:00:00+00:00",
    "preset": "avx512_vnni",  # more keys than the schema requires are fine
})


def accuracy(f1: float, precision: float = 0.936, recall: float = 0.944, acc: float = 0.988) -> AccuracyResult:
    return AccuracyResult("token-classification", precision, recall, f1, acc, "micro", {"PER": f1}, 3250, "word",
                          51362, 0, "default", 1.5)


def stats(mean_ms: float, batch_size: int = 1, stdev_ms: float = 0.5, n: int = 400) -> LatencyStats:
    return LatencyStats(
        mean_ms, stdev_ms, stdev_ms / mean_ms, mean_ms, mean_ms * 1.1, mean_ms * 1.15, mean_ms * 1.3,
        1000.0 * batch_size / mean_ms, n,
    )


def make_result(
    approach: str = "dynamic",
    operators: tuple[str, ...] = ("Add", "MatMul"),
    batch_size: int = 1,
    sequence_length: int = 32,
    f1: tuple[float, float] = (0.940, 0.939),
    original_ms: float = 46.38,
    optimized_ms: float = 9.96,
    speedup_ci: tuple[float, float] | None = None,
    error: str | None = None,
    note: str | None = None,
    run_id: str = "run-1",
    cpu_model: str = CPU_MODEL,
    hardware_key: str = HW,
    **variant: object,
) -> CaseResult:
    spec = VariantSpec(approach=approach, operators=operators, **variant)
    value = original_ms / optimized_ms
    low, high = speedup_ci or (value * 0.98, value * 1.02)
    measured = error is None
    return CaseResult(
        nodeid=f"{TEST}[{spec.id}-bs{batch_size}-len{sequence_length}]",
        test=TEST,
        case_id=f"{spec.id}-bs{batch_size}-len{sequence_length}",
        model="elastic/distilbert-base-uncased-finetuned-conll03-english",
        batch_size=batch_size,
        sequence_length=sequence_length,
        parameters=Parameters(spec.to_dict()),
        quantization=QuantizationRecord("avx512_vnni", {"MatMulInteger": 36}, [], note),
        accuracy_original=accuracy(f1[0]) if measured else None,
        accuracy_optimized=accuracy(f1[1], 0.935, 0.943) if measured else None,
        latency=LatencyResult(
            stats(original_ms, batch_size), stats(optimized_ms, batch_size),
            Speedup(value * 1.05, value * 0.8, value * 1.3, 0.95, 40),
            CpuTime(original_ms * 1.6, optimized_ms * 1.6, Speedup(value, low, high, 0.95, 40)),
            "ci_width", 2, 8.0,
        ) if measured else None,
        error=error,
        cpu_model=cpu_model,
        run_id=run_id,
        hardware_key=hardware_key,
    )


def latency_gate(cpu_model: str = CPU_MODEL, cases: int = 1) -> LatencyGate:
    """What a gate run of `cases` cases on a machine of `cpu_model` holds latency to: the prior's sigma."""
    return LatencyGate(cpu_model, Spread(PRIOR_SPEEDUP_SIGMA, 0.0, 0, 0), cases, QbenchOptions.false_alarm_rate)


def looked_up(entry: BaselineEntry | None, hardware_key: str = HW, file: str = BASELINE_FILE) -> BaselineRecord:
    """What the store's lookup finds for a case on machine HW: `entry`, recorded under `hardware_key`."""
    if entry is None:
        return BaselineRecord(file, None, False, None)
    return BaselineRecord(file, hardware_key, hardware_key == HW, entry)
