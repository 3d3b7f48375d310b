"""The one qbench object of a pytest session: builds shared across cases, results, the final writes.

Heavy libraries are imported here only when a qbench case actually runs.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable

import pytest

from .options import QbenchOptions
from .results import CaseResult, OriginalRecord

if TYPE_CHECKING:
    import datasets
    import onnxruntime

    from .build.cache import BuildCache
    from .build.variants import BuiltVariant
    from .config import CaseSpec
    from .gate.baselines import BaselineStore
    from .hardware import Hardware


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
    def __init__(self, config: pytest.Config, options: QbenchOptions) -> None:
        self.config = config
        self.options = options
        self.results: list[CaseResult] = []
        self.interrupted = False
        self.summary: list[str] = []
        self.errors: list[str] = []  # files that could not be written: they fail the run
        self.selected: list[str] | None = None  # qbench node ids selected, before sharding (None: under xdist)
        self.shard_plan: str | None = None  # what this shard runs, said at the end
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
        from .build.cache import BuildCache, default_cache_root

        return BuildCache(self.options.cache_dir or default_cache_root())

    @cached_property
    def store(self) -> "BaselineStore":
        from .gate.baselines import BaselineStore

        return BaselineStore(self.options.baselines)

    def threads(self, case: "CaseSpec") -> int:
        return case.timing.threads or self.hardware.physical_cores

    @cached_property
    def environment(self) -> dict[str, Any]:
        from .build.cache import library_versions

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
            "python": platform.python_version(),
            "libraries": library_versions(),
            "git_commit": _git_commit(self.config.rootpath),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }

    # ---- shared, memoised steps -------------------------------------------------------------

    def original(self, model: str, opset: int) -> Path:
        from .build.variants import export_original

        return self._memo.get(("original", model, opset), lambda: export_original(model, opset, self.cache))

    def original_record(self, onnx_file: Path) -> OriginalRecord:
        from .build.variants import original_record

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

        return self._memo.get(("config", model_dir), lambda: AutoConfig.from_pretrained(model_dir))

    def ort_session(self, path: Path, threads: int, config: dict[str, str] | None = None) -> "onnxruntime.InferenceSession":
        from .measure.latency import make_session

        key = ("session", path, threads, tuple(sorted((config or {}).items())))
        return self._memo.get(key, lambda: make_session(path, threads, config))

    def variant(self, model: str, source: Any, case: "CaseSpec", quantized: Path | None = None) -> "BuiltVariant":
        """The case's variant: built from the original, or with `quantized` (its quantized_file) adopted as it is."""
        key = ("variant", model, source if isinstance(source, str) else id(source), case.data, case.variant, quantized)
        return self._memo.get(key, lambda: self._build(model, source, case, quantized))

    def _build(self, model: str, source: Any, case: "CaseSpec", quantized: Path | None) -> "BuiltVariant":
        from .build.variants import adopt_quantized, build_variant
        from .measure.data import calibration_dataset

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
        return build_variant(
            original_dir, case.variant, preset=self.hardware.preset, calibration=calibration, cache=self.cache
        )

    def memo(self, key: Hashable, make: Callable[[], Any]) -> Any:
        return self._memo.get(key, make)

    # ---- hooks (this object is registered as a plugin) --------------------------------------

    def pytest_report_header(self) -> str:
        hw = self.hardware
        return (f"qbench: hardware key {self.hardware_key} ({hw.brand}; int8 kernels {hw.tier},"
                f" preset {hw.preset}{'; no VNNI: U8S8 int8 can saturate here' if hw.saturates_u8s8 else ''})")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from .runner import RESULT_PROPERTY

        if hasattr(self.config, "workerinput"):  # xdist worker: the controller collects and writes
            return
        # The result travels in the report, so xdist workers' results reach the controller too.
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and report.when == "call":
                result = CaseResult.from_json(value)
                result.expected_failure = hasattr(report, "wasxfail") and report.skipped
                result.seconds = report.duration
                self._collect(result)

    def _collect(self, result: CaseResult) -> None:
        from .gate.baselines import QbenchBaselineError
        from .gate.policy import write_of

        self.results.append(result)
        write = write_of(result.verdict, self.options.update)
        if write == "baseline" and self.options.shard is not None:
            return  # a shard's measurements become baselines through the merge
        try:
            if write == "baseline":
                self.store.stage(result.test, result.case_id, self.hardware_key, result)
            elif write == "obtained":
                self.store.write_obtained(result.test, result.case_id, self.hardware_key, result)
        except (QbenchBaselineError, OSError, ValueError) as error:  # a hook runs here: no traceback
            what = "stage the baseline" if write == "baseline" else "write the obtained file"
            self.errors.append(f"qbench: ERROR: could not {what} of {result.test} [{result.case_id}]: {_text(error)}")

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
        self.summary = self.finish()
        if session.exitstatus == pytest.ExitCode.OK and (self.errors or self.interrupted):
            # a baseline or artifact went unwritten, or an interrupt came during the writes
            session.exitstatus = pytest.ExitCode.INTERRUPTED if self.interrupted else pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.summary:
            return
        from .report.text import github_annotations, summary_lines

        terminalreporter.section("qbench")
        for line in summary_lines(self.results, self.environment, self.options.diagnosis.top) + self.summary:
            terminalreporter.write_line(line)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for line in github_annotations(self.results):
                terminalreporter.write_line(line)

    def finish(self) -> list[str]:
        """Write baselines (update mode), the JSON artifact, the reports and the history entry asked
        for; return what the terminal summary should say about them."""
        from .report.artifact import QbenchArtifactError, build_artifact, write_artifact

        lines: list[str] = []
        if self.options.shard is not None:  # the other shards' cases are not here: the merge decides
            lines.append(self._shard_line())
        elif self.options.update:
            lines += self._flush_baselines()
        if not self.interrupted and self.options.shard is None:  # else cases that did not run look unused
            lines += self._report_unused()
            lines += self._propose_baselines()
        environment = self.environment
        run = {"shard": None if self.options.shard is None else str(self.options.shard),
               "selected": sorted(self.selected if self.selected is not None else {r.nodeid for r in self.results})}
        artifact = build_artifact(environment, self.results, run)
        self.config.hook.pytest_qbench_update_json(config=self.config, artifact=artifact)
        try:
            write_artifact(self.options.json, artifact)
            lines.append(f"qbench: JSON artifact written to {self.options.json}")
        except (OSError, QbenchArtifactError) as error:  # disk full, read-only folder, a hook's bad edit
            self.errors.append(f"qbench: ERROR: could not write the JSON artifact to {self.options.json}: {_text(error)}")
        lines += self._write_reports(artifact)
        return lines + self.errors

    def _write_reports(self, artifact: dict[str, Any]) -> list[str]:
        """The markdown and HTML reports and the history entry that were asked for."""
        from .atomic import atomic_write_text
        from .report.history import append
        from .report.text import markdown

        lines = []
        history = self.options.history
        if history is not None and self.interrupted:
            lines.append(f"qbench: run interrupted: not recorded in the history {history}")
            history = None
        writes = [  # the history first, so that the HTML report's trends include this run
            ("history entry", history, lambda folder: append(folder, artifact)),
            ("markdown report", self.options.markdown,
             lambda path: atomic_write_text(path, markdown(self.results, self.environment, self.options.diagnosis.top))),
            ("HTML report", self.options.html, self._write_html),
        ]
        for what, target, write in writes:
            if target is None:
                continue
            try:
                write(target)
                lines.append(f"qbench: {what} written to {target}")
            except (OSError, ValueError) as error:
                self.errors.append(f"qbench: ERROR: could not write the {what} to {target}: {_text(error)}")
        return lines

    def _write_html(self, path: Path) -> None:
        from .atomic import atomic_write_text
        from .report.history import load
        from .report.html import render

        history = load(self.options.history) if self.options.history is not None else []
        atomic_write_text(path, render(self.results, self.environment, history))

    def _shard_line(self) -> str:
        update = " Baselines are written by the merge: `python -m pytest_qbench merge ARTIFACTS... -o merged.json --baselines-out baselines/`." if self.options.update else ""
        ran = f"qbench: shard {self.options.shard}: {len(self.results)} cases ran; merge the shards' artifacts for the verdict.{update}"
        return f"{self.shard_plan}\n{ran}" if self.shard_plan else ran

    def _flush_baselines(self) -> list[str]:
        from .gate.baselines import QbenchFlushError

        if self.interrupted:
            return ["qbench: run interrupted: no baseline was written"]
        try:
            outcome = self.store.flush()
        except QbenchFlushError as error:
            outcome = error.report
            self.errors += [f"qbench: ERROR: {_text(line)}" for line in str(error).splitlines()]
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM in the middle of the writes: finish the report
            self.interrupted = True
            self.errors.append(
                "qbench: ERROR: interrupted while writing the baselines: each file holds either its old or its"
                " new version (atomic writes); run the update again to write them all"
            )
            return []
        return [
            f"qbench: baseline {kind}: {test} [{case_id}] ({hardware_key})"
            for kind, keys in (("created", outcome.created), ("updated", outcome.updated))
            for test, case_id, hardware_key in keys
        ]

    def _propose_baselines(self) -> list[str]:
        """On a hardware key without latency baselines, write what an update would make of the
        baseline files into `proposed-baselines/` beside the JSON artifact, for review (a CI job
        uploads it); the real baselines stay untouched."""
        from .gate.baselines import BaselineStore, QbenchFlushError
        from .report.text import ungated_latency

        cases = [r for r in ungated_latency(self.results) if r.error is None] if not self.options.update else []
        if not cases:
            return []
        folder = self.options.json.parent / "proposed-baselines"
        proposed = BaselineStore(folder)
        try:
            for result in cases:
                proposed.seed(self.store.path_for(result.test))
                proposed.stage(result.test, result.case_id, self.hardware_key, result)
            proposed.flush()
        except (QbenchFlushError, OSError, ValueError) as error:
            self.errors.append(f"qbench: ERROR: could not write the proposed baselines to {folder}: {_text(error)}")
            return []
        return [f"qbench: proposed baselines for {self.hardware_key} ({len(cases)} cases) written to {folder}:"
                f" review them, then copy them into {self.options.baselines}"]

    def _report_unused(self) -> list[str]:
        used = {(r.test, r.case_id) for r in self.results}
        return [f"qbench: unused baseline: {test} [{case}]" for test, case in self.store.unused(used)]


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pytest-qbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def _text(error: object) -> str:
    return str(error).removeprefix("qbench: ")


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
