"""pytest-qbench's command line: `python -m pytest_qbench merge ...` (also the `qbench` console script).

Exit codes: 0 the merged verdict passes, 1 it fails (a failing case, or a selected case no shard
ran), 2 the artifacts cannot be merged or a file cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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
    return parser


def merge_command(args: argparse.Namespace) -> int:
    from .artifact import write_artifact
    from .atomic import atomic_write_text
    from .baselines import QbenchBaselineError
    from .merge import QbenchMergeError, durations, markdown, merge, write_baselines

    try:
        merged = merge(args.artifacts)
    except QbenchMergeError as error:
        print(error, file=sys.stderr)
        return 2
    for line in merged.lines():
        print(line)
    try:
        write_artifact(args.output, merged.artifact)
        print(f"merged artifact written to {args.output}")
        if args.markdown is not None:
            atomic_write_text(args.markdown, markdown(merged))
            print(f"markdown report written to {args.markdown}")
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
    return {"merge": merge_command}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
