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
    """Each example model's folder, its validation and train splits, and its input column."""
    import conll_model
    import sentiment_model

    from pytest_qbench.measure.data import parse_conll

    folder = conll_model.conll_dir()
    reviews = sentiment_model.reviews()
    return {
        "conll2003-ner": (conll_model.ensure_model(), parse_conll(folder / conll_model.VALID_FILE),
                          parse_conll(folder / conll_model.TRAIN_FILE), "tokens"),
        "rotten-tomatoes-sentiment": (sentiment_model.ensure_model(), reviews["validation"], reviews["train"], "text"),
    }


def measure_model(model: Path, validation, train, column: str) -> dict:
    """fp32 and every approach x preset: the task's scores on the whole validation split."""
    from transformers import AutoConfig, AutoTokenizer

    from pytest_qbench.variants.cache import BuildCache
    from pytest_qbench.variants.export import export_original
    from pytest_qbench.variants.quantize import build_variant
    from pytest_qbench.specs import DataSpec, VariantSpec
    from pytest_qbench.measure.data import calibration_dataset
    from pytest_qbench.measure.ort_session import make_ort_session
    from pytest_qbench.measure.tasks import task_for

    cache = BuildCache()
    original = export_original(model, OPSET, cache)
    tokenizer, config = AutoTokenizer.from_pretrained(original), AutoConfig.from_pretrained(original)
    task = task_for(config)

    def scores(path: Path) -> dict:
        result = task.evaluate(make_ort_session(path, 2), tokenizer, validation, DataSpec(None), config.id2label)
        return {"f1": result.f1, "accuracy": result.accuracy, "average": result.average, "samples": result.num_samples}

    inputs = [i.name for i in make_ort_session(original / "model.onnx", 1).get_inputs()]
    calibration = calibration_dataset(tokenizer, train, column, 100, 128, inputs)
    rows = []
    for approach in APPROACHES:
        for preset in PRESETS:
            spec = VariantSpec(approach, ("Add", "MatMul"), preset=preset)
            built = build_variant(original, spec, preset=preset, calibration=calibration if approach == "static" else None,
                                  cache=cache)
            rows.append({"approach": approach, "preset": preset, "weights": built.quantization.weights_dtype,
                         "activations": built.quantization.activations_dtype, **scores(built.optimized)})
            print(model.name, rows[-1], file=sys.stderr, flush=True)
    return {"model": model.name, "task": type(task).__name__, "fp32": scores(original / "model.onnx"), "int8": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures")
    args = parser.parse_args()
    start = run_start()
    models = {name: measure_model(*example) for name, example in examples().items()}
    save_result(BENCH / "results" / "presets.json", {**run_info(start, beside=args.beside), "models": models})


if __name__ == "__main__":
    main()
