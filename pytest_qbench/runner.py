"""`QbenchRun`, what the `qbench` fixture gives a test: the object that wires one case's stages.

build (the session's variants, through its build cache) -> measure (measure/case.py) -> judge
(gate/rules.py) -> record (the result travels in the test's report to the session, which writes
what the run leaves behind), and on request diagnose (diagnose/case.py). It measures and judges
nothing itself: each stage does, and this object hands each one what the case and the session give.

What a test reads of it: `.variant` (the built models; `.variant.quantization`, what the quantizer
really did), `.task`, `.original` / `.optimized` (ONNX Runtime sessions, or OpenVINO's for a case
with runtime "openvino": measure/ov_session.py), `.original_record`,
`.accuracy()`, `.latency()`, `.diagnose(repair=False)` and `.check()`.
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .errors import error_text
from .outcomes import QbenchAccuracyLost, QbenchCheckFailed
from .results import (
    RESULT_PROPERTY, AccuracyResult, CaseResult, Check, Diagnosis, LatencyResult, Metric, OriginalRecord, Status,
)

if TYPE_CHECKING:
    import onnxruntime

    from .measure.case import CaseMeasurer
    from .measure.tasks import Task
    from .gate.rules import Judgement
    from .results import BaselineRecord, Exclusion
    from .session import QbenchSession
    from .specs import CaseSpec, TimingSpec
    from .variants.quantize import BuiltVariant


_OPENVINO_DIAGNOSIS = ("diagnosis and repair read ONNX graphs: they work on ONNX Runtime variants only; gate the"
                       " model with runtime='onnxruntime' too and diagnose that variant")


def _strict_line(check: Check) -> str:
    """What --qbench-strict says of a check that did not decide, and what to do about it."""
    if check.status is Status.INCONCLUSIVE:
        return (f"[strict] {check}; confirm it on another machine (pytest --qbench --qbench-rerun-from ARTIFACT)"
                " or record more baseline runs; without --qbench-strict this is a warning")
    return (f"[strict] {check}; record this machine's baseline runs (pytest --qbench --qbench-update-baselines) or run"
            " the gate on a machine that has them; without --qbench-strict this is a warning")


def _to_confirm(judgement: "Judgement", update: bool) -> bool:
    """Whether the first look at a case's latency may rest on one slow session (measure/fresh.py): its
    speedup check failed or was inconclusive, or an update's run would restart the recorded sample."""
    if update:
        return judgement.restart
    return any(c.metric is Metric.CPU_SPEEDUP and c.status in (Status.FAIL, Status.INCONCLUSIVE)
               for c in judgement.checks)


class QbenchRun:
    def __init__(self, session: "QbenchSession", item: pytest.Item, case: "CaseSpec", model: str, dataset: Any,
                 quantized: Path | None = None):
        self.session = session
        self.item = item
        self.case = case
        self.model = model
        self.dataset = dataset
        self.quantized = quantized  # the case's quantized_file, gated as it is
        self._result: CaseResult | None = None  # once check() recorded it

    # ---- the models (built through the session) ---------------------------------------------------

    @property
    def model_name(self) -> str:
        """The model as baselines record it, the same on every machine: a hub id as given, a local
        path relative to the project, or outside it its folder (or file) name."""
        path = Path(self.model)
        if not path.is_absolute():
            return self.model
        root = self.session.config.rootpath
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name

    @cached_property
    def variant(self) -> "BuiltVariant":
        from .measure.tasks import columns_for

        # Refuse a model the case cannot use (another task's head, a too short position table)
        # before the variant is built: a build of a real model takes minutes.
        data = columns_for(self.task, self.case.data)
        self._check_lengths(self._original_model_config)
        # Every use of the data goes through the variant: from here on, the columns are the task's
        # unless the marker named others.
        self.case = dataclasses.replace(self.case, data=data)
        return self.session.variant(self.model, self.dataset, self.case, self.quantized)

    @cached_property
    def task(self) -> "Task":
        from .measure.tasks import task_for

        return task_for(self._original_model_config)

    @cached_property
    def _original_model_config(self) -> Any:
        """The transformers config of the exported original: its task and its position limit."""
        return self.session.model_config(self.session.original(self.model, self.case.variant.opset))

    @cached_property
    def threads(self) -> int:
        return self.session.threads(self.case)

    @property
    def original_record(self) -> OriginalRecord:
        """The original's precision: fp32 as exported, or already quantized (a hub int8 or 4-bit graph)."""
        from .variants.export import ONNX_FILE

        # The exported graph, also for OpenVINO, whose original is that graph read as IR.
        return self.session.original_record(self.session.original(self.model, self.case.variant.opset) / ONNX_FILE)

    @cached_property
    def measurer(self) -> "CaseMeasurer":
        """How this case's models are measured (measure/case.py): the fixture and the diagnosis use it."""
        from .measure.case import CaseMeasurer

        variant = self.variant  # resolves the case's data columns first
        return CaseMeasurer(
            self.session, dataclasses.replace(self.case, timing=self._timing()), self.dataset, self.task,
            original=variant.original, optimized=variant.optimized, model_dir=variant.model_dir,
            original_quantized=self.original_record.quantized, threads=self.threads,
            search_samples=self.session.options.diagnosis.search_samples, amx=self.session.hardware.tier == "amx",
        )

    def _timing(self) -> "TimingSpec":
        """The case's timing, its CI target no narrower than 1.96 x the between-run sigma: an own
        standard error under half of it buys nothing the next run keeps."""
        sigma = self.session.latency_gate.speedup_spread.sigma
        timing = self.case.timing
        return dataclasses.replace(timing, target_ci_width=max(timing.target_ci_width, 1.96 * sigma))

    @property
    def original(self) -> "onnxruntime.InferenceSession":
        return self.measurer.inference_session(self.variant.original)

    @property
    def optimized(self) -> "onnxruntime.InferenceSession":
        return self.measurer.inference_session(self.variant.optimized)

    # ---- measurements ------------------------------------------------------------------------

    def accuracy(self) -> tuple[AccuracyResult, AccuracyResult]:
        """Original and optimized scores on the evaluation split; measured once per model, not per shape."""
        return self.measurer.accuracy()

    def latency(self) -> LatencyResult:
        """The original and the optimized model timed side by side at the case's shape (measure/latency.py)."""
        return self.measurer.latency()

    # ---- diagnosis and repair ----------------------------------------------------------------

    def diagnose(self, repair: bool = False) -> Diagnosis:
        """Why this variant loses accuracy (diagnose/diagnosis.py): ranked node errors, out-of-scale ranges
        and a graph-or-kernel pre-flight; with `repair`, also the smallest exclusion that meets the case's
        loss target (diagnose/repair.py). Once per variant; recorded in the artifact with the case."""
        from .diagnose.case import CaseDiagnosis
        from .errors import QbenchCaseError

        if self.case.variant.openvino:
            raise QbenchCaseError(_OPENVINO_DIAGNOSIS)
        case_diagnosis = CaseDiagnosis(
            self.measurer, self.variant, self.session.options.diagnosis,
            rebuild=None if self.quantized is not None else self._rebuilt,
        )
        key = (self.variant.optimized, self.case.data)
        diagnosis = self.session.memo(("diagnosis", *key), case_diagnosis.diagnose)
        if repair:
            found = self.session.memo(("repair", *key), lambda: case_diagnosis.repair(diagnosis))
            diagnosis = dataclasses.replace(diagnosis, repair=found)
        if self._result is not None:
            self._result.diagnosis = diagnosis
            self._record(self._result)
        return diagnosis

    def _rebuilt(self, exclusion: "Exclusion") -> "BuiltVariant":
        """This case's variant with `exclusion` kept in fp32, through the build cache."""
        variant = dataclasses.replace(self.case.variant, exclude=exclusion.families, nodes_to_exclude=exclusion.nodes)
        return self.session.variant(self.model, self.dataset, dataclasses.replace(self.case, variant=variant))

    # ---- the gate ----------------------------------------------------------------------------

    def check(self) -> CaseResult:
        """Measure accuracy and latency, judge them against the baseline, record the result, and
        fail the test with one line per failed check (QbenchAccuracyLost when the accuracy is among
        them, else QbenchCheckFailed)."""
        from .errors import QbenchBaselineError, QbenchInconclusiveWarning

        result = self._new_result()
        try:
            result.quantization = self.variant.quantization
            result.original = self.original_record
            result.saturation_risk = self.session.hardware.saturation_risk(
                result.quantization, self.case.variant.saturation_remedy
            )
            result.sparse_decompression = self._sparse_decompression()
            result.accuracy_original, result.accuracy_optimized = self.accuracy()
            result.latency = self.latency()
        except Exception as error:  # noqa: BLE001 - recorded in the artifact, then reported as the failure
            self._fail(result, "could not measure", error)
        session = self.session
        try:
            # In update mode a malformed entry is about to be replaced: only the file must be readable.
            baseline = session.store.lookup(
                result.test, result.case_id, session.hardware_key, check_entry=not session.options.update
            )
        except QbenchBaselineError as error:
            self._fail(result, "could not read its baseline", error)
        judgement = self._judge(result, baseline)
        processes = self.measurer.case.timing.confirm_processes
        if processes and _to_confirm(judgement, session.options.update):
            try:
                result.latency = self.measurer.confirm(result.latency, processes)
            except Exception as error:  # noqa: BLE001 - recorded in the artifact, then reported as the failure
                self._fail(result, "could not confirm its latency", error)
            judgement = self._judge(result, baseline)
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
        result.restart_sample = judgement.restart
        self._result = result
        failed = [str(c) for c in result.checks if c.status is Status.FAIL]
        if session.options.strict:
            failed += [_strict_line(c) for c in result.checks if c.undecided]
        accuracy_lost = any(c.accuracy_lost for c in result.checks)
        if accuracy_lost:
            failed += self._diagnosis_lines(result)
        self._record(result)
        for check in result.checks:
            if check.status is Status.INCONCLUSIVE:
                warnings.warn(QbenchInconclusiveWarning(f"qbench {self.case.id}: {check}"), stacklevel=2)
        if failed:
            raise (QbenchAccuracyLost if accuracy_lost else QbenchCheckFailed)(
                f"qbench {self.case.id}:\n" + "\n".join(failed), pytrace=False
            )
        return result

    def _judge(self, result: CaseResult, baseline: "BaselineRecord") -> "Judgement":
        from .gate.rules import judge

        session = self.session
        return judge(
            result,
            baseline,
            self.case.tolerances,
            update=session.options.update,
            amend=lambda checks: session.config.hook.pytest_qbench_checks(
                config=session.config, result=result, checks=checks
            ),
            latency=session.latency_gate,
        )

    def _diagnosis_lines(self, result: CaseResult) -> list[str]:
        """The diagnosis of a lost accuracy when it was asked for, else how to ask for it."""
        from .report.terminal import diagnosis_lines

        options = self.session.options
        if self.case.variant.openvino:
            return [_OPENVINO_DIAGNOSIS]
        if not options.diagnose:
            return [
                f"diagnose it: pytest --qbench --qbench-diagnose '{self.item.nodeid}' (ranks the nodes that lose"
                " the accuracy; --qbench-repair also searches for an exclusion that passes), or qbench.diagnose()"
            ]
        try:
            result.diagnosis = self.diagnose(repair=options.repair)
        except Exception as error:  # noqa: BLE001 - the verdict stands; the diagnosis is extra
            return [f"diagnosis failed: {type(error).__name__}: {error_text(error)}"]
        return diagnosis_lines(result.diagnosis, options.diagnosis.top)

    def _sparse_decompression(self) -> str | None:
        """What became of the case's sparse_decompression_rate on this CPU (OpenVINO packs sparse int8
        weights with AMX kernels only)."""
        rate = self.case.variant.sparse_decompression_rate
        if rate is None:
            return None
        if self.measurer.amx:
            return f"on: int8 weights at least {rate:.0%} zero are packed (CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE {rate:g})"
        return (f"off: this CPU ({self.session.hardware_key}) has no AMX, and OpenVINO packs sparse int8 weights"
                " with AMX kernels only; the model ran dense")

    def _new_result(self) -> CaseResult:
        return CaseResult(
            nodeid=self.item.nodeid,
            test=self.item.nodeid.split("[", 1)[0],
            case_id=self.case.id,
            model=self.model_name,
            batch_size=self.case.batch_size,
            sequence_length=self.case.sequence_length,
            parameters=self.case.parameters,
            hardware_key=self.session.hardware_key,
            cpu_model=self.session.fingerprint.cpu_model,
            run_id=self.session.run_id,
        )

    def _fail(self, result: CaseResult, what: str, error: Exception) -> NoReturn:
        """Record the case as an error (the artifact keeps the text) and fail it with one line
        (pytest's plain Failed: a case that could not be measured is no failed check)."""
        result.error = f"{type(error).__name__}: {error_text(error)}"
        self._record(result)
        # `from None`: else pytest prints the original error and "During handling of the above
        # exception..." before the line, even without a traceback.
        raise pytest.fail.Exception(f"qbench {self.case.id}: {what}: {result.error}", pytrace=False) from None

    def _record(self, result: CaseResult) -> None:
        # Travels with the test report, so xdist workers' results reach the controller too.
        properties = [p for p in self.item.user_properties if p[0] != RESULT_PROPERTY]
        self.item.user_properties[:] = [*properties, (RESULT_PROPERTY, result.to_json())]

    def _check_lengths(self, model_config: Any) -> None:
        from .errors import QbenchCaseError

        limit = getattr(model_config, "max_position_embeddings", None)
        lengths = {"sequence_length": self.case.sequence_length}
        if self.case.variant.approach == "static":
            lengths["calibration_sequence_length"] = self.case.variant.calibration.sequence_length
        for name, length in lengths.items():
            if limit is not None and length > limit:
                raise QbenchCaseError(f"{name} {length} is above the model's maximum {limit}; use {name} <= {limit}")
