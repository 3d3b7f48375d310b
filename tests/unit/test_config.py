"""Marker parsing beyond what the pytester tests show: the matrix, defaults, and the operator list."""

import pytest

from pytest_qbench import QbenchConfigError
from pytest_qbench.specs import MARKER_KEYS, OPERATORS, TimingSpec, Tolerances, parse_marker


def test_operator_list_matches_onnxruntime_registries():
    from onnxruntime.quantization.registry import IntegerOpsRegistry, QDQRegistry, QLinearOpsRegistry

    assert set(OPERATORS) == set(IntegerOpsRegistry) | set(QLinearOpsRegistry) | set(QDQRegistry)


def test_matrix_expands_in_order_with_reference_defaults():
    cases = parse_marker({"approach": ["dynamic", "static"], "operators": [["Add", "MatMul"], ["Add"]],
                          "batch_size": [1, 8], "sequence_length": [32, 128]})
    assert [c.id for c in cases][:3] == ["dynamic-Add+MatMul-bs1-len32", "dynamic-Add+MatMul-bs1-len128",
                                         "dynamic-Add+MatMul-bs8-len32"]
    assert len(cases) == 16
    variant = cases[0].variant
    assert (variant.opset, variant.optimization_level, variant.per_channel) == (11, 1, False)
    assert (variant.calibration.method, variant.calibration.num_samples, variant.calibration.split) == (
        "minmax",
        100,
        "train",
    )


def test_one_flat_operator_list_is_one_set():
    (case,) = parse_marker({"approach": "dynamic", "operators": ["Add", "MatMul"]})
    assert case.variant.operators == ("Add", "MatMul")


def test_fixed_parameters_reach_variant_data_and_timing():
    (case,) = parse_marker(
        {"approach": "static", "exclude": ["softmax", "gelu"], "calibration_method": "entropy",
         "calibration_num_samples": 10, "eval_split": "test", "threads": 1, "scoring": "strict", "max_loss": 0.05},
        timing=TimingSpec(min_seconds=0.3),
    )
    assert case.variant.exclude == ("softmax", "gelu")
    assert case.variant.calibration.method == "entropy"
    assert case.data.eval_split == "test" and case.data.scoring == "strict"
    assert case.timing.threads == 1 and case.timing.min_seconds == 0.3
    assert case.tolerances.max_loss == 0.05


def test_latency_budget_and_tolerance_keys_reach_the_case():
    (case,) = parse_marker(
        {"approach": "dynamic", "min_pairs": 40, "wall_iterations": 3, "wall_seconds": 0.25, "target_ci_width": 0.03,
         "max_seconds": 9.0, "cpu_time_rtol": 0.4, "latency_rtol": 0.5},
        timing=TimingSpec(min_pairs=20, wall_seconds=1.0, max_seconds=2.0),
        tolerances=Tolerances(cpu_time_rtol=0.3),
    )
    assert case.timing == TimingSpec(
        min_pairs=40, wall_iterations=3, wall_seconds=0.25, target_ci_width=0.03, max_seconds=9.0
    )
    assert (case.tolerances.cpu_time_rtol, case.tolerances.latency_rtol) == (0.4, 0.5)
    (defaults,) = parse_marker(
        {"approach": "dynamic"}, timing=TimingSpec(min_pairs=20), tolerances=Tolerances(cpu_time_rtol=None)
    )
    assert defaults.timing.min_pairs == 20  # the session default, where the marker says nothing
    assert defaults.tolerances.cpu_time_rtol is None  # "off" in the session: not gated


def test_timing_and_tolerance_defaults():
    timing = TimingSpec()
    # CPU phase: at least 10 pairs and 0.2 s of CPU per model, up to 6 s, or until the CI is 5% wide;
    # then a wall-clock phase of at least 8 calls and 0.5 s per model.
    assert (timing.threads, timing.min_pairs, timing.min_seconds, timing.max_seconds, timing.target_ci_width) == (
        None, 10, 0.2, 6.0, 0.05)
    assert (timing.wall_iterations, timing.wall_seconds) == (8, 0.5)
    assert (timing.warmup_iterations, timing.warmup_seconds) == (3, 0.1)
    tolerances = Tolerances()
    assert (tolerances.speedup_rtol, tolerances.cpu_time_rtol, tolerances.latency_rtol) == (0.10, 0.35, None)


def test_the_iteration_count_of_the_old_block_design_is_an_unknown_key():
    assert "min_iterations" not in MARKER_KEYS
    assert {"min_pairs", "wall_iterations", "wall_seconds", "cpu_time_rtol"} <= MARKER_KEYS
    with pytest.raises(QbenchConfigError, match=r"unknown marker argument\(s\) min_iterations; allowed: .*min_pairs"):
        parse_marker({"approach": "dynamic", "min_iterations": 20})


def test_cases_sharing_a_variant_compare_equal():
    cases = parse_marker({"approach": "dynamic", "batch_size": [1, 4]})
    assert cases[0].variant == cases[1].variant and hash(cases[0].variant) == hash(cases[1].variant)


@pytest.mark.parametrize("kwargs", [{"threads": 0}, {"scoring": "lenient"}, {"max_eval_samples": -1},
                                    {"calibration_num_samples": 0}, {"opset": 0}, {"preset": "sse4"},
                                    {"eval_batch_size": 0}, {"saturation_remedy": "u8s8"}, {"min_pairs": 2.5},
                                    {"wall_iterations": "8"}, {"wall_seconds": "long"}, {"cpu_time_rtol": [0.1]}])
def test_bad_fixed_values_are_refused(kwargs):
    with pytest.raises(QbenchConfigError, match="qbench:"):
        parse_marker(kwargs)


def test_evaluation_settings_and_the_saturation_remedy_are_recorded_with_the_case():
    (case,) = parse_marker({"approach": "dynamic", "eval_batch_size": 16}, saturation_remedy="x64quantprecision")
    assert case.data.to_dict() == {"split": "validation", "batch_size": 16, "max_samples": None, "scoring": "default"}
    assert case.variant.to_dict()["saturation_remedy"] == "x64quantprecision"
    assert case.variant.ort_config_entries == {"session.x64quantprecision": "1"}
    (marker_wins,) = parse_marker(
        {"approach": "dynamic", "saturation_remedy": "u8u8"}, saturation_remedy="x64quantprecision"
    )
    assert marker_wins.variant.saturation_remedy == "u8u8" and marker_wins.variant.ort_config_entries == {}


@pytest.mark.parametrize("name", ["cpu_time_rtol", "latency_rtol", "max_relative_loss"])
def test_an_optional_tolerance_takes_a_number_or_none_whatever_the_session_default(name):
    for default in (Tolerances(), Tolerances(cpu_time_rtol=None, latency_rtol=0.5, max_relative_loss=0.02)):
        (off,) = parse_marker({"approach": "dynamic", name: None}, tolerances=default)
        assert getattr(off.tolerances, name) is None
        (on,) = parse_marker({"approach": "dynamic", name: 0.3}, tolerances=default)
        assert getattr(on.tolerances, name) == 0.3
        for bad in ("x", 0, -0.1, True):
            with pytest.raises(QbenchConfigError, match=f"{name} must be a positive number, or None"):
                parse_marker({name: bad}, tolerances=default)


def test_model_file_names_a_graph_inside_the_model_folder():
    (case, *_) = parse_marker({"model_file": "onnx/model_quantized.onnx", "approach": "dynamic"})
    assert case.model_file == "onnx/model_quantized.onnx"
    for bad in ("/abs/model.onnx", "model.bin", 3):
        with pytest.raises(
            QbenchConfigError, match="model_file must be the path of a .onnx file relative to the model folder"
        ):
            parse_marker({"model_file": bad})


def test_a_label_map_is_kept_sorted_hashable_and_recorded_only_when_given():
    (case,) = parse_marker({"approach": "dynamic", "label_map": {"SURNAME": "PER", "GIVEN_NAME": "PER", "*": "O"}})
    assert case.data.label_map == (("*", "O"), ("GIVEN_NAME", "PER"), ("SURNAME", "PER"))
    hash(case.data)  # the accuracy memo keys on it
    recorded = case.data.to_dict()
    assert recorded["label_map"] == {"*": "O", "GIVEN_NAME": "PER", "SURNAME": "PER"}
    assert recorded["label_map_merge"] is True  # the rule the map scores by: baselines of the other do not compare
    (plain,) = parse_marker({"approach": "dynamic"})
    # baselines recorded before label_map existed still match
    assert not {"label_map", "label_map_merge"} & set(plain.data.to_dict())
    for bad in ({}, ["GIVEN_NAME", "PER"], {"GIVEN_NAME": 1}, {"": "PER"}):
        with pytest.raises(QbenchConfigError, match="label_map must be a non-empty dict of label names"):
            parse_marker({"label_map": bad})


def test_label_map_merge_is_a_bool_kept_unset_when_the_marker_does_not_say():
    (unset,) = parse_marker({"approach": "dynamic", "label_map": {"SURNAME": "PER"}})
    assert unset.data.label_map_merge is None and unset.data.merges_parts  # the plugin's fixture decides: True
    (off,) = parse_marker({"approach": "dynamic", "label_map": {"SURNAME": "PER"}, "label_map_merge": False})
    assert (off.data.merges_parts, off.data.to_dict()["label_map_merge"]) == (False, False)
    for bad in ("no", 0, None):
        with pytest.raises(QbenchConfigError, match=rf"label_map_merge must be True .* or False .*got {bad!r}"):
            parse_marker({"approach": "dynamic", "label_map": {"SURNAME": "PER"}, "label_map_merge": bad})


def test_a_quantized_file_is_one_given_variant_per_shape_and_refuses_quantizer_settings():
    cases = parse_marker(
        {"quantized_file": "onnx/model_quantized.onnx", "batch_size": [1, 8], "saturation_remedy": "u8u8"}
    )
    assert [c.id for c in cases] == ["given-model_quantized-bs1-len128", "given-model_quantized-bs8-len128"]
    assert cases[0].variant.to_dict() == {
        "approach": "given",
        "operators": [],
        "quantized_file": "onnx/model_quantized.onnx",
        "opset": 11,
        "saturation_remedy": "u8u8",
    }
    with pytest.raises(QbenchConfigError, match="quantized_file gates a graph quantized elsewhere, as it is; approach,"
                       " calibration_num_samples, per_channel configure the quantizer"):
        parse_marker(
            {"quantized_file": "q.onnx", "approach": "static", "per_channel": True, "calibration_num_samples": 8}
        )
    with pytest.raises(
        QbenchConfigError, match="quantized_file must be the path of a .onnx file relative to the model folder"
    ):
        parse_marker({"quantized_file": "/abs/q.onnx"})
