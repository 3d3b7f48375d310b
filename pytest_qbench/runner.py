"""`QbenchRun`: what the `qbench` fixture gives a test — one case's models, measurements and check."""

from __future__ import annotations

import dataclasses
import time
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import pytest

from .results import AccuracyResult, CaseResult, Check, LatencyResult, OriginalRecord

if TYPE_CHECKING:
    import datasets
    import onnxruntime

    from .build.variants import BuiltVariant
    from .config import CaseSpec, TimingSpec
    from .gate.diagnosis import Diagnosis, NodeError, Preflight, RangeIssue
    from .gate.repair import Exclusion, RepairResult
    from .measure.tasks import Task
    from .session import QbenchSession

RESULT_PROPERTY = "qbench_result"  # the key of the result in the report's user_properties


class QbenchCaseError(Exception):
    """A case that could not be measured: bad input, a failed build, a model that returns NaN."""


class QbenchInconclusiveWarning(UserWarning):
    """A latency check that could not tell no change from a regression: not failed, not silent.
    `-W error::pytest_qbench.runner.QbenchInconclusiveWarning` makes it fail the test."""


def _accuracy_lost(check: Check) -> bool:
    """A failed check of the optimized model's accuracy, against the original or the baseline."""
    from .gate.baselines import ACCURACY_METRICS

    return check.status == "fail" and check.metric in ACCURACY_METRICS


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
        from .measure.tasks import columns_for

        # Refuse a model the case cannot use (another task's head, a too short position table)
        # before the variant is built: a build of a real model takes minutes.
        data = columns_for(self.task, self.case.data)
        self._check_lengths(self._original_config)
        # Every use of the data goes through the variant: from here on, the columns are the task's
        # unless the marker named others.
        self.case = dataclasses.replace(self.case, data=data)
        return self.session.variant(self.model, self.dataset, self.case, self.quantized)

    @cached_property
    def task(self) -> "Task":
        from .measure.tasks import task_for

        return task_for(self._original_config)

    @cached_property
    def _original_config(self) -> Any:
        """The transformers config of the exported original: its task and its position limit."""
        return self.session.model_config(self.session.original(self.model, self.case.variant.opset))

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
        # A saturation remedy applied at run time concerns int8 models only: the original too when it
        # came already quantized.
        if onnx_path == self.variant.original and not self.original_record.quantized:
            return {}
        return self.case.variant.session_config

    @property
    def original_record(self) -> "OriginalRecord":
        """The original's precision: fp32 as exported, or already quantized (a hub int8 or 4-bit graph)."""
        return self.session.original_record(self.variant.original)

    # ---- measurements ------------------------------------------------------------------------

    def accuracy(self) -> tuple[AccuracyResult, AccuracyResult]:
        """Original and optimized scores on the evaluation split; measured once per model, not per shape."""
        return self._score(self.variant.original), self._score(self.variant.optimized)

    def latency(self) -> LatencyResult:
        return self._latency(self.variant.optimized, self.case.timing)

    def _latency(self, optimized: Path, timing: "TimingSpec") -> LatencyResult:
        from .measure.data import latency_inputs
        from .measure.latency import measure

        inputs = latency_inputs(
            self.session.tokenizer(self.variant.model_dir),
            self.session.split(self.dataset, self.case.data.eval_split),
            self.case.data.input_column,
            self.case.batch_size,
            self.case.sequence_length,
            [i.name for i in self.original.get_inputs()],
        )
        self._check_finite(inputs)
        timing = dataclasses.replace(timing, threads=self.threads)

        def sessions(threads: int) -> tuple["onnxruntime.InferenceSession", "onnxruntime.InferenceSession"]:
            return self._ort_session(self.variant.original, threads), self._ort_session(optimized, threads)

        return measure(sessions, inputs, timing, self.case.batch_size)

    def _score(self, onnx_path: Path, sample: bool = False) -> AccuracyResult:
        """Scores on the evaluation split, or with `sample` on the diagnosis's sample of it."""
        dataset_key = self.dataset if isinstance(self.dataset, str) else id(self.dataset)
        key = ("accuracy", onnx_path, dataset_key, self.case.data, sample, tuple(self._session_config(onnx_path).items()))
        return self.session.memo(key, lambda: self._evaluate(self._ort_session(onnx_path), sample))

    def _evaluate(self, session: "onnxruntime.InferenceSession", sample: bool = False) -> AccuracyResult:
        model_dir = self.variant.model_dir
        data = dataclasses.replace(self.case.data, max_eval_samples=None) if sample else self.case.data
        return self.task.evaluate(
            session,
            self.session.tokenizer(model_dir),
            self._sample() if sample else self.session.split(self.dataset, data.eval_split),
            data,
            self.session.model_config(model_dir).id2label,
        )

    def _sample(self) -> "datasets.Dataset":
        """`search_samples` sentences spread evenly over the evaluation split, for the pre-flight and
        the repair search: a file's first sentences are seldom typical of it (CoNLL-2003's validation
        file starts with sports results, on which the example model scores 0.93 against 0.91 overall)."""
        split = self.session.split(self.dataset, self.case.data.eval_split)
        if self.case.data.max_eval_samples is not None:
            split = split.select(range(min(len(split), self.case.data.max_eval_samples)))
        count = min(len(split), self.session.options.diagnosis.search_samples)
        return split.select([i * len(split) // count for i in range(count)])

    # ---- diagnosis and repair ----------------------------------------------------------------

    def diagnose(self, repair: bool = False) -> "Diagnosis":
        """Why this variant loses accuracy (gate/diagnosis.py): ranked node errors, out-of-scale ranges and
        a graph-or-kernel pre-flight; with `repair`, also the smallest exclusion that meets the case's
        loss target (gate/repair.py). Once per variant; recorded in the artifact with the case."""
        key = (self.variant.optimized, self.case.data)
        diagnosis = self.session.memo(("diagnosis", *key), self._diagnose)
        if repair:
            found = self.session.memo(("repair", *key), lambda: self._repair(diagnosis))
            diagnosis = dataclasses.replace(diagnosis, repair=found)
        if self._result is not None:
            self._result.diagnosis = diagnosis
            self._record(self._result)
        return diagnosis

    def _diagnose(self) -> "Diagnosis":
        from .gate.diagnosis import Diagnosis, group_errors

        start = time.perf_counter()
        feeds, padded = self._feeds()
        nodes, ranges, output = self._node_errors(self.variant)
        return Diagnosis(
            case_id=self.case.variant.id, batches=len(feeds),
            sentences=sum(len(next(iter(feed.values()))) for feed in feeds), padded_fraction=padded,
            output_sqnr_db=output, nodes=nodes, groups=group_errors(nodes), ranges=ranges,
            preflight=self._preflight(), seconds=time.perf_counter() - start,
        )

    def _feeds(self) -> tuple[list[dict[str, Any]], float]:
        """The diagnosis batches (padded, from the evaluation split) and their padded fraction."""
        from .measure.data import padded_batches

        spec = self.session.options.diagnosis
        return self.session.memo(("diagnosis feeds", self.variant.model_dir, self.case.data), lambda: padded_batches(
            self.session.tokenizer(self.variant.model_dir),
            self.session.split(self.dataset, self.case.data.eval_split),
            self.case.data.input_column,
            [i.name for i in self.original.get_inputs()],
            spec.batches,
            spec.batch_size,
        ))

    def _node_errors(self, built: "BuiltVariant") -> tuple[list["NodeError"], list["RangeIssue"], float | None]:
        from .gate.diagnosis import node_errors

        return node_errors(
            built.consumed, built.optimized, self._feeds()[0],
            operators=self.case.variant.operators, families=self._families(), threads=self.threads,
        )

    def _families(self) -> dict[str, list[str]]:
        """Each exclusion family's nodes in the graph the quantizer consumed."""
        import onnx

        from .build.exclusion import resolve_family
        from .config import EXCLUSION_FAMILIES

        def resolve() -> dict[str, list[str]]:
            graph = onnx.load(str(self.variant.consumed), load_external_data=False)
            return {family: resolve_family(graph, family) for family in EXCLUSION_FAMILIES}

        return self.session.memo(("families", self.variant.consumed), resolve)

    def _preflight(self) -> "Preflight":
        import tempfile

        from .gate.diagnosis import Preflight, classify, simulation
        from .measure.latency import make_session

        original, kernel = self._score(self.variant.original, sample=True), self._score(self.variant.optimized, sample=True)
        with tempfile.TemporaryDirectory(prefix="qbench-simulation-") as tmp:
            path = simulation(self.variant.optimized, Path(tmp))
            simulated = None if path is None else self._evaluate(make_session(path, self.threads, optimize=False), sample=True).f1
        allowed = self.case.tolerances.allowed_loss(original.f1)
        cause, explanation = classify(original.f1, simulated, kernel.f1, allowed)
        return Preflight(original.num_samples, original.f1, simulated, kernel.f1, allowed, cause, explanation)

    def _repair(self, diagnosis: "Diagnosis") -> "RepairResult":
        from .gate.repair import Exclusion, repair
        from .measure.latency import make_session

        if self.quantized is not None:
            raise QbenchCaseError(
                "a repair rebuilds the variant with nodes kept in fp32, and a quantized_file is gated as given, not"
                " built here: give the fp32 model with approach= and operators= to search for an exclusion"
            )
        start = time.perf_counter()
        quantized = {n.node for n in diagnosis.nodes}
        members = {f: [n for n in nodes if n in quantized] for f, nodes in self._families().items()}
        allowed = self.case.tolerances.allowed_loss
        sample, full = self._score(self.variant.original, sample=True), self._score(self.variant.original)
        before = Exclusion(self.case.variant.exclude, self.case.variant.nodes_to_exclude)

        def scorer(on_sample: bool) -> Callable[["Exclusion"], float]:
            def score(exclusion: "Exclusion") -> float:
                path = self._rebuilt(exclusion).optimized  # a fresh session: each candidate is scored once
                return self._evaluate(make_session(path, self.threads, self._session_config(path)), on_sample).f1

            return score

        def rerank(exclusion: "Exclusion") -> list[str]:
            return [n.node for n in self._node_errors(self._rebuilt(exclusion))[0]]

        found = repair(
            scorer(True), scorer(False),
            # Half the allowed loss on the sample: 800 sentences misjudge the loss by about that much.
            targets=(sample.f1 - allowed(sample.f1) / 2, full.f1 - allowed(full.f1)),
            families={f: members[f] for f in diagnosis.families(members)},
            nodes=[n.node for n in diagnosis.nodes],
            max_evaluations=self.session.options.diagnosis.max_evaluations,
            start=before, rerank=rerank, samples=sample.num_samples,
        )
        quick = dataclasses.replace(self.case.timing, max_seconds=2.0, target_ci_width=0.1, wall_iterations=1, wall_seconds=0.05)
        repaired = self._rebuilt(before.plus(found.exclusion.families, found.exclusion.nodes))
        speedup = self._latency(repaired.optimized, quick).cpu.speedup.value
        return dataclasses.replace(found, speedup=speedup, seconds=time.perf_counter() - start)

    def _rebuilt(self, exclusion: "Exclusion") -> "BuiltVariant":
        """This case's variant with `exclusion` kept in fp32, through the build cache."""
        variant = dataclasses.replace(self.case.variant, exclude=exclusion.families, nodes_to_exclude=exclusion.nodes)
        return self.session.variant(self.model, self.dataset, dataclasses.replace(self.case, variant=variant))

    # ---- the gate ----------------------------------------------------------------------------

    def check(self) -> CaseResult:
        """Measure accuracy and latency, judge them against the baseline, record the result, and
        fail the test with one line per failed check."""
        from .gate.baselines import QbenchBaselineError
        from .gate.policy import judge

        result = self._new_result()
        try:
            result.quantization = self.variant.quantization
            result.original = self.original_record
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
        self._result = result
        failed = [str(c) for c in result.checks if c.status == "fail"]
        if any(map(_accuracy_lost, result.checks)):
            failed += self._diagnosis_lines(result)
        self._record(result)
        for check in result.checks:
            if check.status == "inconclusive":
                warnings.warn(QbenchInconclusiveWarning(f"qbench {self.case.id}: {check}"), stacklevel=2)
        if failed:
            pytest.fail(f"qbench {self.case.id}:\n" + "\n".join(failed), pytrace=False)
        return result

    def _diagnosis_lines(self, result: CaseResult) -> list[str]:
        """The diagnosis of a lost accuracy when it was asked for, else how to ask for it."""
        from .report.text import diagnosis_lines

        options = self.session.options
        if not options.diagnose:
            return [
                f"diagnose it: pytest --qbench --qbench-diagnose '{self.item.nodeid}' (ranks the nodes that lose"
                " the accuracy; --qbench-repair also searches for an exclusion that passes), or qbench.diagnose()"
            ]
        try:
            result.diagnosis = self.diagnose(repair=options.repair)
        except Exception as error:  # noqa: BLE001 - the verdict stands; the diagnosis is extra
            return [f"diagnosis failed: {type(error).__name__}: {str(error).removeprefix('qbench: ')}"]
        return diagnosis_lines(result.diagnosis, options.diagnosis.top)

    def _new_result(self) -> CaseResult:
        return CaseResult(
            nodeid=self.item.nodeid,
            test=self.item.nodeid.split("[", 1)[0],
            case_id=self.case.id,
            model=self.model_name,
            batch_size=self.case.batch_size,
            sequence_length=self.case.sequence_length,
            variant={**self.case.variant.to_dict(), "evaluation": self.case.data.to_dict()},
            hardware_key=self.session.hardware_key,
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
        properties = [p for p in self.item.user_properties if p[0] != RESULT_PROPERTY]
        self.item.user_properties[:] = [*properties, (RESULT_PROPERTY, result.to_json())]

    def _check_lengths(self, config: Any) -> None:
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
