"""The example gate's figures as a result file: the reference card's matrix, its collapse and repair,
and the text-classification example, measured by the plugin itself.

    .venv/bin/python bench/example_gate.py --beside "nothing"     # about 5 min with the builds cached

Runs `pytest --qbench examples -k "not hub"` (the models trained and cached beforehand, as `make demo`
does) recording baselines into a throw-away folder, so the figures are the session's own and the
committed baselines stay untouched. Writes bench/results/example-gate-<hardware key>.json (the run,
the machine, what else ran beside it, and the session's artifact) and re-renders the doc blocks that
read it: docs/RESULTS.md's tables in the reference card's layout and of the sentiment example.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO / "examples")]
from conll_model import ensure_model as conll_model  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402
from sentiment_model import ensure_model as sentiment_model  # noqa: E402
from sparse_model import LEVELS, SparseRecipe, ensure_sparse_model  # noqa: E402

SELECT = ("examples", "-k", "not hub")


def run_gate(work: Path) -> tuple[dict, int, str]:
    """The session's artifact, its exit code and the command (with the throw-away paths elided)."""
    artifact = work / "artifact.json"
    flags = ["--qbench-update-baselines", "--qbench-baselines", str(work / "baselines"), "--qbench-json", str(artifact)]
    command = [sys.executable, "-m", "pytest", "--qbench", *SELECT, "-p", "no:cacheprovider", *flags]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if not artifact.is_file():
        sys.exit(f"the gate wrote no artifact (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    shown = [".venv/bin/python", "-m", "pytest", "--qbench", *SELECT, "--qbench-update-baselines",
             "--qbench-baselines", "TMP"]
    return portable(json.loads(artifact.read_text()), {str(work): "TMP", str(REPO): ".", str(Path.home()): "~"}), \
        done.returncode, shlex.join(shown)


def portable(value: Any, paths: dict[str, str]) -> Any:
    """`value` with this machine's paths written as any reader's (the checkout as ".", the home as "~")."""
    if isinstance(value, str):
        for path, shown in paths.items():
            value = value.replace(path, shown)
        return value
    if isinstance(value, list):
        return [portable(item, paths) for item in value]
    if isinstance(value, dict):
        return {key: portable(item, paths) for key, item in value.items()}
    return value


def training_record(model: Path) -> dict:
    """What the model's training recorded (recipe, seconds, validation scores) and when it finished; the
    encoder's path is left out (a machine's path, not a figure)."""
    record = json.loads((model / "training.json").read_text())
    finished = dt.datetime.fromtimestamp((model / "training.json").stat().st_mtime, dt.timezone.utc)
    return {**{k: v for k, v in record.items() if k != "encoder"}, "finished": finished.isoformat(timespec="seconds")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures"
    )
    args = parser.parse_args()
    # trained (or found) before the clock starts, as `make demo` does
    models = (conll_model(), sentiment_model(), *(ensure_sparse_model(SparseRecipe(level)) for level in LEVELS))
    start = run_start()
    with tempfile.TemporaryDirectory(prefix="qbench-example-gate-") as tmp:
        artifact, exit_code, command = run_gate(Path(tmp))
    info = run_info(start, beside=args.beside)
    key = artifact["environment"]["hardware_key"]
    save_result(BENCH / "results" / f"example-gate-{key}.json",
                {**info, "command": command, "exit_code": exit_code,
                 "training": {model.name: training_record(model) for model in models}, "artifact": artifact})


if __name__ == "__main__":
    main()
