"""What a diagnosis and a repair cost on the example's static collapse (issue 12), and what they find.

Runs `pytest --qbench examples -k collapse --qbench-repair` twice on one build cache: first cold
(a new cache: the export, the graph and every candidate variant are built), then warm (the same
candidates come from the cache). Writes bench/results/diagnosis.json and re-renders the doc blocks
that read it (docs/BENCHMARKS.md §5).

    .venv/bin/python bench/diagnosis_cost.py --beside "nothing"
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from run_record import run_info, run_start, save_result  # noqa: E402 - bench/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [
    sys.executable,
    "-m",
    "pytest",
    "--qbench",
    "examples",
    "-k",
    "collapse",
    "--qbench-repair",
    "-p",
    "no:cacheprovider",
]


def run(label: str, cache: Path, work: Path) -> dict:
    artifact = work / f"{label}.json"
    start = time.perf_counter()
    done = subprocess.run([*COMMAND, "--qbench-cache-dir", str(cache), "--qbench-json", str(artifact)],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    case = json.loads(artifact.read_text())["cases"][0]
    diagnosis = case["diagnosis"]
    repair = diagnosis["repair"]
    return {
        "label": label, "exit_code": done.returncode, "session_seconds": seconds,
        "diagnosis_seconds": diagnosis["seconds"], "repair_seconds": repair["seconds"],
        "evaluations": repair["evaluations"], "by_split": dict(Counter(t["split"] for t in repair["trials"])),
        "budget_spent": repair["budget_spent"], "case": case,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures"
    )
    args = parser.parse_args()
    start = run_start()
    with tempfile.TemporaryDirectory(prefix="qbench-diagnosis-") as tmp:
        work = Path(tmp)
        runs = [run(label, work / "cache", work) for label in ("cold", "warm")]
    save_result(ROOT / "bench" / "results" / "diagnosis.json", {**run_info(start, beside=args.beside), "runs": runs})


if __name__ == "__main__":
    main()
