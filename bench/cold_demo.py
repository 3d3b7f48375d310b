"""A new user's first `make demo`, step by step, on a machine that has trained and built nothing (issue 30's
targets, the install counted out: 12 min on the AMX class, 25 min on an AVX2-only 2-core machine).

    PYTHONPATH=. .venv/bin/python bench/cold_demo.py --beside "what else runs"

The steps are the Makefile's (`make -n -o .venv/.installed demo`), each its own process from this checkout,
with QBENCH_CACHE_DIR and HF_DATASETS_CACHE pointed into an empty throw-away folder: the example models are
fine-tuned, their variants built and the packaged data converted as on a new machine (the venv is `make
install`'s, counted out).
The gate reads a copy of the baselines the repository commits (so a failed case's .obtained.json stays
out of the checkout) and writes its reports and artifact into the throw-away folder. Recorded per step:
its command, wall seconds and exit code; per model trained, its training record (seconds, steps, bf16,
validation scores); of the gate, its cases by verdict and its cases' seconds summed. Written to
bench/results/cold-demo-<hardware key>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
from renderers.common import verdict_counts  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

REPORTS = ".qbench/"  # where the Makefile's gate step writes its reports


def demo_steps(target: str = "demo") -> list[list[str]]:
    """The commands `make <target>` runs after the install, as the Makefile says them, for the default stack
    (a `make` this runs under, such as `make test STACK=...`, passes its variables on through MAKEFLAGS)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    listed = subprocess.run(["make", "-s", "-n", "-o", ".venv/.installed", target, f"PY={sys.executable}"], cwd=REPO,
                            env=env, capture_output=True, text=True, check=True).stdout
    return [shlex.split(line) for line in listed.splitlines() if line.strip() and not line.startswith("#")]


def in_scratch(command: list[str], scratch: Path) -> list[str]:
    """`command` with its report paths moved into `scratch`; the gate step also gets its baselines copy and artifact."""
    moved = [str(scratch / arg.removeprefix(REPORTS)) if arg.startswith(REPORTS) else arg for arg in command]
    if "--qbench" in command:
        moved += ["--qbench-baselines", str(scratch / "baselines"), "--qbench-json", str(scratch / "artifact.json")]
    return moved


def run_step(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    print(f"$ {shlex.join(command)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, check=False)
    return {"command": shlex.join(command), "seconds": time.perf_counter() - started, "exit_code": done.returncode}


def trained(cache: Path) -> dict[str, Any]:
    """What each model fine-tuned into `cache` recorded (its encoder's path left out: a machine's path)."""
    records = sorted((cache / "models").glob("*/training.json"))
    return {path.parent.name: {k: v for k, v in json.loads(path.read_text()).items() if k != "encoder"}
            for path in records}


def gate_summary(artifact: dict[str, Any]) -> dict[str, Any]:
    cases = artifact["cases"]
    return {"cases": len(cases), "verdicts": verdict_counts(cases),
            "case_seconds": sum(c["seconds"] or 0 for c in cases)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beside", required=True, help="what else ran on the machine meanwhile")
    args = parser.parse_args()
    start = run_start()
    with tempfile.TemporaryDirectory(prefix="qbench-cold-demo-") as tmp:
        scratch = Path(tmp)
        shutil.copytree(REPO / "baselines", scratch / "baselines")
        env = {**os.environ, "QBENCH_CACHE_DIR": str(scratch / "cache"), "HF_DATASETS_CACHE": str(scratch / "hf")}
        steps = [run_step(in_scratch(command, scratch), env) for command in demo_steps()]
        artifact = scratch / "artifact.json"
        gate = gate_summary(json.loads(artifact.read_text())) if artifact.is_file() else None
        models = trained(scratch / "cache")
    for step in steps:
        step["command"] = step["command"].replace(tmp, "TMP").replace(f"{REPO}/", "")
    info = run_info(start, beside=args.beside)
    save_result(BENCH / "results" / f"cold-demo-{info['machine']['hardware_key']}.json",
                {**info, "command": "bench/cold_demo.py", "steps": steps, "gate": gate, "models": models})


if __name__ == "__main__":
    main()
