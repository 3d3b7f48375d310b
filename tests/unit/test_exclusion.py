from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import helper

from pytest_qbench import QbenchConfigError
from pytest_qbench.specs import EXCLUSION_FAMILIES
from pytest_qbench.variants.exclusion import resolve_families, resolve_family


def graph(*nodes: onnx.NodeProto) -> onnx.ModelProto:
    return helper.make_model(helper.make_graph(list(nodes), "g", [], []))


def node(op: str, inputs: list[str], name: str, domain: str = "") -> onnx.NodeProto:
    return helper.make_node(op, inputs, [name + ":out"], name=name, domain=domain)


# x -> LayerNorm (decomposed, as torch exports it below opset 17) -> GELU (erf) -> residual Add
DECOMPOSED = graph(
    node("Gather", ["table", "ids"], "word"),
    node("Gather", ["table2", "pos"], "position"),
    node("Add", ["word:out", "position:out"], "embed_add"),
    node("ReduceMean", ["embed_add:out"], "ln_mean"),
    node("Sub", ["embed_add:out", "ln_mean:out"], "ln_sub"),
    node("Pow", ["ln_sub:out", "two"], "ln_pow"),
    node("ReduceMean", ["ln_pow:out"], "ln_var"),
    node("Add", ["ln_var:out", "eps"], "ln_eps"),
    node("Sqrt", ["ln_eps:out"], "ln_sqrt"),
    node("Div", ["ln_sub:out", "ln_sqrt:out"], "ln_div"),
    node("Mul", ["ln_div:out", "gamma"], "ln_gamma"),
    node("Add", ["ln_gamma:out", "beta"], "ln_beta"),
    node("MatMul", ["ln_beta:out", "w"], "scores"),
    node("Div", ["scores:out", "sqrt_d"], "scale"),  # a Div that is not a LayerNorm
    node("Add", ["scale:out", "mask"], "mask_add"),
    node("Softmax", ["mask_add:out"], "softmax"),
    node("Div", ["softmax:out", "sqrt2"], "gelu_div"),
    node("Erf", ["gelu_div:out"], "gelu_erf"),
    node("Add", ["gelu_erf:out", "one"], "gelu_add"),
    node("Mul", ["softmax:out", "gelu_add:out"], "gelu_mul"),
    node("Mul", ["gelu_mul:out", "half"], "gelu_half"),
    node("Add", ["gelu_half:out", "bias"], "bias_add"),
    node("Add", ["bias_add:out", "ln_beta:out"], "residual_add"),
)

FUSED = graph(
    node("Gather", ["table", "ids"], "word"),
    node("LayerNormalization", ["word:out", "g", "b"], "LayerNorm_0"),
    node("MatMul", ["LayerNorm_0:out", "w"], "fc"),
    node("BiasGelu", ["fc:out", "bias"], "Gelu_AddBias_0", "com.microsoft"),
    node("FastGelu", ["fc:out"], "FastGelu_0", "com.microsoft"),
    node("SkipLayerNormalization", ["Gelu_AddBias_0:out", "LayerNorm_0:out", "g", "b"], "SkipLN_0", "com.microsoft"),
)

LAYERNORM = ["ln_mean", "ln_sub", "ln_pow", "ln_var", "ln_eps", "ln_sqrt", "ln_div", "ln_gamma", "ln_beta"]


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("layernorm", LAYERNORM),
        ("gelu", ["gelu_div", "gelu_erf", "gelu_add", "gelu_mul", "gelu_half"]),
        ("residual", ["residual_add"]),
        ("gather", ["embed_add"]),
        ("softmax", ["mask_add"]),
    ],
)
def test_families_on_a_decomposed_graph(family: str, expected: list[str]) -> None:
    assert resolve_family(DECOMPOSED, family) == expected


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("layernorm", ["LayerNorm_0", "SkipLN_0"]),
        ("gelu", ["Gelu_AddBias_0", "FastGelu_0"]),
        ("residual", []),
        ("gather", []),
        ("softmax", []),
    ],
)
def test_families_on_a_fused_graph(family: str, expected: list[str]) -> None:
    assert resolve_family(FUSED, family) == expected


def test_every_family_resolves_and_unknown_ones_fail() -> None:
    assert len(resolve_families(DECOMPOSED, EXCLUSION_FAMILIES)) == 9 + 5 + 1 + 1 + 1
    assert resolve_families(DECOMPOSED, ["gather", "gather", "softmax"]) == ["embed_add", "mask_add"]
    with pytest.raises(QbenchConfigError, match="unknown exclusion family 'attention'"):
        resolve_families(DECOMPOSED, ["attention"])


def test_exported_bert_graph(tiny_bert_onnx: Path) -> None:
    model = onnx.load(str(tiny_bert_onnx / "model.onnx"))
    found = {family: resolve_family(model, family) for family in EXCLUSION_FAMILIES}
    assert len(found["layernorm"]) == 9 * 5  # embeddings + 2 per layer, 9 nodes each
    assert len(found["gelu"]) == 5 * 2
    assert found["softmax"] == [f"/bert/encoder/layer.{i}/attention/self/Add" for i in (0, 1)]
    assert found["gather"] == ["/bert/embeddings/Add", "/bert/embeddings/Add_1"]
    assert "/bert/encoder/layer.0/output/Add" in found["residual"]


def test_optimized_distilbert_graph(tiny_distilbert_onnx: Path, tmp_path: Path) -> None:
    from pytest_qbench.variants.toolchain import backend

    backend().optimize(tiny_distilbert_onnx, "model.onnx", 1, tmp_path)  # optimum's, or onnxruntime's own
    model = onnx.load(str(tmp_path / "model_optimized.onnx"))
    ops = {n.name: n.op_type for n in model.graph.node}
    layernorm = resolve_family(model, "layernorm")
    assert len(layernorm) == 5 and {ops[n] for n in layernorm} == {"LayerNormalization", "SkipLayerNormalization"}
    assert {ops[n] for n in resolve_family(model, "gelu")} == {"BiasGelu"}
    assert resolve_family(model, "gather") == ["/distilbert/embeddings/Add"]
    assert resolve_family(model, "residual") == []  # fused into SkipLayerNormalization
