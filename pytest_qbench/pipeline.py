"""The pipeline of a case, without pytest: build -> measure -> judge.

`Pipeline` holds what the cases of a run share, each made once and kept by what decides it: the machine,
the build cache, the exported originals and built variants, tokenizers, splits, model configs and
inference sessions (measure/case.py's `SharedSteps`), so a model is scored once per run, not once per
shape. `Pipeline.case(spec, model, dataset)` gives one case's `CasePipeline`:

    build     .variant                     the case's variant, through the build cache (variants/)
    measure   .measurer, .measure(result)  its scores and latency (measure/case.py), into a CaseResult
    judge     .check(result, baselines)    measure, then the checks and verdict against its baseline
                                           (gate/rules.py); a latency that did not pass at first look is
                                           measured again in fresh processes (measure/fresh.py)
    diagnose  .diagnose(repair=False)      why the variant loses accuracy, and the exclusion that repairs
                                           it (diagnose/)

The pytest fixture (runner.py) wires a test to a `CasePipeline`; `python -m pytest_qbench case` and the
bench scripts use it directly. Nothing here imports pytest (pyproject.toml's import contracts hold it).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .errors import QbenchBaselineError, QbenchCaseError, QbenchError, error_text
from .hardware import Fingerprint, Hardware, detect
from .hardware import fingerprint as machine_fingerprint
from .results import CaseResult, Diagnosis, Exclusion, LatencyGate, Metric, OriginalRecord, Spread, Status
from .specs import CaseSpec, DiagnosisSpec, QbenchOptions, TimingSpec

if TYPE_CHECKING:
    import datasets

    from .gate.baselines import BaselineStore
    from .gate.rules import Judgement
    from .measure.case import CaseMeasurer
    from .measure.inference_session import InferenceSession
    from .measure.ov_session import OvSession
    from .measure.tasks import Task
    from .results import BaselineRecord, Check, Environment
    from .variants.cache import BuildCache
    from .variants.quantize import BuiltVariant

T = TypeVar("T")
_DIAGNOSIS = DiagnosisSpec()  # a case's diagnosis, unless the run says otherwise
OPENVINO_DIAGNOSIS = ("diagnosis and repair read ONNX graphs: they work on ONNX Runtime variants only; gate the"
                      " model with runtime='onnxruntime' too and diagnose that variant")


@dataclass
class Memo:
    """Results of expensive steps, keyed by what decides them; a failure is remembered too, so a
    variant that cannot be built errors each of its cases once instead of being rebuilt per case."""

    values: dict[Hashable, Any] = field(default_factory=dict)

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        if key not in self.values:
            try:
                self.values[key] = make()
            except Exception as error:  # noqa: BLE001 - re-raised below and for every later case
                self.values[key] = error
        value = self.values[key]
        if isinstance(value, Exception):
            raise value
        return cast(T, value)


class Pipeline:
    """The steps the cases of a run share, each made once (measure/case.py's `SharedSteps`, and the builds).

    `cache`: where the originals and variants are built (default: $QBENCH_CACHE_DIR or ~/.cache/pytest-qbench);
    `hardware`: the machine the builds pick their preset for and the cases run on (default: this one, detected);
    `hardware_key`: the key its baselines are filed under (default: the hardware's own)."""

    def __init__(self, cache: BuildCache | None = None, hardware: Hardware | None = None,
                 hardware_key: str | None = None) -> None:
        from .variants.cache import BuildCache

        self.cache = cache if cache is not None else BuildCache()
        self.hardware = hardware if hardware is not None else detect()
        self.hardware_key = hardware_key or self.hardware.key
        self._memo = Memo()

    @cached_property
    def fingerprint(self) -> Fingerprint:
        """This machine's CPU model and the rest of what tells hosts apart (hardware.py)."""
        return machine_fingerprint()

    def environment(self, *, threads: int | None = None, root: Path | None = None) -> Environment:
        """What a run of this pipeline records of where it ran (environment.py); `threads`: its wall-clock
        phase's (default: the physical cores); `root`: the project whose commit it records (default: here)."""
        from .environment import run_environment

        return run_environment(self.hardware, self.hardware_key, self.fingerprint, threads=threads,
                               root=Path.cwd() if root is None else root)

    def case(self, spec: CaseSpec, model: str | Path, dataset: Any, quantized: Path | None = None, *,
             latency: Callable[[], LatencyGate] | None = None, diagnosis: DiagnosisSpec = _DIAGNOSIS,
             ) -> CasePipeline:
        """The pipeline of one case (see `CasePipeline`)."""
        return CasePipeline(self, spec, str(model), dataset, quantized, latency=latency, diagnosis=diagnosis)

    def threads(self, case: CaseSpec) -> int:
        """The threads of the case's wall-clock phase: its own, or the machine's physical cores."""
        return case.timing.threads or self.hardware.physical_cores

    # ---- shared, memoised steps -------------------------------------------------------------

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()`, once per pipeline for `key` (a failure too: it is raised again for every later case)."""
        return self._memo.get(key, make)

    def original(self, model: str, opset: int) -> Path:
        """The folder of the model's fp32 ONNX export (variants/export.py)."""
        from .variants.export import export_original

        return self.memo(("original", model, opset), lambda: export_original(model, opset, self.cache))

    def original_record(self, onnx_file: Path) -> OriginalRecord:
        from .variants.inspect import original_record

        return self.memo(("original record", onnx_file), lambda: original_record(onnx_file))

    def split(self, source: Any, name: str) -> datasets.Dataset:
        from .measure.data import load_split

        source_key = source if isinstance(source, str) else id(source)
        return self.memo(("split", source_key, name), lambda: load_split(source, name))

    def tokenizer(self, model_dir: Path) -> Any:
        from transformers import AutoTokenizer

        # transformers leaves from_pretrained unannotated
        return self.memo(("tokenizer", model_dir), lambda: AutoTokenizer.from_pretrained(model_dir))  # type: ignore[no-untyped-call, unused-ignore]

    def model_config(self, model_dir: Path) -> Any:
        from transformers import AutoConfig

        return self.memo(("model config", model_dir), lambda: AutoConfig.from_pretrained(model_dir))

    def ort_session(
        self, path: Path, threads: int, config_entries: dict[str, str] | None = None
    ) -> InferenceSession:
        from .measure.ort_session import make_ort_session

        key = ("ort session", path, threads, tuple(sorted((config_entries or {}).items())))
        session: InferenceSession = self.memo(key, lambda: make_ort_session(path, threads, config_entries))
        return session

    def ov_session(self, path: Path, threads: int, extra: dict[str, Any] | None = None) -> OvSession:
        from .measure.ov_session import make_ov_session

        key = ("ov session", path, threads, tuple(sorted((extra or {}).items())))
        return self.memo(key, lambda: make_ov_session(path, threads, extra))

    def variant(self, model: str, source: Any, case: CaseSpec, quantized: Path | None = None) -> BuiltVariant:
        """The case's variant: built from the original, or with `quantized` (its quantized_file) adopted as it is."""
        key = ("variant", model, source if isinstance(source, str) else id(source), case.data, case.variant, quantized)
        return self.memo(key, lambda: self._build(model, source, case, quantized))

    def _build(self, model: str, source: Any, case: CaseSpec, quantized: Path | None) -> BuiltVariant:
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
                case.data.resolved_input_column,
                spec.num_samples,
                spec.sequence_length,
                inputs,
            )
        if case.variant.openvino:
            return build_openvino_variant(original_dir, case.variant, calibration=calibration, cache=self.cache)
        return build_variant(
            original_dir, case.variant, preset=self.hardware.preset, calibration=calibration, cache=self.cache
        )


class CaseStageError(QbenchError):
    """A stage of a case could not run: `what` says which ("could not measure"), `cause` why. The
    case's result keeps what was measured before it, and its `error` says why."""

    def __init__(self, what: str, cause: Exception) -> None:
        super().__init__(f"{what}: {type(cause).__name__}: {error_text(cause)}")
        self.what = what
        self.cause = cause


@contextlib.contextmanager
def _stage(result: CaseResult, what: str, *errors: type[Exception]) -> Iterator[None]:
    """Run a stage of `result`'s case: an error of `errors` becomes the result's error and a `CaseStageError`."""
    try:
        yield
    except errors as error:
        result.error = f"{type(error).__name__}: {error_text(error)}"
        raise CaseStageError(what, error) from error


def to_confirm(judgement: Judgement, update: bool) -> bool:
    """Whether the first look at a case's latency may rest on one slow session (measure/fresh.py): its
    speedup check failed or was inconclusive. An update's run always measures again and the baseline records
    the median of its measurements, so that one slow session, of either model, does not move the reference
    every later run is held to (docs/BENCHMARKS.md §8f: a slow int8 look in an update run lowered it; the best
    of three, tried first, raised it by picking up slow fp32 sessions)."""
    if update:
        return True
    return any(c.metric is Metric.CPU_SPEEDUP and c.status in (Status.FAIL, Status.INCONCLUSIVE)
               for c in judgement.checks)


def model_name(model: str, root: Path) -> str:
    """A model as baselines record it, the same on every machine: a hub id as given, a local path
    relative to the project `root`, or outside it its folder (or file) name."""
    path = Path(model)
    if not path.is_absolute():
        return model
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


class CasePipeline:
    """One case's stages (see the module doc), on what its `pipeline` shares with the other cases.

    `spec` gets its data columns resolved (measure/tasks.py `columns_for`) once the variant is built;
    `quantized`: the case's quantized_file, gated as it is; `latency`: what its latency is held to
    (results' `LatencyGate`, e.g. `latency_gate_for` below), asked for when the case is first
    timed, which it times no finer than the gate's spread (default: none; the spec's timing as it is,
    judged with this machine's CPU model and the prior's spread, as one case of a run of one);
    `diagnosis`: what a diagnosis may look at and spend."""

    def __init__(self, pipeline: Pipeline, spec: CaseSpec, model: str, dataset: Any, quantized: Path | None = None,
                 *, latency: Callable[[], LatencyGate] | None = None, diagnosis: DiagnosisSpec = _DIAGNOSIS
                 ) -> None:
        self.pipeline = pipeline
        self.spec = spec
        self.model = model
        self.dataset = dataset
        self.quantized = quantized
        self.diagnosis = diagnosis
        self._latency = latency

    # ---- build -------------------------------------------------------------------------------------

    @cached_property
    def variant(self) -> BuiltVariant:
        """The case's variant: the original and the optimized model, and what the quantizer really did."""
        from .measure.tasks import columns_for

        # Refuse a model the case cannot use (another task's head, a too short position table)
        # before the variant is built: a build of a real model takes minutes.
        data = columns_for(self.task, self.spec.data)
        self._check_lengths(self._original_model_config)
        # Every use of the data goes through the variant: from here on, the columns are the task's
        # unless the marker named others.
        self.spec = dataclasses.replace(self.spec, data=data)
        return self.pipeline.variant(self.model, self.dataset, self.spec, self.quantized)

    @cached_property
    def task(self) -> Task:
        from .measure.tasks import task_for

        return task_for(self._original_model_config)

    @cached_property
    def _original_model_config(self) -> Any:
        """The transformers config of the exported original: its task and its position limit."""
        return self.pipeline.model_config(self.pipeline.original(self.model, self.spec.variant.opset))

    @property
    def original_record(self) -> OriginalRecord:
        """The original's precision: fp32 as exported, or already quantized (a hub int8 or 4-bit graph)."""
        from .variants.export import ONNX_FILE

        # The exported graph, also for OpenVINO, whose original is that graph read as IR.
        return self.pipeline.original_record(self.pipeline.original(self.model, self.spec.variant.opset) / ONNX_FILE)

    def rebuilt(self, exclusion: Exclusion) -> BuiltVariant:
        """This case's variant with `exclusion` kept in fp32, through the build cache."""
        variant = dataclasses.replace(self.spec.variant, exclude=exclusion.families, nodes_to_exclude=exclusion.nodes)
        return self.pipeline.variant(self.model, self.dataset, dataclasses.replace(self.spec, variant=variant))

    def _check_lengths(self, model_config: Any) -> None:
        limit = getattr(model_config, "max_position_embeddings", None)
        lengths = {"sequence_length": self.spec.sequence_length}
        if self.spec.variant.approach == "static":
            lengths["calibration_sequence_length"] = self.spec.variant.calibration.sequence_length
        for name, length in lengths.items():
            if limit is not None and length > limit:
                raise QbenchCaseError(f"{name} {length} is above the model's maximum {limit}; use {name} <= {limit}")

    # ---- measure -----------------------------------------------------------------------------------

    @cached_property
    def latency_gate(self) -> LatencyGate:
        if self._latency is not None:
            return self._latency()
        from .gate.spread import PRIOR_SPEEDUP_SIGMA

        prior = Spread(PRIOR_SPEEDUP_SIGMA, 0.0, 0, 0)
        return LatencyGate(self.pipeline.fingerprint.cpu_model, prior, 1, QbenchOptions.false_alarm_rate)

    @property
    def timing(self) -> TimingSpec:
        """The case's timing; with a run's `latency` gate, its CI target no narrower than 1.96 x the run's
        between-run sigma: an own standard error under half of it buys nothing the next run keeps."""
        timing = self.spec.timing
        if self._latency is None:
            return timing
        sigma = self.latency_gate.speedup_spread.sigma
        return dataclasses.replace(timing, target_ci_width=max(timing.target_ci_width, 1.96 * sigma))

    @cached_property
    def measurer(self) -> CaseMeasurer:
        """How this case's models are measured (measure/case.py): the fixture and the diagnosis use it."""
        from .measure.case import CaseMeasurer

        variant = self.variant  # resolves the case's data columns first
        return CaseMeasurer(
            self.pipeline, dataclasses.replace(self.spec, timing=self.timing), self.dataset, self.task,
            original=variant.original, optimized=variant.optimized, model_dir=variant.model_dir,
            original_quantized=self.original_record.quantized, threads=self.pipeline.threads(self.spec),
            search_samples=self.diagnosis.search_samples, amx=self.pipeline.hardware.tier == "amx",
        )

    def new_result(self, nodeid: str, *, run_id: str = "", root: Path | None = None) -> CaseResult:
        """An empty result of this case under the test `nodeid` ("path::name[id]"), to measure into; `root`:
        the project a local model's path is recorded relative to (default: here)."""
        return CaseResult(
            nodeid=nodeid,
            test=nodeid.split("[", 1)[0],
            case_id=self.spec.id,
            model=model_name(self.model, Path.cwd() if root is None else root),
            batch_size=self.spec.batch_size,
            sequence_length=self.spec.sequence_length,
            parameters=self.spec.parameters,
            hardware_key=self.pipeline.hardware_key,
            cpu_model=self.pipeline.fingerprint.cpu_model,
            run_id=run_id,
        )

    def measure(self, result: CaseResult) -> CaseResult:
        """Build the variant and measure it into `result`: what the quantizer did, the original's precision,
        the saturation risk, both models' scores and latency. A step that raises leaves the ones before it
        recorded."""
        result.quantization = self.variant.quantization
        result.original = self.original_record
        result.saturation_risk = self.pipeline.hardware.saturation_risk(
            result.quantization, self.spec.variant.saturation_remedy
        )
        result.sparse_decompression = self._sparse_decompression()
        result.accuracy_original, result.accuracy_optimized = self.measurer.accuracy()
        result.latency = self.measurer.latency()
        return result

    def _sparse_decompression(self) -> str | None:
        """What became of the case's sparse_decompression_rate on this CPU (OpenVINO packs sparse int8
        weights with AMX kernels only)."""
        rate = self.spec.variant.sparse_decompression_rate
        if rate is None:
            return None
        if self.measurer.amx:
            return (f"on: int8 weights at least {rate:.0%} zero are packed"
                    f" (CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE {rate:g})")
        return (f"off: this CPU ({self.pipeline.hardware_key}) has no AMX, and OpenVINO packs sparse int8 weights"
                " with AMX kernels only; the model ran dense")

    # ---- judge -------------------------------------------------------------------------------------

    def check(self, result: CaseResult, baselines: BaselineStore | str | Path, *, update: bool = False,
              amend: Callable[[list[Check]], None] | None = None) -> CaseResult:
        """The whole gate of the case: measure it into `result`, judge it against its baseline entry in
        `baselines` (a store, or its folder; in `update` mode a malformed entry is about to be replaced:
        only the file must be readable), and when its latency did not pass at first look, measure that
        again in fresh processes and judge once more; the checks and verdict go into `result`. A stage
        that cannot run raises `CaseStageError`, with `result.error` saying why."""
        from .gate.baselines import BaselineStore

        if not isinstance(baselines, BaselineStore):
            baselines = BaselineStore(baselines)
        with _stage(result, "could not measure", Exception):
            self.measure(result)
        with _stage(result, "could not read its baseline", QbenchBaselineError):
            baseline = baselines.lookup(result.test, result.case_id, result.hardware_key, check_entry=not update)
        judgement = self.judge(result, baseline, update=update, amend=amend)
        processes = self.measurer.case.timing.confirm_processes
        if processes and result.latency is not None and to_confirm(judgement, update):
            with _stage(result, "could not confirm its latency", Exception):
                result.latency = self.measurer.confirm(result.latency, processes)
            judgement = self.judge(result, baseline, update=update, amend=amend)
        result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
        result.restart_sample = judgement.restart
        return result

    def judge(self, result: CaseResult, baseline: BaselineRecord, *, update: bool = False,
              amend: Callable[[list[Check]], None] | None = None) -> Judgement:
        """The checks and verdict of `result` against `baseline`, its baseline record (gate/rules.py); `amend`
        may edit the checks before the verdict (the pytest_qbench_checks hook)."""
        from .gate.rules import judge

        return judge(result, baseline, self.spec.tolerances, update=update, amend=amend, latency=self.latency_gate)

    # ---- diagnose ----------------------------------------------------------------------------------

    def diagnose(self, repair: bool = False) -> Diagnosis:
        """Why this variant loses accuracy (diagnose/diagnosis.py): ranked node errors, out-of-scale ranges
        and a graph-or-kernel pre-flight; with `repair`, also the smallest exclusion that meets the case's
        loss target (diagnose/repair.py). Once per variant and evaluation data in the pipeline."""
        from .diagnose.case import CaseDiagnosis

        if self.spec.variant.openvino:
            raise QbenchCaseError(OPENVINO_DIAGNOSIS)
        case_diagnosis = CaseDiagnosis(self.measurer, self.variant, self.diagnosis,
                                       rebuild=None if self.quantized is not None else self.rebuilt)
        key = (self.variant.optimized, self.spec.data)
        diagnosis: Diagnosis = self.pipeline.memo(("diagnosis", *key), case_diagnosis.diagnose)
        if repair:
            found = self.pipeline.memo(("repair", *key), lambda: case_diagnosis.repair(diagnosis))
            diagnosis = dataclasses.replace(diagnosis, repair=found)
        return diagnosis


def latency_gate_for(baselines: BaselineStore, hardware_key: str, cpu_model: str, *, history: Path | None = None,
                     cases: int = 1, alpha: float = QbenchOptions.false_alarm_rate,
                     speed_lines: bool = QbenchOptions.speed_lines) -> LatencyGate:
    """What every latency check of a run is held to: the CPU model `cpu_model` of the machine, the recorded
    runs of `hardware_key` on it (the baselines' and, with `history`, those of that history folder), with
    `speed_lines` each case's speed line where its runs teach one and the between-run spread given those lines
    (gate/spread.py), and the run's family of `cases` at `alpha` false alarms per run."""
    from .gate.spread import gate_from_runs
    from .report.history import latency_runs, load

    recorded = {case: [r for r in runs if r.cpu_model == cpu_model]
                for case, runs in baselines.samples(hardware_key).items()}
    if history is not None and history.is_dir():
        for case, runs in latency_runs(load(history), hardware_key, cpu_model).items():
            known = {r.run for r in recorded.get(case, [])}
            recorded.setdefault(case, []).extend(r for r in runs if r.run not in known)
    return gate_from_runs(recorded, cpu_model, cases, alpha, speed_lines=speed_lines)
