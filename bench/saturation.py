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

from conll_model import VALID_FILE, conll_dir, ensure_model  # noqa: E402
from run_record import run_info, run_start, save_result  # noqa: E402

from pytest_qbench.variants.cache import BuildCache, default_cache_root  # noqa: E402
from pytest_qbench.variants.export import export_original  # noqa: E402
from pytest_qbench.variants.quantize import build_variant  # noqa: E402
from pytest_qbench.specs import DataSpec, TimingSpec, VariantSpec  # noqa: E402
from pytest_qbench.hardware import detect  # noqa: E402
from pytest_qbench.measure.data import latency_inputs, parse_conll  # noqa: E402
from pytest_qbench.measure.latency import measure  # noqa: E402
from pytest_qbench.measure.ort_session import make_ort_session  # noqa: E402
from pytest_qbench.measure.tasks import TokenClassification  # noqa: E402

ROWS = [("avx512", "none"), ("avx512", "reduce_range"), ("avx512", "u8u8"), ("avx512", "x64quantprecision"), ("avx2", "none")]
SHAPES = [(1, 32), (8, 128)]
TIMING = TimingSpec(wall_seconds=2.0)


def main() -> None:
    from transformers import AutoConfig, AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures")
    args = parser.parse_args()
    start, hardware = run_start(), detect()
    cache = BuildCache(default_cache_root())
    original = export_original(ensure_model(), 11, cache)
    tokenizer, config = AutoTokenizer.from_pretrained(original), AutoConfig.from_pretrained(original)
    validation = parse_conll(conll_dir() / VALID_FILE)
    threads = hardware.physical_cores

    def f1(session) -> float:
        return TokenClassification().evaluate(session, tokenizer, validation, DataSpec(None), config.id2label).f1

    fp32 = make_ort_session(original / "model.onnx", threads)
    names = [i.name for i in fp32.get_inputs()]
    inputs = {shape: latency_inputs(tokenizer, validation, "tokens", *shape, names) for shape in SHAPES}
    rows = []
    for preset, remedy in ROWS:
        spec = VariantSpec("dynamic", ("Add", "MatMul"), preset=preset, saturation_remedy=remedy)
        variant = build_variant(original, spec, preset=preset, calibration=None, cache=cache)

        def sessions(n: int, optimized=variant.optimized, config=spec.ort_config_entries) -> tuple:
            return make_ort_session(original / "model.onnx", n), make_ort_session(optimized, n, config)

        record = variant.quantization
        speedups = {}
        for batch, length in SHAPES:
            speedup = measure(sessions, inputs[(batch, length)], TIMING, batch).wall_speedup
            speedups[f"bs{batch}-len{length}"] = {"value": speedup.value, "ci_low": speedup.ci_low, "ci_high": speedup.ci_high}
        rows.append({"preset": preset, "remedy": remedy, "weights": record.weights_dtype, "reduce_range": record.reduce_range,
                     "f1": f1(make_ort_session(variant.optimized, threads, spec.ort_config_entries)), "wall_speedups": speedups})
        print(rows[-1], file=sys.stderr, flush=True)
    save_result(ROOT / "bench" / "results" / f"saturation-{hardware.key}.json",
                {**run_info(start, threads, args.beside), "saturates_u8s8": hardware.saturates_u8s8,
                 "fp32_f1": f1(fp32), "rows": rows})


if __name__ == "__main__":
    main()
