"""What `qbench.diagnose()` runs for one case: the diagnosis (diagnosis.py) and the repair search
(repair.py) wired to the case's models and data.

It measures only through the case's `CaseMeasurer` (measure/case.py), the interface the fixture
object measures through too, and rebuilds repair candidates through the `rebuild` callable it is
given (the pipeline's build cache); the run-wide memo keeps each expensive step to once.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import QbenchCaseError
from ..results import Diagnosis, Exclusion, NodeError, Preflight, RangeIssue, RepairResult

if TYPE_CHECKING:
    from ..measure.case import CaseMeasurer
    from ..specs import DiagnosisSpec
    from ..variants.quantize import BuiltVariant

Rebuild = Callable[[Exclusion], "BuiltVariant"]  # the case's variant with an exclusion kept in fp32


class CaseDiagnosis:
    """The diagnosis of `variant` (the case's built variant) and, with `rebuild`, its repair.

    `rebuild` is None for a graph gated as given (a quantized_file): it cannot be rebuilt."""

    def __init__(self, measurer: CaseMeasurer, variant: BuiltVariant, spec: DiagnosisSpec,
                 rebuild: Rebuild | None) -> None:
        self.measurer = measurer
        self.variant = variant
        self.spec = spec
        self.rebuild = rebuild

    def diagnose(self) -> Diagnosis:
        """Ranked node errors, out-of-scale ranges and the graph-or-kernel pre-flight."""
        from .diagnosis import group_errors

        start = time.perf_counter()
        feeds, padded = self._feeds()
        nodes, ranges, output = self._node_errors(self.variant)
        return Diagnosis(
            case_id=self.measurer.case.variant.id, batches=len(feeds),
            sentences=sum(len(next(iter(feed.values()))) for feed in feeds), padded_fraction=padded,
            output_sqnr_db=output, nodes=nodes, groups=group_errors(nodes), ranges=ranges,
            preflight=self._preflight(), seconds=time.perf_counter() - start,
        )

    def repair(self, diagnosis: Diagnosis) -> RepairResult:
        """The smallest exclusion that meets the case's loss target (repair.py), with the CPU-time
        speedup it keeps."""
        from ..measure.ort_session import make_ort_session
        from .repair import repair

        if self.rebuild is None:
            raise QbenchCaseError(
                "a repair rebuilds the variant with nodes kept in fp32, and a quantized_file is gated as given, not"
                " built here: give the fp32 model with approach= and operators= to search for an exclusion"
            )
        measurer, case, rebuild = self.measurer, self.measurer.case, self.rebuild
        start = time.perf_counter()
        quantized = {n.node for n in diagnosis.nodes}
        members = {f: [n for n in nodes if n in quantized] for f, nodes in self._families().items()}
        allowed = case.tolerances.allowed_loss
        sample, full = measurer.score(measurer.original, sample=True), measurer.score(measurer.original)
        before = Exclusion(case.variant.exclude, case.variant.nodes_to_exclude)

        def scorer(on_sample: bool) -> Callable[[Exclusion], float]:
            def score(exclusion: Exclusion) -> float:
                path = rebuild(exclusion).optimized  # a fresh session: each candidate is scored once
                ort_session = make_ort_session(path, measurer.threads, measurer.config_entries(path))
                return measurer.evaluate(ort_session, on_sample).f1

            return score

        def rerank(exclusion: Exclusion) -> list[str]:
            return [n.node for n in self._node_errors(rebuild(exclusion))[0]]

        found = repair(
            scorer(True), scorer(False),
            # Half the allowed loss on the sample: 800 sentences misjudge the loss by about that much.
            targets=(sample.f1 - allowed(sample.f1) / 2, full.f1 - allowed(full.f1)),
            families={f: members[f] for f in diagnosis.families(members)},
            nodes=[n.node for n in diagnosis.nodes],
            max_evaluations=self.spec.max_evaluations,
            start=before, rerank=rerank, samples=sample.num_samples,
        )
        quick = dataclasses.replace(case.timing, max_seconds=2.0, target_ci_width=0.1, wall_iterations=1,
                                    wall_seconds=0.05)
        repaired = rebuild(before.plus(found.exclusion.families, found.exclusion.nodes))
        speedup = measurer.latency(repaired.optimized, quick).cpu.speedup.value
        return dataclasses.replace(found, speedup=speedup, seconds=time.perf_counter() - start)

    # ---- the pieces, each memoised for the session -------------------------------------------------

    def _feeds(self) -> tuple[list[dict[str, Any]], float]:
        """The diagnosis batches (padded, from the evaluation split) and their padded fraction."""
        from ..measure.data import padded_batches

        measurer = self.measurer
        return measurer.shared.memo(("diagnosis feeds", measurer.model_dir, measurer.case.data), lambda: padded_batches(
            measurer.tokenizer(),
            measurer.split(),
            measurer.case.data.resolved_input_column,
            measurer.input_names,
            self.spec.batches,
            self.spec.batch_size,
        ))

    def _node_errors(self, built: BuiltVariant) -> tuple[list[NodeError], list[RangeIssue], float | None]:
        from .diagnosis import node_errors

        return node_errors(
            built.consumed, built.optimized, self._feeds()[0],
            operators=self.measurer.case.variant.operators, families=self._families(), threads=self.measurer.threads,
        )

    def _families(self) -> dict[str, list[str]]:
        """Each exclusion family's nodes in the graph the quantizer consumed."""
        import onnx

        from ..specs import EXCLUSION_FAMILIES
        from ..variants.exclusion import resolve_family

        def resolve() -> dict[str, list[str]]:
            graph = onnx.load(str(self.variant.consumed), load_external_data=False)
            return {family: resolve_family(graph, family) for family in EXCLUSION_FAMILIES}

        return self.measurer.shared.memo(("families", self.variant.consumed), resolve)

    def _preflight(self) -> Preflight:
        from ..measure.ort_session import make_ort_session
        from .diagnosis import classify, simulation

        measurer = self.measurer
        original = measurer.score(measurer.original, sample=True)
        kernel = measurer.score(measurer.optimized, sample=True)
        with tempfile.TemporaryDirectory(prefix="qbench-simulation-") as tmp:
            path = simulation(measurer.optimized, Path(tmp))
            simulated = None if path is None else measurer.evaluate(
                make_ort_session(path, measurer.threads, optimize=False), sample=True).f1
        allowed = measurer.case.tolerances.allowed_loss(original.f1)
        cause, explanation = classify(original.f1, simulated, kernel.f1, allowed)
        return Preflight(original.num_samples, original.f1, simulated, kernel.f1, allowed, cause, explanation)
