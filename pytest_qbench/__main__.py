"""pytest-qbench's command line (also the `qbench` console script):

    python -m pytest_qbench merge ART... -o merged.json   one verdict from shards (gate/merge.py)
    python -m pytest_qbench report ART... -o report.html  the HTML report of earlier artifacts (report/html.py)
    python -m pytest_qbench history ART --dir DIR         append a run to a history folder (report/history.py)
    python -m pytest_qbench cache [--prune DAYS]           list the build cache, or prune it (variants/cache.py)

Each command composes the stages: read (report/artifact.py) -> merge (gate/) -> write (report/).

Exit codes: 0 done (merge: the verdict passes), 1 the merged verdict fails (a failing case, or a
selected case no shard ran), 2 the input cannot be used or a file cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pytest_qbench", description="pytest-qbench's tools")
    commands = parser.add_subparsers(dest="command", required=True)
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
    merge.add_argument("--baselines", type=Path, default=Path("baselines"), metavar="DIR",
                       help="the committed baselines that --baselines-out starts from (default: baselines/)")
    merge.add_argument("--strict", action="store_true",
                       help="an inconclusive or not-gated latency check fails the verdict too")
    merge.add_argument("--confirm-list", type=Path, metavar="PATH",
                       help="write the node ids whose latency failed or was inconclusive, per hardware key, one per"
                            " line (empty: nothing to confirm): what a confirmation job reruns")
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
    cache.add_argument("--dir", type=Path, help="the cache folder (default: $QBENCH_CACHE_DIR or ~/.cache/pytest-qbench)")
    cache.add_argument("--prune", type=float, metavar="DAYS", help="remove the entries no run has used for DAYS days")
    cache.add_argument("--dry-run", action="store_true", help="with --prune: list what would go, remove nothing")
    return parser


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
            environment, outcome = files[0].artifact["environment"], recorded_outcome(files[0].artifact)
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
        lines = [f"{dt.datetime.fromtimestamp(e.last_used):%Y-%m-%d %H:%M}  {e.size / 1e6:9.1f} MB  {e.kind:<9}  {e.path.name}"
                 for e in entries]
        return "\n".join([*lines, f"{cache.root} {verb} {len(entries)} entries, {sum(e.size for e in entries) / 1e6:.1f} MB"])

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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"merge": merge_command, "report": report_command, "history": history_command, "cache": cache_command}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
