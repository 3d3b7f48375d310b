"""The reference card's static collapse on the example model, and what excluding nodes buys back.

Static int8 of the unfused graph (optimization_level 0, the card's other parameters), for [Add] and
[Add, MatMul], with no exclusion, with the attention-mask Adds excluded (`exclude=["softmax"]`, the
manual fix) and with the exclusion `--qbench-repair` found (examples/test_reference_card.py): F1 on
the whole validation split and the one-thread CPU-time speedup over fp32 at bs1 len32, measured side
by side in one process. Writes bench/results/collapse.json and re-renders the doc blocks that read it
(docs/RESULTS.md).

    .venv/bin/python bench/collapse.py --beside "nothing"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "bench")]

from conll_model import conll_dir, ensure_model  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402
from test_reference_card import REPAIRED  # noqa: E402

from pytest_qbench import CaseSpec, DataSpec, Pipeline, TimingSpec, VariantSpec  # noqa: E402

EXCLUSIONS = {
    "none": {},
    "softmax (the mask Adds)": {"exclude": ("softmax",)},
    "the repair (examples/)": {
        "exclude": tuple(REPAIRED["exclude"]),
        "nodes_to_exclude": tuple(REPAIRED["nodes_to_exclude"]),
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures"
    )
    args = parser.parse_args()
    start = run_start()
    pipeline, model, conll = Pipeline(), ensure_model(), str(conll_dir())
    rows = []
    for operators in (("Add",), ("Add", "MatMul")):
        for label, exclusion in EXCLUSIONS.items():
            if operators == ("Add",) and "repair" in label:
                continue  # found for [Add, MatMul]
            # Calibrated on 100 train sentences of 128 tokens (the default), scored on the whole validation
            # split, timed at bs1 len32 (the CPU phase on one thread; the wall-clock phase at 2).
            spec = CaseSpec(None, DataSpec(None), VariantSpec("static", operators, optimization_level=0, **exclusion),
                            batch_size=1, sequence_length=32, timing=TimingSpec(threads=2))
            case = pipeline.case(spec, model, conll)
            built = case.variant
            fp32, int8 = case.measurer.accuracy()
            speed = case.measurer.latency().cpu.speedup
            rows.append({"operators": list(operators), "exclusion": label, "fp32_f1": fp32.f1,
                         "int8_f1": int8.f1, "speedup": speed.value, "ci": [speed.ci_low, speed.ci_high],
                         "excluded_nodes": len(built.quantization.excluded_nodes)})
            print(rows[-1], flush=True)
    save_result(ROOT / "bench" / "results" / "collapse.json", {**run_info(start, beside=args.beside), "rows": rows})


if __name__ == "__main__":
    main()
