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

import onnx  # noqa: E402
from conll_model import TRAIN_FILE, VALID_FILE, conll_dir, ensure_model  # noqa: E402
from test_reference_card import REPAIRED  # noqa: E402
from transformers import AutoConfig, AutoTokenizer  # noqa: E402

from pytest_qbench.variants.cache import BuildCache  # noqa: E402
from pytest_qbench.variants.export import export_original  # noqa: E402
from pytest_qbench.variants.quantize import build_variant  # noqa: E402
from pytest_qbench.specs import DataSpec, TimingSpec, VariantSpec  # noqa: E402
from pytest_qbench.hardware import detect  # noqa: E402
from pytest_qbench.measure.data import calibration_dataset, latency_inputs, parse_conll  # noqa: E402
from pytest_qbench.measure.latency import measure  # noqa: E402
from pytest_qbench.measure.ort_session import make_ort_session  # noqa: E402
from pytest_qbench.measure.tasks import TokenClassification  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

EXCLUSIONS = {
    "none": {},
    "softmax (the mask Adds)": {"exclude": ("softmax",)},
    "the repair (examples/)": {"exclude": tuple(REPAIRED["exclude"]), "nodes_to_exclude": tuple(REPAIRED["nodes_to_exclude"])},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures")
    args = parser.parse_args()
    start = run_start()
    cache, hardware = BuildCache(), detect()
    original = export_original(str(ensure_model()), 11, cache)
    tokenizer, config = AutoTokenizer.from_pretrained(original), AutoConfig.from_pretrained(original)
    train, valid = parse_conll(conll_dir() / TRAIN_FILE), parse_conll(conll_dir() / VALID_FILE)
    inputs = [i.name for i in onnx.load(str(original / "model.onnx"), load_external_data=False).graph.input]
    calibration = calibration_dataset(tokenizer, train, "tokens", 100, 128, inputs)
    feed = latency_inputs(tokenizer, valid, "tokens", 1, 32, inputs)

    def f1(path: Path) -> float:
        return TokenClassification().evaluate(make_ort_session(path, 2), tokenizer, valid, DataSpec(None), config.id2label).f1

    rows = []
    for operators in (("Add",), ("Add", "MatMul")):
        for label, exclusion in EXCLUSIONS.items():
            if operators == ("Add",) and "repair" in label:
                continue  # found for [Add, MatMul]
            spec = VariantSpec("static", operators, optimization_level=0, **exclusion)
            built = build_variant(original, spec, preset=hardware.preset, calibration=calibration, cache=cache)
            speed = measure(lambda t: (make_ort_session(built.original, t), make_ort_session(built.optimized, t)),
                            feed, TimingSpec(threads=2), 1).cpu.speedup
            rows.append({"operators": list(operators), "exclusion": label, "fp32_f1": f1(built.original),
                         "int8_f1": f1(built.optimized), "speedup": speed.value, "ci": [speed.ci_low, speed.ci_high],
                         "excluded_nodes": len(built.quantization.excluded_nodes)})
            print(rows[-1], flush=True)
    save_result(ROOT / "bench" / "results" / "collapse.json", {**run_info(start, beside=args.beside), "rows": rows})


if __name__ == "__main__":
    main()
