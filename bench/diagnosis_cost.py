"""What a diagnosis and a repair cost on the example's static collapse (issue 12), and what they find.

Runs `pytest --qbench examples -k collapse --qbench-repair` twice on one build cache: first cold
(a new cache: the export, the graph and every candidate variant are built), then warm (the same
candidates come from the cache). Writes bench/results/diagnosis.json and replaces the
`<!-- measurement:diagnosis -->` section of docs/BENCHMARKS.md.

    .venv/bin/python bench/diagnosis_cost.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from measurement import _table, run_footer, run_info, run_start, splice  # noqa: E402 - bench/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "pytest", "--qbench", "examples", "-k", "collapse", "--qbench-repair", "-p", "no:cacheprovider"]


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


def render(runs: list[dict], info: dict) -> str:
    rows = [[r["label"], f"{r['diagnosis_seconds']:.0f} s", f"{r['repair_seconds']:.0f} s",
             f"{r['evaluations']} ({', '.join(f'{n} {s}' for s, n in r['by_split'].items())})",
             "yes" if r["budget_spent"] else "no", f"{r['session_seconds'] / 60:.1f} min", r["exit_code"]]
            for r in runs]
    case = runs[0]["case"]
    diagnosis, repair = case["diagnosis"], case["diagnosis"]["repair"]
    accuracy = case["accuracy"]
    lines = [
        "### 5. Diagnosis and repair of the static collapse",
        "",
        _table(["build cache", "diagnosis", "repair", "evaluations", "cap reached", "whole session", "exit code"], rows),
        "",
        f"- case: `{case['nodeid']}` (F1 {accuracy['original']['f1']:.4f} -> {accuracy['optimized']['f1']:.4f});"
        f" diagnosis on {diagnosis['sentences']} sentences in {diagnosis['batches']} padded batches, pre-flight and"
        f" search on {diagnosis['preflight']['samples']} sentences, confirmation on the whole split",
        f"- found: `{'`, `'.join(repair['exclusion']['families'])}` + {len(repair['exclusion']['nodes'])} nodes,"
        f" F1 {repair['f1']:.4f} (target {repair['target_f1']:.4f}), cpu speedup x{repair['speedup']:.2f}",
        "- an evaluation builds one candidate (static: calibration + quantization, ~5 s cold) and scores it on"
        " the sample (~2 s) or the whole split (~8 s); warm, the builds come from the cache",
        "",
        run_footer(info, "bench/diagnosis_cost.py", "bench/results/diagnosis.json"),
    ]
    return "\n".join(lines)


def main() -> None:
    start = run_start()
    with tempfile.TemporaryDirectory(prefix="qbench-diagnosis-") as tmp:
        work = Path(tmp)
        runs = [run(label, work / "cache", work) for label in ("cold", "warm")]
    info = run_info(start)
    (ROOT / "bench" / "results" / "diagnosis.json").write_text(json.dumps({**info, "runs": runs}, indent=1) + "\n")
    docs = ROOT / "docs" / "BENCHMARKS.md"
    docs.write_text(splice(docs.read_text(), {"diagnosis": render(runs, info)}))
    print(render(runs, info))


if __name__ == "__main__":
    main()
