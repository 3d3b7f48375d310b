"""What a run leaves behind once its cases ran, and what the terminal summary says about it:
baselines (update mode), the JSON artifact, the markdown and HTML reports, the history entry, the
unused baselines, and proposed baselines for a hardware key that has none.

A file that cannot be written is an error line (it fails the run), never a traceback: the other files
are still written. `RunOutputs` is what the run gives the writes; `write()` returns what they did
(`Written`), and one `_Writes` per call owns what they find on the way (errors, an interrupt).
`stage_result` keeps each result as it arrives: its baseline staged for the flush at the end, or its
obtained file written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import QbenchArtifactError, QbenchBaselineError, QbenchFlushError, error_text
from ..results import RunRecord

if TYPE_CHECKING:
    from ..gate.baselines import BaselineStore
    from ..gate.rules import RunOutcome
    from ..results import CaseResult, Environment
    from ..specs import QbenchOptions


def stage_result(store: BaselineStore, result: CaseResult, hardware_key: str, *, update: bool, sharded: bool,
                 created: Callable[[], str]) -> str | None:
    """Keep `result` as its verdict says (gate/rules.py `file_to_write`): its baseline staged in `store`
    for the flush at the end of an update (not in a shard: the merge writes those), or its obtained file
    written beside its failed baseline. `created` gives the run's time, which a staged latency run
    records. Returns the error line of a write that failed, else None."""
    from ..gate.rules import FileToWrite, file_to_write

    write = file_to_write(result.verdict, update)
    if write is FileToWrite.BASELINE and sharded:
        return None
    try:
        if write is FileToWrite.BASELINE:
            store.stage(result.test, result.case_id, hardware_key, result, when=created(),
                        restart=result.restart_sample)
        elif write is FileToWrite.OBTAINED:
            store.write_obtained(result.test, result.case_id, hardware_key, result)
    except (QbenchBaselineError, OSError, ValueError) as error:  # a hook runs here: no traceback
        what = "stage the baseline" if write is FileToWrite.BASELINE else "write the obtained file"
        return f"qbench: ERROR: could not {what} of {result.test} [{result.case_id}]: {error_text(error)}"
    return None


@dataclass(frozen=True)
class Written:
    """What the end-of-run writes did: the terminal summary's lines about them, the errors of the files
    that could not be written (they fail the run), and whether an interrupt landed before or during them."""

    lines: tuple[str, ...]
    errors: tuple[str, ...]
    interrupted: bool


@dataclass
class _Writes:
    """What one `RunOutputs.write()` finds on the way: its only mutable state."""

    interrupted: bool
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunOutputs:
    options: QbenchOptions
    outcome: RunOutcome  # the cases' results and the run's own checks
    environment: Environment
    store: BaselineStore  # the reviewed baselines
    hardware_key: str
    selected: list[str] | None  # qbench node ids selected, before sharding (None: not known, under xdist)
    skipped: list[str]  # qbench node ids pytest skipped: ran, not missing
    shard_plan: str | None  # what this shard runs
    interrupted: bool  # before the writes; an interrupt during the baseline writes is in `Written`
    run_id: str = ""

    @property
    def results(self) -> list[CaseResult]:
        return self.outcome.results

    def write(self, amend_artifact: Callable[[dict[str, Any]], None]) -> Written:
        """Write baselines (update mode), the JSON artifact (after `amend_artifact` edits it: the
        pytest_qbench_update_json hook), the reports and the history entry asked for; return what
        they did and what the terminal summary should say about them."""
        from .artifact import build_artifact, write_artifact

        options = self.options
        writes = _Writes(self.interrupted)
        lines: list[str] = []
        if options.shard is not None:  # the other shards' cases are not here: the merge decides
            lines.append(self._shard_line())
        elif options.update:
            lines += self._flush_baselines(writes)
        if not writes.interrupted and options.shard is None:  # else cases that did not run look unused
            lines += self._report_unused()
            lines += self._propose_baselines(writes)
        selected = self.selected if self.selected is not None else {r.nodeid for r in self.results}
        run = options.run_settings.record(RunRecord(
            None if options.shard is None else str(options.shard), tuple(sorted(selected)), id=self.run_id,
            skipped=tuple(sorted(set(self.skipped) - {r.nodeid for r in self.results}))))
        artifact = build_artifact(self.environment, self.results, run)
        artifact["run_checks"] = [c.to_json() for c in self.outcome.run_checks]
        lines += [f"qbench: run check: {c}" for c in self.outcome.run_checks]
        amend_artifact(artifact)
        try:
            write_artifact(options.json, artifact)
            lines.append(f"qbench: JSON artifact written to {options.json}")
        except (OSError, QbenchArtifactError) as error:  # disk full, read-only folder, a hook's bad edit
            writes.errors.append(
                f"qbench: ERROR: could not write the JSON artifact to {options.json}: {error_text(error)}")
        lines += self._write_reports(artifact, writes)
        return Written(tuple(lines), tuple(writes.errors), writes.interrupted)

    def _write_reports(self, artifact: dict[str, Any], writes: _Writes) -> list[str]:
        """The markdown and HTML reports and the history entry that were asked for."""
        from ..atomic import atomic_write_text
        from .history import append
        from .markdown import markdown

        options, lines = self.options, []
        history = options.history
        if history is not None and writes.interrupted:
            lines.append(f"qbench: run interrupted: not recorded in the history {history}")
            history = None
        # the history first, so that the HTML report's trends include this run
        targets: list[tuple[str, Path | None, Callable[[Path], object]]] = [
            ("history entry", history, lambda folder: append(folder, artifact)),
            ("markdown report", options.markdown,
             lambda path: atomic_write_text(path, markdown(self.results, self.environment, options.diagnosis.top))),
            ("HTML report", options.html, self._write_html),
        ]
        for what, target, write in targets:
            if target is None:
                continue
            try:
                write(target)
                lines.append(f"qbench: {what} written to {target}")
            except (OSError, ValueError) as error:
                writes.errors.append(f"qbench: ERROR: could not write the {what} to {target}: {error_text(error)}")
        return lines

    def _write_html(self, path: Path) -> None:
        from ..atomic import atomic_write_text
        from .history import load
        from .html import render

        history = load(self.options.history) if self.options.history is not None else []
        atomic_write_text(path, render(self.outcome, self.environment, history))

    def _shard_line(self) -> str:
        update = (" Baselines are written by the merge: `python -m pytest_qbench merge ARTIFACTS... -o merged.json"
                  " --baselines-out baselines/`." if self.options.update else "")
        ran = (f"qbench: shard {self.options.shard}: {len(self.results)} cases ran; merge the shards' artifacts for"
               f" the verdict.{update}")
        return f"{self.shard_plan}\n{ran}" if self.shard_plan else ran

    def _flush_baselines(self, writes: _Writes) -> list[str]:
        if writes.interrupted:
            return ["qbench: run interrupted: no baseline was written"]
        try:
            outcome = self.store.flush()
        except QbenchFlushError as error:
            outcome = error.report
            writes.errors += [f"qbench: ERROR: {error_text(line)}" for line in str(error).splitlines()]
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM in the middle of the writes: finish the report
            writes.interrupted = True
            writes.errors.append(
                "qbench: ERROR: interrupted while writing the baselines: each file holds either its old or its"
                " new version (atomic writes); run the update again to write them all"
            )
            return []
        return [
            f"qbench: baseline {kind}: {test} [{case_id}] ({hardware_key})"
            for kind, keys in (("created", outcome.created), ("updated", outcome.updated))
            for test, case_id, hardware_key in keys
        ]

    def _propose_baselines(self, writes: _Writes) -> list[str]:
        """On a hardware key without latency baselines, write what an update would make of the
        baseline files into `proposed-baselines/` beside the JSON artifact, for review (a CI job
        uploads it); the real baselines stay untouched."""
        from ..gate.baselines import BaselineStore
        cases = [r for r in self.results if r.latency_not_gated and r.error is None] if not self.options.update else []
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
            writes.errors.append(
                f"qbench: ERROR: could not write the proposed baselines to {folder}: {error_text(error)}")
            return []
        return [f"qbench: proposed baselines for {self.hardware_key} ({len(cases)} cases) written to {folder}:"
                f" review them, then copy them into {self.options.baselines}"]

    def _report_unused(self) -> list[str]:
        used = {(r.test, r.case_id) for r in self.results}
        return [f"qbench: unused baseline: {test} [{case}]" for test, case in self.store.unused(used)]
