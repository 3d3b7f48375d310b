"""A history folder (as `--qbench-history` writes it) from the A/A gate runs of a kept live study session, for
a study of the gate that learns each case's speed line from a history (bench/live_gate.py --history).

    PYTHONPATH=. .venv/bin/python bench/seed_history.py WORK --record bench/results/live-gate-NAME.json \
        --output bench/results/live-studies/NEW/history

WORK is a session folder bench/live_gate.py kept (`--keep`): its run-<index>-<arm>.json artifacts. Only the
A/A runs the record counts are taken (a slowed run's target would teach its line the slowdown), each slimmed
to what the gate learns from (report/history.latency_runs: the environment, each case's test, id, run id and
CPU-time figures), so that the folder is small enough to commit beside the study (an HTML report cannot draw
its trends from it: the gate's runs do not ask for one).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

INDEX = "index.json"  # the history folder's index (report/history.py)


def slim(artifact: dict) -> dict:
    """What the gate learns from of a run (report/history.latency_runs)."""
    cases = [{"test": c["test"], "id": c["id"], "run_id": c["run_id"], "latency": {"cpu": c["latency"]["cpu"]}}
             for c in artifact["cases"] if c.get("latency")]
    return {"environment": artifact["environment"], "cases": cases}


def write(folder: Path, artifacts: list[dict]) -> None:
    """The history folder's layout (report/history.py): runs/<n>.json and an index, oldest first."""
    (folder / "runs").mkdir(parents=True)
    entries = []
    for n, artifact in enumerate(artifacts):
        path = folder / "runs" / f"{n:03d}.json"
        path.write_text(json.dumps(artifact, sort_keys=True) + "\n")
        env = artifact["environment"]
        entries.append({"file": path.relative_to(folder).as_posix(), "created": env["created"],
                        "commit": env.get("git_commit"), "hardware_key": env["hardware_key"], "verdict": "pass",
                        "cases": len(artifact["cases"])})
    (folder / INDEX).write_text(json.dumps({"runs": entries}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="a live study session's kept folder")
    parser.add_argument("--record", type=Path, required=True, help="the study's record: which runs it counts")
    parser.add_argument("--output", type=Path, required=True, help="the history folder to create")
    args = parser.parse_args()
    if args.output.exists():
        raise SystemExit(f"{args.output} exists: a history is append-only, seed a new folder")
    runs = json.loads(args.record.read_text())["runs"]
    write(args.output, [slim(json.loads((args.work / f"run-{index}-aa.json").read_text()))
                        for index, run in enumerate(runs) if run["arm"] == "aa"])
    print(f"{sum(run['arm'] == 'aa' for run in runs)} A/A runs written to {args.output}")


if __name__ == "__main__":
    main()
