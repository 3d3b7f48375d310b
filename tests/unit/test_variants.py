from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny_models import TRANSFORMERS_5, calibration_dataset

from pytest_qbench import QbenchBuildError, QbenchCacheWarning, QbenchModelError, QbenchModelWarning
from pytest_qbench.results import OriginalRecord
from pytest_qbench.specs import CalibrationSpec, VariantSpec
from pytest_qbench.variants.cache import MANIFEST, BuildCache
from pytest_qbench.variants.export import export_original
from pytest_qbench.variants.inspect import original_record
from pytest_qbench.variants.quantize import BuiltVariant, build_variant

PRESET = "avx512_vnni"
# FFN projections: kept at O1 on both tested stacks (transformers 5's DistilBERT attention, q_lin, k_lin
# and v_lin with it, fuses into com.microsoft Attention at O1; 4.57's does not).
LIN1 = "/distilbert/transformer/layer.0/ffn/lin1/MatMul"
LIN2 = "/distilbert/transformer/layer.0/ffn/lin2/MatMul"
O1_MATMULS = 7 if TRANSFORMERS_5 else 17  # the MatMuls left at O1: 2 layers x 3 (x 8 unfused) + the classifier
EMBED_ADD = "/distilbert/embeddings/Add"
DYNAMIC_OPS = {"MatMulInteger", "DynamicQuantizeLinear"}
STATIC_OPS = {"QuantizeLinear", "DequantizeLinear"}
MATRIX = [
    VariantSpec("dynamic", ("Add", "MatMul")),
    VariantSpec("dynamic", ("Add",)),
    VariantSpec("static", ("Add", "MatMul")),
    VariantSpec("static", ("Add",)),
]


def input_names(onnx_file: Path) -> list[str]:
    return [i.name for i in onnx.load(str(onnx_file), load_external_data=False).graph.input]


@pytest.fixture(scope="module")
def calibration(tiny_distilbert_onnx: Path):
    return calibration_dataset(tiny_distilbert_onnx, input_names(tiny_distilbert_onnx / "model.onnx"))


@pytest.fixture(scope="module")
def build(tiny_distilbert_onnx: Path, calibration, tiny_build_cache: BuildCache):
    def build(spec: VariantSpec, **kwargs) -> BuiltVariant:
        args = {"preset": PRESET, "calibration": calibration, "cache": tiny_build_cache, **kwargs}
        return build_variant(tiny_distilbert_onnx, spec, **args)

    return build


@pytest.fixture(scope="module")
def matrix(build) -> dict[str, BuiltVariant]:
    return {spec.id: build(spec) for spec in MATRIX}


def nodes(path: Path) -> dict[str, onnx.NodeProto]:
    return {n.name: n for n in onnx.load(str(path)).graph.node}


def qdq_quantized(graph: dict[str, onnx.NodeProto], node: onnx.NodeProto) -> bool:
    """In QDQ format a node runs in int8 when every input comes out of a DequantizeLinear."""
    produced = {out: n.op_type for n in graph.values() for out in n.output}
    return all(produced.get(i) == "DequantizeLinear" for i in node.input)


def run(variant: BuiltVariant, path: Path) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {name: np.ones((2, 8), dtype=np.int64) for name in input_names(path)}
    return session.run(None, feed)[0]


@pytest.mark.parametrize("spec", MATRIX, ids=[s.id for s in MATRIX])
def test_record_matches_the_graph(matrix, spec: VariantSpec) -> None:
    built = matrix[spec.id]
    counts = Counter(n.op_type for n in nodes(built.optimized).values())
    record = built.quantization
    assert record.preset == PRESET and record.excluded_nodes == []
    assert record.quantized_ops == {op: counts[op] for op in record.quantized_ops}
    assert built.original.name == "model.onnx" and (built.model_dir / "config.json").is_file()
    assert (built.model_dir / "tokenizer.json").is_file()
    assert run(built, built.optimized).shape == run(built, built.original).shape == (2, 8, 9)


def test_dynamic_matmul_becomes_integer_matmul(matrix) -> None:
    built = matrix["dynamic-Add+MatMul"]
    assert set(built.quantization.quantized_ops) == DYNAMIC_OPS
    assert built.quantization.quantized_ops["MatMulInteger"] == O1_MATMULS
    assert built.quantization.note is None


def test_dynamic_add_only_says_it_quantized_nothing(matrix) -> None:
    record = matrix["dynamic-Add"].quantization
    assert record.quantized_ops == {}
    assert "dynamic quantization of ['Add'] quantized nothing" in record.note
    assert "no dynamic (integer) kernel for Add" in record.note


def test_static_emits_qdq_around_the_chosen_ops(matrix) -> None:
    for spec_id, quantized in (("static-Add+MatMul", {"Add", "MatMul"}), ("static-Add", {"Add"})):
        built = matrix[spec_id]
        assert set(built.quantization.quantized_ops) == STATIC_OPS
        graph = nodes(built.optimized)
        for node in graph.values():
            if node.op_type in ("Add", "MatMul"):
                assert qdq_quantized(graph, node) == (node.op_type in quantized), (spec_id, node.name)


def test_excluded_nodes_stay_fp32(build) -> None:
    spec = VariantSpec("static", ("Add", "MatMul"), exclude=("gather", "softmax"),
                       nodes_to_exclude=(LIN1, "no/such/node"))
    built = build(spec)
    record = built.quantization
    assert record.excluded_nodes == [EMBED_ADD, LIN1]
    assert "'softmax' matched no node" in record.note and "no/such/node" in record.note
    graph = nodes(built.optimized)
    assert not qdq_quantized(graph, graph[EMBED_ADD])
    weights = {
        t.name for t in onnx.load(str(built.optimized)).graph.initializer if t.data_type == onnx.TensorProto.FLOAT
    }
    assert graph[LIN1].input[1] in weights  # the weight itself stayed fp32
    assert qdq_quantized(graph, graph[LIN2])


def test_dynamic_exclusion_keeps_float_matmul(build) -> None:
    built = build(VariantSpec("dynamic", ("MatMul",), nodes_to_exclude=(LIN1,)))
    graph = nodes(built.optimized)
    assert graph[LIN1].op_type == "MatMul"
    assert sum(n.op_type == "MatMulInteger" for n in graph.values()) == O1_MATMULS - 1


def test_unoptimized_graph_and_layernorm_family(build) -> None:
    built = build(VariantSpec("static", ("Add",), optimization_level=0, exclude=("layernorm",)))
    graph = nodes(built.optimized)
    assert len(built.quantization.excluded_nodes) == 5 * 9
    assert "/distilbert/embeddings/LayerNorm/ReduceMean" in graph  # not fused: level 0 skips optimisation
    excluded_adds = [n for n in built.quantization.excluded_nodes if graph[n].op_type == "Add"]
    assert len(excluded_adds) == 5 * 2
    for name in excluded_adds:
        assert not qdq_quantized(graph, graph[name])
    assert qdq_quantized(graph, graph[EMBED_ADD])


def _no_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    def build(*_args: object) -> None:
        raise AssertionError("built again: the cache was missed")

    monkeypatch.setattr(BuildCache, "_build", build)


def test_second_build_is_cached(matrix, build, monkeypatch) -> None:
    first = matrix["static-Add+MatMul"]
    _no_builds(monkeypatch)  # neither the export, the calibration ranges nor the quantized model
    again = build(MATRIX[2])
    assert again.cached
    assert (again.optimized, again.quantization) == (first.optimized, first.quantization)


def test_cache_key_follows_what_changes_the_bytes(matrix, build, calibration) -> None:
    dynamic = matrix["dynamic-Add+MatMul"]
    # dynamic quantization does not read calibration settings or data
    other = VariantSpec("dynamic", ("Add", "MatMul"), calibration=CalibrationSpec(method="entropy"))
    assert build(other, calibration=None).cached
    assert build(MATRIX[0], preset="avx2").quantization.preset == "avx2"
    explicit = build(VariantSpec("dynamic", ("Add", "MatMul"), preset="arm64"), preset="avx2")
    assert explicit.quantization.preset == "arm64" and explicit.optimized != dynamic.optimized
    fewer = build(MATRIX[3], calibration=calibration.select(range(4)))
    assert not fewer.cached and fewer.optimized != matrix["static-Add"].optimized


def test_corrupt_entry_is_rebuilt(tiny_distilbert_onnx: Path, calibration, tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    spec = VariantSpec("dynamic", ("MatMul",))
    built = build_variant(tiny_distilbert_onnx, spec, preset=PRESET, calibration=None, cache=cache)
    built.optimized.write_bytes(built.optimized.read_bytes()[:100])
    with pytest.warns(QbenchCacheWarning, match="truncated"):
        again = build_variant(tiny_distilbert_onnx, spec, preset=PRESET, calibration=None, cache=cache)
    assert not again.cached and again.quantization == built.quantization
    assert run(again, again.optimized).shape == (2, 8, 9)


def test_build_errors_name_the_variant(tiny_distilbert_onnx: Path, calibration, tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "cache")
    static = VariantSpec("static", ("MatMul",))
    with pytest.raises(QbenchBuildError, match="static-MatMul: static quantization needs calibration"):
        build_variant(tiny_distilbert_onnx, static, preset=PRESET, calibration=None, cache=cache)
    with pytest.raises(QbenchBuildError, match="calibration columns .* are not the model inputs"):
        build_variant(tiny_distilbert_onnx, static, preset=PRESET, cache=cache,
                      calibration=calibration.remove_columns("attention_mask"))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_distilbert_onnx, broken)
    (broken / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(QbenchBuildError, match="dynamic-MatMul failed at graph optimisation"):
        build_variant(broken, VariantSpec("dynamic", ("MatMul",)), preset=PRESET, calibration=None, cache=cache)
    entries = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    # no half-built entry, no variant: only the optimized graph the columns check ran on
    assert [json.loads((p / MANIFEST).read_text())["key"]["kind"] for p in entries] == ["optimized"]


def test_bert_with_token_type_ids(tiny_bert_onnx: Path, tiny_build_cache: BuildCache) -> None:
    names = input_names(tiny_bert_onnx / "model.onnx")
    assert "token_type_ids" in names
    data = calibration_dataset(tiny_bert_onnx, names)
    built = build_variant(tiny_bert_onnx, VariantSpec("static", ("Add", "MatMul")), preset="avx2",
                          calibration=data, cache=tiny_build_cache)
    assert set(built.quantization.quantized_ops) == STATIC_OPS
    assert run(built, built.optimized).shape == (2, 8, 9)


# ---- export_original --------------------------------------------------------------------------


def test_export_is_cached(tiny_distilbert: Path, tiny_distilbert_onnx: Path, tiny_build_cache: BuildCache,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(input_names(tiny_distilbert_onnx / "model.onnx")) == {"input_ids", "attention_mask"}
    assert (tiny_distilbert_onnx / "config.json").is_file() and (tiny_distilbert_onnx / "tokenizer.json").is_file()
    _no_builds(monkeypatch)
    assert export_original(str(tiny_distilbert), 11, tiny_build_cache) == tiny_distilbert_onnx


def test_existing_onnx_is_used_as_is(tiny_distilbert_onnx: Path, tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "cache")
    assert export_original(tiny_distilbert_onnx, 11, cache) == tiny_distilbert_onnx
    assert export_original(tiny_distilbert_onnx / "model.onnx", 11, cache) == tiny_distilbert_onnx
    user = tmp_path / "user"
    shutil.copytree(tiny_distilbert_onnx, user)
    (user / "model.onnx").rename(user / "ner-fp32.onnx")
    adopted = export_original(user / "ner-fp32.onnx", 11, cache)
    assert (adopted / "model.onnx").read_bytes() == (tiny_distilbert_onnx / "model.onnx").read_bytes()
    assert (adopted / "config.json").is_file() and (adopted / "tokenizer.json").is_file()


def hub_layout(original: Path, folder: Path, *graphs: str) -> Path:
    """config.json and the tokenizer at the top, the graphs under onnx/ (every transformers.js model)."""
    shutil.copytree(original, folder, ignore=shutil.ignore_patterns("*.onnx", "manifest.json", "qbench_*"))
    (folder / "onnx").mkdir()
    for name in graphs:
        shutil.copyfile(original / "model.onnx", folder / "onnx" / name)
    return folder


def test_the_hub_onnx_layout_resolves_from_the_folder_or_the_file(tiny_distilbert_onnx: Path, tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "cache")
    folder = hub_layout(tiny_distilbert_onnx, tmp_path / "hub", "model.onnx", "model_quantized.onnx")
    fp32 = (tiny_distilbert_onnx / "model.onnx").read_bytes()
    from_folder = export_original(folder, 11, cache)  # onnx/model.onnx, the fp32 graph, by name
    from_file = export_original(folder / "onnx" / "model.onnx", 11, cache)  # config one level up
    assert from_folder == from_file and (from_folder / "model.onnx").read_bytes() == fp32
    assert (from_folder / "config.json").is_file() and (from_folder / "tokenizer.json").is_file()
    named = export_original(folder / "onnx" / "model_quantized.onnx", 11, cache)  # model_file= joins to this
    assert (named / "model.onnx").read_bytes() == fp32  # same bytes, same content-addressed entry


def test_a_folder_of_several_graphs_without_model_onnx_asks_which(tiny_distilbert_onnx: Path, tmp_path: Path) -> None:
    folder = hub_layout(tiny_distilbert_onnx, tmp_path / "hub", "model_fp16.onnx", "model_quantized.onnx")
    with pytest.raises(
        QbenchModelError, match="holds model_fp16.onnx, model_quantized.onnx: name one with model_file="
    ):
        export_original(folder, 11, BuildCache(tmp_path / "cache"))
    single = hub_layout(tiny_distilbert_onnx, tmp_path / "single", "model_int8.onnx")
    assert (export_original(single, 11, BuildCache(tmp_path / "cache")) / "model.onnx").is_file()  # the only one


def config_only(folder: Path) -> Path:
    (folder / "config.json").write_text("{}")
    return folder


def bad_weights(folder: Path) -> Path:
    (folder / "config.json").write_text('{"model_type": "distilbert"}')
    (folder / "model.safetensors").write_bytes(b"garbage")
    return folder


def bad_onnx(folder: Path) -> Path:
    (folder / "config.json").write_text('{"model_type": "distilbert"}')
    (folder / "ner.onnx").write_bytes(b"garbage")
    return folder / "ner.onnx"


def orphan_onnx(folder: Path) -> Path:
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"graph")
    return folder / "onnx" / "model.onnx"


def weights_file(folder: Path) -> Path:
    (folder / "weights.bin").write_bytes(b"x")
    return folder / "weights.bin"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: p, "has no config.json"),
        (config_only, "has no weights"),
        (weights_file, "not .onnx"),
        (orphan_onnx, "has no config.json, nor has its parent; .* or one level up .*the graphs in onnx/"),
        (bad_weights, "loading '.*' as a token-classification model failed"),
        (bad_onnx, "reading ONNX model '.*ner.onnx' failed"),
        (lambda p: "./relative/missing-model", "does not exist"),
        (lambda p: "qbench-test-org/no-such-model", "could not be fetched from the Hugging Face hub"),
    ],
    ids=[
        "missing",
        "no-config",
        "no-weights",
        "not-onnx",
        "onnx-without-config",
        "bad-weights",
        "bad-onnx",
        "relative",
        "hub",
    ],
)
def test_model_errors_are_one_clear_line(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(QbenchModelError, match=message) as info:
        export_original(make(tmp_path), 11, BuildCache(tmp_path / "cache"))
    assert "\n" not in str(info.value)


def test_encoder_without_head_exports_with_a_warning(tiny_distilbert: Path, tmp_path: Path) -> None:
    from transformers import DistilBertModel

    encoder = tmp_path / "encoder"
    DistilBertModel.from_pretrained(tiny_distilbert).save_pretrained(encoder)
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tiny_distilbert / name).exists() and not (encoder / name).exists():
            shutil.copy(tiny_distilbert / name, encoder / name)
    with pytest.warns(QbenchModelWarning, match="classifier.weight"):
        out = export_original(encoder, 11, BuildCache(tmp_path / "cache"))
    assert json.loads((out / "qbench_export.json").read_text())["newly_initialised"]


# ---- what the original is: fp32 as exported, or already quantized --------------------------------


def prequantized(original: Path, folder: Path, cache: BuildCache) -> Path:
    """A hub-style int8 model: the tiny model's dynamic int8 graph as model.onnx, with its config."""
    built = build_variant(
        original, VariantSpec("dynamic", ("MatMul",)), preset="avx512_vnni", calibration=None, cache=cache
    )
    shutil.copytree(original, folder, ignore=shutil.ignore_patterns("*.onnx", "manifest.json", "qbench_*"))
    shutil.copyfile(built.optimized, folder / "model.onnx")
    return folder


def test_an_exported_original_is_fp32_and_a_prequantized_one_says_what_it_is(
    tiny_distilbert_onnx: Path, tmp_path: Path
) -> None:
    # a trained (here randomly initialised) model has no exact zeros among its weights
    assert original_record(tiny_distilbert_onnx / "model.onnx") == OriginalRecord("fp32", {}, weight_sparsity=0.0)
    int8 = prequantized(tiny_distilbert_onnx, tmp_path / "int8", BuildCache(tmp_path / "cache"))
    record = original_record(int8 / "model.onnx")
    assert record.precision == "int8" and record.quantized
    assert set(record.quantized_ops) == {"DynamicQuantizeLinear", "MatMulInteger"}
    graph = onnx.load(str(int8 / "model.onnx")).graph
    assert record.quantized_ops["MatMulInteger"] == sum(n.op_type == "MatMulInteger" for n in graph.node)



def test_quantizing_a_prequantized_original_again_keeps_its_int8_and_adds_on_top(
    tiny_distilbert_onnx: Path, tmp_path: Path
) -> None:
    cache = BuildCache(tmp_path / "cache")
    original = export_original(prequantized(tiny_distilbert_onnx, tmp_path / "int8", cache), 11, cache)
    before = original_record(original / "model.onnx").quantized_ops
    dynamic = build_variant(
        original, VariantSpec("dynamic", ("MatMul",)), preset="avx512_vnni", calibration=None, cache=cache
    )
    assert dynamic.quantization.quantized_ops == before  # no float MatMul left to quantize
    inputs = [i.name for i in onnx.load(str(original / "model.onnx")).graph.input]
    static = build_variant(
        original,
        VariantSpec("static", ("Add", "MatMul"), calibration=CalibrationSpec(num_samples=4, sequence_length=16)),
        preset="avx512_vnni",
        calibration=calibration_dataset(original, inputs, 4, 16),
        cache=cache,
    )
    ops = static.quantization.quantized_ops
    assert ops["MatMulInteger"] == before["MatMulInteger"] and ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0


def _graph_file(path: Path, nodes: list, initializers: list) -> Path:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], initializer=initializers))
    onnx.save(model, str(path))
    return path


def test_block_quantized_and_half_precision_originals_are_named(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    nbits = helper.make_node(
        "MatMulNBits", ["x", "w", "s"], ["y"], domain="com.microsoft", K=8, N=8, bits=4, block_size=32
    )
    weights = [
        numpy_helper.from_array(np.zeros((8, 1, 16), np.uint8), "w"),
        numpy_helper.from_array(np.ones(8, np.float32), "s"),
    ]
    assert original_record(_graph_file(tmp_path / "q4.onnx", [nbits], weights)) == OriginalRecord(
        "int4", {"MatMulNBits": 1}
    )
    mixed = [nbits, helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "qs", "qz"])]
    assert original_record(_graph_file(tmp_path / "mixed.onnx", mixed, weights)).precision == "int4+int8"
    half = [helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16)]
    fp16 = [numpy_helper.from_array(np.ones((8, 8), np.float16), f"w{i}") for i in range(3)]
    assert original_record(_graph_file(tmp_path / "fp16.onnx", half, fp16)) == OriginalRecord("fp16", {})


def test_a_pruned_original_records_its_weight_sparsity(tmp_path: Path) -> None:
    from onnx import helper, numpy_helper

    pruned = np.arange(1, 65, dtype=np.float32).reshape(8, 8)
    pruned[pruned % 4 != 0] = 0  # 48 of 64 zero
    bias = numpy_helper.from_array(np.zeros((1, 8), np.float32), "b")  # an Add's zeros are not weights of a MatMul
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    record = original_record(_graph_file(tmp_path / "sparse.onnx", nodes, [numpy_helper.from_array(pruned, "w"), bias]))
    assert record.weight_sparsity == 0.75 and record.precision == "fp32"


def test_static_variants_differing_in_exclusions_calibrate_once_and_build_the_same_bytes(
    tiny_distilbert_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_qbench.variants.toolchain import backend

    fits = []
    real_fit = backend().calibrate
    monkeypatch.setattr(backend(), "calibrate", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    data = calibration_dataset(tiny_distilbert_onnx, input_names(tiny_distilbert_onnx / "model.onnx"))
    graph = onnx.load(str(tiny_distilbert_onnx / "model.onnx")).graph
    matmuls = [n.name for n in graph.node if n.op_type == "MatMul"][:2]

    def static(cache: BuildCache, nodes: tuple[str, ...]) -> BuiltVariant:
        spec = VariantSpec("static", ("Add", "MatMul"), optimization_level=0, nodes_to_exclude=nodes)
        return build_variant(tiny_distilbert_onnx, spec, preset="avx512_vnni", calibration=data, cache=cache)

    shared = BuildCache(tmp_path / "shared")
    variants = [static(shared, nodes) for nodes in ((), matmuls[:1], tuple(matmuls))]
    assert len(fits) == 1  # one calibration for the three
    assert len({v.optimized.read_bytes() for v in variants}) == 3  # the exclusions did change the graphs
    fresh = static(BuildCache(tmp_path / "fresh"), tuple(matmuls))  # calibrated anew
    assert len(fits) == 2 and fresh.optimized.read_bytes() == variants[2].optimized.read_bytes()


def test_a_dynamic_variant_given_calibration_data_still_scales_at_run_time(
    tiny_distilbert_onnx: Path, tmp_path: Path
) -> None:
    data = calibration_dataset(tiny_distilbert_onnx, input_names(tiny_distilbert_onnx / "model.onnx"))
    built = build_variant(tiny_distilbert_onnx, VariantSpec("dynamic", ("Add", "MatMul")), preset="avx512_vnni",
                          calibration=data, cache=BuildCache(tmp_path))  # a cache of its own: built here
    assert set(built.quantization.quantized_ops) == DYNAMIC_OPS
