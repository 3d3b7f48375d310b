import re
from dataclasses import replace
from pathlib import Path

from factories import CPU_MODEL, ENVIRONMENT, HW, TEST, latency_gate, looked_up, make_result

from pytest_qbench.gate import rules
from pytest_qbench.gate.baselines import entry_from_result
from pytest_qbench.report.annotations import github_annotations
from pytest_qbench.report.markdown import markdown
from pytest_qbench.report.terminal import summary_lines
from pytest_qbench.results import LabelMapEffect, MappedName, Parameters, Status
from pytest_qbench.specs import Tolerances

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
    "| throughput (original, /s) | throughput (optimized, /s) | | cpu_time (original, ms) | cpu_time (optimized, ms)"
    " |\n"
    "| :-------------------: | :-------------------: | :-: | :-------------------------: |"
    " :--------------------------: | :-: "
    "| :-----------------------: | :------------------------: | :-: | :---------------------: |"
    " :----------------------: |"
)
OTHER_HW = "x86_64-avx2-4c"
NOTHING = "dynamic quantization of ['Add'] quantized nothing"
REFERENCE = [  # approach, operators, f1 original -> optimized
    ("dynamic", ("Add", "MatMul"), (0.940, 0.939)),
    ("dynamic", ("Add",), (0.940, 0.940)),
    ("static", ("Add", "MatMul"), (0.940, 0.100)),
    ("static", ("Add",), (0.940, 0.076)),
]


def judge(*args, **kwargs):
    """rules.judge on the factories' CPU model."""
    return rules.judge(*args, latency=latency_gate(CPU_MODEL), **kwargs)


def reference_results(recorded_on: str = OTHER_HW):
    results = []
    for approach, operators, f1 in REFERENCE:
        for batch_size, length in [(1, 32), (4, 64)]:
            note = NOTHING if (approach, operators) == ("dynamic", ("Add",)) else None
            result = make_result(approach, operators, batch_size, length, f1=f1, note=note)
            judgement = judge(result, looked_up(entry_from_result(result), recorded_on), Tolerances())
            result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
            results.append(result)
    return results + [make_result(batch_size=8, error="RuntimeError: boom")]


def test_markdown_has_the_reference_card_tables():
    text = markdown(reference_results(), ENVIRONMENT)
    scoring = ("Scored as token-classification: precision, recall and F1 micro-averaged over entities (seqeval);"
               " accuracy over words; 3250 samples.")
    assert f"### Non-time metrics\n\n{scoring}\n\n{NON_TIME}\n" in text
    # the reference card's first row, figure for figure
    row = ("| `dynamic` | `['Add', 'MatMul']` | \\| | 0.936 | 0.935 | \\| | 0.944 | 0.943 | \\| | 0.940 | 0.939 | \\|"
           " | 0.988 | 0.988 |")
    assert row in text
    assert (
        "| `static` | `['Add', 'MatMul']` | \\| | 0.936 | 0.935 | \\| | 0.944 | 0.943 | \\| | 0.940 | 0.100 |" in text
    )
    assert text.count("| `dynamic` | `['Add', 'MatMul']` | \\| | 0.936") == 1  # one row per variant, not per shape
    for batch_size, length in [(1, 32), (4, 64), (8, 32)]:
        assert f"Below, time metrics for batch size = {batch_size}, input length = {length}.\n\n{TIME}\n" in text
    # wall clock (mean, throughput) then the one-thread CPU time per call (factories: 1.6 x wall)
    assert (
        "| `dynamic` | `['Add', 'MatMul']` | \\| | 46.38 | 9.96 | \\| | 21.56 | 100.40 | \\| | 74.21 | 15.94 |" in text
    )
    assert (
        "| `dynamic` | `['Add', 'MatMul']` | \\| | - | - | \\| | - | - | \\| | - | - |" in text
    )  # the case that errored
    assert ("Latency and throughput: wall clock at 2 threads; cpu_time: median CPU time per call on one thread,"
            " the signal the gate compares.") in text
    assert text.index("## Verdicts") > text.index("### Time metrics")


def test_markdown_states_parameters_environment_and_verdicts():
    text = markdown(reference_results(), ENVIRONMENT)
    assert "**model_name_or_path**: `elastic/distilbert-base-uncased-finetuned-conll03-english`" in text
    assert "Fixed parameters:\n* **opset**: `11`" in text
    assert "* **quantization_approach**: `dynamic`, `static`" in text
    assert "* **operators_to_quantize**: `['Add', 'MatMul']`, `['Add']`" in text
    assert f"* **Hardware key:** `{HW}`" in text
    assert ("| test | case | f1 original -> optimized | cpu speedup (CI) | wall speedup | verdict | failed checks |"
            in text)
    # the gated cpu speedup with its CI, then the wall-clock speedup (factories: 1.05 x the cpu one)
    assert (
        "| `static-Add+MatMul-bs1-len32` | 0.9400 -> 0.1000 | 4.66 (4.56 to 4.75) | 4.89 | fail | [fail] f1 vs original"
        in text
    )
    assert "| `dynamic-Add+MatMul-bs8-len32` | - | - | - | error | could not measure: RuntimeError: boom |" in text
    assert "could not measure: RuntimeError: boom" in text
    assert f"* {NOTHING} [dynamic-Add-bs1-len32, dynamic-Add-bs4-len64]" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_summary_has_a_row_per_case_and_warnings_once():
    lines = summary_lines(reference_results(), ENVIRONMENT)
    assert re.split(r"\s{2,}", lines[0].strip()) == ["case", "f1 original -> optimized", "cpu speedup (CI)",
                                                    "wall speedup", "verdict"]
    rows = [line for line in lines if line.startswith("  static-Add+MatMul-bs1-len32 ")]
    assert len(rows) == 1
    assert rows[0].split() == ["static-Add+MatMul-bs1-len32", "0.9400", "->", "0.1000", "4.66", "(4.56", "to", "4.75)",
                               "4.89", "fail"]
    assert any(line.split()[-1] == "error" and "dynamic-Add+MatMul-bs8-len32" in line for line in lines)
    warnings = lines[lines.index("warnings:") + 1:lines.index(f"hardware {HW}:")]
    assert warnings == [f"  {NOTHING} [dynamic-Add-bs1-len32, dynamic-Add-bs4-len64]"]
    failures = lines[lines.index("failures:") + 1:lines.index("warnings:")]
    assert len(failures) == 5 and "could not measure: RuntimeError: boom" in failures[-1]


def _faster(result, factor: float):
    """`result` with its cpu speedup `factor` x what its baseline recorded."""
    cpu = result.latency.cpu
    speedup = replace(cpu.speedup, value=cpu.speedup.value * factor)
    return replace(result, latency=replace(result.latency, cpu=replace(cpu, speedup=speedup)))


def test_a_first_run_on_a_new_hardware_key_folds_its_speedups_to_a_line_per_test_and_says_what_to_run():
    results = reference_results()
    results[0], results[1] = _faster(results[0], 0.93), _faster(results[1], 1.12)
    lines = summary_lines(results, ENVIRONMENT)
    notes = lines[lines.index(f"hardware {HW}:") + 1:]
    assert notes[0].startswith(f"  latency recorded, not gated: no baseline runs of this machine (hardware key {HW},"
                               f" CPU model {ENVIRONMENT.cpu_model or 'unrecorded'}) for 8 cases; accuracy was gated.")
    assert notes[0].endswith("Per test, its cpu speedups over the nearest baseline's (median of its runs; the markdown"
                             " and HTML reports give each case's):")
    # one line per test, not per case: the range of the gated cpu speedup here over the baseline's
    assert notes[1] == f"    {TEST}: 8 cases, speedup here / on {OTHER_HW}: x0.93 to x1.12"
    assert "pytest --qbench --qbench-update-baselines" in notes[2] and len(notes) == 3
    # the reports keep each case's, with its CI and the baseline's CPU models and runs
    markdown_text = markdown(results, ENVIRONMENT)
    assert "## This machine\n\n* latency recorded, not gated" in markdown_text
    assert (
        "  * static-Add+MatMul-bs1-len32: x4.66 (4.56-4.75) here, x4.66 on x86_64-avx2-4c (amd-26-2, 1 run)"
        in markdown_text
    )
    assert markdown_text.count(" here, x") == 8


def test_a_case_without_any_baseline_is_counted_apart_in_its_test_s_line():
    results = reference_results()
    results[0] = replace(results[0], baseline=None)
    lines = summary_lines(results, ENVIRONMENT)
    assert f"    {TEST}: 8 cases, speedup here / on {OTHER_HW}: x1.00 to x1.00; 1 with no baseline at all" in lines


NO_VNNI = replace(ENVIRONMENT, hardware_key="x86_64-avx512-2c", tier="avx512", saturates_u8s8=True)


def test_u8s8_on_a_cpu_without_vnni_is_said_once_with_the_remedy_and_what_int8_bought():
    risky = [make_result(batch_size=b, original_ms=12.0, optimized_ms=o) for b, o in ((1, 10.0), (8, 9.0))]
    for result in risky:
        result.saturation_risk = True
    lines = summary_lines(risky + [make_result(batch_size=4, original_ms=11.0, optimized_ms=10.0)], NO_VNNI)
    (bought,) = [line for line in lines if "int8 without VNNI" in line]
    # what users see: the wall-clock speedups (factories: 1.05 x the cpu speedups 1.10-1.33)
    assert bought == ("  int8 without VNNI buys little: this CPU (x86_64-avx512-2c) ran the int8 variants"
                      " x1.16-1.40 the fp32 speed (wall clock); CPUs with VNNI or AMX gain more (docs/RESULTS.md).")
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
    judgement = judge(result, looked_up(entry_from_result(result)), Tolerances())
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
    assert warnings[0].startswith(
        "::warning title=qbench%3A check skipped::latency recorded, not gated: baseline recorded"
    )


def test_github_annotation_messages_are_escaped():
    (line,) = github_annotations([make_result(error="50% done\nthen: boom")])
    assert line.endswith("::50%25 done%0Athen: boom")


def judged_on_this_machine(result, baseline=None):
    """`result` judged against a baseline of this hardware key (by default, its own measurement)."""
    entry = entry_from_result(baseline or result)
    judgement = judge(result, looked_up(entry), Tolerances())
    result.checks, result.verdict, result.baseline = judgement.checks, judgement.verdict, judgement.baseline
    return result


def too_noisy(result):
    """`result` with its cpu speedup's CI +-20% wide: too noisy to tell no change from a 10% slowdown."""
    cpu = result.latency.cpu
    speedup = replace(cpu.speedup, ci_low=cpu.speedup.value * 0.8, ci_high=cpu.speedup.value * 1.2)
    return replace(result, latency=replace(result.latency, cpu=replace(cpu, speedup=speedup)))


def test_an_inconclusive_check_is_listed_apart_from_the_failures():
    passing = judged_on_this_machine(make_result())
    base = make_result(batch_size=4)
    noisy = judged_on_this_machine(too_noisy(base), baseline=base)
    failing = judged_on_this_machine(make_result(batch_size=8, f1=(0.940, 0.100)))
    assert (passing.verdict, noisy.verdict, failing.verdict) == ("pass", "inconclusive", "fail")
    (check,) = [c for c in noisy.checks if c.status == "inconclusive"]
    assert check.metric == "cpu.speedup"

    lines = summary_lines([passing, noisy, failing], ENVIRONMENT)
    (row,) = [line for line in lines if line.startswith(f"  {noisy.case_id} ")]
    assert row.split()[-1] == "inconclusive"
    title = "inconclusive (not failed; measure longer or on a quieter machine):"
    assert lines[lines.index(title) + 1:] == [f"  {noisy.case_id}: {check.reason}"]
    assert "inconclusive, neither a 10% slowdown ruled out nor a slowdown significant" in check.reason
    failures = lines[lines.index("failures:") + 1:lines.index(title)]
    assert len(failures) == 1 and failures[0].startswith(f"  {failing.case_id}: [fail] f1 vs original")

    text = markdown([passing, noisy, failing], ENVIRONMENT)
    assert f"| `{noisy.case_id}` | 0.9400 -> 0.9390 | 4.66 (3.73 to 5.59) | 4.89 | inconclusive | |" in text
    assert f"\n\nInconclusive (not failed):\n\n* {noisy.case_id}: {check.reason}\n" in text
    assert text.index("Inconclusive (not failed):") > text.index("## Verdicts")

    annotations = github_annotations([passing, noisy, failing])
    (warning,) = [line for line in annotations if line.startswith("::warning ")]
    assert warning == (
        f"::warning file=examples/test_conll.py,title=qbench {noisy.case_id}%3A cpu.speedup inconclusive::"
        + check.reason.replace("%", "%25")
    )
    errors = [line for line in annotations if line.startswith("::error ")]
    assert len(errors) == 1 and failing.case_id in errors[0]


def test_no_inconclusive_section_when_every_check_decided():
    results = reference_results()
    assert not any(line.startswith("inconclusive") for line in summary_lines(results, ENVIRONMENT))
    assert "Inconclusive" not in markdown(results, ENVIRONMENT)
    assert not any("inconclusive" in line for line in github_annotations(results))


def _mapped(result, effect, merge=True):
    """`result` scored through a label_map that did `effect` to the original model's predictions."""
    accuracy = replace(result.accuracy_original, label_map=effect)
    evaluation = {
        "split": "validation",
        "label_map": {"GIVEN_NAME": "PER", "SURNAME": "PER", "*": "O"},
        "label_map_merge": merge,
    }
    parameters = Parameters({**result.parameters.recorded, "evaluation": evaluation})
    return replace(result, accuracy_original=accuracy, parameters=parameters)


PII_EFFECT = LabelMapEffect("span", [
    MappedName("GIVEN_NAME", "PER", 1904, 0), MappedName("PER", "PER", 0, 1842),
    MappedName("SURNAME", "PER", 1236, 0, 1236, 0), MappedName("EMAIL", "O", 0, 0), MappedName("MISC", "O", 0, 922),
])


def test_what_a_label_map_did_is_shown_once_per_model_for_its_first_case():
    first, second = (_mapped(make_result(batch_size=b), PII_EFFECT) for b in (1, 4))
    other = replace(_mapped(make_result(), PII_EFFECT, merge=False), model="another/model")
    lines = summary_lines([first, second, other], ENVIRONMENT)
    titles = [line for line in lines if line.startswith("label_map on ")]
    assert titles == [
        f"label_map on {first.model}: spans of each name (the original model, dynamic-Add+MatMul-bs1-len32);"
        " adjacent parts of one entity merged:",
        "label_map on another/model: spans of each name (the original model, dynamic-Add+MatMul-bs1-len32); parts not"
        " merged:",
    ]
    block = lines[lines.index(titles[0]) + 1 : lines.index(titles[1])]
    assert block == [
        "  name -> scored as  predicted           gold",
        "  GIVEN_NAME -> PER  1904                0",
        "  PER -> PER         0                   1842",
        "  SURNAME -> PER     1236 (1236 joined)  0",
        "  MISC -> O          0                   922",
        "  no spans on either side: EMAIL",
        "  merges: 1236 predicted and 0 gold spans joined the entity before them",
    ]
    text = markdown([first, second], ENVIRONMENT)
    assert text.count("label_map on ") == 1
    assert "| `SURNAME -> PER` | 1236 (1236 joined) | 0 |" in text
    assert (
        "No spans on either side: EMAIL. Merges: 1236 predicted and 0 gold spans joined the entity before them." in text
    )


def test_a_class_map_shows_samples_and_no_merges():
    effect = LabelMapEffect("sample", [MappedName("NEGATIVE", "rotten", 40, 0), MappedName("rotten", "rotten", 0, 38)])
    lines = summary_lines([_mapped(make_result(), effect)], ENVIRONMENT)
    start = next(i for i, line in enumerate(lines) if line.startswith("label_map on "))
    assert lines[start].endswith("samples of each name (the original model, dynamic-Add+MatMul-bs1-len32):")
    assert lines[start + 1 : start + 4] == [
        "  name -> scored as   predicted  gold",
        "  NEGATIVE -> rotten  40         0",
        "  rotten -> rotten    0          38",
    ]
    assert not any("merges" in line for line in lines)


def test_no_label_map_section_without_a_map():
    assert not any(line.startswith("label_map") for line in summary_lines([make_result()], ENVIRONMENT))


def test_a_case_confirmed_in_the_run_lists_each_measurement_and_the_verdict_on_their_median():
    from pytest_qbench.measure.stats import median_cpu

    base = make_result()
    cpu = base.latency.cpu
    measurements = [replace(cpu, speedup=replace(cpu.speedup, value=v)) for v in (4.21, 4.64, 4.70)]
    confirmed = replace(base, latency=replace(base.latency, cpu=median_cpu(measurements), measurements=measurements))
    confirmed = judged_on_this_machine(confirmed, baseline=base)
    lines = summary_lines([confirmed, judged_on_this_machine(make_result(batch_size=4))], ENVIRONMENT)
    title = ("measured again in fresh processes (a slow session only slows: judged on the best of them, failed only"
             " when each fails):")
    assert (
        lines[lines.index(title) + 1]
        == f"  {confirmed.case_id}: cpu speedups 4.210, 4.640, 4.700 -> best 4.700: pass"
    )
    assert (
        len([line for line in lines if "cpu speedups" in line]) == 1
    )  # the case that passed at first look is not listed
    assert f"* {confirmed.case_id}: cpu speedups 4.210, 4.640, 4.700 -> best 4.700: pass" in markdown(
        [confirmed], ENVIRONMENT
    )
    assert not any(line.startswith("measured again") for line in summary_lines(reference_results(), ENVIRONMENT))


def test_an_update_run_lists_none_of_its_cases_as_measured_again():
    base = make_result()
    cpu = base.latency.cpu
    measurements = [replace(cpu, speedup=replace(cpu.speedup, value=v)) for v in (4.21, 4.64, 4.70)]
    updated = replace(base, latency=replace(base.latency, measurements=measurements))
    judgement = rules.judge(updated, looked_up(entry_from_result(base)), Tolerances(), latency=latency_gate(),
                            update=True)
    updated.checks, updated.verdict = judgement.checks, judgement.verdict
    gated = judged_on_this_machine(replace(updated), baseline=base)
    assert (updated.verdict, gated.verdict) == (Status.UPDATED, Status.PASS)
    assert [len([line for line in summary_lines([r], ENVIRONMENT) if "cpu speedups" in line])
            for r in (updated, gated)] == [0, 1]


# ---- report/outputs.py: what a run keeps of each result, and writes at its end -------------------------


def _options(tmp_path: Path, **changes):
    from pytest_qbench.specs import QbenchOptions, TimingSpec

    return QbenchOptions(enabled=True, update=False, baselines=tmp_path / "baselines", json=tmp_path / "results.json",
                         markdown=None, html=None, history=None, cache_dir=None, timing=TimingSpec(),
                         tolerances=Tolerances(), saturation_remedy="none", **changes)


def test_the_end_of_run_writes_return_what_they_did_and_change_nothing_they_were_given(tmp_path: Path):
    import dataclasses

    import pytest

    from pytest_qbench.gate.baselines import BaselineStore
    from pytest_qbench.gate.rules import RunOutcome
    from pytest_qbench.report.outputs import RunOutputs

    (tmp_path / "results.json").mkdir()  # the artifact cannot be written: an error line, not a traceback
    result = replace(make_result(), verdict=Status.PASS, hardware_key=HW)
    outputs = RunOutputs(options=_options(tmp_path), outcome=RunOutcome([result]), environment=ENVIRONMENT,
                         store=BaselineStore(tmp_path / "baselines"), hardware_key=HW, selected=None, skipped=[],
                         shard_plan=None, interrupted=False)
    written = outputs.write(amend_artifact=lambda artifact: None)
    assert written.interrupted is False and written.lines == ()
    assert len(written.errors) == 1 and written.errors[0].startswith("qbench: ERROR: could not write the JSON artifact")
    with pytest.raises(dataclasses.FrozenInstanceError):
        outputs.interrupted = True  # type: ignore[misc]


def test_a_result_is_kept_as_its_verdict_says(tmp_path: Path):
    from pytest_qbench.gate.baselines import BaselineStore
    from pytest_qbench.report.outputs import stage_result

    store, created = BaselineStore(tmp_path / "baselines"), []

    def when() -> str:
        created.append("asked")
        return "2026-12-07T00:00:00+00:00"

    passed, failed = replace(make_result(), verdict=Status.PASS), replace(make_result(), verdict=Status.FAIL)
    assert stage_result(store, passed, HW, update=False, sharded=False, created=when) is None
    assert stage_result(store, failed, HW, update=False, sharded=False, created=when) is None
    assert [p.name for p in (tmp_path / "baselines").iterdir()] == [
        store.path_for(TEST).name.replace(".json", ".obtained.json")
    ]
    updated = replace(make_result(), verdict=Status.UPDATED)
    assert stage_result(store, updated, HW, update=True, sharded=True, created=when) is None  # the merge writes it
    assert created == [] and store.flush().created == []
    assert stage_result(store, updated, HW, update=True, sharded=False, created=when) is None
    assert created == ["asked"] and store.flush().created == [(TEST, updated.case_id, HW)]

    (tmp_path / "file").write_text("not a folder")
    error = stage_result(BaselineStore(tmp_path / "file"), failed, HW, update=False, sharded=False, created=when)
    assert error.startswith(f"qbench: ERROR: could not write the obtained file of {TEST} [{failed.case_id}]: ")
