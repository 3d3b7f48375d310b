"""The whole gate, end to end through pytester, on the tiny DistilBERT and a small CoNLL file:
update into an empty folder, rerun, a tampered baseline, a foreign hardware key, the artifact,
the markdown report, and pytest-xdist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from projects import make_project

from pytest_qbench.report.artifact import validate_artifact

TEST_FILE = """
import pytest

@pytest.mark.qbench(approach=["dynamic", "static"], operators=[["Add", "MatMul"]], batch_size=[1, 2],
                    sequence_length=[16], calibration_num_samples=4, calibration_sequence_length=16)
def test_tiny(qbench):
    qbench.check()
"""
BASELINE = "baselines/test_tiny.py--test_tiny.json"
CASE = "dynamic-Add+MatMul-bs1-len16"


@pytest.fixture
def project(pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache) -> pytest.Pytester:
    make_project(pytester, tiny_distilbert, tiny_build_cache.root, TEST_FILE)
    return pytester


def _artifact(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / ".qbench" / "results.json").read_text())


def _edit_baseline(pytester: pytest.Pytester, edit) -> None:
    path = pytester.path / BASELINE
    data = json.loads(path.read_text())
    edit(data["cases"])
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


def test_update_then_rerun_then_regressions(project: pytest.Pytester):
    created = project.runpytest("--qbench", "--qbench-update-baselines")
    created.assert_outcomes(passed=4)
    created.stdout.fnmatch_lines([f"*baseline created: test_tiny.py::test_tiny [{CASE}]*"])
    stored = json.loads((project.path / BASELINE).read_text())["cases"]
    # The model is recorded as a name the same on every machine, not an absolute path.
    assert {e["model"] for by_key in stored.values() for e in by_key.values()} == {"tiny-distilbert0"}
    assert {c["verdict"] for c in _artifact(project)["cases"]} == {"updated"}

    project.runpytest("--qbench").assert_outcomes(passed=4)
    artifact = _artifact(project)
    validate_artifact(artifact)
    assert len(artifact["cases"]) == 4 and {c["verdict"] for c in artifact["cases"]} == {"pass"}
    assert {json.dumps(c["original"]) for c in artifact["cases"]} == {
        '{"precision": "fp32", "quantized_ops": {}, "weight_sparsity": 0.0}'
    }

    def raise_f1(cases):
        for entry in cases[CASE].values():
            entry["accuracy"]["optimized"]["f1"] += 0.05

    _edit_baseline(project, raise_f1)
    failed = project.runpytest("--qbench")
    failed.assert_outcomes(passed=3, failed=1)
    assert f"qbench {CASE}:\n[fail] f1 vs baseline: f1 " in failed.stdout.str()
    assert (project.path / BASELINE.replace(".json", ".obtained.json")).is_file()


def test_missing_baseline_fails_and_says_how_to_create_it(project: pytest.Pytester):
    result = project.runpytest("--qbench", "-k", "bs1 and dynamic")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*--qbench-update-baselines*"])


def test_other_hardware_skips_latency_with_a_warning_but_gates_accuracy(project: pytest.Pytester):
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=4)

    def move_to_other_hardware(cases):
        for case_id, by_key in cases.items():
            cases[case_id] = {"x86_64-avx2-64c": next(iter(by_key.values()))}

    _edit_baseline(project, move_to_other_hardware)
    result = project.runpytest("--qbench")
    result.assert_outcomes(passed=4)
    checks = {(c["metric"], c["status"]) for case in _artifact(project)["cases"] for c in case["checks"]}
    assert ("latency", "skip") in checks and ("f1", "pass") in checks
    result.stdout.fnmatch_lines(["*x86_64-avx2-64c*"])

    _edit_baseline(project, lambda cases: cases[CASE]["x86_64-avx2-64c"]["accuracy"]["optimized"].update(f1=0.99))
    project.runpytest("--qbench").assert_outcomes(passed=3, failed=1)


def test_markdown_report_has_the_reference_card_tables(project: pytest.Pytester):
    project.runpytest("--qbench", "--qbench-update-baselines", "--qbench-markdown", "report.md")
    report = (project.path / "report.md").read_text()
    assert "| quantization_approach | operators_to_quantize | | precision (original) |" in report
    assert "latency_mean (original, ms)" in report and "throughput (optimized, /s)" in report
    assert "batch size = 2, input length = 16" in report


def test_xdist_gives_one_artifact_and_one_write(project: pytest.Pytester):
    project.runpytest("--qbench", "--qbench-update-baselines", "-n", "2").assert_outcomes(passed=4)
    parallel = _artifact(project)
    validate_artifact(parallel)
    project.runpytest("--qbench").assert_outcomes(passed=4)
    serial = _artifact(project)
    assert sorted(c["id"] for c in parallel["cases"]) == sorted(c["id"] for c in serial["cases"])
    assert set(parallel) == set(serial) and set(parallel["cases"][0]) == set(serial["cases"][0])


FAKE_SKYLAKE = """
from pytest_qbench.hardware import hardware_from_cpuinfo

def pytest_qbench_hardware(config):
    # AVX-512 without VNNI; 64 cores, so that the key matches no machine this test runs on.
    return hardware_from_cpuinfo({"brand_raw": "Intel Xeon (Skylake-SP)", "arch": "X86_64", "count": 64,
                                  "flags": ["avx2", "avx512f", "avx512bw", "avx512vl"]}, 64)
"""
SKYLAKE_KEY = "x86_64-avx512-64c"


def test_u8s8_on_a_cpu_without_vnni_is_said_once_recorded_and_remedied(project: pytest.Pytester):
    project.makepyfile(fake_skylake=FAKE_SKYLAKE)
    project.syspathinsert()
    result = project.runpytest("--qbench", "--qbench-update-baselines", "-p", "fake_skylake")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            f"qbench: hardware key {SKYLAKE_KEY} (*int8 kernels avx512, preset avx512; no VNNI: U8S8 int8 can"
            " saturate here)"
        ]
    )
    assert result.stdout.str().count("u8s8 can saturate here") == 1
    result.stdout.fnmatch_lines(
        [
            "*int8 without VNNI buys little*",
            '*4 cases ran U8S8 models unremedied*saturation_remedy="x64quantprecision"*',
        ]
    )
    artifact = _artifact(project)
    assert artifact["environment"]["saturates_u8s8"] is True and artifact["environment"]["tier"] == "avx512"
    assert {c["saturation_risk"] for c in artifact["cases"]} == {True}
    assert {c["quantization"]["weights_dtype"] for c in artifact["cases"]} == {"int8"}

    remedied = project.runpytest("--qbench", "-p", "fake_skylake", "-o", "qbench_saturation_remedy=x64quantprecision")
    # The remedy is part of the recorded setup: the baselines of the unremedied variants say so.
    remedied.assert_outcomes(failed=4)
    remedied.stdout.fnmatch_lines(["*saturation_remedy 'none' -> 'x64quantprecision'*"])
    assert "u8s8 can saturate here" not in remedied.stdout.str()
    assert {c["saturation_risk"] for c in _artifact(project)["cases"]} == {False}


def test_a_first_run_on_a_new_hardware_key_records_latency_and_proposes_baselines(project: pytest.Pytester):
    project.makepyfile(fake_skylake=FAKE_SKYLAKE)
    project.syspathinsert()
    project.runpytest("--qbench", "--qbench-update-baselines", "-p", "fake_skylake").assert_outcomes(passed=4)
    before = (project.path / BASELINE).read_text()

    result = project.runpytest("--qbench")  # this machine's real key
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*latency recorded, not gated: no baseline runs of this machine (hardware key*) for 4 cases; accuracy was"
            " gated*",
            # a line per test, not per case
            f"    test_tiny.py::test_tiny: 4 cases, speedup here / on {SKYLAKE_KEY}: x* to x*",
            "*pytest --qbench --qbench-update-baselines*",
            "qbench: proposed baselines for * (4 cases) written to *proposed-baselines*",
        ]
    )
    assert (project.path / BASELINE).read_text() == before  # the reviewed baselines are untouched
    proposed = json.loads((project.path / ".qbench" / "proposed-baselines" / Path(BASELINE).name).read_text())
    keys = set(proposed["cases"][CASE])
    assert SKYLAKE_KEY in keys and len(keys) == 2


def test_a_lost_accuracy_points_to_the_diagnosis_which_reaches_the_message_artifact_and_report(
    project: pytest.Pytester,
):
    project.runpytest("--qbench", "--qbench-update-baselines", "-k", "static").assert_outcomes(passed=2)

    def raise_static_f1(cases):
        for case, entries in cases.items():
            for entry in entries.values():
                entry["accuracy"]["optimized"]["f1"] += 0.05 * case.startswith("static")

    _edit_baseline(project, raise_static_f1)
    plain = project.runpytest("--qbench", "-k", "static")
    plain.assert_outcomes(failed=2)
    plain.stdout.fnmatch_lines(["*diagnose it: pytest --qbench --qbench-diagnose 'test_tiny.py::test_tiny*"])
    assert "diagnosis of" not in plain.stdout.str()

    result = project.runpytest("--qbench", "-k", "static", "--qbench-repair", "--qbench-markdown", "report.md")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    # The tiny model is healthy in int8: the diagnosis says so, and the repair excludes nothing.
    assert "cause: neither loses more than max_loss" in out and "repair: (no exclusion needed)" in out
    summary = re.search(r"=+ qbench =+\n(.*?)(?:\n=+ |\Z)", out, re.S).group(1)
    assert summary.count("diagnosis of static-Add+MatMul") == 1  # once per variant, not per shape
    # ...and in each failure message (pytest repeats them in full in its short summary under CI=true)
    assert out.count("diagnosis of static-Add+MatMul") >= 1 + 2
    artifact = _artifact(project)
    validate_artifact(artifact)
    diagnoses = [c["diagnosis"] for c in artifact["cases"]]
    assert diagnoses[0] == diagnoses[1] and diagnoses[0]["preflight"]["cause"] == "none"
    assert diagnoses[0]["nodes"] and {n["op_type"] for n in diagnoses[0]["nodes"]} <= {"Add", "MatMul"}
    assert diagnoses[0]["repair"]["exclusion"] == {"families": [], "nodes": []} and diagnoses[0]["padded_fraction"] > 0
    report = (project.path / "report.md").read_text()
    assert report.count("### Diagnosis: `test_tiny.py::test_tiny` static-Add+MatMul") == 1


MODEL_FILE_TEST = """
import pytest

@pytest.mark.qbench(approach="dynamic", operators=[["MatMul"]], sequence_length=16, model_file="{file}")
def test_tiny(qbench):
    qbench.check()
"""


def test_model_file_picks_one_graph_of_a_hub_layout_folder(
    pytester: pytest.Pytester, tiny_distilbert_onnx: Path, tiny_build_cache
):
    from test_variants import hub_layout

    folder = hub_layout(tiny_distilbert_onnx, pytester.path / "hub", "model_fp16.onnx", "model_b.onnx")
    make_project(pytester, folder, tiny_build_cache.root, MODEL_FILE_TEST.format(file="onnx/model_b.onnx"))
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=1)
    make_project(pytester, folder, tiny_build_cache.root, MODEL_FILE_TEST.format(file="onnx/nope.onnx"))
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*model_file 'onnx/nope.onnx' is not a file in the model folder*"])


LABEL_MAP_TEST = """
import pytest

@pytest.mark.qbench(approach="dynamic", operators=[["MatMul"]], sequence_length=16{extra})
def test_tiny(qbench):
    qbench.check()
"""
RENAMED_TAGS = {"John": "B-PERSON", "Smith": "I-PERSON", "Reuters": "B-COMPANY", "Paris": "B-CITY", "Berlin": "B-CITY"}
TO_CONLL = {"PERSON": "PER", "COMPANY": "ORG", "CITY": "LOC", "*": "O"}


def test_label_map_scores_a_dataset_with_other_label_names_and_is_recorded(
    pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache
):
    from projects import conll

    make_project(pytester, tiny_distilbert, tiny_build_cache.root, LABEL_MAP_TEST.format(extra=""))
    for split in ("train", "valid"):
        (pytester.path / "data" / f"{split}.txt").write_text(conll(tags=RENAMED_TAGS))
    result = pytester.runpytest("--qbench", "--qbench-update-baselines")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown to the model: ['B-CITY'*map them with label_map= in the qbench marker*"])
    assert not (pytester.path / BASELINE).exists()

    pytester.makepyfile(test_tiny=LABEL_MAP_TEST.format(extra=f", label_map={TO_CONLL!r}"))
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=1)
    recorded = json.loads((pytester.path / BASELINE).read_text())["cases"]
    [entry] = [e for keys in recorded.values() for e in keys.values()]
    assert entry["parameters"]["evaluation"]["label_map"] == TO_CONLL
    [case] = _artifact(pytester)["cases"]
    assert case["parameters"]["evaluation"]["label_map"] == TO_CONLL
    assert set(case["accuracy"]["original"]["per_label_f1"]) <= {"PER", "ORG", "LOC"}

    # The same map from a conftest fixture: the same setup as the baseline.
    pytester.makepyfile(test_tiny=LABEL_MAP_TEST.format(extra=""))
    conftest = pytester.path / "conftest.py"
    fixture = "\n@pytest.fixture(scope='session')\ndef qbench_label_map():\n    return {mapping!r}\n"
    base = conftest.read_text()
    conftest.write_text(base + fixture.format(mapping=TO_CONLL))
    pytester.runpytest("--qbench").assert_outcomes(passed=1)

    # Another map is another setup: the baseline does not compare.
    conftest.write_text(base + fixture.format(mapping={**TO_CONLL, "COMPANY": "O", "ORG": "O"}))
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*baseline recorded with another setup (parameters.evaluation.label_map*"])


@pytest.fixture(scope="module")
def tiny_split_names(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny DistilBERT with a PII-shaped head, trained to tag "John Smith" B-GIVEN_NAME B-SURNAME."""
    from tiny_models import SPLIT_NAME_LABELS, SPLIT_NAME_TAGS, build_tiny_distilbert

    folder = tmp_path_factory.mktemp("tiny-split-names")
    return build_tiny_distilbert(folder, labels=SPLIT_NAME_LABELS, tags=SPLIT_NAME_TAGS)


SPLIT_TO_CONLL = {"GIVEN_NAME": "PER", "SURNAME": "PER", "CITY": "LOC", "*": "O"}


def test_a_head_that_tags_given_name_and_surname_apart_scores_whole_names(
    pytester: pytest.Pytester, tiny_split_names: Path, tiny_build_cache
):
    """CoNLL gold has John Smith as B-PER I-PER (3 times), Paris and Berlin as LOC (6): merged, the
    model's B-GIVEN_NAME B-SURNAME is that one PER; unmerged, two PER entities, both wrong."""
    make_project(
        pytester,
        tiny_split_names,
        tiny_build_cache.root,
        LABEL_MAP_TEST.format(extra=f", label_map={SPLIT_TO_CONLL!r}"),
    )
    result = pytester.runpytest("--qbench", "--qbench-update-baselines", "--qbench-markdown", "report.md")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        f"label_map on {tiny_split_names.name}: spans of each name (the original model, dynamic-MatMul-bs1-len16);"
        " adjacent parts of one entity merged:",
        "  name -> scored as  predicted  * gold",
        "  CITY -> LOC        6  * 0",
        "  LOC -> LOC         0  * 6",
        "  GIVEN_NAME -> PER  3  * 0",
        "  PER -> PER         0  * 3",
        "  SURNAME -> PER     3 (3 joined)  0",
        "  ORG -> O           3  * 3",
        "  no spans on either side: MISC",
        "*merges: 3 predicted and 0 gold spans joined the entity before them",
    ])
    artifact = _artifact(pytester)
    validate_artifact(artifact)
    [case] = artifact["cases"]
    assert case["parameters"]["evaluation"]["label_map_merge"] is True
    assert case["accuracy"]["original"]["f1"] == case["accuracy"]["optimized"]["f1"] == 1.0
    rows = {row["name"]: row for row in case["accuracy"]["original"]["label_map"]["names"]}
    assert (rows["SURNAME"]["predicted"], rows["SURNAME"]["predicted_joined"], rows["CITY"]["predicted"]) == (3, 3, 6)
    assert (rows["ORG"]["scored_as"], rows["ORG"]["predicted"], rows["ORG"]["gold"]) == ("O", 3, 3)
    assert "| `SURNAME -> PER` | 3 (3 joined) | 0 |" in (pytester.path / "report.md").read_text()

    # Merging off for every test (a conftest fixture): another setup than the baseline's, and John |
    # Smith are two PER entities: PER precision and recall 0, LOC right, F1 = 2 * 1/2 * 2/3 / (1/2 + 2/3).
    conftest = pytester.path / "conftest.py"
    conftest.write_text(
        conftest.read_text() + "\n@pytest.fixture(scope='session')\ndef qbench_label_map_merge():\n    return False\n"
    )
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*baseline recorded with another setup (parameters.evaluation.label_map_merge*"])
    [case] = _artifact(pytester)["cases"]
    assert case["parameters"]["evaluation"]["label_map_merge"] is False
    assert case["accuracy"]["original"]["f1"] == pytest.approx(4 / 7)
    assert case["accuracy"]["original"]["per_label_f1"]["PER"] == 0.0


def test_label_map_merge_without_a_label_map_is_an_error(
    pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache
):
    make_project(
        pytester, tiny_distilbert, tiny_build_cache.root, LABEL_MAP_TEST.format(extra=", label_map_merge=False")
    )
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*label_map_merge=False in the marker, but there is no label_map to apply it to*"])


PREQUANTIZED_TEST = """
import pytest

@pytest.mark.qbench(approach="dynamic", operators=[["MatMul"]], sequence_length=16)
def test_tiny(qbench):
    qbench.check()
"""


def test_a_prequantized_original_is_gated_as_what_it_is_and_said_so(
    pytester: pytest.Pytester, tiny_distilbert_onnx: Path, tiny_build_cache
):
    from test_variants import prequantized

    int8 = prequantized(tiny_distilbert_onnx, pytester.path / "int8-model", tiny_build_cache)
    make_project(pytester, int8, tiny_build_cache.root, PREQUANTIZED_TEST)
    result = pytester.runpytest("--qbench", "--qbench-update-baselines", "--qbench-markdown", "report.md")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        '*int8-model is already quantized (int8: DynamicQuantizeLinear x*, MatMulInteger x*): "original" in these'
        ' results is that model, not fp32, and each variant quantizes it again on top*'
    ])
    [case] = _artifact(pytester)["cases"]
    assert case["original"]["precision"] == "int8"
    # Its MatMuls are MatMulInteger already: a dynamic [MatMul] variant finds none left to quantize.
    assert case["quantization"]["quantized_ops"] == case["original"]["quantized_ops"]
    assert "**model_name_or_path**: `int8-model` (int8)" in (pytester.path / "report.md").read_text()
    pytester.runpytest("--qbench").assert_outcomes(passed=1)  # its accuracy and latency gate as for any model


GIVEN_TEST = """
import pytest

@pytest.mark.qbench(model_file="onnx/model.onnx", quantized_file="onnx/{quantized}", batch_size=[1, 2],
                    sequence_length=16)
def test_tiny(qbench):
    qbench.check()
"""


def test_a_quantized_file_is_gated_as_given_against_its_fp32_sibling(
    pytester: pytest.Pytester, tiny_distilbert_onnx: Path, tiny_build_cache
):
    from test_variants import hub_layout

    from pytest_qbench.specs import VariantSpec
    from pytest_qbench.variants.quantize import build_variant

    folder = hub_layout(tiny_distilbert_onnx, pytester.path / "hub", "model.onnx", "model_fp32_copy.onnx")
    int8 = build_variant(
        tiny_distilbert_onnx,
        VariantSpec("dynamic", ("MatMul",)),
        preset="avx2",
        calibration=None,
        cache=tiny_build_cache,
    )
    (folder / "onnx" / "model_quantized.onnx").write_bytes(int8.optimized.read_bytes())
    make_project(pytester, folder, tiny_build_cache.root, GIVEN_TEST.format(quantized="model_quantized.onnx"))
    result = pytester.runpytest("--qbench", "--qbench-update-baselines", "--qbench-markdown", "report.md")
    result.assert_outcomes(passed=2)
    pytester.runpytest("--qbench").assert_outcomes(passed=2)
    cases = _artifact(pytester)["cases"]
    assert [c["id"] for c in cases] == ["given-model_quantized-bs1-len16", "given-model_quantized-bs2-len16"]
    for case in cases:
        assert case["approach"] == "given" and case["original"]["precision"] == "fp32"
        assert case["quantization"]["quantized_ops"] == int8.quantization.quantized_ops  # the file, not a rebuild
        assert (case["quantization"]["activations_dtype"], case["quantization"]["weights_dtype"]) == ("uint8", "uint8")
        assert {c["metric"] for c in case["checks"] if c["status"] == "pass"} >= {"f1", "cpu.speedup", "parameters"}
    assert "| `given` | `onnx/model_quantized.onnx` |" in (pytester.path / "report.md").read_text()

    pytester.makepyfile(test_tiny=GIVEN_TEST.format(quantized="model_fp32_copy.onnx"))
    result = pytester.runpytest("--qbench", "--qbench-update-baselines")
    result.stdout.fnmatch_lines(
        ["*quantized_file model_fp32_copy.onnx holds no quantized op: it is gated as given, but it is not int8*"]
    )
    pytester.makepyfile(test_tiny=GIVEN_TEST.format(quantized="missing.onnx"))
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*quantized_file 'onnx/missing.onnx' is not a file in the model folder*"])


def test_latency_baselines_are_kept_per_cpu_model_strict_fails_what_is_not_gated_and_a_rerun_confirms(
    project: pytest.Pytester,
):
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=4)
    environment = _artifact(project)["environment"]
    cpu_model = environment["cpu_model"]
    assert environment["fingerprint"]["cpu_model"] == cpu_model and environment["fingerprint"]["kernel"]
    stored = json.loads((project.path / BASELINE).read_text())
    assert stored["schema_version"] == 4
    runs = [run for by_key in stored["cases"].values() for entry in by_key.values() for run in entry["latency"]["runs"]]
    assert len(runs) == 4 and {r["cpu_model"] for r in runs} == {cpu_model}
    assert len({r["run"] for r in runs}) == 1  # one run of the session, its id on every case

    # Baseline runs of another CPU model of the key: latency is not gated (and said so), accuracy is.
    def other_cpu_model(cases):
        for by_key in cases.values():
            for entry in by_key.values():
                for run in entry["latency"]["runs"]:
                    run["cpu_model"] = "intel-6-106"

    _edit_baseline(project, other_cpu_model)
    lenient = project.runpytest("--qbench")
    lenient.assert_outcomes(passed=4)
    lenient.stdout.fnmatch_lines([f"*not gated: no baseline runs of this machine (*CPU model {cpu_model}) for 4 cases*",
                                  "    test_tiny.py::test_tiny: 4 cases, speedup here / on x86_64-*: x* to x*"])
    reasons = {c["reason"] for case in _artifact(project)["cases"] for c in case["checks"] if c["metric"] == "latency"}
    assert reasons == {
        f"latency recorded, not gated: no baseline runs of CPU model {cpu_model} under hardware key"
        f" '{environment['hardware_key']}' (recorded: intel-6-106); CPU models of one key differ in speed by"
        " more than the tolerance (docs/BENCHMARKS.md): record this machine's with"
        " `pytest --qbench --qbench-update-baselines`"
    }
    strict = project.runpytest("--qbench", "--qbench-strict")
    strict.assert_outcomes(failed=4)
    strict.stdout.fnmatch_lines(["*[[]strict[]] [[]skip[]] latency vs baseline*record this machine's baseline runs*"])

    # A confirmation job reruns only the cases whose latency failed or was inconclusive, in the same family.
    first = _artifact(project)
    for case in first["cases"]:
        if case["id"] == CASE:
            case["checks"].append({**case["checks"][0], "metric": "cpu.speedup", "status": "inconclusive"})
    (project.path / "first.json").write_text(json.dumps(first))
    again = project.runpytest("--qbench", "--qbench-rerun-from", "first.json", "--qbench-json", ".qbench/again.json")
    again.assert_outcomes(passed=1, deselected=3)
    rerun = json.loads((project.path / ".qbench" / "again.json").read_text())
    assert [c["id"] for c in rerun["cases"]] == [CASE]
    assert rerun["run"]["selected"] == first["run"]["selected"] and rerun["run"]["id"] != first["run"]["id"]


def test_a_case_that_fails_at_first_look_is_measured_again_in_fresh_processes(project: pytest.Pytester):
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=4)
    # an update's run measures every case again and records the median of its measurements
    recorded = json.loads((project.path / BASELINE).read_text())["cases"]
    for case in _artifact(project)["cases"]:
        middle = sorted(m["speedup"]["value"] for m in case["latency"]["measurements"])[1]
        assert len(case["latency"]["measurements"]) == 3
        (entry,) = recorded[case["id"]].values()
        assert [run["speedup"] for run in entry["latency"]["runs"]] == [pytest.approx(middle, rel=1e-5)]

    def faster_baseline(cases):  # every recorded run 30x faster: beyond the projects' 21x limit
        for entry in cases[CASE].values():
            for run in entry["latency"]["runs"]:
                run.update({k: run[k] * 30 for k in ("speedup", "ci_low", "ci_high")})

    _edit_baseline(project, faster_baseline)
    failed = project.runpytest("--qbench", "--qbench-confirm-processes", "2")
    failed.assert_outcomes(passed=3, failed=1)
    cases = {c["id"]: c for c in _artifact(project)["cases"]}
    measured = cases[CASE]["latency"]["measurements"]
    assert len(measured) == 3  # the first look, then two fresh processes
    values = sorted(m["speedup"]["value"] for m in measured)
    assert cases[CASE]["latency"]["cpu"]["speedup"]["value"] == pytest.approx(values[1])
    (speedup,) = [c for c in cases[CASE]["checks"] if c["metric"] == "cpu.speedup"]
    # the fresh processes decided: failed only because each failed on its own; the check shows their best
    assert speedup["status"] == "fail" and "the best of 2 fresh processes' measurements" in speedup["reason"]
    assert speedup["measured"] == pytest.approx(max(m["speedup"]["value"] for m in measured[1:]))
    # the cases that passed at first look cost no confirmation
    assert all(c["latency"]["measurements"] == [] for case_id, c in cases.items() if case_id != CASE)

    project.runpytest("--qbench", "--qbench-confirm-processes", "0").assert_outcomes(passed=3, failed=1)
    assert _artifact(project)["cases"][0]["latency"]["measurements"] == []


def test_a_slowdown_common_to_every_case_fails_the_run_though_every_test_passed(project: pytest.Pytester):
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=4)

    def thirty_times_faster(cases):  # every model's recorded CPU time per call: beyond the projects' 21x limit
        for by_key in cases.values():
            for entry in by_key.values():
                for run in entry["latency"]["runs"]:
                    run.update(original_ms=run["original_ms"] / 30, optimized_ms=run["optimized_ms"] / 30)

    _edit_baseline(project, thirty_times_faster)
    result = project.runpytest("--qbench", "-o", "qbench_cpu_time_rtol=off")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (check,) = _artifact(project)["run_checks"]
    assert (check["metric"], check["status"]) == ("cpu_ms.common", "fail")


def test_one_case_slower_beyond_the_runs_common_move_fails_the_run_and_names_it(project: pytest.Pytester):
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=4)
    first = None

    def int8_twenty_times_faster(cases):  # of one case only, its speedup as recorded: that check passes
        nonlocal first
        first = sorted(cases)[0]
        for entry in cases[first].values():
            for run in entry["latency"]["runs"]:
                run.update(optimized_ms=run["optimized_ms"] / 20)

    _edit_baseline(project, int8_twenty_times_faster)
    result = project.runpytest("--qbench", "-o", "qbench_cpu_time_rtol=4")  # the others: within 5x
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    checks = {c["metric"]: c for c in _artifact(project)["run_checks"]}
    assert checks["cpu_ms.excess"]["status"] == "fail" and f"[{first}] +" in checks["cpu_ms.excess"]["reason"]
    assert checks["cpu_ms.common"]["status"] != "fail"
    result.stdout.fnmatch_lines([f"*run check: [[]fail[]] cpu_ms.excess*1 slower beyond it*[[]{first}[]]*"])
