"""Int8 accuracy of the example models under each x86 quantization preset, on this CPU.

    .venv/bin/python bench/presets.py --beside "nothing"      # about 5 min; no timing

The preset `auto` picks follows the CPU's int8 kernel tier: `avx512_vnni` (U8S8) on AMX and AVX-512
VNNI CPUs, `avx512` (U8S8) on AVX-512 without VNNI, `avx2` (U8U8) below. On a CPU with VNNI every
one of these models runs on exact kernels, so their F1s here are what each CPU class scores with the
preset it picks, except U8S8 on a CPU without VNNI, whose kernels can saturate (bench/saturation.py).
The gate compares accuracy across hardware keys within `accuracy_atol`: these figures say whether
that holds for the examples.

For both example models (CoNLL-2003 NER, Rotten Tomatoes sentiment), dynamic and static int8 of
[Add, MatMul] as the examples build them (opset 11, optimization level 1; static: minmax on 100
train samples of 128 tokens), scored on the whole validation split. Writes bench/results/presets.json
and re-renders the doc blocks that read it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent / "examples")]
from run_record import run_info, run_start, save_result  # noqa: E402

PRESETS = ("avx512_vnni", "avx512", "avx2")
APPROACHES = ("dynamic", "static")
OPSET = 11


def examples() -> dict:
    """Each example model's folder and its dataset (train and validation splits)."""
    import conll_model
    import sentiment_model

    return {
        "conll2003-ner": (conll_model.ensure_model(), str(conll_model.conll_dir())),
        "rotten-tomatoes-sentiment": (sentiment_model.ensure_model(), sentiment_model.reviews()),
    }


def measure_model(model: Path, dataset) -> dict:
    """fp32 and every approach x preset: the task's scores on the whole validation split (2 threads)."""
    from pytest_qbench import CaseSpec, DataSpec, Pipeline, TimingSpec, VariantSpec

    pipeline = Pipeline()

    def case(approach: str, preset: str):  # static: minmax on 100 train samples of 128 tokens (the default)
        spec = CaseSpec(None, DataSpec(None), VariantSpec(approach, ("Add", "MatMul"), opset=OPSET, preset=preset),
                        batch_size=1, sequence_length=128, timing=TimingSpec(threads=2))
        return pipeline.case(spec, model, dataset)

    def scores(measurer, path: Path) -> dict:
        result = measurer.score(path)
        return {"f1": result.f1, "accuracy": result.accuracy, "average": result.average, "samples": result.num_samples}

    rows = []
    for approach in APPROACHES:
        for preset in PRESETS:
            built = case(approach, preset)
            quantization = built.variant.quantization
            rows.append({"approach": approach, "preset": preset, "weights": quantization.weights_dtype,
                         "activations": quantization.activations_dtype,
                         **scores(built.measurer, built.variant.optimized)})
            print(model.name, rows[-1], file=sys.stderr, flush=True)
    any_case = case(APPROACHES[0], PRESETS[0])  # each one's original is the fp32 model
    return {"model": model.name, "task": type(any_case.task).__name__,
            "fp32": scores(any_case.measurer, any_case.measurer.original), "int8": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures"
    )
    args = parser.parse_args()
    start = run_start()
    models = {name: measure_model(*example) for name, example in examples().items()}
    save_result(BENCH / "results" / "presets.json", {**run_info(start, beside=args.beside), "models": models})


if __name__ == "__main__":
    main()
