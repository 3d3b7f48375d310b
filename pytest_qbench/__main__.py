"""pytest-qbench's command line (also the `qbench` console script):

    python -m pytest_qbench merge ART... -o merged.json   one verdict from shards (gate/merge.py)
    python -m pytest_qbench report ART... -o report.html  the HTML report of earlier artifacts (report/html.py)
    python -m pytest_qbench history ART --dir DIR         append a run to a history folder (report/history.py)
    python -m pytest_qbench cache [--prune DAYS]           list the build cache, or prune it (variants/cache.py)
    python -m pytest_qbench case MODEL DATA [KEY=VALUE...]  build, measure and judge a marker's cases (pipeline.py)

Each command composes the stages: read (report/artifact.py) -> merge (gate/) -> write (report/); `case`
runs the pipeline of a case (build -> measure -> judge) without pytest.

Exit codes: 0 done (merge, case: the verdict passes), 1 the verdict fails (a failing case, or a selected
case no shard ran), 2 the input cannot be used or a file cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .specs import BASELINES_FOLDER

if TYPE_CHECKING:
    from .gate.baselines import BaselineStore
    from .pipeline import Pipeline
    from .results import CaseResult


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pytest_qbench", description="pytest-qbench's tools")
    commands = parser.add_subparsers(dest="command", required=True)
    _merge_command(commands)
    report = commands.add_parser(
        "report", help="write the single-file HTML report of artifacts made earlier (merged, or shards to merge)",
    )
    report.add_argument("artifacts", nargs="+", type=Path, metavar="ARTIFACT")
    report.add_argument("-o", "--output", type=Path, required=True, help="where to write the HTML file")
    report.add_argument("--history", type=Path, metavar="DIR", help="draw the trends of this history folder")
    history = commands.add_parser("history", help="append an artifact to a history folder (append-only)")
    history.add_argument("artifact", type=Path, metavar="ARTIFACT")
    history.add_argument("--dir", type=Path, required=True, help="the history folder")
    cache = commands.add_parser("cache", help="list the build cache's entries, or remove those unused for a while")
    cache.add_argument("--dir", type=Path,
                       help="the cache folder (default: $QBENCH_CACHE_DIR or ~/.cache/pytest-qbench)")
    cache.add_argument("--prune", type=float, metavar="DAYS", help="remove the entries no run has used for DAYS days")
    cache.add_argument("--dry-run", action="store_true", help="with --prune: list what would go, remove nothing")
    _case_command(commands)
    return parser


def _merge_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    merge = commands.add_parser(
        "merge", help="merge the artifacts of shards and runner classes into one verdict",
        description="Check that the artifacts are shards of one run, merge them, recompute the verdict.",
    )
    merge.add_argument("artifacts", nargs="+", type=Path, metavar="ARTIFACT", help="the shards' results.json files")
    merge.add_argument("-o", "--output", type=Path, required=True, help="where to write the merged artifact")
    merge.add_argument("--markdown", type=Path, help="also write a markdown report here")
    merge.add_argument("--baselines-out", type=Path, metavar="DIR",
                       help="write every measured case as its baseline into DIR (e.g. baselines/)")
    merge.add_argument("--durations-out", type=Path, metavar="PATH",
                       help="write each case's duration here, for the next run's --qbench-shard-durations")
    merge.add_argument("--baselines", type=Path, default=Path(BASELINES_FOLDER), metavar="DIR",
                       help=f"the committed baselines that --baselines-out starts from (default: {BASELINES_FOLDER}/)")
    merge.add_argument("--strict", action="store_true",
                       help="an inconclusive or not-gated latency check fails the verdict too")
    merge.add_argument("--confirm-list", type=Path, metavar="PATH",
                       help="write the node ids whose latency failed or was inconclusive, per hardware key, one per"
                            " line (empty: nothing to confirm): what a confirmation job reruns")


def _case_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    case = commands.add_parser(
        "case", help="build, measure and judge the cases of one marker, without pytest",
        description="Expand the arguments into cases as @pytest.mark.qbench(model=MODEL, dataset=DATA, KEY=VALUE...)"
                    " does; build, measure and judge each against its baseline entry under --test, if it has one.",
    )
    case.add_argument("model", help="hub id, local model folder or .onnx file")
    case.add_argument("dataset", help="hub name, local data file, or folder of one file per split")
    case.add_argument("arguments", nargs="*", metavar="KEY=VALUE",
                      help="more marker arguments, before the options; each value read as JSON where it parses,"
                           " else as text: approach=dynamic operators='[\"Add\", \"MatMul\"]' batch_size=1"
                           " sequence_length=32")
    case.add_argument("--test", default="qbench case", metavar="NODE",
                      help="the test whose baselines the cases are judged against, e.g. tests/test_ner.py::test_int8")
    case.add_argument("--baselines", type=Path, default=Path(BASELINES_FOLDER), metavar="DIR",
                      help=f"the baselines folder (default: {BASELINES_FOLDER}/)")
    case.add_argument("--cache-dir", type=Path,
                      help="the build cache (default: $QBENCH_CACHE_DIR or ~/.cache/pytest-qbench)")
    case.add_argument("--update", action="store_true", help="record the cases as their baselines (under --test)")
    case.add_argument("--json", type=Path, metavar="PATH", help="also write the JSON artifact of the cases here")


def _done(command: str, action: Callable[[], str]) -> int:
    """Run `action`; print what it did (exit 0) or why it could not (exit 2)."""
    from .errors import QbenchArtifactError, QbenchMergeError

    try:
        print(action())
    except (QbenchArtifactError, QbenchMergeError, OSError, ValueError) as error:
        print(f"qbench {command}: ERROR: {error}", file=sys.stderr)
        return 2
    return 0


def report_command(args: argparse.Namespace) -> int:
    def write() -> str:
        from .atomic import atomic_write_text
        from .gate.merge import merge
        from .report.artifact import read_artifact, recorded_outcome
        from .report.history import load as load_history
        from .report.html import render

        files = [read_artifact(path) for path in args.artifacts]
        if len(files) == 1:
            environment, outcome = files[0].environment, recorded_outcome(files[0].artifact)
        else:
            merged = merge(files)
            environment, outcome = merged.environment, merged.outcome
        history = load_history(args.history) if args.history else []
        atomic_write_text(args.output, render(outcome, environment, history))
        return f"HTML report written to {args.output}"

    return _done("report", write)


def history_command(args: argparse.Namespace) -> int:
    def record() -> str:
        from .report.artifact import read_artifact
        from .report.history import append

        return f"run recorded as {append(args.dir, read_artifact(args.artifact).artifact)}"

    return _done("history", record)


def cache_command(args: argparse.Namespace) -> int:
    def run() -> str:
        import datetime as dt

        from .variants.cache import BuildCache

        cache = BuildCache(args.dir)
        if args.prune is None:
            entries, verb = cache.entries(), "holds"
        else:
            entries, verb = cache.prune(args.prune, args.dry_run), "would free" if args.dry_run else "freed"
        lines = [f"{dt.datetime.fromtimestamp(e.last_used):%Y-%m-%d %H:%M}  {e.size / 1e6:9.1f} MB  {e.kind:<9}  "
                 f"{e.path.name}" for e in entries]
        freed = sum(e.size for e in entries) / 1e6
        return "\n".join([*lines, f"{cache.root} {verb} {len(entries)} entries, {freed:.1f} MB"])

    return _done("cache", run)


def merge_command(args: argparse.Namespace) -> int:
    """Read the artifacts (report/artifact.py), merge them (gate/merge.py), write what was asked for (report/)."""
    from .atomic import atomic_write_text
    from .errors import QbenchArtifactError, QbenchBaselineError, QbenchMergeError
    from .gate.merge import durations, merge, write_baselines
    from .report.artifact import merged_artifact, read_artifact, write_artifact
    from .report.markdown import merged_markdown

    try:
        merged = merge([read_artifact(path) for path in args.artifacts], strict=args.strict)
    except (QbenchArtifactError, QbenchMergeError) as error:
        print(error, file=sys.stderr)
        return 2
    for line in merged.lines():
        print(line)
    try:
        write_artifact(args.output, merged_artifact(merged))
        print(f"merged artifact written to {args.output}")
        if args.markdown is not None:
            atomic_write_text(args.markdown, merged_markdown(merged))
            print(f"markdown report written to {args.markdown}")
        if args.confirm_list is not None:
            from .gate.merge import to_confirm

            ids = sorted({n for key in merged.environments for n in to_confirm(merged.results, key)})
            atomic_write_text(args.confirm_list, "".join(f"{n}\n" for n in ids))
            print(f"{len(ids)} cases to confirm written to {args.confirm_list}")
        if args.durations_out is not None:
            atomic_write_text(args.durations_out, json.dumps(durations(merged), indent=1) + "\n")
            print(f"case durations written to {args.durations_out}")
        if args.baselines_out is not None:
            written = write_baselines(merged, args.baselines_out, args.baselines)
            print(f"baselines of {len(written)} cases written to {args.baselines_out}")
    except (OSError, ValueError, QbenchBaselineError) as error:
        print(f"qbench merge: ERROR: {error}", file=sys.stderr)
        return 2
    return merged.exit_code


def _marker_argument(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"marker argument {text!r} is not KEY=VALUE; e.g. approach=dynamic")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def case_command(args: argparse.Namespace) -> int:
    """Build, measure and judge the marker's cases through the pipeline (pipeline.py), one after another;
    with --update, record them as their baselines."""
    import uuid

    from .errors import QbenchError
    from .gate.baselines import BaselineStore
    from .gate.rules import RunOutcome
    from .pipeline import CaseStageError, Pipeline, latency_gate_for
    from .specs import parse_marker
    from .variants.cache import BuildCache

    try:
        arguments = dict(map(_marker_argument, args.arguments))
        specs = parse_marker({**arguments, "model": args.model, "dataset": args.dataset})
    except (QbenchError, ValueError) as error:
        print(f"qbench case: ERROR: {error}", file=sys.stderr)
        return 2
    pipeline, store, run_id = Pipeline(BuildCache(args.cache_dir)), BaselineStore(args.baselines), uuid.uuid4().hex[:16]
    gate = latency_gate_for(store, pipeline.hardware_key, pipeline.fingerprint.cpu_model, cases=len(specs))
    results = []
    for spec in specs:
        model = Path(args.model) / spec.model_file if spec.model_file else args.model  # as the fixture picks them
        quantized = None if spec.variant.quantized_file is None else Path(args.model) / spec.variant.quantized_file
        case = pipeline.case(spec, model, args.dataset, quantized, latency=lambda: gate)
        result = case.new_result(f"{args.test}[{spec.id}]", run_id=run_id)
        try:
            case.check(result, store, update=args.update)
        except CaseStageError as stage:
            print(f"{spec.id}: error: {stage.what}: {result.error}")
        else:
            print(f"{spec.id}: {result.verdict}", *(f"  {check}" for check in result.checks), sep="\n")
        results.append(result)
    lines, errors = _keep(args, pipeline, store, results)
    for line in lines:
        print(line)
    for line in errors:
        print(line, file=sys.stderr)
    if errors:
        return 2
    return RunOutcome(results).exit_code


def _keep(args: argparse.Namespace, pipeline: Pipeline, store: BaselineStore,
          results: list[CaseResult]) -> tuple[list[str], list[str]]:
    """What `case` writes besides its lines, as a gate run does (report/outputs.py): the baselines of an
    --update, the obtained file of a failed case, the --json artifact; what it says of them, and the
    errors of those it could not write."""
    from .errors import QbenchArtifactError, QbenchFlushError
    from .report.artifact import build_artifact, write_artifact
    from .report.outputs import stage_result

    environment, lines = pipeline.environment(), []
    errors = [error for error in (stage_result(store, r, pipeline.hardware_key, update=args.update, sharded=False,
                                               created=lambda: environment.created) for r in results) if error]
    if args.update:
        try:
            written = store.flush()
            count = len(written.created) + len(written.updated)
            lines.append(f"baselines of {count} cases written to {args.baselines}")
        except QbenchFlushError as error:
            errors += str(error).splitlines()
    if args.json is not None:
        try:
            write_artifact(args.json, build_artifact(environment, results))
            lines.append(f"JSON artifact written to {args.json}")
        except (OSError, QbenchArtifactError) as error:
            errors.append(f"qbench case: ERROR: could not write the JSON artifact to {args.json}: {error}")
    return lines, errors


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"merge": merge_command, "report": report_command, "history": history_command, "cache": cache_command,
                "case": case_command}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
