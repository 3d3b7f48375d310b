"""`QbenchSession`: the one qbench object of a pytest session (as syrupy's SnapshotSession and
pytest-benchmark's BenchmarkSession are theirs). It holds the run's pipeline (pipeline.py: the builds and
measurements its cases share), its environment (environment.py), its baselines and the latency gate
they give, and the results it collects from every case (and every xdist worker): each is kept as it
arrives (report/outputs.py `stage_result`), and at the end handed to report/outputs.py, which writes
what the run leaves behind; the run's `RunOutcome` (gate/rules.py) says what that makes of its exit status.

Words: "session" alone is this object; onnxruntime's are `ort_session`s; pytest's is `pytest_session`
(pytest's own hooks still call it `session`). Heavy libraries are imported only when a case runs.
"""

from __future__ import annotations

import os
import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pytest

from .pipeline import Pipeline, latency_gate_for
from .results import RESULT_PROPERTY, CaseResult

if TYPE_CHECKING:
    from .gate.baselines import BaselineStore
    from .gate.rules import RunOutcome
    from .hardware import Hardware
    from .results import Environment, LatencyGate
    from .specs import QbenchOptions


class QbenchSession:
    """The run's pipeline, environment and baselines, and the results of its cases."""

    def __init__(self, config: pytest.Config, options: QbenchOptions) -> None:
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

    # ---- the machine, the pipeline, the baselines ------------------------------------------

    @cached_property
    def hardware(self) -> Hardware:
        from .hardware import detect

        return self.config.hook.pytest_qbench_hardware(config=self.config) or detect()

    @cached_property
    def hardware_key(self) -> str:
        key = self.config.hook.pytest_qbench_hardware_key(config=self.config, hardware=self.hardware)
        return key or self.hardware.key

    @cached_property
    def pipeline(self) -> Pipeline:
        """What the cases share: builds (through --qbench-cache-dir's cache), sessions, scores."""
        from .variants.cache import BuildCache, default_cache_root

        return Pipeline(BuildCache(self.options.cache_dir or default_cache_root()), self.hardware, self.hardware_key)

    @cached_property
    def store(self) -> BaselineStore:
        from .gate.baselines import BaselineStore

        return BaselineStore(self.options.baselines, keep_runs=self.options.baseline_runs)

    @cached_property
    def latency_gate(self) -> LatencyGate:
        """What every latency check of the run is held to: this machine's CPU model, the between-run
        spread of the key's recorded runs (baselines and history), with qbench_speed_lines each case's
        speed line, and the run's family of cases."""
        return latency_gate_for(self.store, self.hardware_key, self.pipeline.fingerprint.cpu_model,
                                history=self.options.history, cases=len(self.selected or ()),
                                alpha=self.options.false_alarm_rate, speed_lines=self.options.speed_lines)

    @cached_property
    def environment(self) -> Environment:
        """Where the run ran (environment.py), as of its first use: its "created" time."""
        return self.pipeline.environment(threads=self.options.timing.threads, root=self.config.rootpath)

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
            if name == RESULT_PROPERTY and report.when == "call" and isinstance(value, dict):
                result = CaseResult.from_json(value)
                result.expected_failure = hasattr(report, "wasxfail") and report.skipped
                result.seconds = report.duration
                self._collect(result)

    def _collect(self, result: CaseResult) -> None:
        from .report.outputs import stage_result

        self.results.append(result)
        error = stage_result(self.store, result, self.hardware_key, update=self.options.update,
                             sharded=self.options.shard is not None, created=lambda: self.environment.created)
        if error is not None:
            self.errors.append(error)

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
        session.exitstatus = outcome.exit_status(session.exitstatus, unwritten=bool(self.errors),
                                                 interrupted=self.interrupted)

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

    def outcome(self) -> RunOutcome:
        """What the run decided: its cases' verdicts and its own checks of the CPU time per call
        (latency_stats.run_checks; not in update mode, nor in a shard, whose merge checks the whole run)."""
        from .gate.latency_stats import run_checks
        from .gate.rules import RunOutcome

        settings = self.options.run_settings  # as the merge of a sharded run judges it (gate/merge.py)
        checks = [] if self.options.update or self.options.shard is not None else run_checks(self.results, settings)
        return RunOutcome(self.results, checks, strict=settings.strict)

    def finish(self, outcome: RunOutcome) -> list[str]:
        """Write what the run leaves behind (report/outputs.py), with the run's outcome; return what the
        terminal summary should say about it, the errors of every write last."""
        from .report.outputs import RunOutputs

        outputs = RunOutputs(
            options=self.options, outcome=outcome, environment=self.environment, store=self.store,
            hardware_key=self.hardware_key, selected=self.selected, skipped=self.skipped, shard_plan=self.shard_plan,
            interrupted=self.interrupted, run_id=self.run_id,
        )
        written = outputs.write(
            amend_artifact=lambda artifact: self.config.hook.pytest_qbench_update_json(
                config=self.config, artifact=artifact
            )
        )
        self.errors += written.errors
        self.interrupted = written.interrupted
        return [*written.lines, *self.errors]

