"""Command-line options and ini keys: declared once here, read into one typed `QbenchOptions` (specs.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .errors import QbenchConfigError
from .specs import (
    ARTIFACT_FILE,
    BASELINES_FOLDER,
    RUNTIMES,
    SATURATION_REMEDIES,
    DiagnosisSpec,
    QbenchOptions,
    Shard,
    TimingSpec,
    Tolerances,
    VariantSpec,
)


@dataclass(frozen=True)
class _Option:
    name: str  # ini key is "qbench_" + name, flag is "--qbench-" + name with dashes
    help: str
    parse: Callable[[str], Any] = str
    default: Any = None
    flag: bool = True  # also a command-line option (some keys are ini-only)


def number_or_off(raw: str) -> float | None:
    """A tolerance, or "off" (also "none") for a check that is not to be gated."""
    return None if str(raw).strip().lower() in ("off", "none") else float(raw)


_TIMING = {f.name: f.default for f in dataclasses.fields(TimingSpec)}
_TOLERANCES = {f.name: f.default for f in dataclasses.fields(Tolerances)}
_DIAGNOSIS = {f.name: f.default for f in dataclasses.fields(DiagnosisSpec)}

OPTIONS = (
    _Option("baselines", "folder of the stored baselines", default=BASELINES_FOLDER),
    _Option("json", "where to write the JSON artifact", default=ARTIFACT_FILE),
    _Option("markdown", "also write a markdown report (reference card layout) here"),
    _Option("html", "also write a single-file HTML report with charts here"),
    _Option("history", "append this run's artifact to the history in this folder (the HTML report draws its trends)"),
    _Option("shard", "run only shard I of N (I/N) of the qbench cases; each model x variant stays on one shard"),
    _Option("shard_durations", "an earlier artifact whose case durations balance the shards (default: case counts)"),
    _Option("cache_dir", "cache of exported and quantized models (default: $QBENCH_CACHE_DIR or "
            "~/.cache/pytest-qbench)"),
    _Option("threads", "ONNX Runtime intra-op threads (default: physical cores)", int, _TIMING["threads"]),
    _Option("min_seconds", "minimum CPU time per model per case in the gated one-thread phase, seconds",
            float, _TIMING["min_seconds"]),
    _Option("max_seconds", "maximum time of the gated one-thread phase per case (both models), seconds",
            float, _TIMING["max_seconds"]),
    _Option("min_pairs", "minimum timed call pairs per case in the gated phase", int, _TIMING["min_pairs"], flag=False),
    _Option("target_ci_width", "stop timing once the CPU-time speedup's CI is this narrow (relative)",
            float, _TIMING["target_ci_width"], flag=False),
    _Option("wall_seconds", "wall-clock timing per model per case at --qbench-threads (reported), seconds",
            float, _TIMING["wall_seconds"]),
    _Option("accuracy_atol", "accuracy vs baseline: absolute tolerance",
            float, _TOLERANCES["accuracy_atol"], flag=False),
    _Option("accuracy_rtol", "accuracy vs baseline: relative tolerance",
            float, _TOLERANCES["accuracy_rtol"], flag=False),
    _Option("max_loss", "optimized vs original F1 in the same run: tolerable absolute loss",
            float, _TOLERANCES["max_loss"], flag=False),
    _Option("speedup_rtol", "speedup vs baseline: relative tolerance", float, _TOLERANCES["speedup_rtol"], flag=False),
    _Option("saturation_remedy", "int8 remedy for x86 CPUs without VNNI, where u8s8 kernels can saturate: "
            + ", ".join(SATURATION_REMEDIES), default=VariantSpec.saturation_remedy, flag=False),
    _Option("cpu_time_rtol", "the optimized model's CPU time per call vs baseline, beyond the run's common move "
            "(same hardware only, judged at the run's end): relative tolerance, or off", number_or_off,
            _TOLERANCES["cpu_time_rtol"], flag=False),
    _Option("search_samples", "diagnosis pre-flight and repair search: sentences of the evaluation split scored per "
            "candidate", int, _DIAGNOSIS["search_samples"], flag=False),
    _Option("max_evaluations", "repair search: candidate exclusions built and scored, at most",
            int, _DIAGNOSIS["max_evaluations"], flag=False),
    _Option("latency_rtol", "wall-clock latency vs baseline (same hardware only): relative tolerance; unset or off: "
            "not gated", number_or_off, _TOLERANCES["latency_rtol"], flag=False),
    _Option("throughput_rtol", "throughput within a case's latency_budget_ms vs baseline (same CPU model only, wall "
            "time): relative tolerance; unset or off: not gated",
            number_or_off, _TOLERANCES["throughput_rtol"], flag=False),
    _Option("confirm_processes", "fresh processes that measure again a case whose speedup check fails or is "
            "inconclusive at first look (judged on their best; failed only when each fails), and every case of an "
            "update run (the baseline records their median); 0: none", int,
            _TIMING["confirm_processes"]),
    _Option("false_alarm_rate", "false alarms allowed per gate run under no change, all latency checks of the run "
            "together", float, QbenchOptions.false_alarm_rate, flag=False),
    _Option("baseline_runs", "latency runs a baseline keeps per case and CPU model (the gate compares with their "
            "median)", int, QbenchOptions.baseline_runs, flag=False),
    _Option("rerun_from", "a JSON artifact (or merged artifact): run only the cases whose latency it found failing or "
            "inconclusive on this machine's hardware key, to confirm them on another machine"),
)


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qbench", "quantized-model accuracy and latency gate")
    group.addoption("--qbench", action="store_true", help="run the qbench gate (qbench tests are skipped without it)")
    group.addoption(
        "--qbench-update-baselines",
        action="store_true",
        help="write the measured values of the cases that ran as their new baselines",
    )
    group.addoption(
        "--qbench-diagnose",
        action="store_true",
        help="on a failed accuracy check, rank the nodes that lose the accuracy and tell graph from kernel causes",
    )
    group.addoption(
        "--qbench-strict",
        action="store_true",
        default=None,
        help="fail a case whose latency check is inconclusive or not gated on this machine (ini qbench_strict)",
    )
    parser.addini("qbench_runtime", "runtimes a marker without runtime= runs on: " + ", ".join(RUNTIMES)
                  + f" (default: {' '.join(QbenchOptions.runtimes)})", type="args",
                  default=list(QbenchOptions.runtimes))
    parser.addini("qbench_strict", "fail a case whose latency check is inconclusive or not gated on this machine",
                  type="bool", default=QbenchOptions.strict)
    parser.addini("qbench_speed_lines", "judge a case's speedup given the machine's speed (its fp32 model's CPU time"
                  " per call) once its recorded runs (baselines, --qbench-history) teach a line; an experiment that"
                  " caught a hidden slowdown in one machine state and false-alarmed in another (docs/verdicts.md)",
                  type="bool", default=QbenchOptions.speed_lines)
    group.addoption(
        "--qbench-repair",
        action="store_true",
        help="with the diagnosis, search for the smallest node exclusion that passes (rebuilds the variant, minutes)",
    )
    for opt in OPTIONS:
        if opt.flag:
            group.addoption(f"--qbench-{opt.name.replace('_', '-')}", dest=f"qbench_{opt.name}", metavar="VALUE",
                            help=opt.help)
        parser.addini(f"qbench_{opt.name}", opt.help, default=None)


_ZERO_ALLOWED = ("accuracy_rtol", "confirm_processes")


def _read(config: pytest.Config, opt: _Option) -> Any:
    flag = f"--qbench-{opt.name.replace('_', '-')}"
    cli = config.getoption(f"qbench_{opt.name}") if opt.flag else None
    ini = f"qbench_{opt.name}"
    raw, source = (cli, flag) if cli is not None else (config.getini(ini), f"ini key {ini}")
    if raw in (None, ""):
        return opt.default
    try:
        value = opt.parse(raw)
    except ValueError:
        raise pytest.UsageError(f"qbench: {source} = {raw!r} is not a valid {opt.parse.__name__}") from None
    if isinstance(value, (int, float)) and (value < 0 or value == 0 and opt.name not in _ZERO_ALLOWED):
        least = "at least 0" if opt.name in _ZERO_ALLOWED else "positive"
        raise pytest.UsageError(f"qbench: {source} = {raw!r} must be {least}")
    return value


def read_options(config: pytest.Config) -> QbenchOptions:
    """The session's options from the command line and ini keys, checked (a bad value is a UsageError)."""
    values = {opt.name: _read(config, opt) for opt in OPTIONS}
    enabled, update = config.getoption("qbench"), config.getoption("qbench_update_baselines")
    if update and not enabled:
        raise pytest.UsageError("qbench: --qbench-update-baselines needs --qbench (the gate must run to measure)")
    timing = TimingSpec(**{k: values[k] for k in _TIMING if k in values})
    if timing.max_seconds < timing.min_seconds:
        raise pytest.UsageError(
            f"qbench: max_seconds ({timing.max_seconds}) is below min_seconds ({timing.min_seconds}); raise max_seconds"
        )
    if values["saturation_remedy"] not in SATURATION_REMEDIES:
        raise pytest.UsageError(
            f"qbench: ini key qbench_saturation_remedy = {values['saturation_remedy']!r} is unknown;"
            f" allowed: {', '.join(SATURATION_REMEDIES)}"
        )
    try:
        shard = None if values["shard"] is None else Shard.parse(values["shard"])
    except QbenchConfigError as error:
        raise pytest.UsageError(str(error)) from None
    xdist = bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")
    if shard is not None and enabled and xdist:
        raise pytest.UsageError(
            "qbench: --qbench-shard runs one shard per job; drop -n (pytest-xdist): timing beside other work is noise"
        )
    root = config.rootpath
    return QbenchOptions(
        enabled=enabled,
        update=update,
        baselines=root / values["baselines"],
        json=root / values["json"],
        markdown=None if values["markdown"] is None else root / values["markdown"],
        html=None if values["html"] is None else root / values["html"],
        history=None if values["history"] is None else root / values["history"],
        cache_dir=None if values["cache_dir"] is None else root / values["cache_dir"],
        timing=timing,
        tolerances=Tolerances(**{k: values[k] for k in _TOLERANCES if k in values}),
        saturation_remedy=values["saturation_remedy"],
        diagnose=config.getoption("qbench_diagnose") or config.getoption("qbench_repair"),
        repair=config.getoption("qbench_repair"),
        diagnosis=DiagnosisSpec(**{k: values[k] for k in _DIAGNOSIS if k in values}),
        shard=shard,
        shard_durations=None if values["shard_durations"] is None else root / values["shard_durations"],
        strict=bool(config.getoption("qbench_strict") or config.getini("qbench_strict")),
        speed_lines=bool(config.getini("qbench_speed_lines")),
        false_alarm_rate=_rate(values["false_alarm_rate"]),
        baseline_runs=values["baseline_runs"],
        rerun_from=None if values["rerun_from"] is None else root / values["rerun_from"],
        runtimes=_runtimes(config.getini("qbench_runtime")),
    )


def _runtimes(names: list[str]) -> tuple[str, ...]:
    unknown = [name for name in names if name not in RUNTIMES]
    if unknown or not names or len(set(names)) != len(names):
        raise pytest.UsageError(
            f"qbench: ini key qbench_runtime = {' '.join(names)!r} must name each runtime once, from:"
            f" {', '.join(RUNTIMES)}; e.g. qbench_runtime = onnxruntime openvino"
        )
    return tuple(names)


def _rate(value: float) -> float:
    if not 0 < value < 1:
        raise pytest.UsageError(
            f"qbench: qbench_false_alarm_rate = {value!r} must be a fraction between 0 and 1,"
            f" e.g. {QbenchOptions.false_alarm_rate}"
        )
    return value

