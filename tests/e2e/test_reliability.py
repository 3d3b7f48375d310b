"""Reliability: bad input gets one clear line through pytest, and faults lose nothing.

End to end on the tiny DistilBERT (tests/tiny_models.py) and small CoNLL files: through pytester,
in process where that is enough, and as real `python -m pytest` subprocesses where a signal or a
second writer is the point. docs/RELIABILITY.md tabulates what these tests try and what users see.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from projects import make_project
from tiny_models import write_tokenizer

from pytest_qbench.report.artifact import validate_artifact

ONE_CASE = 'approach=["dynamic"], operators=[["Add", "MatMul"]], batch_size=[1], sequence_length=[16]'
TWO_CASES = 'approach=["dynamic"], operators=[["Add", "MatMul"]], batch_size=[1, 2], sequence_length=[16]'
BASELINE = "baselines/test_tiny.py--test_tiny.json"
CASE = "dynamic-Add+MatMul-bs1-len16"


def gate(cases: str = ONE_CASE) -> str:
    return f"""
import pytest

@pytest.mark.qbench({cases})
def test_tiny(qbench):
    qbench.check()
"""


@pytest.fixture
def project(pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache) -> pytest.Pytester:
    """One case, dynamic int8, batch 1, length 16: the cheapest gate the tiny model runs."""
    make_project(pytester, tiny_distilbert, tiny_build_cache.root, gate())
    return pytester


def artifact(root: Path) -> dict:
    return json.loads((root / ".qbench" / "results.json").read_text())


def assert_no_traceback(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    assert "During handling of the above exception" not in text and "direct cause" not in text, text
    assert not [line for line in result.outlines if line.startswith("E   ")], text  # pytest's traceback lines


def literal_brackets(pattern: str) -> str:
    """An fnmatch pattern whose "[" are characters, not classes ("*" stays a wildcard)."""
    return pattern.replace("[", "[[]")


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


# ---- bad input: one line each, through pytest --------------------------------------------------
# (The marker's other errors, at collection, are tests/e2e/test_plugin.py's; these two are not.)


@pytest.mark.parametrize(
    ("marker", "line"),
    [
        ("operators=['Add', 'Add']", "*::test_bad: qbench: operator set [[]'Add', 'Add'] lists 'Add' twice;"
                                     " give each operator once"),
        ("approach=['dynamik']", "*::test_bad: qbench: unknown approach 'dynamik'; allowed: 'dynamic', 'static'"),
    ],
)
def test_a_bad_marker_is_one_collection_error_line(pytester: pytest.Pytester, marker: str, line: str):
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.qbench({marker})\ndef test_bad(qbench):\n    pass\n")
    result = pytester.runpytest("--qbench")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting*", line])
    assert_no_traceback(result)

BAD_INPUT = {
    # name: (marker arguments, the line pytest prints)
    "too_long": (
        'sequence_length=[256], approach=["dynamic"], batch_size=[1]',
        "qbench dynamic-Add+MatMul-bs1-len256: could not measure: QbenchCaseError: sequence_length 256 is above"
        " the model's maximum 128; use sequence_length <= 128",
    ),
    "calibration_too_long": (
        'approach=["static"], batch_size=[1], sequence_length=[16], calibration_sequence_length=512',
        "qbench static-Add+MatMul-bs1-len16: could not measure: QbenchCaseError: calibration_sequence_length 512"
        " is above the model's maximum 128; use calibration_sequence_length <= 128",
    ),
    "missing_model": (
        f'model="./no-such-model", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchModelError: model path './no-such-model' does not exist",
    ),
    "folder_without_config": (
        f'model="empty_model", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchModelError: '*empty_model' has no config.json; a model folder"
        " needs the Hugging Face config and tokenizer files next to the weights or the .onnx file",
    ),
    "folder_without_weights": (
        f'model="config_only", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchModelError: model folder '*config_only' has no weights"
        " (model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json)"
        ", no model.onnx and no onnx/model.onnx",
    ),
    "hub_id_offline": (
        f'model="qbench-test-org/no-such-model", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchModelError: model 'qbench-test-org/no-such-model' is not a"
        " local path and could not be fetched from the Hugging Face hub (unreachable, or no such model: *);"
        " check the id, or pass a local model folder or .onnx file",
    ),
    "wrong_task": (
        f'model="masked_lm", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchConfigError: the model is a DistilBertForMaskedLM;"
        " supported tasks: token-classification (*ForTokenClassification), text-classification"
        " (*ForSequenceClassification), question-answering (*ForQuestionAnswering)",
    ),
    "classifier_on_word_labels": (
        f'model="sequence_classifier", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: the dataset has no column 'text'; its columns:"
        " tokens, ner_tags. Set input_column/label_column in the qbench marker",
    ),
    "no_such_split": (
        f'eval_split="test", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: *data has no split 'test'; available splits:"
        " 'train', 'validation'",
    ),
    "no_input_column": (
        f'input_column="words", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: the dataset has no column 'words'; its columns:"
        " tokens, ner_tags. Set input_column/label_column in the qbench marker",
    ),
    "no_label_column": (
        f'label_column="tags", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: the dataset has no column 'tags'; its columns:"
        " tokens, ner_tags. Set input_column/label_column in the qbench marker",
    ),
    "labels_unknown_to_the_model": (
        f'dataset="foreign_labels.txt", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: the dataset's labels ['B-FOOD', 'O'] are not all"
        " among the model's labels [*] (unknown to the model: ['B-FOOD']), so the scores would be wrong. If the"
        " two name the same things differently, map them with label_map= in the qbench marker (e.g."
        " label_map={'GIVEN_NAME': 'PER', 'CITY': 'LOC', '*': 'O'}); else fix the model config's id2label, or"
        " use a dataset with the model's label names",
    ),
    "calibration_split_too_small": (
        'approach=["static"], operators=[["Add", "MatMul"]], batch_size=[1], sequence_length=[16],'
        " calibration_num_samples=1000, calibration_sequence_length=16",
        "qbench static-Add+MatMul-bs1-len16: could not measure: QbenchDataError: calibration asks for 1000"
        " samples but the split has only 12; lower calibration_num_samples or use a larger split",
    ),
    "empty_dataset": (
        f'dataset="empty.txt", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: *empty.txt: no sentences found; is this a CoNLL"
        " file (token ... tag per line)?",
    ),
    "malformed_conll": (
        f'dataset="malformed.txt", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: *malformed.txt:5: expected 'token ... tag'"
        " (at least two columns), got 'Berlin'",
    ),
    "conll_not_utf8": (
        f'dataset="latin1.txt", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: *latin1.txt:4: not UTF-8 text (byte 0xfc);"
        " save the file as UTF-8",
    ),
    "missing_dataset": (
        f'dataset="no-such-data.txt", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: dataset 'no-such-data.txt': no such file or folder",
    ),
    "hub_dataset_offline": (
        f'dataset="conll2003", {ONE_CASE}',
        f"qbench {CASE}: could not measure: QbenchDataError: could not load split 'validation' of dataset"
        " 'conll2003': *. Give a local file or folder instead, or return a datasets.Dataset from a"
        " `qbench_dataset` fixture",
    ),
}


@pytest.fixture
def bad_input_project(pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache, monkeypatch):
    import datasets
    import huggingface_hub
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertForSequenceClassification

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    tests = "import pytest\n" + "".join(
        f"\n@pytest.mark.qbench({marker})\ndef test_{name}(qbench):\n    qbench.check()\n"
        for name, (marker, _) in BAD_INPUT.items()
    )
    root = make_project(pytester, tiny_distilbert, tiny_build_cache.root, tests)
    (root / "empty_model").mkdir()
    (root / "config_only").mkdir()
    (root / "config_only" / "config.json").write_text((tiny_distilbert / "config.json").read_text())
    classifier = root / "sequence_classifier"
    config = DistilBertConfig.from_pretrained(tiny_distilbert)
    config.architectures = None
    DistilBertForSequenceClassification(config).save_pretrained(classifier)
    write_tokenizer(classifier, ["input_ids", "attention_mask"])
    DistilBertForMaskedLM(DistilBertConfig.from_pretrained(tiny_distilbert, architectures=None)).save_pretrained(
        root / "masked_lm"
    )
    write_tokenizer(root / "masked_lm", ["input_ids", "attention_mask"])
    (root / "foreign_labels.txt").write_text("Pasta B-FOOD\nis O\ngood O\n")
    (root / "empty.txt").write_text("-DOCSTART- -X- -X- O\n\n")
    (root / "malformed.txt").write_text("John B-PER\nSmith I-PER\n\nParis B-LOC\nBerlin\n")
    (root / "latin1.txt").write_bytes("John B-PER\n\nParis B-LOC\nM\u00fcnchen B-LOC\n".encode("latin-1"))
    return pytester


def test_bad_input_fails_its_case_with_one_line_naming_problem_and_fix(bad_input_project: pytest.Pytester):
    result = bad_input_project.runpytest("--qbench")
    result.assert_outcomes(failed=len(BAD_INPUT))
    for _, line in BAD_INPUT.values():
        result.stdout.fnmatch_lines([literal_brackets(line)])
    assert_no_traceback(result)
    cases = artifact(bad_input_project.path)["cases"]
    assert {c["verdict"] for c in cases} == {"error"} and all(c["error"] for c in cases)
    assert not (bad_input_project.path / "baselines").exists()


def test_a_model_without_head_runs_with_a_warning(project: pytest.Pytester, tiny_distilbert: Path):
    from transformers import DistilBertModel

    encoder = project.path / "encoder"
    DistilBertModel.from_pretrained(tiny_distilbert).save_pretrained(encoder)
    write_tokenizer(encoder, ["input_ids", "attention_mask"])
    # the head is initialised at random in each run: its int8 loss is noise, and the warning is what is tested
    project.makepyfile(test_tiny=gate(f'model="encoder", max_loss=1.0, {ONE_CASE}'))
    result = project.runpytest("--qbench", "--qbench-update-baselines")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*QbenchModelWarning: qbench: model '*encoder' has no trained token-classification"
                                 " head; classifier.bias, classifier.weight were initialised at random*"])


# ---- baselines: corrupt, foreign, unreadable, unwritable ---------------------------------------

BAD_BASELINES = {
    # test name: (how its baseline file is damaged, the line the gate run prints)
    "truncated": (
        lambda text: text[: len(text) // 2],
        "qbench {case}: could not read its baseline: QbenchBaselineError: baseline file {file} is not valid"
        " JSON (JSONDecodeError: *); it was left untouched: restore it from version control, or delete it and"
        " re-create it with `pytest --qbench --qbench-update-baselines`",
    ),
    "merge_conflict": (
        lambda text: "<<<<<<< HEAD\n" + text + "=======\n{}\n>>>>>>> main\n",
        "qbench {case}: could not read its baseline: QbenchBaselineError: baseline file {file} is not valid"
        " JSON (JSONDecodeError: Expecting value: line 1 column 1 (char 0)); it was left untouched: *",
    ),
    "future_schema": (
        lambda text: text.replace('"schema_version": 4', '"schema_version": 5'),
        "qbench {case}: could not read its baseline: QbenchBaselineError: baseline file {file} has schema_version"
        " 5; this pytest-qbench reads schema_version 4 only: upgrade pytest-qbench, or re-create the file with"
        " `pytest --qbench --qbench-update-baselines`",
    ),
    "past_schema": (
        lambda text: text.replace('"schema_version": 4', '"schema_version": 2'),
        "qbench {case}: could not read its baseline: QbenchBaselineError: baseline file {file} has schema_version"
        " 2; this pytest-qbench reads schema_version 4 only: it is from an older pytest-qbench (whose hardware"
        " keys, parameters or latency fields differ) or not a baseline file: delete it, then re-create it with"
        " `pytest --qbench --qbench-update-baselines`",
    ),
    "entry_without_f1": (
        lambda text: edit_entries(text, lambda entry: entry["accuracy"]["optimized"].pop("f1")),
        "qbench {case}: could not read its baseline: QbenchBaselineError: baseline file {file}: the entry of case"
        " '{case}' under hardware key '*' has accuracy.optimized.f1 = None, not a finite number; it was left"
        " untouched: restore it from version control, or re-create it with `pytest --qbench --qbench-update-baselines`",
    ),
    "other_model": (
        lambda text: edit_entries(text, lambda entry: entry.update(model="/elsewhere/ner-model")),
        "[[]fail] parameters vs baseline: baseline recorded with another setup (model '/elsewhere/ner-model' ->"
        " '*'); if intended, update it with `pytest --qbench --qbench-update-baselines`",
    ),
    "other_configuration": (
        lambda text: edit_entries(text, lambda entry: entry["parameters"].update(per_channel=True)),
        "[[]fail] parameters vs baseline: baseline recorded with another setup (parameters.per_channel True ->"
        " False); if intended, update it with `pytest --qbench --qbench-update-baselines`",
    ),
}
UNREADABLE = ("truncated", "merge_conflict", "future_schema", "past_schema")


def edit_entries(text: str, edit) -> str:
    doc = json.loads(text)
    for by_hardware in doc["cases"].values():
        for entry in by_hardware.values():
            edit(entry)
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def baseline_of(root: Path, name: str) -> Path:
    return root / "baselines" / f"test_tiny.py--test_{name}.json"


def test_bad_baseline_files_fail_their_case_cleanly_and_stay_untouched(
    pytester: pytest.Pytester, tiny_distilbert: Path, tiny_build_cache
):
    names = [*BAD_BASELINES, "intact"]
    tests = "import pytest\n" + "".join(
        f"\n@pytest.mark.qbench({ONE_CASE})\ndef test_{name}(qbench):\n    qbench.check()\n" for name in names
    )
    root = make_project(pytester, tiny_distilbert, tiny_build_cache.root, tests)
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=len(names))
    for name, (damage, _) in BAD_BASELINES.items():
        path = baseline_of(root, name)
        path.write_text(damage(path.read_text()))
    damaged = {name: baseline_of(root, name).read_bytes() for name in BAD_BASELINES}

    result = pytester.runpytest("--qbench")
    result.assert_outcomes(passed=1, failed=len(BAD_BASELINES))
    for name, (_, line) in BAD_BASELINES.items():
        result.stdout.fnmatch_lines(
            [line.format(case=CASE.replace("[", "[[]"), file=f"*{baseline_of(root, name).name}")]
        )
    assert_no_traceback(result)
    assert {name: baseline_of(root, name).read_bytes() for name in BAD_BASELINES} == damaged
    verdicts = {case["test"].split("::test_")[1]: (case["verdict"], case["error"]) for case in artifact(root)["cases"]}
    assert all(verdicts[name][0] == "error" and "QbenchBaselineError" in verdicts[name][1]
               for name in (*UNREADABLE, "entry_without_f1"))
    assert verdicts["other_model"] == verdicts["other_configuration"] == ("fail", None)

    # An update cannot mend a file it cannot read: those cases fail again, and their files stay as
    # they are; a readable file with a broken or foreign entry gets the new measurement.
    result = pytester.runpytest("--qbench", "--qbench-update-baselines")
    result.assert_outcomes(passed=1 + len(BAD_BASELINES) - len(UNREADABLE), failed=len(UNREADABLE))
    assert_no_traceback(result)
    assert {name: baseline_of(root, name).read_bytes() for name in UNREADABLE} == {n: damaged[n] for n in UNREADABLE}
    pytester.runpytest("--qbench", "-k", "without_f1 or other or intact").assert_outcomes(passed=4)
    assert temp_files(root) == []


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES], ids=["disk-full", "permission-denied"])
def test_a_failed_write_is_a_clear_error_and_keeps_the_old_files(project: pytest.Pytester, error):
    root = project.path
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=1)
    old = {path: path.read_bytes() for path in (root / BASELINE, root / ".qbench" / "results.json")}
    replace = os.replace

    def failing_replace(src, dst, *args, **kwargs):
        if str(dst).startswith(str(root)) and str(dst).endswith(".json"):
            raise OSError(error, os.strerror(error), str(dst))
        return replace(src, dst, *args, **kwargs)

    # Not `monkeypatch.undo()` afterwards: that would also undo pytester's chdir into the project.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", failing_replace)
        result = project.runpytest("--qbench", "--qbench-update-baselines")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reason = f"[[]Errno {error}] {os.strerror(error)}: '{{}}'"
    result.stdout.fnmatch_lines([
        f"qbench: ERROR: could not write baseline file *{BASELINE} ({reason.format('*' + BASELINE)});"
        " any old file is unchanged",
        f"qbench: ERROR: could not write the JSON artifact to *.qbench/results.json: {reason.format('*results.json')}",
    ])
    assert_no_traceback(result)
    assert {path: path.read_bytes() for path in old} == old
    assert temp_files(root) == []

    # The obtained file of a failing case, written during the run: same error, the run goes on.
    (root / BASELINE).write_text(edit_entries((root / BASELINE).read_text(),
                                              lambda entry: entry["accuracy"]["optimized"].update(f1=0.99)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", failing_replace)
        result = project.runpytest("--qbench")
    result.assert_outcomes(failed=1)
    obtained = BASELINE.replace(".json", ".obtained.json")
    result.stdout.fnmatch_lines([
        f"qbench: ERROR: could not write the obtained file of test_tiny.py::test_tiny [[]{CASE}]: could not write"
        f" baseline file *{obtained} ({reason.format('*' + obtained)}); any old file is unchanged",
    ])
    assert_no_traceback(result)
    assert not (root / obtained).exists() and temp_files(root) == []


def test_a_baselines_folder_that_cannot_be_created_is_a_clear_error(project: pytest.Pytester):
    (project.path / "not-a-folder").write_text("a file where the baselines folder should be\n")
    result = project.runpytest("--qbench", "--qbench-update-baselines", "--qbench-baselines", "not-a-folder")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "qbench: JSON artifact written to */.qbench/results.json",
        "qbench: ERROR: could not write baseline file */not-a-folder/test_tiny.py--test_tiny.json"
        " ([[]Errno 17] File exists: '*/not-a-folder'); any old file is unchanged",
    ])
    assert_no_traceback(result)
    assert (project.path / "not-a-folder").read_text().startswith("a file where")
    assert [c["verdict"] for c in artifact(project.path)["cases"]] == ["updated"]


# ---- faults: a variant that fails errors its own cases, the others go on ------------------------

FAULTS_CONFTEST = '''
import json
from pathlib import Path

import numpy as np
import pytest
from onnxruntime.capi.onnxruntime_pybind11_state import Fail

# Which quantized model misbehaves, by its operator set (read from the build cache's manifest).
FAULTS = {("MatMul",): "nan", ("Add",): "onnxruntime"}


class Faulty:
    """An InferenceSession whose run returns NaN or raises as onnxruntime does."""

    def __init__(self, session, fault):
        self._session, self._fault = session, fault

    def __getattr__(self, name):
        return getattr(self._session, name)

    def run(self, output_names, feed, *args, **kwargs):
        outputs = self._session.run(output_names, feed, *args, **kwargs)
        if self._fault == "nan":
            return [np.full(o.shape, np.nan, dtype=np.float32) for o in outputs]
        raise Fail("[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running"
                   " MatMulInteger node. Name:'/q_lin/MatMul_quant' Status Message: injected fault")


@pytest.fixture(autouse=True)
def faults(monkeypatch):
    import pytest_qbench.measure.ort_session as ort_session
    import pytest_qbench.variants.quantize as variants

    make_ort_session, backend = ort_session.make_ort_session, variants.backend

    def faulty_session(path, threads, config_entries=None):
        session = make_ort_session(path, threads, config_entries)
        manifest = Path(path).parent / "manifest.json"
        if Path(path).name == "model_optimized_quantized.onnx" and manifest.is_file():
            fault = FAULTS.get(tuple(json.loads(manifest.read_text())["key"]["variant"]["operators"]))
            if fault:
                return Faulty(session, fault)
        return session

    class FailingStatic:  # the toolchain's steps, its quantizer failing static variants
        def __init__(self, real):
            self._real = real

        def __getattr__(self, name):
            return getattr(self._real, name)

        def quantize(self, work, optimized_file, spec, *args):
            if spec.approach == "static":
                raise Fail("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : injected fault in calibration")
            return self._real.quantize(work, optimized_file, spec, *args)

    monkeypatch.setattr(ort_session, "make_ort_session", faulty_session)
    monkeypatch.setattr(variants, "backend", lambda: FailingStatic(backend()))
'''

FAULTS_TESTS = '''
import pytest

SHAPE = dict(batch_size=[1], sequence_length=[16])

@pytest.mark.qbench(approach=["static"], operators=[["Add", "MatMul"]], batch_size=[1, 2], sequence_length=[16],
                    calibration_num_samples=4, calibration_sequence_length=16)
def test_build_fails(qbench):
    qbench.check()

@pytest.mark.qbench(approach=["dynamic"], operators=[["MatMul"]], **SHAPE)
def test_nan(qbench):
    qbench.check()

@pytest.mark.qbench(approach=["dynamic"], operators=[["Add"]], **SHAPE)
def test_onnxruntime_error(qbench):
    qbench.check()

@pytest.mark.qbench(approach=["dynamic"], operators=[["Add", "MatMul"]], **SHAPE)
def test_good(qbench):
    qbench.check()
'''


def test_a_failing_variant_errors_its_own_cases_and_the_rest_go_on(
    pytester: pytest.Pytester, tiny_distilbert: Path, tmp_path: Path
):
    # A build cache of its own: the injected build failure must not meet a variant built before.
    root = make_project(pytester, tiny_distilbert, tmp_path / "cache", FAULTS_TESTS)
    (root / "conftest.py").write_text((root / "conftest.py").read_text() + FAULTS_CONFTEST)
    result = pytester.runpytest("--qbench", "--qbench-update-baselines")
    result.assert_outcomes(passed=1, failed=4)
    build_error = (
        "could not measure: QbenchBuildError: building variant static-Add+MatMul failed at static quantization:"
        " Fail: [[]ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : injected fault in calibration"
    )
    result.stdout.fnmatch_lines([
        f"qbench static-Add+MatMul-bs1-len16: {build_error}",
        f"qbench static-Add+MatMul-bs2-len16: {build_error}",
        "qbench dynamic-MatMul-bs1-len16: could not measure: QbenchCaseError: the optimized model returns NaN or"
        " infinite outputs for dynamic-MatMul-bs1-len16",
        "qbench dynamic-Add-bs1-len16: could not measure: Fail: [[]ONNXRuntimeError] : 1 : FAIL : Non-zero status"
        " code returned while running MatMulInteger node. Name:'/q_lin/MatMul_quant' Status Message: injected fault",
        "qbench: baseline created: test_tiny.py::test_good [[]dynamic-Add+MatMul-bs1-len16]*",
    ])
    assert_no_traceback(result)
    cases = artifact(root)["cases"]
    validate_artifact(artifact(root))
    verdicts = {c["id"]: c["verdict"] for c in cases}
    assert verdicts == {
        "static-Add+MatMul-bs1-len16": "error",
        "static-Add+MatMul-bs2-len16": "error",
        "dynamic-MatMul-bs1-len16": "error",
        "dynamic-Add-bs1-len16": "error",
        "dynamic-Add+MatMul-bs1-len16": "updated",
    }
    errors = {c["id"]: c["error"] for c in cases}
    assert errors["dynamic-MatMul-bs1-len16"].startswith("QbenchCaseError: the optimized model returns NaN")
    assert errors["dynamic-Add-bs1-len16"].startswith("Fail: [ONNXRuntimeError] : 1 : FAIL")
    assert errors["dynamic-Add+MatMul-bs1-len16"] is None
    assert sorted(p.name for p in (root / "baselines").iterdir()) == ["test_tiny.py--test_good.json"]
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no half-built entry


# ---- interrupts and kills: every baseline old or new, never torn -------------------------------

SLOW_REPLACE = '''
"""Holds the rename of a baseline file for a minute, after announcing it: the moment to kill."""
import os
import time
from pathlib import Path

_replace = os.replace


def _slow_replace(src, dst, *args, **kwargs):
    if Path(dst).parent.name == "baselines":
        Path(os.environ["QBENCH_TEST_REPLACING"]).write_text(str(src))
        time.sleep(60)
    return _replace(src, dst, *args, **kwargs)


os.replace = _slow_replace
'''


def spawn(root: Path, *args: str, **env: str) -> subprocess.Popen:
    """`python -m pytest ARGS` in `root`, its output merged and unbuffered."""
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **env}
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"):
        environ.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=root, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # A shell runs background jobs with SIGINT ignored, the child inherits that, and Python then
        # installs no KeyboardInterrupt handler: give the child the default a user's terminal has.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signal_when(proc: subprocess.Popen, text: str, signum: int, delay: float, timeout: float = 240) -> tuple[str, bool]:
    """Read the output; send `signum` `delay` seconds after a line holds `text`. Returns (output, whether sent)."""
    deadline = time.monotonic() + timeout
    lines, sent = [], False
    for line in proc.stdout:
        lines.append(line)
        if not sent and text in line:
            time.sleep(delay)
            os.kill(proc.pid, signum)
            sent = True
        if time.monotonic() > deadline:
            proc.kill()
    proc.wait(timeout=60)
    return "".join(lines), sent


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_while_measuring_writes_no_baseline(pytester, tiny_distilbert: Path, tiny_build_cache, signum):
    root = make_project(pytester, tiny_distilbert, tiny_build_cache.root, gate(TWO_CASES))
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=2)
    old = (root / BASELINE).read_bytes()

    # A longer timing budget, so that the signal lands while the second case is being timed.
    proc = spawn(root, "--qbench", "--qbench-update-baselines", "-v",
                 "-o", "qbench_min_seconds=3", "-o", "qbench_max_seconds=6")
    output, sent = signal_when(proc, "PASSED", signum, delay=1.5)
    assert sent, output
    # Not asserted: the exit status 2 and a clean screen. pytest itself may crash formatting the
    # interrupt when the signal lands on a bytecode without a line number (then exit status 1 and
    # its traceback); the session marks the interrupt itself, so the baselines hold either way.
    assert proc.returncode != 0, output
    assert "qbench: run interrupted: no baseline was written" in output
    assert "1 passed" in output
    assert (root / BASELINE).read_bytes() == old
    assert temp_files(root) == []
    validate_artifact(artifact(root))
    assert [c["id"] for c in artifact(root)["cases"]] == [CASE]  # what ran is reported


def test_an_interrupt_writes_no_baseline_even_when_pytest_fails_to_report_it(project: pytest.Pytester):
    # pytest's terminal reporter can raise while it formats a KeyboardInterrupt (a signal that lands
    # on a bytecode without a line number: see pytest-xdist#1196); pytest then neither calls the
    # later interrupt hooks nor passes the INTERRUPTED status on. Make the reporter raise so.
    project.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=1)
    old = (project.path / BASELINE).read_bytes()
    project.makeconftest(
        (project.path / "conftest.py").read_text() + """

def _crash(excinfo):
    raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'int'")


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for impl in config.hook.pytest_keyboard_interrupt.get_hookimpls():
        if impl.plugin is reporter:
            impl.function = _crash
"""
    )
    project.makepyfile(test_zz_interrupt="def test_interrupt():\n    raise KeyboardInterrupt\n")
    result = project.runpytest("--qbench", "--qbench-update-baselines")
    assert "TypeError: unsupported operand" in result.stdout.str() + result.stderr.str()  # the crash happened
    result.stdout.fnmatch_lines(["qbench: run interrupted: no baseline was written"])
    assert (project.path / BASELINE).read_bytes() == old
    assert [c["verdict"] for c in artifact(project.path)["cases"]] == ["updated"]  # it ran, it was not written


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_kill_in_the_middle_of_a_baseline_write_keeps_the_old_file(
    pytester, tiny_distilbert: Path, tiny_build_cache, signum
):
    root = make_project(pytester, tiny_distilbert, tiny_build_cache.root, gate(TWO_CASES))
    pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=2)
    old = (root / BASELINE).read_bytes()
    (root / "slow_replace.py").write_text(SLOW_REPLACE)
    replacing = root / "replacing"

    proc = spawn(
        root, "--qbench", "--qbench-update-baselines", "-p", "slow_replace", QBENCH_TEST_REPLACING=str(replacing)
    )
    deadline = time.monotonic() + 240
    while not replacing.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert replacing.exists(), proc.communicate(timeout=60)[0]
    new = json.loads(Path(replacing.read_text()).read_text())  # the new version, complete, not yet renamed
    assert sorted(new["cases"]) == sorted(json.loads(old)["cases"])
    proc.send_signal(signum)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0, output

    assert (root / BASELINE).read_bytes() == old  # never half-written
    if signum == signal.SIGTERM:  # handled like Ctrl-C: reported, the artifact still written
        assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
        assert "qbench: ERROR: interrupted while writing the baselines: each file holds either its old or its" \
               " new version (atomic writes); run the update again to write them all" in output
        assert "Traceback" not in output
        validate_artifact(artifact(root))
    if signum == signal.SIGKILL:
        # Nothing runs after SIGKILL: its temp file stays, hidden, until the next write of that file.
        assert temp_files(root) == [Path(replacing.read_text()).name]
        pytester.runpytest("--qbench", "--qbench-update-baselines").assert_outcomes(passed=2)
        assert json.loads((root / BASELINE).read_text())["cases"].keys() == new["cases"].keys()
    assert temp_files(root) == []


def test_two_pytest_processes_updating_one_baseline_file_keep_both_cases(
    pytester, tiny_distilbert: Path, tiny_build_cache
):
    root = make_project(pytester, tiny_distilbert, tiny_build_cache.root, gate(TWO_CASES))
    procs = [spawn(root, "--qbench", "--qbench-update-baselines", "-k", k, "--qbench-json", f".qbench/{k}.json")
             for k in ("bs1", "bs2")]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    doc = json.loads((root / BASELINE).read_text())
    assert sorted(doc["cases"]) == [CASE, CASE.replace("bs1", "bs2")]
    assert temp_files(root) == []
