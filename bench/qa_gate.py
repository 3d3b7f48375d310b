"""The question-answering example's figures as a result file, beside what "Fast DistilBERT on CPUs"
published: F1/EM lost to int8 and to sparsity, throughput under a latency budget over ONNX Runtime fp32,
and, with --full-dev, the fp32 and int8 EM/F1 on all 10,570 SQuAD v1.1 dev questions once.

    .venv/bin/python bench/qa_gate.py --beside "nothing" [--full-dev]

Trains (or finds) the dense QA model first, as `make demo-qa` does; then runs `pytest --qbench
examples/qa` (every fifth dev question) in two sessions, the dense model's cases and the sparse one's,
recording baselines into a throw-away folder (into baselines/ with --update-baselines), so the figures
are the session's own; with --full-dev, the dense ONNX Runtime bs8 cases once more on the full dev set
(QBENCH_QA_SPLIT=validation), where each variant's evaluation time is the full-dev cost. Writes
bench/results/qa-gate-<hardware key>.json and re-renders docs/RESULTS.md's QA section.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "examples")]
from example_gate import portable, training_record  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402
from squad_model import ensure_model, ensure_sparse_model  # noqa: E402

# Two sessions, so that the dense model's cases can run while the sparse model is still being distilled.
DENSE = ("examples/qa", "-k", "not Sparse")
SPARSE = ("examples/qa", "-k", "Sparse")
FULL_DEV = ("examples/qa", "-k", "test_squad_int8 and not openvino and bs8")


def run_gate(work: Path, select: tuple[str, ...], split: str | None, keep_baselines: bool = False) -> dict:
    """One pytest session's artifact, its exit code and the command as a reader would type it; with
    `keep_baselines`, the baselines go to the repository's baselines/ (the example's committed ones)."""
    work.mkdir(parents=True, exist_ok=True)
    artifact = work / "artifact.json"
    where = [] if keep_baselines else ["--qbench-baselines", str(work / "baselines")]
    flags = ["--qbench-update-baselines", *where, "--qbench-json", str(artifact)]
    env = {**os.environ, **({"QBENCH_QA_SPLIT": split} if split else {})}
    command = [sys.executable, "-m", "pytest", "--qbench", *select, "-p", "no:cacheprovider", *flags]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if not artifact.is_file():
        sys.exit(f"the gate wrote no artifact (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    shown = (f"QBENCH_QA_SPLIT={split} " if split else "") + " ".join(
        [".venv/bin/python", "-m", "pytest", "--qbench", *(f'"{s}"' if " " in s else s for s in select),
         "--qbench-update-baselines", *(["--qbench-baselines", "TMP"] if where else [])])
    data = portable(json.loads(artifact.read_text()), {str(work): "TMP", str(REPO): ".", str(Path.home()): "~"})
    return {"command": shown, "exit_code": done.returncode, "artifact": data}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures"
    )
    parser.add_argument("--full-dev", action="store_true",
                        help="also score the dense model's ONNX Runtime bs8 cases on all dev questions")
    parser.add_argument("--update-baselines", action="store_true", help="record the subset's baselines into baselines/")
    args = parser.parse_args()
    dense = ensure_model()  # trained (or found) before the clock starts, as `make demo-qa` does
    start = run_start()
    plan = [("dense", DENSE, None, args.update_baselines, None),
            ("sparse", SPARSE, None, args.update_baselines, ensure_sparse_model),  # found, or waited for
            *([("full_dev", FULL_DEV, "validation", False, None)] if args.full_dev else [])]
    sessions: dict[str, dict] = {}
    models = [dense]
    with tempfile.TemporaryDirectory(prefix="qbench-qa-gate-") as tmp:
        for name, select, split, keep_baselines, model in plan:
            if model:
                models.append(model())
            sessions[name] = run_gate(Path(tmp) / name, select, split, keep_baselines)
            save(sessions, models, start, args.beside)  # after each session: a crash later keeps these


def save(sessions: dict[str, dict], models: list[Path], start: dict, beside: str) -> None:
    """The result so far: the sessions run, the training of the models they gated."""
    key = sessions["dense"]["artifact"]["environment"]["hardware_key"]
    training = {model.name: training_record(model) for model in models}
    result = {**run_info(start, beside=beside), "training": training, "sessions": sessions}
    save_result(BENCH / "results" / f"qa-gate-{key}.json", result)


if __name__ == "__main__":
    main()
