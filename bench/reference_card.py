"""Our figures beside the reference benchmark card's, in the card's layout.

    .venv/bin/python bench/reference_card.py .qbench/results.json > docs/RESULTS-tables.md

Reads a qbench JSON artifact of the example matrix and docs/reference-card.md (a copy of the
Optimum card). Each cell reads "ours (reference)". The card's throughput is model calls per second
(1000 / latency for every batch size); ours is samples per second, so the tables show ours in the
card's unit and add the wall-clock speedup (the card's kind; qbench gates the one-thread CPU-time one).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

CARD = Path(__file__).resolve().parents[1] / "docs" / "reference-card.md"
ROW = re.compile(r"^\| `(\w+)` \| `\[(.*?)\]` \|(.*)$")
SHAPE = re.compile(r"batch size = (\d+), input length = (\d+)")
ACCURACY = ("precision", "recall", "f1", "accuracy")


def _operators(text: str) -> str:
    return "+".join(op.strip(" '") for op in text.split(","))


def read_card(path: Path = CARD) -> tuple[dict, dict]:
    """Non-time rows {(approach, ops): [8 numbers]} and time rows {(bs, len, approach, ops): [4 numbers]}."""
    accuracy, timing, shape = {}, {}, None
    for line in path.read_text().splitlines():
        if match := SHAPE.search(line):
            shape = (int(match[1]), int(match[2]))
        elif match := ROW.match(line):
            numbers = [float(x) for x in re.findall(r"\d+\.\d+", match[3])]
            key = (match[1], _operators(match[2]))
            if shape is None:
                accuracy[key] = numbers
            else:
                timing[(*shape, *key)] = numbers
    return accuracy, timing


def _pair(ours: float | None, reference: float, digits: int) -> str:
    return f"{'–' if ours is None else f'{ours:.{digits}f}'} ({reference:.{digits}f})"


def accuracy_table(cases: list[dict], reference: dict) -> list[str]:
    header = ["quantization_approach", "operators_to_quantize"]
    for metric in ACCURACY:
        header += [f"{metric} (original)", f"{metric} (optimized)"]
    lines = ["| " + " | ".join(header) + " |", "|" + " :-: |" * len(header)]
    seen = {}
    for case in cases:
        seen.setdefault((case["approach"], "+".join(case["operators"])), case)
    for key, numbers in reference.items():
        case = seen.get(key)
        cells = [f"`{key[0]}`", f"`{key[1]}`"]
        for i, metric in enumerate(ACCURACY):
            for j, side in enumerate(("original", "optimized")):
                ours = None if case is None or case["accuracy"][side] is None else case["accuracy"][side][metric]
                cells.append(_pair(ours, numbers[2 * i + j], 3))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def time_tables(cases: list[dict], reference: dict) -> list[str]:
    by_key = {(c["batch_size"], c["sequence_length"], c["approach"], "+".join(c["operators"])): c for c in cases}
    lines, shape = [], None
    header = ["quantization_approach", "operators_to_quantize", "latency_mean (original, ms)",
              "latency_mean (optimized, ms)", "calls/s (original)", "calls/s (optimized)", "wall speedup [95% CI] (reference)"]
    for (bs, length, approach, ops), numbers in reference.items():
        if (bs, length) != shape:
            shape = (bs, length)
            lines += ["", f"Batch size = {bs}, input length = {length}.", "",
                      "| " + " | ".join(header) + " |", "|" + " :-: |" * len(header)]
        latency = (by_key.get((bs, length, approach, ops)) or {}).get("latency")
        means = (None, None) if latency is None else (latency["original"]["mean_ms"], latency["optimized"]["mean_ms"])
        calls = tuple(None if m is None else 1000 / m for m in means)
        ref_speedup = numbers[0] / numbers[1]
        if latency is None:
            speedup = f"– ({ref_speedup:.2f})"
        else:
            s = latency["wall_speedup"]
            speedup = f"{s['value']:.2f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}] ({ref_speedup:.2f})"
        lines.append("| " + " | ".join([
            f"`{approach}`", f"`{ops}`", _pair(means[0], numbers[0], 2), _pair(means[1], numbers[1], 2),
            _pair(calls[0], numbers[2], 2), _pair(calls[1], numbers[3], 2), speedup,
        ]) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=Path, help="qbench JSON artifact of the example matrix")
    args = parser.parse_args()
    artifact = json.loads(args.artifact.read_text())
    cases = [c for c in artifact["cases"] if "from_hub" not in c["test"]]
    accuracy, timing = read_card()
    env = artifact["environment"]
    print(f"Measured on {env['brand']}, {env['physical_cores']} cores, key `{env['hardware_key']}`, "
          f"onnxruntime {env['libraries'].get('onnxruntime')}, {env['created']}. Cells: ours (reference).\n")
    print("## Non-time metrics\n")
    print("\n".join(accuracy_table(cases, accuracy)))
    print("\n## Time metrics")
    print("\n".join(time_tables(cases, timing)))


if __name__ == "__main__":
    main()
