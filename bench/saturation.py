"""What each u8s8 saturation remedy does to F1 and to the speedup, on this CPU, for the example model.

    .venv/bin/python bench/saturation.py --beside "nothing"

Dynamic int8 [Add, MatMul] of the example (MiniLM fine-tuned on CoNLL-2003, opset 11, O1), built with
the U8S8 `avx512` preset unremedied and with each remedy, and with the U8U8 `avx2` preset. F1 on all
3250 validation sentences; wall-clock speedups over fp32 at all cores, measured side by side (the
plugin's wall-clock phase, 2 s per model) at two shapes. On a CPU without VNNI the U8S8 rows run on the
saturating kernels; on a VNNI CPU the same rows show what the remedies cost where nothing saturates.
Writes bench/results/saturation-<hardware key>.json and re-renders the doc blocks that read it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "bench")]

from conll_model import conll_dir, ensure_model  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

from pytest_qbench import CaseSpec, DataSpec, Pipeline, TimingSpec, VariantSpec  # noqa: E402

ROWS = [
    ("avx512", "none"),
    ("avx512", "reduce_range"),
    ("avx512", "u8u8"),
    ("avx512", "x64quantprecision"),
    ("avx2", "none"),
]
SHAPES = [(1, 32), (8, 128)]
TIMING = TimingSpec(wall_seconds=2.0)  # the wall-clock phase at all cores (threads None: the physical cores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures"
    )
    args = parser.parse_args()
    start, pipeline = run_start(), Pipeline()
    hardware, model, conll = pipeline.hardware, ensure_model(), str(conll_dir())

    def case(preset: str, remedy: str, batch: int, length: int):
        variant = VariantSpec("dynamic", ("Add", "MatMul"), preset=preset, saturation_remedy=remedy)
        return pipeline.case(CaseSpec(None, DataSpec(None), variant, batch, length, timing=TIMING), model, conll)

    rows = []
    for preset, remedy in ROWS:
        speedups = {}
        for batch, length in SHAPES:
            speedup = case(preset, remedy, batch, length).measurer.latency().wall_speedup
            speedups[f"bs{batch}-len{length}"] = {
                "value": speedup.value,
                "ci_low": speedup.ci_low,
                "ci_high": speedup.ci_high,
            }
        first = case(preset, remedy, *SHAPES[0])  # scores do not depend on the shape: the optimized model's,
        record = first.variant.quantization  # with the remedy's session option where it has one
        rows.append(
            {
                "preset": preset,
                "remedy": remedy,
                "weights": record.weights_dtype,
                "reduce_range": record.reduce_range,
                "f1": first.measurer.score(first.variant.optimized).f1,
                "wall_speedups": speedups,
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    fp32 = case(*ROWS[0], *SHAPES[0]).measurer
    save_result(ROOT / "bench" / "results" / f"saturation-{hardware.key}.json",
                {**run_info(start, hardware.physical_cores, args.beside), "saturates_u8s8": hardware.saturates_u8s8,
                 "fp32_f1": fp32.score(fp32.original).f1, "rows": rows})


if __name__ == "__main__":
    main()
