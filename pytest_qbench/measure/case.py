"""One case's measurements: its two models' inference sessions (ONNX Runtime's, or OpenVINO's for IR
files), scores and latency.

The measuring interface of a case: the fixture object (runner.py) measures through it, and so does
the diagnosis (diagnose/case.py), which scores the same models on a sample of the split, scores
repair candidates and times the repaired variant. Everything slow goes through the run-wide
memo (`SharedSteps`, which pipeline.Pipeline provides), so a model is scored once per run, not once
per shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import QbenchCaseError
from ..results import AccuracyResult, BudgetResult, BudgetThroughput, LatencyResult
from .data import latency_inputs
from .fresh import FreshModel, measure_in_fresh_process, open_session
from .inference_session import InferenceSession

if TYPE_CHECKING:
    import datasets

    from ..specs import CaseSpec, TimingSpec
    from .latency import CpuSamples
    from .ov_session import OvSession
    from .tasks import Task

T = TypeVar("T")


class SharedSteps(Protocol):
    """What a case measures with that the run's cases share, memoised by what decides it."""

    def memo(self, key: Hashable, make: Callable[[], T]) -> T: ...

    def tokenizer(self, model_dir: Path) -> Any: ...

    def split(self, source: Any, name: str) -> datasets.Dataset: ...

    def model_config(self, model_dir: Path) -> Any: ...

    def ort_session(
        self, path: Path, threads: int, config_entries: dict[str, str] | None = None
    ) -> InferenceSession: ...

    def ov_session(self, path: Path, threads: int, extra: dict[str, Any] | None = None) -> OvSession: ...


class CaseMeasurer:
    """Scores and latency of one case's original and optimized models (ONNX files, or OpenVINO IR).

    `case` has its data columns resolved (measure/tasks.py `columns_for`); `original_quantized`
    says whether the original came already quantized, so that a run-time saturation remedy applies
    to it too; `search_samples` sizes the sample the diagnosis scores on; `amx` says whether the CPU has
    AMX, where OpenVINO can pack sparse int8 weights."""

    def __init__(self, shared: SharedSteps, case: CaseSpec, dataset: Any, task: Task, *, original: Path,
                 optimized: Path, model_dir: Path, original_quantized: bool, threads: int, search_samples: int,
                 amx: bool = False) -> None:
        self.shared = shared
        self.case = case
        self.dataset = dataset
        self.task = task
        self.original = original
        self.optimized = optimized
        self.model_dir = model_dir  # config and tokenizer of the optimized model
        self.original_quantized = original_quantized
        self.threads = threads
        self.search_samples = search_samples
        self.amx = amx

    # ---- inference sessions ------------------------------------------------------------------

    def inference_session(self, path: Path, threads: int | None = None) -> InferenceSession:
        """The run-wide session of `path` at `threads` (default: the case's): OpenVINO's for an
        IR file (.xml), else ONNX Runtime's."""
        threads = self.threads if threads is None else threads
        if path.suffix == ".xml":
            return self.shared.ov_session(path, threads, self.ov_properties(path))
        return self.shared.ort_session(path, threads, self.config_entries(path))

    def ov_properties(self, path: Path) -> dict[str, Any]:
        """OpenVINO compile properties `path` runs with besides the threads and precision: sparse weight
        decompression of the optimized (int8) model, where the case asks for it and the CPU has AMX."""
        rate = self.case.variant.sparse_decompression_rate
        if rate is None or path != self.optimized or not self.amx:
            return {}
        return {"CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE": rate}

    def config_entries(self, onnx_path: Path) -> dict[str, str]:
        """The ONNX Runtime session config entries `onnx_path` runs with. A saturation remedy applied
        at run time concerns int8 models only: the original too when it came already quantized."""
        if onnx_path == self.original and not self.original_quantized:
            return {}
        return self.case.variant.ort_config_entries

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inference_session(self.original).get_inputs()]

    def split(self) -> datasets.Dataset:
        """The evaluation split."""
        return self.shared.split(self.dataset, self.case.data.eval_split)

    def tokenizer(self) -> Any:
        return self.shared.tokenizer(self.model_dir)

    # ---- accuracy --------------------------------------------------------------------------------

    def accuracy(self) -> tuple[AccuracyResult, AccuracyResult]:
        """Original and optimized scores on the evaluation split."""
        return self.score(self.original), self.score(self.optimized)

    def score(self, onnx_path: Path, sample: bool = False) -> AccuracyResult:
        """Scores of `onnx_path` on the evaluation split, or with `sample` on `sample()`; once per session."""
        dataset_key = self.dataset if isinstance(self.dataset, str) else id(self.dataset)
        key = ("accuracy", onnx_path, dataset_key, self.case.data, self.scoring_task, sample,
               tuple(self.config_entries(onnx_path).items()))
        return self.shared.memo(key, lambda: self.evaluate(self.inference_session(onnx_path), sample))

    @property
    def scoring_task(self) -> Task:
        """The task as this case scores with it: question answering reads windows of the case's length."""
        return self.task.at_length(self.case.sequence_length)

    def evaluate(self, inference_session: InferenceSession, sample: bool = False) -> AccuracyResult:
        """Scores of the model `inference_session` runs, on the evaluation split or with `sample` on `sample()`."""
        data = dataclasses.replace(self.case.data, max_eval_samples=None) if sample else self.case.data
        return self.scoring_task.evaluate(
            inference_session,
            self.tokenizer(),
            self.sample() if sample else self.split(),
            data,
            self.shared.model_config(self.model_dir).id2label,
        )

    def sample(self) -> datasets.Dataset:
        """`search_samples` sentences spread evenly over the evaluation split, for the pre-flight and
        the repair search: a file's first sentences are seldom typical of it (CoNLL-2003's validation
        file starts with sports results, on which the example model scores 0.93 against 0.91 overall)."""
        split = self.split()
        if self.case.data.max_eval_samples is not None:
            split = split.select(range(min(len(split), self.case.data.max_eval_samples)))
        count = min(len(split), self.search_samples)
        return split.select([i * len(split) // count for i in range(count)])

    # ---- latency ---------------------------------------------------------------------------------

    def latency(self, optimized: Path | None = None, timing: TimingSpec | None = None) -> LatencyResult:
        """The original and `optimized` (default: the case's) timed side by side (measure/latency.py),
        and when the timing names a latency budget, each one's throughput within it (measure/throughput.py)."""
        from .latency import measure

        optimized = self.optimized if optimized is None else optimized
        inputs = self.inputs(self.case.batch_size)
        self.check_finite(inputs)
        timing = dataclasses.replace(self.case.timing if timing is None else timing, threads=self.threads)

        def sessions(threads: int) -> tuple[InferenceSession, InferenceSession]:
            return self.inference_session(self.original, threads), self.inference_session(optimized, threads)

        result = measure(sessions, inputs, timing, self.case.batch_size)
        if timing.latency_budget_ms is None:
            return result
        budget = self.budget(optimized, timing.latency_budget_ms, timing.budget_seconds)
        return dataclasses.replace(result, budget=budget)

    def cpu_phase(self, optimized: Path | None = None, timing: TimingSpec | None = None) -> CpuSamples:
        """The gated CPU phase alone (measure/latency.py `cpu_phase`), every per-call time kept: the
        original and `optimized` (default: the case's) on one thread each, on the case's inputs."""
        from .latency import Pair, cpu_phase, runner

        optimized = self.optimized if optimized is None else optimized
        inputs = self.inputs(self.case.batch_size)
        pair = Pair(*(runner(self.inference_session(path, 1), inputs) for path in (self.original, optimized)))
        return cpu_phase(pair, self.case.timing if timing is None else timing)

    def confirm(self, first: LatencyResult, processes: int, optimized: Path | None = None) -> LatencyResult:
        """`first` with its CPU phase measured again in `processes` fresh processes (measure/fresh.py):
        `cpu` becomes the median of all the measurements (the figure reports show), and `measurements` keeps
        them all: the gate judges the best of the fresh processes' (gate/latency_stats.speedup_in_run)."""
        from .stats import median_cpu

        optimized = self.optimized if optimized is None else optimized
        original, optimized_model = (FreshModel(str(path), self.session_settings(path))
                                     for path in (self.original, optimized))
        inputs = self.inputs(self.case.batch_size)
        again = [measure_in_fresh_process(original, optimized_model, inputs, self.case.timing)
                 for _ in range(processes)]
        measurements = [*(first.measurements or [first.cpu]), *again]
        return dataclasses.replace(first, cpu=median_cpu(measurements), measurements=measurements)

    def session_settings(self, path: Path) -> dict[str, Any]:
        """What a session of `path` is opened with besides its threads: OpenVINO's compile properties for
        an IR file, else ONNX Runtime's config entries (as `inference_session`)."""
        return self.ov_properties(path) if path.suffix == ".xml" else dict(self.config_entries(path))

    def inputs(self, batch_size: int) -> dict[str, Any]:
        """A batch of real text at the case's sequence length (measure/data.py `latency_inputs`)."""
        return latency_inputs(self.tokenizer(), self.split(), self.case.data.resolved_input_column, batch_size,
                              self.case.sequence_length, self.input_names)

    def budget(self, optimized: Path, budget_ms: float, seconds: float) -> BudgetResult:
        """Each model's highest throughput whose p90 wall latency stays within `budget_ms`."""
        from .throughput import budget_throughput

        def search(path: Path) -> BudgetThroughput:
            return budget_throughput(lambda threads: self.fresh_session(path, threads), self.inputs,
                                     budget_ms=budget_ms, threads=self.threads, seconds=seconds)

        return BudgetResult(budget_ms, self.threads, search(self.original), search(optimized))

    def fresh_session(self, path: Path, threads: int) -> InferenceSession:
        """A session of its own (not the run-wide one): concurrent streams each need one."""
        return open_session(path, threads, self.session_settings(path))

    def check_finite(self, inputs: dict[str, Any]) -> None:
        """Refuse models that return NaN or infinity on `inputs`: their timing would mean nothing."""
        import numpy as np

        for name, path in (("original", self.original), ("optimized", self.optimized)):
            session = self.inference_session(path)
            outputs = session.run(None, {i.name: inputs[i.name] for i in session.get_inputs()})
            if not all(np.isfinite(o).all() for o in outputs):
                raise QbenchCaseError(f"the {name} model returns NaN or infinite outputs for {self.case.id}")
