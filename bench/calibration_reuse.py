"""What reusing static calibration ranges saves a repair search: static variants of the example model
that differ only in the nodes they keep in fp32, built with the ranges calibrated anew (as before) and
with the cached ranges, alternating, in one run on one machine.

The collapse's configuration (static [Add, MatMul], optimization level 0, minmax on 100 train sentences
of 128 tokens); each build excludes a different set of mask Adds, so every one is a new variant. Writes
bench/results/calibration_reuse.json and the `<!-- measurement:calibration -->` section of
docs/BENCHMARKS.md.

    .venv/bin/python bench/calibration_reuse.py [--pairs 4]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from measurement import _table, run_footer, run_info, run_start, splice  # noqa: E402 - bench/ is the script's folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4, help="builds per arm, alternating (default 4)")
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
    info = run_info(start)
    result = {**info, "builds": builds}
    (ROOT / "bench" / "results" / "calibration_reuse.json").write_text(json.dumps(result, indent=1) + "\n")
    docs = ROOT / "docs" / "BENCHMARKS.md"
    docs.write_text(splice(docs.read_text(), {"calibration": render(builds, info)}))
    print(render(builds, info))


def render(builds: dict[str, list[float]], info: dict) -> str:
    anew, cached = (statistics.median(builds[arm]) for arm in ("calibrated anew", "cached ranges"))
    rows = [[arm, len(times), f"{statistics.median(times):.1f} s", f"{min(times):.1f}–{max(times):.1f} s"]
            for arm, times in builds.items()]
    return "\n".join([
        "### 6. Static calibration reused across exclusions",
        "",
        _table(["static build of a new variant", "builds", "median", "range"], rows),
        "",
        f"- cached ranges / calibrated anew: x{cached / anew:.2f} of the build time per candidate (medians); a"
        " repair's static candidates after the first take the cached ranges, which give byte-identical"
        " variants (tests/test_variants.py)",
        "- example model, static [Add, MatMul] at optimization level 0 (the collapse), minmax on 100 train"
        " sentences of 128 tokens; each build keeps a different set of Adds in fp32; the arms alternate",
        "- §5's repair was measured before the ranges were cached: each of its static candidates calibrated"
        " anew",
        "",
        run_footer(info, "bench/calibration_reuse.py", "bench/results/calibration_reuse.json"),
    ])


if __name__ == "__main__":
    main()
