"""What reusing static calibration ranges saves a repair search: static variants of the example model
that differ only in the nodes they keep in fp32, built with the ranges calibrated anew (as before) and
with the cached ranges, alternating, in one run on one machine.

The collapse's configuration (static [Add, MatMul], optimization level 0, minmax on 100 train sentences
of 128 tokens); each build excludes a different set of mask Adds, so every one is a new variant. Writes
bench/results/calibration_reuse.json and re-renders the doc blocks that read it (docs/BENCHMARKS.md §6).

    .venv/bin/python bench/calibration_reuse.py --beside "nothing" [--pairs 4]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from run_record import run_info, run_start, save_result  # noqa: E402 - bench/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4, help="builds per arm, alternating (default 4)")
    parser.add_argument("--beside", required=True, help="what else ran on the machine meanwhile, recorded with the figures")
    args = parser.parse_args()

    import onnx
    from conll_model import TRAIN_FILE, conll_dir, ensure_model
    from transformers import AutoTokenizer

    from pytest_qbench.variants.cache import BuildCache
    from pytest_qbench.variants.export import export_original
    from pytest_qbench.variants.quantize import build_variant, optimized_original
    from pytest_qbench.specs import CalibrationSpec, VariantSpec
    from pytest_qbench.measure.data import calibration_dataset, parse_conll

    start = run_start()
    cache = BuildCache()
    original = export_original(ensure_model(), 11, cache)
    consumed = optimized_original(original, 0, cache) / "model_optimized.onnx"
    adds = [n.name for n in onnx.load(str(consumed), load_external_data=False).graph.node if n.op_type == "Add"]
    inputs = [i.name for i in onnx.load(str(original / "model.onnx"), load_external_data=False).graph.input]
    data = calibration_dataset(AutoTokenizer.from_pretrained(original), parse_conll(conll_dir() / TRAIN_FILE),
                               "tokens", 100, 128, inputs)
    calibration = CalibrationSpec(num_samples=100, sequence_length=128)
    builds: dict[str, list[float]] = {"calibrated anew": [], "cached ranges": []}
    scratch = cache.root / ".bench-calibration"  # this run's variants and ranges, removed at the end
    shutil.rmtree(scratch, ignore_errors=True)
    work = BuildCache(scratch)
    # The optimized original comes from the main cache (same key, same entry name): only variants build.
    shutil.copytree(consumed.parent, scratch / consumed.parent.name)
    for index in range(2 * args.pairs):
        arm = "calibrated anew" if index % 2 == 0 else "cached ranges"
        if arm == "calibrated anew":
            for entry in work.entries():
                if entry.kind == "calibration":
                    shutil.rmtree(entry.path)
        spec = VariantSpec("static", ("Add", "MatMul"), optimization_level=0, calibration=calibration,
                           nodes_to_exclude=tuple(adds[: index + 1]))
        began = time.perf_counter()
        built = build_variant(original, spec, preset="avx512_vnni", calibration=data, cache=work)
        assert not built.cached
        builds[arm].append(time.perf_counter() - began)
        print(f"{arm}: {builds[arm][-1]:.1f} s", file=sys.stderr)
    shutil.rmtree(scratch, ignore_errors=True)
    save_result(ROOT / "bench" / "results" / "calibration_reuse.json", {**run_info(start, beside=args.beside), "builds": builds})


if __name__ == "__main__":
    main()
