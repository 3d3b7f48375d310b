"""Diagnosis and repair on tiny synthetic ONNX graphs with an injected fault, and their parts.

Two faults, each in a graph built here and quantized statically (QDQ) by onnxruntime:
- an attention-mask Add fed finfo(float32).min at padded positions (what transformers does), whose
  calibrated range then leaves 8 bits no resolution for the real scores;
- a range forced wide on one Add's output (TensorQuantOverrides), as a bad calibration would.
The diagnosis must rank the culprit first and the repair must exclude exactly it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from saturation import EXACT, K, saturating_matmul

from pytest_qbench.diagnose.diagnosis import (
    MASK_MAGNITUDE,
    RANGE_LIMIT,
    TensorError,
    classify,
    group_errors,
    node_errors,
    simulate_integer_ops,
    simulation,
    sqnr_db,
)
from pytest_qbench.diagnose.repair import repair
from pytest_qbench.measure.ort_session import make_ort_session
from pytest_qbench.results import Exclusion
from pytest_qbench.variants.exclusion import resolve_family

FLOAT_MIN = float(np.finfo(np.float32).min)
B, S, D, C = 4, 8, 16, 5


# ---- SQNR ---------------------------------------------------------------------------------------


def test_sqnr_is_signal_over_noise_power_in_decibels():
    reference = np.full(100, 10.0, np.float32)
    assert sqnr_db(reference, reference + 1.0) == pytest.approx(20.0)
    assert sqnr_db(reference, reference) == math.inf
    assert sqnr_db(np.zeros(4), np.ones(4)) == -math.inf


def test_sqnr_leaves_out_masks_that_overflow_float32():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=64).astype(np.float32)
    noisy = scores + rng.normal(scale=0.01, size=64).astype(np.float32)
    masked, masked_noisy = scores.copy(), noisy.copy()
    masked[::4] = masked_noisy[::4] = FLOAT_MIN
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.sum(masked.astype(np.float32) ** 2))  # the float32 trap (ORT's debugger)
    expected = sqnr_db(scores[np.arange(64) % 4 != 0], noisy[np.arange(64) % 4 != 0])
    assert math.isfinite(expected) and sqnr_db(masked, masked_noisy) == pytest.approx(expected)
    # A quantized model that turns a real value into a mask-sized one is as wrong as it gets.
    wrong = noisy.copy()
    wrong[1] = FLOAT_MIN
    assert sqnr_db(scores, wrong) < -100


def test_sqnr_on_infinities_compares_the_finite_values_and_counts_the_new_ones():
    reference = np.array([1.0, 2.0, np.inf, -np.inf, 3.0])
    assert sqnr_db(reference, np.array([1.0, 2.0, np.inf, -np.inf, 3.0])) == math.inf
    error = TensorError()
    error.add(reference, np.array([1.0, np.inf, np.inf, 0.0, 3.0]))
    assert (error.compared, error.nonfinite, error.sqnr_db) == (2, 1, -math.inf)
    assert sqnr_db(np.array([np.nan, np.inf]), np.array([1.0, 2.0])) is None  # nothing comparable
    assert MASK_MAGNITUDE < -FLOAT_MIN


# ---- two faulty graphs --------------------------------------------------------------------------


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(onnx.shape_inference.infer_shapes(model), path)
    return path


def _weights(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.normal(size=shape) / math.sqrt(shape[0])).astype(np.float32)


def attention_graph(path: Path) -> Path:
    """One attention head and a classifier: scores = x Wk x^T, Add(scores, mask), Softmax, @ x, @ Wo."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="key"),
        helper.make_node("Transpose", ["k"], ["kt"], name="transpose", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["x", "kt"], ["scores"], name="scores"),
        helper.make_node("Add", ["scores", "mask"], ["masked"], name="mask_add"),
        helper.make_node("Softmax", ["masked"], ["probs"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "x"], ["context"], name="context"),
        helper.make_node("MatMul", ["context", "wo"], ["logits"], name="classifier"),
    ]
    graph = helper.make_graph(
        nodes,
        "attention",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, S, D]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [B, 1, S]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [B, S, C])],
        [
            numpy_helper.from_array(_weights(rng, D, D, scale=3.0), "wk"),
            numpy_helper.from_array(_weights(rng, D, C), "wo"),
        ],
    )
    return _save(graph, path)


def attention_feeds(batches: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Batches with padding: each sequence's last positions masked with finfo(float32).min."""
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(batches):
        lengths = rng.integers(3, S + 1, size=B)
        mask = np.where(np.arange(S)[None, :] < lengths[:, None], 0.0, FLOAT_MIN).astype(np.float32)
        feeds.append({"x": rng.normal(size=(B, S, D)).astype(np.float32), "mask": mask[:, None, :]})
    return feeds


def mlp_graph(path: Path) -> Path:
    """x -> MatMul -> Add(b1) -> Relu -> MatMul -> Add(b2) -> logits."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="dense1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="bias1"),
        helper.make_node("Relu", ["hb"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "w2"], ["o"], name="dense2"),
        helper.make_node("Add", ["o", "b2"], ["logits"], name="bias2"),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B * S, D])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [B * S, C])],
        [numpy_helper.from_array(_weights(rng, D, 2 * D), "w1"), numpy_helper.from_array(_weights(rng, 2 * D), "b1"),
         numpy_helper.from_array(_weights(rng, 2 * D, C), "w2"), numpy_helper.from_array(_weights(rng, C), "b2")],
    )
    return _save(graph, path)


def mlp_feeds(batches: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.normal(size=(B * S, D)).astype(np.float32)} for _ in range(batches)]


BAD_RANGE = {"hb": [{"rmin": np.float32(-1e6), "rmax": np.float32(1e6)}]}


def quantize(fp32: Path, out: Path, feeds: list[dict[str, np.ndarray]], exclude=(), overrides=None) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(
        str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul", "Add"],
        nodes_to_exclude=list(exclude), activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        extra_options={"TensorQuantOverrides": overrides or {}},
    )
    return out


def agreement(fp32: Path, int8: Path, feeds: list[dict[str, np.ndarray]]) -> float:
    """The share of positions whose top class the int8 model keeps (real positions only)."""
    reference, measured = make_ort_session(fp32, 1), make_ort_session(int8, 1)
    same = total = 0
    for feed in feeds:
        keep = (feed["mask"][:, 0, :] == 0).ravel() if "mask" in feed else slice(None)
        top = [s.run(None, feed)[0].argmax(-1).ravel()[keep] for s in (reference, measured)]
        same, total = same + int((top[0] == top[1]).sum()), total + top[0].size
    return same / total


def families_of(path: Path) -> dict[str, list[str]]:
    model = onnx.load(str(path))
    return {f: resolve_family(model, f) for f in ("layernorm", "gelu", "residual", "gather", "softmax")}


FAULTS = {
    "mask": (attention_graph, attention_feeds, None, "mask_add", Exclusion(families=("softmax",))),
    "range": (mlp_graph, mlp_feeds, BAD_RANGE, "bias1", Exclusion(nodes=("bias1",))),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_the_injected_fault_ranks_first_and_is_flagged_out_of_scale(fault: str, tmp_path: Path):
    build, feeds, overrides, culprit, _ = FAULTS[fault]
    fp32 = build(tmp_path / "fp32.onnx")
    int8 = quantize(fp32, tmp_path / "int8.onnx", feeds(8, seed=1), overrides=overrides)
    nodes, ranges, output = node_errors(
        fp32, int8, feeds(2, seed=2), operators=("MatMul", "Add"), families=families_of(fp32)
    )
    assert nodes[0].node == culprit and nodes[0].out_of_scale, nodes
    assert not any(n.out_of_scale for n in nodes[1:]), nodes
    assert all(culprit in r.nodes and max(abs(r.low), abs(r.high)) > RANGE_LIMIT for r in ranges)
    assert nodes[0].sqnr_db < 10 and output < 20  # the culprit's output is mostly noise, and so is the model's
    groups = group_errors(nodes)
    assert (groups[0].family, groups[0].layer) == (nodes[0].family, nodes[0].layer)


@pytest.mark.parametrize("fault", FAULTS)
def test_the_repair_excludes_exactly_the_injected_fault(fault: str, tmp_path: Path):
    build, feeds, overrides, culprit, expected = FAULTS[fault]
    fp32 = build(tmp_path / "fp32.onnx")
    calibration, sample, full = feeds(8, seed=1), feeds(2, seed=2), feeds(6, seed=3)
    families = families_of(fp32)
    builds = []

    def scorer(data):
        def score(exclusion: Exclusion) -> float:
            names = [n for f in exclusion.families for n in families[f]] + list(exclusion.nodes)
            builds.append(exclusion)
            path = quantize(fp32, tmp_path / f"int8-{len(builds)}.onnx", calibration, names, overrides)
            return agreement(fp32, path, data)
        return score

    broken = agreement(fp32, quantize(fp32, tmp_path / "broken.onnx", calibration, (), overrides), full)
    nodes, _, _ = node_errors(fp32, tmp_path / "broken.onnx", sample, operators=("MatMul", "Add"), families=families)
    found = repair(
        scorer(sample),
        scorer(full),
        targets=(0.9, 0.9),  # fixed, the int8 graphs keep ~0.96 of the top classes
        families={
            f: [n for n in members if n in {r.node for r in nodes}] for f, members in families.items() if members
        },
        nodes=[n.node for n in nodes],
        max_evaluations=20,
    )
    assert broken < 0.9  # the fault costs accuracy...
    assert found.exclusion == expected and found.met and found.f1 >= 0.9  # ...and excluding it alone repairs it
    assert Exclusion(("softmax",), ("bias1",)).marker == 'exclude=["softmax"], nodes_to_exclude=["bias1"]'
    assert found.evaluations == len(builds) <= 20


def test_dynamic_qoperator_graphs_are_matched_by_output_name(tmp_path: Path):
    """Dynamic quantization replaces each MatMul by MatMulInteger and friends, which write the
    MatMul's output name: onnxruntime's QDQ debugger cannot pair those, the names can."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = mlp_graph(tmp_path / "fp32.onnx")
    int8 = tmp_path / "int8.onnx"
    quantize_dynamic(str(fp32), str(int8), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
    assert "MatMulInteger" in {n.op_type for n in onnx.load(str(int8)).graph.node}
    nodes, ranges, output = node_errors(fp32, int8, mlp_feeds(2, seed=2), operators=("MatMul",), families={})
    assert sorted(n.node for n in nodes) == ["dense1", "dense2"] and not ranges
    assert all(20 < n.sqnr_db < 60 and n.added_noise_db is not None for n in nodes), nodes  # int8 noise, not garbage
    assert 20 < output < 60


def test_a_healthy_model_gets_an_empty_repair(tmp_path: Path):
    fp32 = mlp_graph(tmp_path / "fp32.onnx")
    int8 = quantize(fp32, tmp_path / "int8.onnx", mlp_feeds(8, seed=1))
    calls = []

    def score(exclusion: Exclusion) -> float:
        calls.append(exclusion)
        return agreement(fp32, int8, mlp_feeds(2, seed=2))

    found = repair(score, score, targets=(0.9, 0.9), families={}, nodes=["dense1", "bias1"], max_evaluations=10)
    assert found.exclusion == Exclusion() and not found.exclusion and found.met
    assert found.exclusion.marker == "(no exclusion needed)" and calls == [Exclusion(), Exclusion()]


# ---- the search, with scores made up -------------------------------------------------------------


def needs(*required: str, families: dict[str, list[str]] | None = None):
    """A score that reaches 1 once every required node is excluded (directly or by its family)."""
    families = families or {}

    def score(exclusion: Exclusion) -> float:
        excluded = set(exclusion.nodes) | {n for f in exclusion.families for n in families.get(f, [])}
        return len(excluded & set(required)) / len(required)

    return score


def test_the_search_bisects_the_ranked_nodes_and_prunes_what_is_not_needed():
    ranked = [f"n{i}" for i in range(32)]
    score = needs("n0", "n5")  # n1..n4 rank above n5 but do not help
    found = repair(score, score, targets=(1, 1), families={}, nodes=ranked, max_evaluations=40)
    assert found.exclusion == Exclusion(nodes=("n0", "n5")) and found.met
    assert found.evaluations < 32  # bisection, not one node at a time


def test_families_come_first_and_a_family_that_does_not_help_is_not_kept():
    families = {"softmax": ["a1", "a2"], "gelu": ["g1"]}
    score = needs("a1", "a2", "n3", families=families)
    found = repair(score, score, targets=(1, 1), families=families, nodes=["a1", "n3", "a2", "g1"], max_evaluations=40)
    assert found.exclusion == Exclusion(families=("softmax",), nodes=("n3",))


def test_out_of_reach_gives_the_best_result_found_and_the_cap_holds():
    score = needs("n0", "missing")
    found = repair(score, score, targets=(1, 1), families={}, nodes=["n0", "n1"], max_evaluations=40)
    assert not found.met and found.f1 == 0.5 and "n0" in found.exclusion.nodes
    capped = repair(needs(*[f"n{i}" for i in range(30)]), needs(*[f"n{i}" for i in range(30)]), targets=(1, 1),
                    families={}, nodes=[f"n{i}" for i in range(30)], max_evaluations=3)
    assert capped.budget_spent and capped.evaluations == 3


def test_a_sample_that_misleads_is_corrected_on_the_full_split():
    lenient, strict = needs("n0"), needs("n0", "n1")  # the sample misses that n1 matters too
    found = repair(lenient, strict, targets=(1, 1), families={}, nodes=["n0", "n1", "n2"], max_evaluations=20)
    assert found.exclusion == Exclusion(nodes=("n0", "n1")) and found.met
    assert {t.split for t in found.trials} == {"sample", "full"}


# ---- graph or kernel -----------------------------------------------------------------------------


def test_classify_tells_the_graph_from_the_kernels():
    assert classify(0.90, 0.10, 0.10, 0.01)[0] == "graph"
    cause, text = classify(0.90, 0.899, 0.50, 0.01)
    assert cause == "kernel" and "x64quantprecision" in text
    assert classify(0.90, 0.899, 0.898, 0.01)[0] == "none"
    assert classify(0.90, None, 0.50, 0.01)[0] == "undetermined"


def test_the_float_simulation_of_matmulinteger_is_exact_where_vpmaddubsw_saturates(tmp_path: Path):
    path = simulation(saturating_matmul(tmp_path, "int8"), tmp_path)
    simulated = make_ort_session(path, 1, optimize=False).run(None, {"a": np.full((1, K), 255, np.uint8)})[0]
    assert int(simulated[0, 0]) == EXACT
    assert simulate_integer_ops(onnx.load(str(saturating_matmul(tmp_path, "uint8")))) is not None


def test_graphs_with_kernels_it_cannot_simulate_get_no_simulation():
    node = helper.make_node("QLinearMatMul", list("abcdefgh"), ["y"])
    graph = helper.make_graph([node], "g", [], [])
    assert simulate_integer_ops(helper.make_model(graph)) is None


# ---- names and transport ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, layer", [
    ("/bert/encoder/layer.3/attention/self/Add", "layer.3"), ("/transformer/h.11/mlp/MatMul", "layer.11"),
    ("/model/layers.2/mlp/MatMul", "layer.2"), ("/bert/embeddings/Add", "embeddings"),
    ("/classifier/MatMul", "-"), ("/search_1/MatMul", "-"),
])
def test_layers_are_read_from_node_names(name: str, layer: str):
    from pytest_qbench.diagnose.diagnosis import _layer

    assert _layer(name) == layer


def test_a_diagnosis_with_its_repair_travels_as_json_and_back():
    """xdist workers send results to the controller as JSON: the diagnosis must come back whole."""
    from dataclasses import replace

    from factories import make_result

    from pytest_qbench.results import (
        CaseResult,
        Diagnosis,
        GroupError,
        NodeError,
        Preflight,
        RangeIssue,
        RepairResult,
        Trial,
    )

    found = RepairResult(Exclusion(("softmax",), ("n1",)), 0.9, 0.89, 0.91, 0.895, 800, 3, False,
                         [Trial(["softmax"], [], 0.85, "sample")], speedup=1.6, seconds=12.0)
    diagnosis = Diagnosis(
        "static-Add", 4, 32, 0.4, 6.3, [NodeError("a", "Add", "softmax", "layer.0", 0.0, -0.1, True)],
        [GroupError("softmax", "layer.0", 1, 0.0, -0.1)], [RangeIssue("t", FLOAT_MIN, 0.0, "calibrated", ["a"])],
        Preflight(800, 0.9, 0.1, 0.1, 0.01, "graph", "graph/calibration: ..."), 15.0, found,
    )
    result = replace(make_result(), diagnosis=diagnosis)
    back = CaseResult.from_json(json.loads(json.dumps(result.to_json())))
    assert back.diagnosis == diagnosis and back.diagnosis.repair.exclusion.marker.startswith('exclude=["softmax"]')
