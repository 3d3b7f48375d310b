"""Marker parsing beyond what the pytester tests show: the matrix, defaults, and the operator list."""

import pytest

from pytest_qbench.config import OPERATORS, QbenchConfigError, TimingSpec, parse_marker


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
    assert (variant.calibration.method, variant.calibration.num_samples, variant.calibration.split) == ("minmax", 100, "train")


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


def test_cases_sharing_a_variant_compare_equal():
    cases = parse_marker({"approach": "dynamic", "batch_size": [1, 4]})
    assert cases[0].variant == cases[1].variant and hash(cases[0].variant) == hash(cases[1].variant)


@pytest.mark.parametrize("kwargs", [{"threads": 0}, {"scoring": "lenient"}, {"max_eval_samples": -1},
                                    {"calibration_num_samples": 0}, {"opset": 0}, {"preset": "sse4"},
                                    {"eval_batch_size": 0}, {"saturation_remedy": "u8s8"}])
def test_bad_fixed_values_are_refused(kwargs):
    with pytest.raises(QbenchConfigError, match="qbench:"):
        parse_marker(kwargs)


def test_evaluation_settings_and_the_saturation_remedy_are_recorded_with_the_case():
    (case,) = parse_marker({"approach": "dynamic", "eval_batch_size": 16}, saturation_remedy="x64quantprecision")
    assert case.data.to_dict() == {"split": "validation", "batch_size": 16, "max_samples": None, "scoring": "default"}
    assert case.variant.to_dict()["saturation_remedy"] == "x64quantprecision"
    assert case.variant.session_config == {"session.x64quantprecision": "1"}
    (marker_wins,) = parse_marker({"approach": "dynamic", "saturation_remedy": "u8u8"}, saturation_remedy="x64quantprecision")
    assert marker_wins.variant.saturation_remedy == "u8u8" and marker_wins.variant.session_config == {}
