"""`QbenchRun`, what the `qbench` fixture gives a test: one case's pipeline (pipeline.py) wired to pytest.

The case's `CasePipeline` builds (the run's variants, through its build cache), measures (measure/case.py)
and judges (gate/rules.py), and on request diagnoses (diagnose/case.py), none of it with pytest. This
object gives it the test (the node id its result and baseline are filed under), the session (the run's
pipeline, baselines and latency gate) and pytest's outcomes: the result travels in the test's report to
the session, which writes what the run leaves behind; a failed check fails the test (outcomes.py), an
inconclusive one warns.

What a test reads of it: `.variant` (the built models; `.variant.quantization`, what the quantizer
really did), `.task`, `.original` / `.optimized` (ONNX Runtime sessions, or OpenVINO's for a case
with runtime "openvino": measure/ov_session.py), `.original_record`,
`.accuracy()`, `.latency()`, `.diagnose(repair=False)` and `.check()`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .errors import error_text
from .outcomes import QbenchAccuracyLost, QbenchCheckFailed
from .pipeline import OPENVINO_DIAGNOSIS, CasePipeline, CaseStageError
from .results import (
    RESULT_PROPERTY,
    AccuracyResult,
    CaseResult,
    Check,
    Diagnosis,
    LatencyResult,
    OriginalRecord,
    Status,
)

if TYPE_CHECKING:
    import onnxruntime

    from .measure.case import CaseMeasurer
    from .measure.tasks import Task
    from .session import QbenchSession
    from .specs import CaseSpec
    from .variants.quantize import BuiltVariant


def _strict_line(check: Check) -> str:
    """What --qbench-strict says of a check that did not decide, and what to do about it."""
    if check.status is Status.INCONCLUSIVE:
        return (f"[strict] {check}; confirm it on another machine (pytest --qbench --qbench-rerun-from ARTIFACT)"
                " or record more baseline runs; without --qbench-strict this is a warning")
    return (f"[strict] {check}; record this machine's baseline runs (pytest --qbench --qbench-update-baselines) or run"
            " the gate on a machine that has them; without --qbench-strict this is a warning")


class QbenchRun:
    def __init__(self, session: QbenchSession, item: pytest.Item, case: CaseSpec, model: str, dataset: Any,
                 quantized: Path | None = None):
        self.session = session
        self.item = item
        self.steps: CasePipeline = session.pipeline.case(
            case, model, dataset, quantized, latency=lambda: session.latency_gate, diagnosis=session.options.diagnosis,
        )
        self._result: CaseResult | None = None  # once check() recorded it

    # ---- the case and its models (the pipeline's) ------------------------------------------------

    @property
    def case(self) -> CaseSpec:
        """The case's spec; its data columns are the task's once the variant is built."""
        return self.steps.spec

    @property
    def variant(self) -> BuiltVariant:
        return self.steps.variant

    @property
    def task(self) -> Task:
        return self.steps.task

    @property
    def original_record(self) -> OriginalRecord:
        """The original's precision: fp32 as exported, or already quantized (a hub int8 or 4-bit graph)."""
        return self.steps.original_record

    @property
    def measurer(self) -> CaseMeasurer:
        """How this case's models are measured (measure/case.py): the fixture and the diagnosis use it."""
        return self.steps.measurer

    @property
    def original(self) -> onnxruntime.InferenceSession:
        return self.measurer.inference_session(self.variant.original)

    @property
    def optimized(self) -> onnxruntime.InferenceSession:
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
        diagnosis = self.steps.diagnose(repair)
        if self._result is not None:
            self._result.diagnosis = diagnosis
            self._record(self._result)
        return diagnosis

    # ---- the gate ----------------------------------------------------------------------------

    def check(self) -> CaseResult:
        """Measure accuracy and latency, judge them against the baseline, record the result, and
        fail the test with one line per failed check (QbenchAccuracyLost when the accuracy is among
        them, else QbenchCheckFailed)."""
        from .errors import QbenchInconclusiveWarning

        session = self.session
        result = self.steps.new_result(self.item.nodeid, run_id=session.run_id, root=session.config.rootpath)
        try:
            self.steps.check(
                result, session.store, update=session.options.update,
                amend=lambda checks: session.config.hook.pytest_qbench_checks(config=session.config, result=result,
                                                                              checks=checks),
            )
        except CaseStageError as stage:
            self._fail(result, stage.what)
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

    def _diagnosis_lines(self, result: CaseResult) -> list[str]:
        """The diagnosis of a lost accuracy when it was asked for, else how to ask for it."""
        from .report.terminal import diagnosis_lines

        options = self.session.options
        if self.case.variant.openvino:
            return [OPENVINO_DIAGNOSIS]
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

    def _fail(self, result: CaseResult, what: str) -> NoReturn:
        """Record the case as an error (the artifact keeps `result.error`) and fail it with one line
        (pytest's plain Failed: a case that could not be measured is no failed check)."""
        self._record(result)
        # `from None`: else pytest prints the original error and "During handling of the above
        # exception..." before the line, even without a traceback.
        raise pytest.fail.Exception(f"qbench {self.case.id}: {what}: {result.error}", pytrace=False) from None

    def _record(self, result: CaseResult) -> None:
        # Travels with the test report, so xdist workers' results reach the controller too.
        properties = [p for p in self.item.user_properties if p[0] != RESULT_PROPERTY]
        self.item.user_properties[:] = [*properties, (RESULT_PROPERTY, result.to_json())]
