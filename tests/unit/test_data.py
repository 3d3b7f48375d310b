"""CoNLL parsing, split loading, label checks and model inputs, on small files and the real CoNLL-2003."""

import importlib.util
from pathlib import Path

import datasets
import numpy as np
import pytest

from pytest_qbench import QbenchDataError
from pytest_qbench.measure.data import (
    CONLL2003_LABELS,
    calibration_dataset,
    check_labels,
    label_names,
    latency_inputs,
    load_split,
    parse_conll,
    read_conll,
)

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""
CONLL2003 = Path(importlib.util.find_spec("neuroner").submodule_search_locations[0]) / "data/conll2003/en"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def ner_dataset(sentences, names=CONLL2003_LABELS):
    features = datasets.Features(
        {"tokens": datasets.Sequence(datasets.Value("string")),
         "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(names)))}
    )
    tags = [[0] * len(words) for words in sentences]
    return datasets.Dataset.from_dict({"tokens": sentences, "ner_tags": tags}, features=features)


# ---- CoNLL files ------------------------------------------------------------------------------


def test_read_conll_takes_first_and_last_column_and_skips_docstart(tmp_path):
    sentences, tags = read_conll(write(tmp_path, "a.txt", CONLL))
    assert sentences == [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"]]
    assert tags == [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"]]


def test_parse_conll_uses_conll2003_label_ids(tmp_path):
    dataset = parse_conll(write(tmp_path, "a.txt", CONLL))
    assert label_names(dataset, "ner_tags") == list(CONLL2003_LABELS)
    assert dataset[1]["ner_tags"] == [CONLL2003_LABELS.index("B-PER"), CONLL2003_LABELS.index("I-PER")]


def test_malformed_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "bad.txt", "EU NNP B-NP B-ORG\nrejects\n")
    with pytest.raises(QbenchDataError, match=r"bad\.txt:2: .*'rejects'"):
        read_conll(path)


def test_tags_outside_conll2003_get_a_sorted_label_set(tmp_path):
    dataset = parse_conll(write(tmp_path, "a.txt", "Aspirin B-DRUG\nhelps O\n"))
    assert label_names(dataset, "ner_tags") == ["B-DRUG", "O"]


def test_tags_outside_given_label_names_are_an_error(tmp_path):
    path = write(tmp_path, "a.txt", "Aspirin B-DRUG\nhelps O\n")
    with pytest.raises(QbenchDataError, match=r"\['B-DRUG'\] are not in the label set"):
        parse_conll(path, label_names=CONLL2003_LABELS)


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(QbenchDataError, match="no sentences"):
        parse_conll(write(tmp_path, "empty.txt", "-DOCSTART- -X- -X- O\n\n"))


def test_real_conll2003_sentence_counts():
    validation = load_split(str(CONLL2003), "validation")
    assert len(validation) == 3250
    assert label_names(validation, "ner_tags") == list(CONLL2003_LABELS)
    assert validation[0]["tokens"] == ["CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT", "TOP",
                                       "AFTER", "INNINGS", "VICTORY", "."]
    sentences, _ = read_conll(CONLL2003 / "train.txt")
    assert len(sentences) == 14041


# ---- splits -----------------------------------------------------------------------------------


def test_folder_of_conll_files_maps_valid_to_validation(tmp_path):
    for name in ("train.txt", "valid.txt", "test.txt"):
        write(tmp_path, name, CONLL)
    assert len(load_split(str(tmp_path), "validation")) == 2
    with pytest.raises(QbenchDataError, match=r"no split 'dev'; available splits: 'test', 'train', 'validation'"):
        load_split(str(tmp_path), "dev")


def test_single_conll_file_is_every_split(tmp_path):
    path = write(tmp_path, "ner.conll", CONLL)
    assert len(load_split(str(path), "train")) == len(load_split(path, "validation")) == 2


def test_json_file_and_folder_load_through_datasets(tmp_path):
    line = '{"tokens": ["Paris"], "ner_tags": [5]}\n'
    write(tmp_path, "train.jsonl", line * 3)
    write(tmp_path, "validation.jsonl", line)
    assert len(load_split(str(tmp_path / "train.jsonl"), "validation")) == 3
    assert len(load_split(str(tmp_path), "validation")) == 1
    with pytest.raises(QbenchDataError, match=r"split 'test'.*Unknown split"):
        load_split(str(tmp_path), "test")


def test_dataset_dict_split_must_exist():
    splits = datasets.DatasetDict({"train": ner_dataset([["a"]])})
    assert len(load_split(splits, "train")) == 1
    with pytest.raises(QbenchDataError, match=r"no split 'validation'; available splits: 'train'"):
        load_split(splits, "validation")


def test_dataset_is_used_as_is_but_not_when_empty():
    dataset = ner_dataset([["a"], ["b"]])
    assert load_split(dataset, "validation") is dataset
    with pytest.raises(QbenchDataError, match="empty"):
        load_split(dataset.select([]), "validation")


def test_missing_local_path_is_not_sent_to_the_hub(tmp_path):
    with pytest.raises(QbenchDataError, match="no such file or folder"):
        load_split(str(tmp_path / "nope.txt"), "validation")


def test_hub_name_offline_is_one_clear_line(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(QbenchDataError, match=r"could not load split 'validation' of dataset 'conll2003'") as info:
        load_split("conll2003", "validation")
    assert "\n" not in str(info.value)
    assert "qbench_dataset" in str(info.value)


# ---- labels -----------------------------------------------------------------------------------


def test_label_names_errors_list_the_columns():
    dataset = ner_dataset([["a"]])
    with pytest.raises(QbenchDataError, match="no column 'labels'; its columns: tokens, ner_tags"):
        label_names(dataset, "labels")
    with pytest.raises(QbenchDataError, match="'tokens' is .*not ClassLabel"):
        label_names(dataset, "tokens")


def test_label_names_of_a_plain_class_label_column():
    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    dataset = datasets.Dataset.from_dict({"text": ["good"], "label": [1]}, features=features)
    assert label_names(dataset, "label") == ["neg", "pos"]


def test_check_labels_matches_names_not_ids():
    check_labels(["O", "B-PER", "I-PER"], {0: "B-PER", 1: "I-PER", 2: "O", 3: "B-LOC"})


def test_check_labels_mismatch_names_both_sets():
    with pytest.raises(QbenchDataError) as info:
        check_labels(["O", "B-PER", "B-DRUG"], {0: "O", 1: "B-PER", 2: "B-LOC"})
    message = str(info.value)
    assert "['B-DRUG', 'B-PER', 'O']" in message
    assert "['B-LOC', 'B-PER', 'O']" in message
    assert "unknown to the model: ['B-DRUG']" in message


def test_check_labels_spots_placeholder_labels():
    with pytest.raises(QbenchDataError, match="lacks id2label"):
        check_labels(["O", "B-PER"], {0: "LABEL_0", 1: "LABEL_1"})


# ---- model inputs -----------------------------------------------------------------------------

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def test_calibration_dataset_is_model_inputs_of_fixed_length(tokenizer):
    dataset = ner_dataset([["Peter", "Blackburn"] * n for n in range(1, 31)])
    calibration = calibration_dataset(tokenizer, dataset, "tokens", 10, 16, INPUTS)
    assert calibration.column_names == INPUTS
    assert len(calibration) == 10
    assert {len(ids) for ids in calibration["input_ids"]} == {16}
    again = calibration_dataset(tokenizer, dataset, "tokens", 10, 16, INPUTS)
    assert again["input_ids"] == calibration["input_ids"]


def test_calibration_dataset_of_texts_without_token_types(tokenizer):
    dataset = datasets.Dataset.from_dict({"text": ["a fine day", "rain again"]})
    calibration = calibration_dataset(tokenizer, dataset, "text", 2, 8, ["input_ids", "attention_mask"])
    assert calibration.column_names == ["input_ids", "attention_mask"]


def test_calibration_needs_enough_samples(tokenizer):
    with pytest.raises(QbenchDataError, match="asks for 100 samples but the split has only 2"):
        calibration_dataset(tokenizer, ner_dataset([["a"], ["b"]]), "tokens", 100, 16, INPUTS)


def test_latency_inputs_fill_the_length_with_real_text(tokenizer):
    dataset = ner_dataset([["Peter", "Blackburn", "spoke", "."], ["EU", "rejects", "German", "call"]])
    inputs = latency_inputs(tokenizer, dataset, "tokens", 3, 32, INPUTS)
    assert list(inputs) == INPUTS
    for array in inputs.values():
        assert array.shape == (3, 32)
        assert array.dtype == np.int64
    assert inputs["attention_mask"].all()  # no padding: short sentences were joined
    assert (inputs["input_ids"][:, 0] == tokenizer.cls_token_id).all()
    assert (inputs["input_ids"][:, -1] == tokenizer.sep_token_id).all()
    assert "blackburn" in tokenizer.decode(inputs["input_ids"][0])


def test_latency_inputs_of_real_conll_rows_differ(tokenizer):
    validation = load_split(str(CONLL2003), "validation").select(range(200))
    inputs = latency_inputs(tokenizer, validation, "tokens", 4, 64, ["input_ids", "attention_mask"])
    assert len({row.tobytes() for row in inputs["input_ids"]}) == 4


def test_latency_inputs_refuse_text_less_data(tokenizer):
    dataset = datasets.Dataset.from_dict({"text": ["", " "]})
    with pytest.raises(QbenchDataError, match="no text"):
        latency_inputs(tokenizer, dataset, "text", 1, 16, ["input_ids"])


def test_missing_input_column_lists_the_columns(tokenizer):
    with pytest.raises(QbenchDataError, match="no column 'words'"):
        latency_inputs(tokenizer, ner_dataset([["a"]]), "words", 1, 16, ["input_ids"])
