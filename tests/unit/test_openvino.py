"""The OpenVINO runtime (issue 23) on the tiny DistilBERT: the marker's runtime axis and its ids, the
NNCF builds through the cache, the f32 precision, the clock of the gated phase, and the error that
names the extra when OpenVINO is missing (the gate end to end: test_openvino_gate.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from time import process_time_ns, thread_time_ns

import numpy as np
import pytest
from projects import conll

from pytest_qbench.errors import QbenchConfigError
from pytest_qbench.specs import CalibrationSpec, VariantSpec, parse_marker

pytest.importorskip("openvino", reason="the openvino extra is not installed: pip install 'pytest-qbench[openvino]'")
pytest.importorskip("nncf", reason="the openvino extra is not installed: pip install 'pytest-qbench[openvino]'")


# ---- the runtime axis --------------------------------------------------------------------------


def test_onnxruntime_ids_unchanged_and_openvino_ids_named():
    both = parse_marker({"runtime": ["onnxruntime", "openvino"], "operators": [["Add", "MatMul"], ["MatMul"]],
                         "sequence_length": [32]})
    alone = parse_marker({"operators": [["Add", "MatMul"], ["MatMul"]], "sequence_length": [32]})
    assert (
        [c.id for c in both][:4]
        == [c.id for c in alone]
        == [
            "dynamic-Add+MatMul-bs1-len32",
            "dynamic-MatMul-bs1-len32",
            "static-Add+MatMul-bs1-len32",
            "static-MatMul-bs1-len32",
        ]
    )
    # NNCF chooses the operators: one OpenVINO case per approach, not one per operator set.
    assert [c.id for c in both][4:] == ["openvino-dynamic-bs1-len32", "openvino-static-bs1-len32"]
    assert "runtime" not in alone[0].variant.to_dict()  # baselines recorded before the axis still match
    assert both[-1].variant.to_dict()["runtime"] == "openvino"


def test_session_default_runtimes_and_their_errors():
    cases = parse_marker({"sequence_length": [32]}, runtimes=("openvino",))
    assert [c.id for c in cases] == ["openvino-dynamic-bs1-len32", "openvino-static-bs1-len32"]
    with pytest.raises(QbenchConfigError, match="unknown runtime 'tensorrt'; allowed: 'onnxruntime', 'openvino'"):
        parse_marker({"runtime": "tensorrt"})
    with pytest.raises(QbenchConfigError, match="quantized_file gates an ONNX graph on ONNX Runtime"):
        parse_marker({"runtime": "openvino", "quantized_file": "onnx/model_quantized.onnx"})
    # A session default of both runtimes leaves a given ONNX graph on ONNX Runtime.
    given = parse_marker({"quantized_file": "onnx/model_quantized.onnx"}, runtimes=("onnxruntime", "openvino"))
    assert [c.variant.runtime for c in given] == ["onnxruntime"]


def test_static_calibration_settings_decide_the_build_dynamic_ignores_them():
    dynamic = VariantSpec("dynamic", (), runtime="openvino")
    static = VariantSpec("static", (), runtime="openvino")
    other = VariantSpec("static", (), runtime="openvino", calibration=CalibrationSpec(num_samples=7))
    assert "calibration" not in dynamic.to_dict()
    assert static.to_dict() != other.to_dict()


def test_nncf_model_type_is_recorded_only_when_not_the_transformer_preset():
    (transformer,) = parse_marker({"runtime": "openvino", "approach": "static"})
    (generic,) = parse_marker({"runtime": "openvino", "approach": "static", "nncf_model_type": "generic"})
    assert "nncf_model_type" not in transformer.variant.to_dict()  # baselines recorded before the option match
    assert generic.variant.to_dict()["nncf_model_type"] == "generic"
    with pytest.raises(QbenchConfigError, match="unknown nncf_model_type 'bert'; allowed: 'transformer', 'generic'"):
        parse_marker({"runtime": "openvino", "nncf_model_type": "bert"})


# ---- builds and sessions -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory, tokenizer):
    from pytest_qbench.measure.data import calibration_dataset, parse_conll

    path = tmp_path_factory.mktemp("conll") / "train.txt"
    path.write_text(conll())
    return calibration_dataset(tokenizer, parse_conll(path), "tokens", 6, 16, ["input_ids", "attention_mask"])


@pytest.fixture(scope="module")
def built(tiny_distilbert_onnx: Path, tiny_build_cache, calibration):
    from pytest_qbench.variants.openvino import build_openvino_variant

    return {approach: build_openvino_variant(tiny_distilbert_onnx, VariantSpec(approach, (), runtime="openvino"),
                                             calibration=calibration, cache=tiny_build_cache)
            for approach in ("dynamic", "static")}


def test_builds_are_int8_ir_with_config_and_come_from_the_cache(
    built, tiny_distilbert_onnx, tiny_build_cache, calibration
):
    from pytest_qbench.variants.openvino import build_openvino_variant

    static, dynamic = built["static"], built["dynamic"]
    assert static.optimized.suffix == ".xml" and static.original == dynamic.original  # one fp32 IR for both
    assert static.quantization.quantized_ops["FakeQuantize"] > 0
    assert (
        dynamic.quantization.quantized_ops["int8 weights"] > 0
        and "FakeQuantize" not in dynamic.quantization.quantized_ops
    )
    for variant in (static, dynamic):
        assert (variant.model_dir / "config.json").is_file() and (variant.model_dir / "tokenizer.json").is_file()
    again = build_openvino_variant(tiny_distilbert_onnx, VariantSpec("static", (), runtime="openvino"),
                                   calibration=calibration, cache=tiny_build_cache)
    assert again.cached and again.optimized == static.optimized


def test_original_ir_keeps_fp32_weights(built):
    import openvino as ov

    model = ov.Core().read_model(str(built["static"].original))
    weights = {
        op.get_output_element_type(0).get_type_name()
        for op in model.get_ops()
        if op.get_type_name() == "Constant" and op.get_output_partial_shape(0).rank.get_length() == 2
    }
    assert "f16" not in weights and "f32" in weights


def test_sessions_run_f32_and_match_onnxruntime_on_the_original(built, tiny_distilbert_onnx):
    from pytest_qbench.measure.ort_session import make_ort_session
    from pytest_qbench.measure.ov_session import make_ov_session

    ov_session = make_ov_session(built["static"].original, 1)
    assert str(ov_session.property("INFERENCE_PRECISION_HINT")) in ("f32", "<Type: 'float32'>")
    assert [i.name for i in ov_session.get_inputs()] == ["input_ids", "attention_mask"]
    feed = {"input_ids": np.tile(np.arange(100, 116, dtype=np.int64), (2, 1)),
            "attention_mask": np.ones((2, 16), dtype=np.int64)}
    ort = make_ort_session(tiny_distilbert_onnx / "model.onnx", 1).run(None, feed)[0]
    np.testing.assert_allclose(ov_session.run(None, feed)[0], ort, atol=1e-4)


def _repeated_matmuls(path: Path, count: int, size: int = 192) -> Path:
    """An ONNX model of `count` chained size x size MatMuls: a known cost that doubles with `count`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array((np.eye(size) * 0.5 + 0.01).astype(np.float32), "w")
    nodes, previous = [], "x"
    for i in range(count):
        nodes.append(helper.make_node("MatMul", [previous, "w"], [f"y{i}"]))
        previous = f"y{i}"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, [size, size])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_the_gated_clock_counts_the_whole_inference(tmp_path: Path):
    """One inference thread, one stream, synchronous infer: the calling thread does all the work, so
    its CPU time is the process's, and a model that does twice the work measures about twice the time."""
    import openvino as ov

    from pytest_qbench.measure.latency import Pair, cpu_phase
    from pytest_qbench.measure.ov_session import make_ov_session
    from pytest_qbench.specs import TimingSpec

    sessions = {}
    for count in (8, 16):
        ir = tmp_path / f"chain{count}.xml"
        ov.save_model(ov.Core().read_model(str(_repeated_matmuls(tmp_path / f"chain{count}.onnx", count))), str(ir),
                      compress_to_fp16=False)
        sessions[count] = make_ov_session(ir, 1)
    feed = {"x": np.random.default_rng(0).random((192, 192), dtype=np.float32)}
    single, double = (lambda s=sessions[8]: s.run(None, feed)), (lambda s=sessions[16]: s.run(None, feed))
    for _ in range(5):
        double()
    thread0, process0 = thread_time_ns(), process_time_ns()
    for _ in range(40):
        double()
    thread, process = thread_time_ns() - thread0, process_time_ns() - process0
    assert thread == pytest.approx(process, rel=0.1), "OpenVINO worked on threads the gated clock does not see"

    samples = cpu_phase(Pair(original=double, optimized=single), TimingSpec(min_seconds=0.2, max_seconds=3.0))
    assert 1.6 < samples.speedup.value < 2.4, samples.speedup


def test_a_fresh_process_times_openvino_ir_as_the_gate_does(tmp_path: Path):
    """The in-run confirmation (measure/fresh.py) opens IR files with OpenVINO, one thread, f32."""
    import openvino as ov

    from pytest_qbench.measure.fresh import FreshModel, measure_in_fresh_process
    from pytest_qbench.specs import TimingSpec

    irs = {}
    for count in (8, 16):
        irs[count] = tmp_path / f"chain{count}.xml"
        ov.save_model(
            ov.Core().read_model(str(_repeated_matmuls(tmp_path / f"chain{count}.onnx", count))),
            str(irs[count]),
            compress_to_fp16=False,
        )
    feed = {"x": np.random.default_rng(0).random((192, 192), dtype=np.float32)}
    cpu = measure_in_fresh_process(FreshModel(str(irs[16])), FreshModel(str(irs[8])), feed,
                                   TimingSpec(min_seconds=0.2, max_seconds=3.0))
    assert 1.6 < cpu.speedup.value < 2.4, cpu.speedup
    assert cpu.original_ms > cpu.optimized_ms > 0


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch):
    from pytest_qbench.variants.openvino import require_openvino

    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(QbenchConfigError, match=r"pip install 'pytest-qbench\[openvino\]'"):
        require_openvino()


# ---- sparse weight decompression (AMX only) ----------------------------------------------------------


def _amx() -> bool:
    from pytest_qbench.hardware import detect

    return detect().tier == "amx"


def test_sparse_decompression_rate_is_an_openvino_setting():
    with pytest.raises(QbenchConfigError, match="sparse_decompression_rate is an OpenVINO setting"):
        parse_marker({"sparse_decompression_rate": 0.5})
    with pytest.raises(QbenchConfigError, match=r"a fraction in \(0, 1\], got 1.5"):
        parse_marker({"runtime": "openvino", "sparse_decompression_rate": 1.5})
    cases = parse_marker(
        {"runtime": ["onnxruntime", "openvino"], "approach": "static", "sparse_decompression_rate": 0.5}
    )
    assert [c.variant.sparse_decompression_rate for c in cases] == [None, 0.5]
    assert (
        cases[1].variant.to_dict()["sparse_decompression_rate"] == 0.5
    )  # baselines under another setting do not compare


@pytest.mark.skipif(
    not _amx(),
    reason="needs a CPU with AMX (4th-gen Xeon or later): OpenVINO packs sparse int8 weights with AMX kernels only",
)
def test_sparse_decompression_compiles_on_amx(built):
    from pytest_qbench.measure.ov_session import make_ov_session

    session = make_ov_session(built["static"].optimized, 1, {"CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE": 0.5})
    assert float(session.property("CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE")) == 0.5
    feed = {"input_ids": np.full((1, 16), 101, dtype=np.int64), "attention_mask": np.ones((1, 16), dtype=np.int64)}
    assert np.isfinite(session.run(None, feed)[0]).all()
