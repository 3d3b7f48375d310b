from pathlib import Path

from factories import ENVIRONMENT, HW, make_result

from pytest_qbench.baselines import BaselineMatch, entry_from_result
from pytest_qbench.config import Tolerances
from pytest_qbench.policy import judge
from pytest_qbench.report import github_annotations, markdown, summary_lines

# Copied from the reference benchmark card (Optimum, CoNLL-2003): the layout the markdown report keeps.
NON_TIME = (
    "| quantization_approach | operators_to_quantize | | precision (original) | precision (optimized) | "
    "| recall (original) | recall (optimized) | | f1 (original) | f1 (optimized) | "
    "| accuracy (original) | accuracy (optimized) |\n"
    "| :-------------------: | :-------------------: | :-: | :------------------: | :-------------------: | :-: "
    "| :---------------: | :----------------: | :-: | :-----------: | :------------: | :-: "
    "| :-----------------: | :------------------: |"
)
TIME = (
    "| quantization_approach | operators_to_quantize | | latency_mean (original, ms) | latency_mean (optimized, ms) | "
    "| throughput (original, /s) | throughput (optimized, /s) |\n"
    "| :-------------------: | :-------------------: | :-: | :-------------------------: | :--------------------------: | :-: "
    "| :-----------------------: | :------------------------: |"
)
OTHER_HW = "x86_64-avx2-4c"
NOTHING = "dynamic quantization of ['Add'] quantized nothing"
REFERENCE = [  # approach, operators, f1 original -> optimized
    ("dynamic", ("Add", "MatMul"), (0.940, 0.939)),
    ("dynamic", ("Add",), (0.940, 0.940)),
    ("static", ("Add", "MatMul"), (0.940, 0.100)),
    ("static", ("Add",), (0.940, 0.076)),
]


def reference_results(recorded_on: str = OTHER_HW):
    results = []
    for approach, operators, f1 in REFERENCE:
        for batch_size, length in [(1, 32), (4, 64)]:
            note = NOTHING if (approach, operators) == ("dynamic", ("Add",)) else None
            result = make_result(approach, operators, batch_size, length, f1=f1, note=note)
            match = BaselineMatch(Path("baselines/b.json"), HW, entry_from_result(result), recorded_on)
            judgement = judge(result, match, Tolerances())
            result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
            results.append(result)
    return results + [make_result(batch_size=8, error="RuntimeError: boom")]


def test_markdown_has_the_reference_card_tables():
    text = markdown(reference_results(), ENVIRONMENT)
    assert "### Non-time metrics\n\n" + NON_TIME + "\n" in text
    # the reference card's first row, figure for figure
    row = "| `dynamic` | `['Add', 'MatMul']` | \\| | 0.936 | 0.935 | \\| | 0.944 | 0.943 | \\| | 0.940 | 0.939 | \\| | 0.988 | 0.988 |"
    assert row in text
    assert "| `static` | `['Add', 'MatMul']` | \\| | 0.936 | 0.935 | \\| | 0.944 | 0.943 | \\| | 0.940 | 0.100 |" in text
    assert text.count("| `dynamic` | `['Add', 'MatMul']` | \\| | 0.936") == 1  # one row per variant, not per shape
    for batch_size, length in [(1, 32), (4, 64), (8, 32)]:
        assert f"Below, time metrics for batch size = {batch_size}, input length = {length}.\n\n{TIME}\n" in text
    assert "| `dynamic` | `['Add', 'MatMul']` | \\| | 46.38 | 9.96 | \\| | 21.56 | 100.40 |" in text
    assert "| `dynamic` | `['Add', 'MatMul']` | \\| | - | - | \\| | - | - |" in text  # the case that errored
    assert text.index("## Verdicts") > text.index("### Time metrics")


def test_markdown_states_parameters_environment_and_verdicts():
    text = markdown(reference_results(), ENVIRONMENT)
    assert "**model_name_or_path**: `elastic/distilbert-base-uncased-finetuned-conll03-english`" in text
    assert "Fixed parameters:\n* **opset**: `11`" in text
    assert "* **quantization_approach**: `dynamic`, `static`" in text
    assert "* **operators_to_quantize**: `['Add', 'MatMul']`, `['Add']`" in text
    assert f"* **Hardware key:** `{HW}`" in text
    assert "| `static-Add+MatMul-bs1-len32` | 0.9400 -> 0.1000 | 4.66 (4.56 to 4.75) | fail | [fail] f1 vs original" in text
    assert "could not measure: RuntimeError: boom" in text
    assert f"* {NOTHING} [dynamic-Add-bs1-len32, dynamic-Add-bs4-len64]" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_summary_has_a_row_per_case_and_warnings_once():
    lines = summary_lines(reference_results(), ENVIRONMENT)
    rows = [line for line in lines if line.startswith("  static-Add+MatMul-bs1-len32 ")]
    assert len(rows) == 1
    assert rows[0].split() == ["static-Add+MatMul-bs1-len32", "0.9400", "->", "0.1000", "4.66", "(4.56", "to", "4.75)", "fail"]
    assert any(line.split()[-1] == "error" and "dynamic-Add+MatMul-bs8-len32" in line for line in lines)
    warnings = lines[lines.index("warnings:") + 1:lines.index(f"hardware {HW}:")]
    assert warnings == [f"  {NOTHING} [dynamic-Add-bs1-len32, dynamic-Add-bs4-len64]"]
    failures = lines[lines.index("failures:") + 1:lines.index("warnings:")]
    assert len(failures) == 5 and "could not measure: RuntimeError: boom" in failures[-1]


def test_a_first_run_on_a_new_hardware_key_shows_its_speedups_beside_the_baselines_and_what_to_run():
    lines = summary_lines(reference_results(), ENVIRONMENT)
    notes = lines[lines.index(f"hardware {HW}:") + 1:]
    assert notes[0].startswith(f"  latency recorded, not gated: no latency baseline for this machine's hardware key {HW}")
    assert "(8 cases; accuracy was gated)" in notes[0]
    assert "    dynamic-Add+MatMul-bs1-len32: x4.66 (4.56-4.75) here, x4.66 on x86_64-avx2-4c" in notes
    assert "pytest --qbench --qbench-update-baselines" in notes[9] and len(notes) == 10
    markdown_text = markdown(reference_results(), ENVIRONMENT)
    assert "## This machine\n\n* latency recorded, not gated" in markdown_text
    assert "  * dynamic-Add+MatMul-bs1-len32: x4.66 (4.56-4.75) here" in markdown_text


NO_VNNI = {**ENVIRONMENT, "hardware_key": "x86_64-avx512-2c", "tier": "avx512", "saturates_u8s8": True}


def test_u8s8_on_a_cpu_without_vnni_is_said_once_with_the_remedy_and_what_int8_bought():
    risky = [make_result(batch_size=b, original_ms=12.0, optimized_ms=o) for b, o in ((1, 10.0), (8, 9.0))]
    for result in risky:
        result.saturation_risk = True
    lines = summary_lines(risky + [make_result(batch_size=4, original_ms=11.0, optimized_ms=10.0)], NO_VNNI)
    (bought,) = [line for line in lines if "int8 without VNNI" in line]
    assert bought == ("  int8 without VNNI buys little: this CPU (x86_64-avx512-2c) ran the int8 variants"
                      " x1.10-1.33 the fp32 speed; CPUs with VNNI or AMX gain more (docs/RESULTS.md).")
    (risk,) = [line for line in lines if "saturate" in line]
    assert "2 cases ran U8S8 models unremedied" in risk
    assert 'saturation_remedy="x64quantprecision"' in risk and "qbench_saturation_remedy" in risk


def test_no_saturation_note_on_a_cpu_with_vnni_or_without_u8s8_models():
    assert not any("VNNI" in line or "saturate" in line for line in summary_lines([make_result()], ENVIRONMENT))
    lines = summary_lines([make_result()], NO_VNNI)  # an AVX2 preset model: U8U8, nothing to saturate
    assert any("int8 without VNNI buys little" in line for line in lines)
    assert not any("saturate" in line for line in lines)


def test_summary_without_problems_has_no_sections():
    result = make_result()
    judgement = judge(result, BaselineMatch(Path("b.json"), HW, entry_from_result(result), HW), Tolerances())
    result.checks, result.verdict = judgement.checks, judgement.verdict
    lines = summary_lines([result], ENVIRONMENT)
    assert len(lines) == 3 and lines[2].split()[-1] == "pass"


def test_github_annotations_errors_for_failures_one_warning_per_skip_reason():
    lines = github_annotations(reference_results())
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(errors) == 5 and len(warnings) == 1
    assert errors[0] == (
        "::error file=examples/test_conll.py,title=qbench static-Add+MatMul-bs1-len32%3A f1 vs original::"
        "f1 0.1000 vs original 0.9400 (max loss 0.01): lost 0.8400, more than the 0.0100 allowed"
    )
    assert warnings[0].startswith("::warning title=qbench%3A check skipped::latency recorded, not gated: baseline recorded")


def test_github_annotation_messages_are_escaped():
    (line,) = github_annotations([make_result(error="50% done\nthen: boom")])
    assert line.endswith("::50%25 done%0Athen: boom")
