"""The toolchain decision (variants/toolchain.py) and the direct path (variants/with_onnxruntime.py):
torch's exporter and onnxruntime's quantizers build what optimum builds, on transformers 4 and 5."""

from __future__ import annotations

import contextlib
import importlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny_models import calibration_dataset

from pytest_qbench import QbenchBuildError
from pytest_qbench.specs import VariantSpec
from pytest_qbench.variants import toolchain
from pytest_qbench.variants.cache import BuildCache
from pytest_qbench.variants.export import export_original
from pytest_qbench.variants.quantize import BuiltVariant, build_variant
from pytest_qbench.variants.toolchain import Toolchain, ToolchainChoice, decide

# An FFN projection: kept at O1 on both stacks (transformers 5's DistilBERT attention fuses into
# com.microsoft Attention at O1, with its q_lin, k_lin and v_lin; 4.57's does not).
LIN1 = "/distilbert/transformer/layer.0/ffn/lin1/MatMul"
SPECS = [
    VariantSpec("dynamic", ("MatMul",)),
    VariantSpec("dynamic", ("Add", "MatMul")),
    VariantSpec("static", ("Add", "MatMul")),
    VariantSpec("static", ("MatMul",), optimization_level=0),
    VariantSpec("dynamic", ("MatMul",), nodes_to_exclude=(LIN1,)),
]


def optimum_usable() -> bool:
    try:
        toolchain._import_all(toolchain.OPTIMUM_MODULES)
    except Exception:  # not installed, or broken by the installed transformers
        return False
    return True


def _ok() -> None:
    pass


def _fails(error: Exception):
    def importer() -> None:
        raise error

    return importer


# ---- the decision ----------------------------------------------------------------------------------


def test_optimum_where_it_imports() -> None:
    assert decide(_ok, _ok).toolchain is Toolchain.OPTIMUM


def test_the_direct_path_where_optimum_is_missing_or_breaks_at_import() -> None:
    missing = decide(_fails(ModuleNotFoundError("No module named 'optimum'", name="optimum")), _ok)
    assert missing == ToolchainChoice(Toolchain.ONNXRUNTIME, "optimum-onnx not used: optimum not installed")
    broken = decide(_fails(ImportError("cannot import name 'is_tf_available' from 'transformers.utils'")), _ok)
    assert broken.toolchain is Toolchain.ONNXRUNTIME
    assert "ImportError: cannot import name 'is_tf_available'" in broken.reason


def test_no_toolchain_is_an_error_naming_both_failures_and_the_fix() -> None:
    optimum = _fails(ModuleNotFoundError("No module named 'optimum'", name="optimum"))
    torch = _fails(ModuleNotFoundError("No module named 'torch'", name="torch"))
    with pytest.raises(QbenchBuildError) as caught:
        decide(optimum, torch)
    message = str(caught.value)
    assert "optimum not installed" in message and "torch not installed" in message
    assert "pytest-qbench[optimum]" in message and "torch and onnxruntime" in message


def test_this_environment_uses_optimum_exactly_where_it_imports() -> None:
    expected = Toolchain.OPTIMUM if optimum_usable() else Toolchain.ONNXRUNTIME
    assert toolchain.current().toolchain is expected


# ---- builds with a chosen toolchain ----------------------------------------------------------------


@contextlib.contextmanager
def using(chosen: Toolchain) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(toolchain, "current", lambda: ToolchainChoice(chosen, "chosen by the test"))
        yield


@dataclass(frozen=True)
class Built:
    export: Path  # the folder of model.onnx
    variants: list[BuiltVariant]  # SPECS', in order (two differ only in nodes_to_exclude, not in id)

    @property
    def original(self) -> Path:
        return self.export / "model.onnx"


def build_all(model: Path, chosen: Toolchain, cache: BuildCache) -> Built:
    """The export and the SPECS' variants of `model`, built with `chosen` (a cache of its own: the
    keys do not name the toolchain, the environment decides it)."""
    with using(chosen):
        original = export_original(model, 11, cache)
        inputs = [i.name for i in onnx.load(str(original / "model.onnx")).graph.input]
        calibration = calibration_dataset(original, inputs)
        return Built(original, [build_variant(original, spec, preset="avx512_vnni", calibration=calibration,
                                              cache=cache) for spec in SPECS])


@pytest.fixture(scope="module")
def direct(tiny_distilbert: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_all(tiny_distilbert, Toolchain.ONNXRUNTIME, BuildCache(tmp_path_factory.mktemp("direct")))


def ops(path: Path) -> Counter[str]:
    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def run(path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})


def padded_feed(batch: int = 3, length: int = 12) -> dict[str, np.ndarray]:
    """Token ids with padding in two rows: a graph that dropped the attention mask would differ."""
    ids = np.random.default_rng(0).integers(5, 100, (batch, length))
    mask = np.ones((batch, length), dtype=np.int64)
    mask[1, length // 2:] = 0
    mask[2, 3:] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def test_the_direct_path_quantizes_every_matmul_asked_and_keeps_excluded_nodes(direct) -> None:
    dynamic = direct.variants[0]
    matmuls = ops(dynamic.consumed)["MatMul"]
    counts = ops(dynamic.optimized)
    assert matmuls > 0 and counts["MatMulInteger"] == matmuls and counts["MatMul"] == 0
    assert counts["DynamicQuantizeLinear"] > 0
    assert dynamic.quantization.quantized_ops == {k: v for k, v in sorted(counts.items()) if k in
                                                   {"MatMulInteger", "DynamicQuantizeLinear"}}
    assert (dynamic.quantization.activations_dtype, dynamic.quantization.weights_dtype) == ("uint8", "int8")

    excluded = direct.variants[4]
    kept = {n.name: n.op_type for n in onnx.load(str(excluded.optimized)).graph.node}
    assert kept[LIN1] == "MatMul" and ops(excluded.optimized)["MatMulInteger"] == matmuls - 1


def test_the_direct_path_builds_qdq_for_static_and_quantizes_the_exported_graph_at_level_0(direct) -> None:
    static = ops(direct.variants[2].optimized)
    assert static["QuantizeLinear"] > 0 and static["DequantizeLinear"] > 0 and static["MatMulInteger"] == 0
    unfused = direct.variants[3]  # level 0: the exported graph itself, quantized
    exported = onnx.load(str(direct.original)).graph.node
    assert [n.name for n in onnx.load(str(unfused.consumed)).graph.node] == [n.name for n in exported]
    assert ops(unfused.optimized)["QuantizeLinear"] > 0


def test_the_direct_export_matches_torch_on_padded_inputs(direct, tiny_distilbert: Path) -> None:
    import torch
    from transformers import AutoModelForTokenClassification

    feed = padded_feed()
    model = AutoModelForTokenClassification.from_pretrained(tiny_distilbert, attn_implementation="eager").eval()
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(feed["input_ids"]),
                         attention_mask=torch.tensor(feed["attention_mask"])).logits.numpy()
    (logits,) = run(direct.original, feed)
    np.testing.assert_allclose(logits, expected, atol=1e-4)


@pytest.mark.parametrize("head", ["tiny_text_classifier", "tiny_qa_model"])
def test_the_direct_export_of_the_other_heads_names_optimum_outputs_and_matches_torch(
    head: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    import torch
    import transformers

    folder = request.getfixturevalue(head)
    with using(Toolchain.ONNXRUNTIME):
        original = export_original(folder, 11, BuildCache(tmp_path / "cache"))
    graph = onnx.load(str(original / "model.onnx")).graph
    outputs = ["logits"] if head == "tiny_text_classifier" else ["start_logits", "end_logits"]
    assert [o.name for o in graph.output] == outputs
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    auto = "AutoModelForSequenceClassification" if head == "tiny_text_classifier" else "AutoModelForQuestionAnswering"
    model = getattr(transformers, auto).from_pretrained(folder, attn_implementation="eager").eval()
    for batch, length in [(1, 7), (3, 12)]:  # dynamic axes: shapes other than the exporter's dummy
        feed = padded_feed(batch, length) if batch == 3 else {k: v[:1, :7] for k, v in padded_feed().items()}
        with torch.no_grad():
            expected = model(**{k: torch.tensor(v) for k, v in feed.items()})
        for name, value in zip(outputs, run(original / "model.onnx", feed), strict=True):
            np.testing.assert_allclose(value, expected[name].numpy(), atol=1e-4)


# ---- the two paths side by side (where optimum imports) --------------------------------------------


@pytest.mark.parametrize("model", ["tiny_distilbert", "tiny_bert"])
def test_the_two_paths_build_the_same_graphs_scores_and_records(
    model: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if not optimum_usable():
        pytest.skip("optimum-onnx is not usable here (not installed, or broken by transformers 5): nothing to compare")
    folder = request.getfixturevalue(model)
    paths = {chosen: build_all(folder, chosen, BuildCache(tmp_path / chosen.value)) for chosen in Toolchain}
    with_optimum, direct_path = paths[Toolchain.OPTIMUM], paths[Toolchain.ONNXRUNTIME]
    names = [n.name for n in onnx.load(str(with_optimum.original)).graph.node]
    assert [n.name for n in onnx.load(str(direct_path.original)).graph.node] == names  # nodes_to_exclude hold
    pairs = [("export", with_optimum.original, direct_path.original)]
    for spec, built, other in zip(SPECS, with_optimum.variants, direct_path.variants, strict=True):
        assert ops(other.optimized) == ops(built.optimized), spec
        assert other.quantization == built.quantization, spec
        pairs.append((str(spec), built.optimized, other.optimized))
    feed = padded_feed()
    for what, first, second in pairs:
        (a,), (b,) = run(first, feed), run(second, feed)
        np.testing.assert_allclose(b, a, atol=1e-5, err_msg=what)
        assert (a.argmax(-1) == b.argmax(-1)).all(), what


def test_the_toolchain_modules_import_only_their_own_stack() -> None:
    # with_optimum must not be needed on the direct path: nothing else in the package imports optimum.
    import pytest_qbench.variants as variants

    imports = re.compile(r"^\s*(from|import) optimum\b", re.MULTILINE)
    sources = Path(variants.__file__).parent.parent.rglob("*.py")
    users = sorted(p.name for p in sources if imports.search(p.read_text()) and p.name != "with_optimum.py")
    assert users == [], f"modules importing optimum outside with_optimum.py: {users}"
    importlib.import_module("pytest_qbench.variants.with_onnxruntime")
