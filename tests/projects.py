"""Small qbench projects for pytester: the tiny DistilBERT, a CoNLL folder, fast timing.

Import this module before running pytester in process: it imports the heavy stack first.
"""

from __future__ import annotations

from pathlib import Path

# Imported here, outside pytester's inner runs: in-process runs unload the modules they imported,
# and pyarrow cannot register `datasets`' extension types a second time.
# The same holds for the exporter's and the quantizer's modules: re-imported, their extension
# modules abort the process, and optimum's lazily imported classes stop matching their old selves.
import datasets  # noqa: F401
import onnxruntime.quantization  # noqa: F401
import onnxruntime.tools.symbolic_shape_infer  # noqa: F401
import pytest
import seqeval.metrics  # noqa: F401
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer  # noqa: F401

from pytest_qbench.variants.toolchain import Toolchain, current

# current() imports the chosen toolchain's modules (optimum's, or torch's exporter and onnxruntime's own).
if current().toolchain is Toolchain.OPTIMUM:
    from optimum.onnxruntime import ORTOptimizer, ORTQuantizer  # noqa: F401

try:  # the openvino extra, where it is installed, for the same reason
    import nncf  # noqa: F401
    import openvino  # noqa: F401
except ImportError:
    pass

from tiny_models import SENTENCES, TAGS


def conll(sentences=SENTENCES * 3, tags=TAGS) -> str:
    lines = ["-DOCSTART- -X- -X- O", ""]
    for sentence in sentences:
        lines += [f"{word} NN O {tags.get(word, 'O')}" for word in sentence.split()] + [""]
    return "\n".join(lines)


def make_project(pytester: pytest.Pytester, model: Path, cache_root: Path, test_file: str, dataset: Path | None = None,
                 **ini: object) -> Path:
    """A project gating `model` on `dataset` (default: a small CoNLL folder it writes) with `test_file`."""
    data = pytester.path / "data"
    data.mkdir(exist_ok=True)
    for split in ("train", "valid"):
        (data / f"{split}.txt").write_text(conll())
    dataset = dataset or data
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture(scope="session")
        def qbench_model():
            return {str(model)!r}

        @pytest.fixture(scope="session")
        def qbench_dataset():
            return {str(dataset)!r}
        """
    )
    # These projects test the gate's logic on a ~1 ms tiny model timed for a fraction of a second
    # beside another xdist worker, where a few pairs decide: the latency gate is opened wide (limits
    # of 21x the baseline); tests of the latency policy itself use test_policy.py's synthetic results.
    settings = {"qbench_cache_dir": cache_root, "qbench_min_seconds": 0.05, "qbench_max_seconds": 0.3,
                "qbench_min_pairs": 6, "qbench_wall_seconds": 0.05, "qbench_speedup_rtol": 20,
                "qbench_cpu_time_rtol": 20, **ini}
    pytester.makeini("[pytest]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    pytester.makepyfile(test_tiny=test_file)
    return pytester.path
