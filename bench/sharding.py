"""How the reference matrix scales with shards (issue 13), and whether pytest-split would do instead.

1. The example's 38 cases (`pytest --qbench examples -k "not hub"`, build cache warm) run as 1, 2 and
   4 shards, every shard a pytest process of its own, one after another on this machine: per shard
   its wall time and cases; the N-job wall time of a parallel CI run is the slowest shard's.
2. pytest-split (if installed) asked for the same splits with the same durations: how many variants
   it puts on more than one shard (each one a build repeated), and how even its loads are.

Writes bench/results/sharding.json and re-renders the doc blocks that read it (docs/SCALING.md).

    .venv/bin/python bench/sharding.py --beside "nothing"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from run_record import run_info, run_start, save_result  # noqa: E402 - bench/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
SELECT = ["examples", "-k", "not hub"]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]


def variant_of(nodeid: str) -> str:
    test, case = nodeid.split("[", 1)
    return f"{test}[{case.rsplit('-bs', 1)[0]}"


def run_shard(index: int, count: int, work: Path, durations: Path | None) -> dict:
    artifact = work / f"shard-{index}-of-{count}.json"
    args = [*PYTEST, "--qbench", *SELECT, "--qbench-shard", f"{index}/{count}", "--qbench-json", str(artifact)]
    if durations is not None:
        args += ["--qbench-shard-durations", str(durations)]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    cases = json.loads(artifact.read_text())["cases"]
    return {"index": index, "count": count, "exit_code": done.returncode, "seconds": seconds,
            "cases": len(cases), "variants": len({variant_of(c["nodeid"]) for c in cases}),
            "case_seconds": sum(c["seconds"] or 0 for c in cases)}


def pytest_split(count: int, durations: dict[str, float], work: Path) -> dict | None:
    """pytest-split's groups for the same cases and durations, or None where it is not installed."""
    path = work / "test_durations.json"
    path.write_text(json.dumps(durations))
    groups = []
    for group in range(1, count + 1):
        done = subprocess.run(
            [
                *PYTEST,
                "--qbench",
                *SELECT,
                "--collect-only",
                "-q",
                "--splits",
                str(count),
                "--group",
                str(group),
                "--durations-path",
                str(path),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 and "unrecognized arguments: --splits" in done.stderr:
            return None
        groups.append([line for line in done.stdout.splitlines() if "::" in line and "[" in line])
    shards_of = defaultdict(set)
    for index, ids in enumerate(groups):
        for nodeid in ids:
            shards_of[variant_of(nodeid)].add(index)
    loads = [sum(durations.get(n, 0.0) for n in ids) for ids in groups]
    return {"count": count, "cases": [len(g) for g in groups], "loads": loads,
            "split_variants": sum(len(s) > 1 for s in shards_of.values()), "variants": len(shards_of),
            "extra_builds": sum(len(s) - 1 for s in shards_of.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures"
    )
    args = parser.parse_args()
    start = run_start()
    with tempfile.TemporaryDirectory(prefix="qbench-sharding-") as tmp:
        work = Path(tmp)
        series = {1: [run_shard(1, 1, work, None)]}
        whole = json.loads((work / "shard-1-of-1.json").read_text())
        durations = {c["nodeid"]: c["seconds"] for c in whole["cases"] if c["seconds"]}
        durations_file = work / "durations.json"
        durations_file.write_text(json.dumps({"durations": durations}))
        split = [pytest_split(count, durations, work) for count in (2, 4)]
        for count in (2, 4):
            series[count] = [run_shard(i, count, work, durations_file) for i in range(1, count + 1)]
            print(series[count], flush=True)
    result = {"info": run_info(start, beside=args.beside), "series": series, "pytest_split": split}
    save_result(ROOT / "bench" / "results" / "sharding.json", result)


if __name__ == "__main__":
    main()
