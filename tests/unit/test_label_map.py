"""label_map: which names are scored, the errors that name what is wrong, and how the parts of one
entity that a schema cuts apart become one entity (measure/label_map.py)."""

import random

import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from pytest_qbench import QbenchDataError
from pytest_qbench.measure.data import CONLL2003_LABELS
from pytest_qbench.measure.label_map import relabel_entities, spans, translate

MODEL = ["O", "B-GIVEN_NAME", "I-GIVEN_NAME", "B-SURNAME", "I-SURNAME", "B-CITY", "I-CITY", "B-EMAIL", "I-EMAIL"]
DATASET = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def test_types_map_targets_stay_and_the_rest_becomes_o():
    t = translate({"GIVEN_NAME": "PER", "SURNAME": "PER", "CITY": "LOC", "*": "O"}, MODEL, DATASET)
    assert t.model == {"GIVEN_NAME": "PER", "SURNAME": "PER", "CITY": "LOC", "EMAIL": "O"}
    assert t.dataset == {"PER": "PER", "LOC": "LOC", "ORG": "O", "MISC": "O"}


def test_a_type_mapped_to_o_leaves_the_score_and_io_scheme_labels_map_too():
    t = translate({"EMAIL": "O", "CITY": "LOC"}, ["O", "CITY", "EMAIL"], ["O", "LOC"])
    assert t.model == {"CITY": "LOC", "EMAIL": "O"}


def test_the_rest_entry_may_name_a_scored_type():
    t = translate({"GIVEN_NAME": "PER", "*": "MISC"}, ["B-GIVEN_NAME", "B-CITY"], ["B-PER", "B-MISC", "B-LOC"])
    assert t.model == {"GIVEN_NAME": "PER", "CITY": "MISC"}
    assert t.dataset == {"PER": "PER", "MISC": "MISC", "LOC": "MISC"}


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
    t = translate(
        {"POSITIVE": "fresh", "NEGATIVE": "rotten"}, ["NEGATIVE", "POSITIVE"], ["fresh", "rotten"], tagged=False
    )
    assert t.model == {"NEGATIVE": "rotten", "POSITIVE": "fresh"}
    assert t.dataset == {"fresh": "fresh", "rotten": "rotten"}
    with pytest.raises(QbenchDataError, match=r"leaves \['NEUTRAL'\] unmapped"):
        translate(
            {"POSITIVE": "fresh", "NEGATIVE": "rotten"},
            ["NEGATIVE", "NEUTRAL", "POSITIVE"],
            ["fresh", "rotten"],
            tagged=False,
        )


# ---- parts of one entity ------------------------------------------------------------------------

PII = [
    "O",
    *(f"{p}-{t}" for t in ("GIVEN_NAME", "SURNAME", "BUILDING_NUMBER", "STREET_NAME", "CITY", "EMAIL") for p in "BI"),
]
PII_TO_CONLL = {
    "GIVEN_NAME": "PER",
    "SURNAME": "PER",
    "BUILDING_NUMBER": "LOC",
    "STREET_NAME": "LOC",
    "CITY": "LOC",
    "*": "O",
}
PII_TRANSLATION = translate(PII_TO_CONLL, PII, DATASET)


def scored(predicted: list[str], *, strict: bool = False, merge: bool = True) -> list[str]:
    """One sentence of the model's tags as they are scored under PII_TO_CONLL."""
    return relabel_entities(
        PII_TRANSLATION, [["O"] * len(predicted)], [predicted], strict=strict, merge=merge
    ).predicted[0]


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize(("predicted", "expected"), [
    # given name + surname, as PII schemas tag "John Smith": one PER, in either order
    (["B-GIVEN_NAME", "B-SURNAME", "O"], ["B-PER", "I-PER", "O"]),
    (["B-SURNAME", "B-GIVEN_NAME"], ["B-PER", "I-PER"]),
    (["B-GIVEN_NAME", "I-GIVEN_NAME", "B-SURNAME", "I-SURNAME"], ["B-PER", "I-PER", "I-PER", "I-PER"]),
    # building number + street + city, all scored as LOC: one LOC
    (["B-BUILDING_NUMBER", "B-STREET_NAME", "I-STREET_NAME", "B-CITY"], ["B-LOC", "I-LOC", "I-LOC", "I-LOC"]),
    # the same type twice stays two, as the model said; a type already in the entity opens the next
    (["B-GIVEN_NAME", "B-GIVEN_NAME"], ["B-PER", "B-PER"]),
    (["B-GIVEN_NAME", "B-GIVEN_NAME", "B-SURNAME"], ["B-PER", "B-PER", "I-PER"]),
    (["B-GIVEN_NAME", "B-SURNAME", "B-GIVEN_NAME", "B-SURNAME"], ["B-PER", "I-PER", "B-PER", "I-PER"]),
    # any word between keeps the parts apart: O, a type scored as O, a type scored otherwise
    (["B-GIVEN_NAME", "O", "B-SURNAME"], ["B-PER", "O", "B-PER"]),
    (["B-GIVEN_NAME", "B-EMAIL", "B-SURNAME"], ["B-PER", "O", "B-PER"]),
    (["B-GIVEN_NAME", "B-CITY", "B-SURNAME"], ["B-PER", "B-LOC", "B-PER"]),
    (["B-CITY", "B-GIVEN_NAME", "B-SURNAME", "B-STREET_NAME"], ["B-LOC", "B-PER", "I-PER", "B-LOC"]),
])
def test_adjacent_parts_scored_as_one_type_become_one_entity(predicted, expected, strict):
    assert scored(predicted, strict=strict) == expected


def test_the_scoring_mode_reads_each_side_s_own_tags_before_parts_join():
    # conlleval: I-SURNAME after another type opens a SURNAME span, which then joins; IOB2: it opens none
    assert scored(["B-GIVEN_NAME", "I-SURNAME", "O"]) == ["B-PER", "I-PER", "O"]
    assert scored(["B-GIVEN_NAME", "I-SURNAME", "O"], strict=True) == ["B-PER", "O", "O"]
    assert scored(["I-GIVEN_NAME", "B-SURNAME"]) == ["B-PER", "I-PER"]
    assert scored(["I-GIVEN_NAME", "B-SURNAME"], strict=True) == ["O", "B-PER"]
    assert spans(["B-GIVEN_NAME", "I-SURNAME"], strict=False)[1].name == "SURNAME"


def test_merging_off_scores_every_span_as_its_own_entity():
    assert scored(["B-GIVEN_NAME", "B-SURNAME", "O"], merge=False) == ["B-PER", "B-PER", "O"]
    assert scored(["B-GIVEN_NAME", "I-SURNAME"], merge=False) == ["B-PER", "B-PER"]
    assert scored(["B-GIVEN_NAME", "I-GIVEN_NAME"], merge=False) == ["B-PER", "I-PER"]


def test_gold_parts_join_too_and_the_effect_counts_spans_and_merges_per_name():
    # A CoNLL model scored on a dataset in the split schema: the gold side's parts join.
    t = translate({"GIVEN_NAME": "PER", "SURNAME": "PER", "*": "O"}, DATASET, MODEL)
    gold = [["B-GIVEN_NAME", "B-SURNAME", "O", "B-GIVEN_NAME"], ["B-EMAIL", "B-CITY", "I-CITY"]]
    predicted = [["B-PER", "I-PER", "O", "B-PER"], ["B-ORG", "B-PER", "B-PER"]]
    r = relabel_entities(t, gold, predicted, strict=False, merge=True)
    assert r.gold == [["B-PER", "I-PER", "O", "B-PER"], ["O", "O", "O"]]
    assert r.predicted == [["B-PER", "I-PER", "O", "B-PER"], ["O", "B-PER", "B-PER"]]
    rows = {n.name: (n.scored_as, n.predicted, n.predicted_joined, n.gold, n.gold_joined) for n in r.effect.names}
    assert rows == {
        "PER": ("PER", 4, 0, 0, 0), "ORG": ("O", 1, 0, 0, 0), "LOC": ("O", 0, 0, 0, 0), "MISC": ("O", 0, 0, 0, 0),
        "GIVEN_NAME": ("PER", 0, 0, 2, 0), "SURNAME": ("PER", 0, 0, 1, 1), "EMAIL": ("O", 0, 0, 1, 0),
        "CITY": ("O", 0, 0, 1, 0),
    }
    assert r.effect.unit == "span"


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_a_map_that_merges_nothing_scores_exactly_as_no_map(strict):
    """Random, often ill-formed, CoNLL tag sequences: renaming each type to itself through spans
    gives seqeval's own scores, per type too, in both modes."""
    rng = random.Random(7)
    lengths = [rng.randint(1, 12) for _ in range(200)]
    gold, predicted = ([[rng.choice(CONLL2003_LABELS) for _ in range(n)] for n in lengths] for _ in range(2))
    identity = translate({t: t for t in ("PER", "ORG", "LOC", "MISC")}, CONLL2003_LABELS, CONLL2003_LABELS)
    r = relabel_entities(identity, gold, predicted, strict=strict, merge=True)
    mode = {"mode": "strict", "scheme": IOB2} if strict else {}
    assert classification_report(r.gold, r.predicted, output_dict=True, zero_division=0, **mode) == \
        classification_report(gold, predicted, output_dict=True, zero_division=0, **mode)
    assert sum(n.predicted_joined + n.gold_joined for n in r.effect.names) == 0
