"""label_map resolution: which names are scored, and the errors that name what is wrong."""

import pytest

from pytest_qbench import QbenchDataError
from pytest_qbench.measure.label_map import translate

MODEL = ["O", "B-GIVEN_NAME", "I-GIVEN_NAME", "B-SURNAME", "I-SURNAME", "B-CITY", "I-CITY", "B-EMAIL", "I-EMAIL"]
DATASET = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def test_types_map_with_their_prefix_targets_stay_and_the_rest_becomes_o():
    t = translate({"GIVEN_NAME": "PER", "SURNAME": "PER", "CITY": "LOC", "*": "O"}, MODEL, DATASET)
    assert t.model == {
        "O": "O", "B-GIVEN_NAME": "B-PER", "I-GIVEN_NAME": "I-PER", "B-SURNAME": "B-PER", "I-SURNAME": "I-PER",
        "B-CITY": "B-LOC", "I-CITY": "I-LOC", "B-EMAIL": "O", "I-EMAIL": "O",
    }
    assert t.dataset == {
        "O": "O", "B-PER": "B-PER", "I-PER": "I-PER", "B-LOC": "B-LOC", "I-LOC": "I-LOC",
        "B-ORG": "O", "I-ORG": "O", "B-MISC": "O", "I-MISC": "O",
    }


def test_a_type_mapped_to_o_leaves_the_score_and_io_scheme_labels_map_too():
    t = translate({"EMAIL": "O", "CITY": "LOC"}, ["O", "CITY", "EMAIL"], ["O", "LOC"])
    assert t.model == {"O": "O", "CITY": "LOC", "EMAIL": "O"}


def test_the_rest_entry_may_name_a_scored_type():
    t = translate({"GIVEN_NAME": "PER", "*": "MISC"}, ["B-GIVEN_NAME", "B-CITY"], ["B-PER", "B-MISC", "B-LOC"])
    assert t.model == {"B-GIVEN_NAME": "B-PER", "B-CITY": "B-MISC"}
    assert t.dataset == {"B-PER": "B-PER", "B-MISC": "B-MISC", "B-LOC": "B-MISC"}


def test_a_name_neither_side_has_is_a_typo_and_named():
    with pytest.raises(QbenchDataError, match=r"names \['GIVEN_NAMES'\], which neither.*'GIVEN_NAME'"):
        translate({"GIVEN_NAMES": "PER", "*": "O"}, MODEL, DATASET)


def test_tags_instead_of_types_are_refused_with_the_type_form():
    with pytest.raises(QbenchDataError, match=r"names tags \['B-GIVEN_NAME', 'B-PER'\].*\{'GIVEN_NAME': 'PER'\}"):
        translate({"B-GIVEN_NAME": "B-PER"}, MODEL, DATASET)


def test_a_dataset_type_the_model_cannot_predict_is_an_error():
    with pytest.raises(QbenchDataError, match=r"dataset has \['ORG'\], which the model never predicts"):
        translate({"GIVEN_NAME": "PER", "CITY": "LOC", "SURNAME": "PER", "EMAIL": "O", "MISC": "O", "ORG": "ORG"},
                  MODEL, DATASET)


def test_classes_map_whole_names_for_sequence_classification():
    t = translate({"POSITIVE": "fresh", "NEGATIVE": "rotten"}, ["NEGATIVE", "POSITIVE"], ["fresh", "rotten"], tagged=False)
    assert t.model == {"NEGATIVE": "rotten", "POSITIVE": "fresh"}
    assert t.dataset == {"fresh": "fresh", "rotten": "rotten"}
    with pytest.raises(QbenchDataError, match=r"leaves \['NEUTRAL'\] unmapped"):
        translate({"POSITIVE": "fresh", "NEGATIVE": "rotten"}, ["NEGATIVE", "NEUTRAL", "POSITIVE"], ["fresh", "rotten"], tagged=False)
