"""`QbenchSession`: the one qbench object of a pytest session (as syrupy's SnapshotSession and
pytest-benchmark's BenchmarkSession are theirs): the builds and measurements its cases share,
memoised by what decides them, and the results it collects from every case (and every xdist worker).
At the end it hands them to report/outputs.py, which writes what the run leaves behind.

Words: "session" alone is this object; onnxruntime's are `ort_session`s; pytest's is `pytest_session`
(pytest's own hooks still call it `session`). Heavy libraries are imported only when a case runs.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import subprocess
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable

import pytest

from .errors import QbenchBaselineError, error_text
from .results import RESULT_PROPERTY, CaseResult, LatencyGate, OriginalRecord

if TYPE_CHECKING:
    import datasets
    import onnxruntime

    from .gate.baselines import BaselineStore
    from .gate.rules import RunOutcome
    from .hardware import Fingerprint, Hardware
    from .measure.ov_session import OvSession
    from .specs import CaseSpec, QbenchOptions
    from .variants.cache import BuildCache
    from .variants.quantize import BuiltVariant


@dataclass
class _Memo:
    """Results of expensive steps, keyed by what decides them; a failure is remembered too, so a
    variant that cannot be built errors each of its cases once instead of being rebuilt per case."""

    values: dict[Hashable, Any] = field(default_factory=dict)

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key not in self.values:
            try:
                self.values[key] = make()
            except Exception as error:  # noqa: BLE001 - re-raised below and for every later case
                self.values[key] = error
        value = self.values[key]
        if isinstance(value, Exception):
            raise value
        return value


class QbenchSession:
    """The shared steps of a session's cases (measure/case.py's `SharedSteps`: memo, tokenizers, splits,
    model configs, ONNX Runtime sessions; and the builds), its environment, and its results."""

    def __init__(self, config: pytest.Config, options: "QbenchOptions") -> None:
        self.config = config
        self.options = options
        self.results: list[CaseResult] = []
        self.interrupted = False
        self.summary: list[str] = []
        self.errors: list[str] = []  # files that could not be written: they fail the run
        self.selected: list[str] | None = None  # qbench node ids selected, before sharding (None: under xdist)
        self.skipped: list[str] = []  # qbench node ids pytest skipped (pytest.skip: e.g. a hub-only case offline)
        self.shard_plan: str | None = None  # what this shard runs, said at the end
        self.run_id = uuid.uuid4().hex[:16]  # repeats of a case by different runs combine in the merge
        self._memo = _Memo()

    # ---- environment ----------------------------------------------------------------------

    @cached_property
    def hardware(self) -> "Hardware":
        from .hardware import detect

        return self.config.hook.pytest_qbench_hardware(config=self.config) or detect()

    @cached_property
    def hardware_key(self) -> str:
        key = self.config.hook.pytest_qbench_hardware_key(config=self.config, hardware=self.hardware)
        return key or self.hardware.key

    @cached_property
    def cache(self) -> "BuildCache":
        from .variants.cache import BuildCache, default_cache_root

        return BuildCache(self.options.cache_dir or default_cache_root())

    @cached_property
    def store(self) -> "BaselineStore":
        from .gate.baselines import BaselineStore

        return BaselineStore(self.options.baselines, keep_runs=self.options.baseline_runs)

    @cached_property
    def fingerprint(self) -> "Fingerprint":
        from .hardware import fingerprint

        return fingerprint()

    @cached_property
    def latency_gate(self) -> "LatencyGate":
        """What every latency check of the run is held to: this machine's CPU model, the between-run
        spread of the key's recorded runs (baselines and history), and the run's family of cases."""
        from .gate.spread import PRIOR_SPEEDUP_SIGMA, between_run_sigma

        samples = {case: [(r.log_speedup, r.log_se, r.run) for r in runs if r.cpu_model == self.fingerprint.cpu_model]
                   for case, runs in self.store.samples(self.hardware_key).items()}
        for case, values in self._history_samples().items():
            recorded = {run for _, _, run in samples.get(case, [])}
            samples.setdefault(case, []).extend(v for v in values if v[2] not in recorded)
        spread = between_run_sigma([[(v, se) for v, se, _ in values] for values in samples.values()], PRIOR_SPEEDUP_SIGMA)
        return LatencyGate(self.fingerprint.cpu_model, spread, cases=max(len(self.selected or ()), 1),
                           alpha=self.options.false_alarm_rate)

    def _history_samples(self) -> dict[tuple[str, str], list[tuple[float, float, str]]]:
        """(log speedup, its se, run id) of each case in the runs of the history folder (--qbench-history)
        made on this hardware key and CPU model."""
        from .measure.stats import log_se
        from .report.history import load
        from .results import Speedup

        found: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
        if self.options.history is None or not self.options.history.is_dir():
            return found
        for run in load(self.options.history):
            environment = run.artifact["environment"]
            if environment.get("hardware_key") != self.hardware_key or environment.get("cpu_model") != self.fingerprint.cpu_model:
                continue
            for case in run.artifact["cases"]:
                if case.get("latency") and case.get("run_id"):
                    speedup = Speedup(**case["latency"]["cpu"]["speedup"])
                    found.setdefault((case["test"], case["id"]), []).append(
                        (math.log(speedup.value), log_se(speedup), case["run_id"]))
        return found

    def threads(self, case: "CaseSpec") -> int:
        return case.timing.threads or self.hardware.physical_cores

    @cached_property
    def environment(self) -> dict[str, Any]:
        from .variants.cache import LIBRARIES, library_versions
        from .variants.openvino import OPENVINO_LIBRARIES

        hardware = self.hardware
        return {
            "brand": hardware.brand,
            "arch": hardware.arch,
            "flags": list(hardware.flags),
            "int8_flags": list(hardware.int8_flags),
            "hardware_key": self.hardware_key,
            "tier": hardware.tier,
            "saturates_u8s8": hardware.saturates_u8s8,
            "preset": hardware.preset,
            "qbench_version": _version(),
            "physical_cores": hardware.physical_cores,
            "logical_cores": hardware.logical_cores,
            "threads": self.options.timing.threads or hardware.physical_cores,
            "cpu_model": self.fingerprint.cpu_model,
            "fingerprint": self.fingerprint.to_dict(),
            "python": platform.python_version(),
            "libraries": {**library_versions(LIBRARIES),  # OpenVINO's only where the extra is installed
                          **{k: v for k, v in library_versions(OPENVINO_LIBRARIES).items() if v != "not installed"}},
            "git_commit": _git_commit(self.config.rootpath),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }

    # ---- shared, memoised steps -------------------------------------------------------------

    def original(self, model: str, opset: int) -> Path:
        from .variants.export import export_original

        return self._memo.get(("original", model, opset), lambda: export_original(model, opset, self.cache))

    def original_record(self, onnx_file: Path) -> OriginalRecord:
        from .variants.inspect import original_record

        return self._memo.get(("original record", onnx_file), lambda: original_record(onnx_file))

    def split(self, source: Any, name: str) -> "datasets.Dataset":
        from .measure.data import load_split

        source_key = source if isinstance(source, str) else id(source)
        return self._memo.get(("split", source_key, name), lambda: load_split(source, name))

    def tokenizer(self, model_dir: Path) -> Any:
        from transformers import AutoTokenizer

        return self._memo.get(("tokenizer", model_dir), lambda: AutoTokenizer.from_pretrained(model_dir))

    def model_config(self, model_dir: Path) -> Any:
        from transformers import AutoConfig

        return self._memo.get(("model config", model_dir), lambda: AutoConfig.from_pretrained(model_dir))

    def ort_session(
        self, path: Path, threads: int, config_entries: dict[str, str] | None = None
    ) -> "onnxruntime.InferenceSession":
        from .measure.ort_session import make_ort_session

        key = ("ort session", path, threads, tuple(sorted((config_entries or {}).items())))
        return self._memo.get(key, lambda: make_ort_session(path, threads, config_entries))

    def ov_session(self, path: Path, threads: int, extra: dict[str, Any] | None = None) -> "OvSession":
        from .measure.ov_session import make_ov_session

        key = ("ov session", path, threads, tuple(sorted((extra or {}).items())))
        return self._memo.get(key, lambda: make_ov_session(path, threads, extra))

    def variant(self, model: str, source: Any, case: "CaseSpec", quantized: Path | None = None) -> "BuiltVariant":
        """The case's variant: built from the original, or with `quantized` (its quantized_file) adopted as it is."""
        key = ("variant", model, source if isinstance(source, str) else id(source), case.data, case.variant, quantized)
        return self._memo.get(key, lambda: self._build(model, source, case, quantized))

    def _build(self, model: str, source: Any, case: "CaseSpec", quantized: Path | None) -> "BuiltVariant":
        from .measure.data import calibration_dataset
        from .variants.openvino import build_openvino_variant, require_openvino
        from .variants.quantize import adopt_quantized, build_variant

        if case.variant.openvino:
            require_openvino()  # before the export: its error names the extra

        original_dir = self.original(model, case.variant.opset)
        if quantized is not None:
            return adopt_quantized(original_dir, quantized, cache=self.cache)
        calibration = None
        if case.variant.approach == "static":
            spec = case.variant.calibration
            inputs = [i.name for i in self.ort_session(original_dir / "model.onnx", self.threads(case)).get_inputs()]
            calibration = calibration_dataset(
                self.tokenizer(original_dir),
                self.split(source, spec.split),
                case.data.input_column,
                spec.num_samples,
                spec.sequence_length,
                inputs,
            )
        if case.variant.openvino:
            return build_openvino_variant(original_dir, case.variant, calibration=calibration, cache=self.cache)
        return build_variant(
            original_dir, case.variant, preset=self.hardware.preset, calibration=calibration, cache=self.cache
        )

    def memo(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """`make()`, once per session for `key` (a failure too: it is raised again for every later case)."""
        return self._memo.get(key, make)

    # ---- hooks (this object is registered as a plugin) --------------------------------------

    def pytest_report_header(self) -> str:
        hw = self.hardware
        return (f"qbench: hardware key {self.hardware_key} ({hw.brand}; int8 kernels {hw.tier},"
                f" preset {hw.preset}{'; no VNNI: U8S8 int8 can saturate here' if hw.saturates_u8s8 else ''})")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(self.config, "workerinput"):  # xdist worker: the controller collects and writes
            return
        if report.skipped and not hasattr(report, "wasxfail") and "qbench" in report.keywords:
            self.skipped.append(report.nodeid)
        # The result travels in the report, so xdist workers' results reach the controller too.
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and report.when == "call":
                result = CaseResult.from_json(value)
                result.expected_failure = hasattr(report, "wasxfail") and report.skipped
                result.seconds = report.duration
                self._collect(result)

    def _collect(self, result: CaseResult) -> None:
        from .gate.rules import FileToWrite, file_to_write

        self.results.append(result)
        write = file_to_write(result.verdict, self.options.update)
        if write is FileToWrite.BASELINE and self.options.shard is not None:
            return  # a shard's measurements become baselines through the merge
        try:
            if write is FileToWrite.BASELINE:
                self.store.stage(result.test, result.case_id, self.hardware_key, result,
                                 when=self.environment["created"], restart=result.restart_sample)
            elif write is FileToWrite.OBTAINED:
                self.store.write_obtained(result.test, result.case_id, self.hardware_key, result)
        except (QbenchBaselineError, OSError, ValueError) as error:  # a hook runs here: no traceback
            what = "stage the baseline" if write is FileToWrite.BASELINE else "write the obtained file"
            self.errors.append(f"qbench: ERROR: could not {what} of {result.test} [{result.case_id}]: {error_text(error)}")

    @pytest.hookimpl(tryfirst=True)  # before the terminal reporter's, which can raise
    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):  # xdist workers: the controller writes
            return
        sharded = self.options.shard is not None
        if not self.results and not sharded:
            return
        if sharded and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK  # an empty shard is a valid shard
        self.interrupted |= exitstatus == pytest.ExitCode.INTERRUPTED
        outcome = self.outcome()
        self.summary = self.finish(outcome)
        if session.exitstatus == pytest.ExitCode.OK and outcome.exit_code:
            # the run's own check failed (each case is a test: pytest failed those already), as pytest-cov's
            # --cov-fail-under does after the tests passed
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if session.exitstatus == pytest.ExitCode.OK and (self.errors or self.interrupted):
            # a baseline or artifact went unwritten, or an interrupt came during the writes
            session.exitstatus = pytest.ExitCode.INTERRUPTED if self.interrupted else pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.summary:
            return
        from .report.annotations import github_annotations
        from .report.terminal import summary_lines

        terminalreporter.section("qbench")
        for line in summary_lines(self.results, self.environment, self.options.diagnosis.top) + self.summary:
            terminalreporter.write_line(line)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for line in github_annotations(self.results):
                terminalreporter.write_line(line)

    def outcome(self) -> "RunOutcome":
        """What the run decided: its cases' verdicts and its own checks, a slowdown common to every case it
        gated (not in update mode, nor in a shard, whose merge checks the whole run)."""
        from .gate.latency_stats import common_cpu_time
        from .gate.rules import RunOutcome

        settings = self.options.run_settings  # as the merge of a sharded run judges it (gate/merge.py)
        found = None
        if not self.options.update and self.options.shard is None:
            found = common_cpu_time(self.results, settings.speedup_rtol, settings.false_alarm_rate)
        return RunOutcome(self.results, [] if found is None else [found], strict=settings.strict)

    def finish(self, outcome: "RunOutcome") -> list[str]:
        """Write what the run leaves behind (report/outputs.py), with the run's outcome; return what the
        terminal summary should say about it."""
        from .report.outputs import RunOutputs

        outputs = RunOutputs(
            options=self.options, outcome=outcome, environment=self.environment, store=self.store,
            hardware_key=self.hardware_key, selected=self.selected, skipped=self.skipped, shard_plan=self.shard_plan,
            interrupted=self.interrupted, errors=self.errors, run_id=self.run_id,
        )
        lines = outputs.write(
            amend_artifact=lambda artifact: self.config.hook.pytest_qbench_update_json(config=self.config, artifact=artifact)
        )
        self.interrupted = outputs.interrupted
        return lines


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pytest-qbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
