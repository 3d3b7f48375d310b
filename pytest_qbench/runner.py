"""`QbenchRun`: what the `qbench` fixture gives a test — one case's models, measurements and check."""

from __future__ import annotations

import dataclasses
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from .results import AccuracyResult, CaseResult, LatencyResult

if TYPE_CHECKING:
    import onnxruntime

    from .config import CaseSpec
    from .session import QbenchSession
    from .variants import BuiltVariant

RESULT_PROPERTY = "qbench_result"  # the key of the result in the report's user_properties


class QbenchCaseError(Exception):
    """A case that could not be measured: bad input, a failed build, a model that returns NaN."""


class QbenchInconclusiveWarning(UserWarning):
    """A latency check that could not tell no change from a regression: not failed, not silent.
    `-W error::pytest_qbench.runner.QbenchInconclusiveWarning` makes it fail the test."""


class QbenchRun:
    def __init__(self, session: "QbenchSession", item: pytest.Item, case: "CaseSpec", model: str, dataset: Any):
        self.session = session
        self.item = item
        self.case = case
        self.model = model
        self.dataset = dataset

    # ---- the models --------------------------------------------------------------------------

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
        # Refuse a model the case cannot use (another task's head, a too short position table)
        # before the variant is built: a build of a real model takes minutes.
        self._check_model(self.session.original(self.model, self.case.variant.opset))
        return self.session.variant(self.model, self.dataset, self.case)

    @cached_property
    def threads(self) -> int:
        return self.session.threads(self.case)

    @property
    def original(self) -> "onnxruntime.InferenceSession":
        return self._ort_session(self.variant.original)

    @property
    def optimized(self) -> "onnxruntime.InferenceSession":
        return self._ort_session(self.variant.optimized)

    def _ort_session(self, onnx_path: Path, threads: int | None = None) -> "onnxruntime.InferenceSession":
        threads = self.threads if threads is None else threads
        return self.session.ort_session(onnx_path, threads, self._session_config(onnx_path))

    def _session_config(self, onnx_path: Path) -> dict[str, str]:
        # The original is fp32: a saturation remedy applied at run time concerns the optimized only.
        return self.case.variant.session_config if onnx_path == self.variant.optimized else {}

    # ---- measurements ------------------------------------------------------------------------

    def accuracy(self) -> tuple[AccuracyResult, AccuracyResult]:
        """Original and optimized scores on the evaluation split; measured once per model, not per shape."""
        return self._score(self.variant.original), self._score(self.variant.optimized)

    def latency(self) -> LatencyResult:
        from .data import latency_inputs
        from .latency import measure

        inputs = latency_inputs(
            self.session.tokenizer(self.variant.model_dir),
            self.session.split(self.dataset, self.case.data.eval_split),
            self.case.data.input_column,
            self.case.batch_size,
            self.case.sequence_length,
            [i.name for i in self.original.get_inputs()],
        )
        self._check_finite(inputs)
        timing = dataclasses.replace(self.case.timing, threads=self.threads)

        def sessions(threads: int) -> tuple["onnxruntime.InferenceSession", "onnxruntime.InferenceSession"]:
            return self._ort_session(self.variant.original, threads), self._ort_session(self.variant.optimized, threads)

        return measure(sessions, inputs, timing, self.case.batch_size)

    def _score(self, onnx_path: Path) -> AccuracyResult:
        from .tasks import task_for

        data = self.case.data

        def evaluate() -> AccuracyResult:
            config = self.session.model_config(self.variant.model_dir)
            return task_for(config).evaluate(
                self._ort_session(onnx_path),
                self.session.tokenizer(self.variant.model_dir),
                self.session.split(self.dataset, data.eval_split),
                data,
                config.id2label,
            )

        dataset_key = self.dataset if isinstance(self.dataset, str) else id(self.dataset)
        key = ("accuracy", onnx_path, dataset_key, data, tuple(self._session_config(onnx_path).items()))
        return self.session.memo(key, evaluate)

    # ---- the gate ----------------------------------------------------------------------------

    def check(self) -> CaseResult:
        """Measure accuracy and latency, judge them against the baseline, record the result, and
        fail the test with one line per failed check."""
        from .baselines import QbenchBaselineError
        from .policy import judge

        result = self._new_result()
        try:
            result.quantization = self.variant.quantization
            result.saturation_risk = self.session.hardware.saturation_risk(
                result.quantization, self.case.variant.saturation_remedy
            )
            result.accuracy_original, result.accuracy_optimized = self.accuracy()
            result.latency = self.latency()
        except Exception as error:  # noqa: BLE001 - recorded in the artifact, then reported as the failure
            self._fail(result, "could not measure", error)
        session = self.session
        try:
            # In update mode a malformed entry is about to be replaced: only the file must be readable.
            match = session.store.lookup(
                result.test, result.case_id, session.hardware_key, check_entry=not session.options.update
            )
        except QbenchBaselineError as error:
            self._fail(result, "could not read its baseline", error)
        judgement = judge(
            result,
            match,
            self.case.tolerances,
            update=session.options.update,
            amend=lambda checks: session.config.hook.pytest_qbench_checks(
                config=session.config, result=result, checks=checks
            ),
        )
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
        self._record(result)
        for check in result.checks:
            if check.status == "inconclusive":
                warnings.warn(QbenchInconclusiveWarning(f"qbench {self.case.id}: {check}"), stacklevel=2)
        failed = [str(c) for c in result.checks if c.status == "fail"]
        if failed:
            pytest.fail(f"qbench {self.case.id}:\n" + "\n".join(failed), pytrace=False)
        return result

    def _new_result(self) -> CaseResult:
        return CaseResult(
            nodeid=self.item.nodeid,
            test=self.item.nodeid.split("[", 1)[0],
            case_id=self.case.id,
            model=self.model_name,
            batch_size=self.case.batch_size,
            sequence_length=self.case.sequence_length,
            variant={**self.case.variant.to_dict(), "evaluation": self.case.data.to_dict()},
        )

    def _fail(self, result: CaseResult, what: str, error: Exception) -> NoReturn:
        """Record the case as an error (the artifact keeps the text) and fail it with one line."""
        result.error = f"{type(error).__name__}: {str(error).removeprefix('qbench: ')}"
        self._record(result)
        # `from None`: else pytest prints the original error and "During handling of the above
        # exception..." before the line, even without a traceback.
        raise pytest.fail.Exception(f"qbench {self.case.id}: {what}: {result.error}", pytrace=False) from None

    def _record(self, result: CaseResult) -> None:
        # Travels with the test report, so xdist workers' results reach the controller too.
        self.item.user_properties.append((RESULT_PROPERTY, result.to_json()))

    def _check_model(self, model_dir: Path) -> None:
        from .tasks import task_for

        config = self.session.model_config(model_dir)
        task_for(config)  # QbenchConfigError for a model of another task
        limit = getattr(config, "max_position_embeddings", None)
        lengths = {"sequence_length": self.case.sequence_length}
        if self.case.variant.approach == "static":
            lengths["calibration_sequence_length"] = self.case.variant.calibration.sequence_length
        for name, length in lengths.items():
            if limit is not None and length > limit:
                raise QbenchCaseError(f"{name} {length} is above the model's maximum {limit}; use {name} <= {limit}")

    def _check_finite(self, inputs: dict[str, Any]) -> None:
        import numpy as np

        for name, session in (("original", self.original), ("optimized", self.optimized)):
            feed = {i.name: inputs[i.name] for i in session.get_inputs()}
            outputs = session.run(None, feed)
            if not all(np.isfinite(o).all() for o in outputs):
                raise QbenchCaseError(f"the {name} model returns NaN or infinite outputs for {self.case.id}")
