"""Text classification: scikit-learn scores through a fake session whose answers we choose (the whole
gate: test_text_classification_gate.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import datasets
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from pytest_qbench import QbenchConfigError, QbenchDataError
from pytest_qbench.measure.tasks import TASKS, SequenceClassification
from pytest_qbench.results import LabelMapEffect, MappedName
from pytest_qbench.specs import DataSpec

SPEC = DataSpec(None)
SEQUENCES = SequenceClassification()
CLASSES = ("negative", "neutral", "positive")
TEXTS = ["a great film", "great fun", "dull and long", "a great bore", "it exists", "dull", "fine", "great"]
GOLD = ["positive", "positive", "negative", "negative", "neutral", "negative", "neutral", "positive"]
# The fake model: "great" -> positive, "dull" -> negative, anything else -> neutral.
PREDICTED = ["positive", "positive", "negative", "positive", "neutral", "negative", "neutral", "positive"]


@dataclass
class FakeClassifier:
    """Logits [batch, classes]: a class by the first cue word in the row, else `default`."""

    tokenizer: object
    cues: dict[str, str] = field(default_factory=lambda: {"great": "positive", "dull": "negative"})
    id2label: dict[int, str] = field(default_factory=lambda: dict(enumerate(CLASSES)))
    default: str = "neutral"
    shapes: list[tuple[int, ...]] = field(default_factory=list)

    def get_inputs(self):
        return [SimpleNamespace(name=name) for name in ("input_ids", "attention_mask", "token_type_ids")]

    def run(self, output_names, feed):
        label2id = {label: i for i, label in self.id2label.items()}
        cue_ids = {self.tokenizer.convert_tokens_to_ids(word): label for word, label in self.cues.items()}
        ids = feed["input_ids"]
        self.shapes.append(ids.shape)
        rows = [next((cue_ids[t] for t in row if t in cue_ids), self.default) for row in ids.tolist()]
        return [np.eye(len(self.id2label), dtype=np.float32)[[label2id[label] for label in rows]]]


def dataset(texts=TEXTS, gold=GOLD, names=CLASSES, as_text=False):
    if as_text:
        return datasets.Dataset.from_dict({"text": texts, "label": gold})
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=list(names))})
    return datasets.Dataset.from_dict({"text": texts, "label": [names.index(g) for g in gold]}, features=features)


def evaluate(tokenizer, data=None, spec=SPEC, task=SEQUENCES, **fake):
    session = FakeClassifier(tokenizer, **fake)
    return task.evaluate(session, tokenizer, dataset() if data is None else data, spec, session.id2label), session


def test_accuracy_and_macro_scores_match_scikit_learn_and_the_known_answer(tokenizer):
    result, _ = evaluate(tokenizer)
    assert result.accuracy == 7 / 8
    # positive: P 3/4 R 3/3; negative: P 2/2 R 2/3; neutral: P 2/2 R 2/2.
    per_class = {"positive": 2 * (3 / 4) / (3 / 4 + 1), "negative": 2 * (2 / 3) / (1 + 2 / 3), "neutral": 1.0}
    assert result.per_label_f1 == pytest.approx(per_class)
    assert result.f1 == pytest.approx(sum(per_class.values()) / 3)
    assert result.precision == pytest.approx(precision_score(GOLD, PREDICTED, average="macro"))
    assert result.recall == pytest.approx(recall_score(GOLD, PREDICTED, average="macro"))
    assert result.f1 == pytest.approx(f1_score(GOLD, PREDICTED, average="macro"))
    assert result.accuracy == accuracy_score(GOLD, PREDICTED)
    assert (result.task, result.average, result.unit) == ("text-classification", "macro", "sample")
    assert (result.num_samples, result.num_units, result.truncated) == (8, 8, 0)


def test_macro_f1_weighs_a_rare_class_as_much_as_a_common_one(tokenizer):
    texts = ["great"] * 9 + ["dull"]
    result, _ = evaluate(tokenizer, dataset(texts, ["positive"] * 10), default="positive")
    assert result.accuracy == 0.9
    assert result.f1 == pytest.approx((2 * 0.9 / 1.9 + 0.0) / 2)  # negative predicted once, never right


def test_class_names_as_text_are_read_as_the_classes(tokenizer):
    as_ids, _ = evaluate(tokenizer)
    as_text, _ = evaluate(tokenizer, dataset(as_text=True))
    fields = ("precision", "recall", "f1", "accuracy", "per_label_f1")
    assert [getattr(as_text, f) for f in fields] == [getattr(as_ids, f) for f in fields]


def test_integer_labels_without_names_are_an_error_that_says_how_to_name_them(tokenizer):
    plain = datasets.Dataset.from_dict({"text": TEXTS, "label": [CLASSES.index(g) for g in GOLD]})
    with pytest.raises(
        QbenchDataError, match=r"'label' is .*not ClassLabel ids.*cast_column\('label', datasets.ClassLabel"
    ):
        evaluate(tokenizer, plain)


def test_other_class_names_are_one_error_until_a_label_map_names_them(tokenizer):
    model = {0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"}
    cues = {"great": "POSITIVE", "dull": "NEGATIVE"}
    with pytest.raises(QbenchDataError, match=r"not all among the model's labels.*label_map="):
        evaluate(tokenizer, id2label=model, cues=cues, default="NEUTRAL")
    mapped = DataSpec(None, label_map=(("NEGATIVE", "negative"), ("NEUTRAL", "neutral"), ("POSITIVE", "positive")))
    result, _ = evaluate(tokenizer, spec=mapped, id2label=model, cues=cues, default="NEUTRAL")
    expected, _ = evaluate(tokenizer)
    assert (result.f1, result.accuracy, result.per_label_f1) == (expected.f1, expected.accuracy, expected.per_label_f1)


def test_two_classes_merged_by_a_label_map_score_as_one(tokenizer):
    merged = DataSpec(None, label_map=(("neutral", "negative"), ("positive", "positive")))
    result, _ = evaluate(tokenizer, spec=merged)
    assert set(result.per_label_f1) == {"negative", "positive"}
    assert result.accuracy == 7 / 8
    assert result.label_map == LabelMapEffect(
        "sample",
        [  # samples per class, as PREDICTED and GOLD have them
            MappedName("negative", "negative", 2, 3),
            MappedName("neutral", "negative", 2, 2),
            MappedName("positive", "positive", 4, 3),
        ],
    )
    with pytest.raises(
        QbenchConfigError, match="text classification has no entities to merge: leave label_map_merge out"
    ):
        evaluate(tokenizer, spec=replace(merged, label_map_merge=False))


def test_texts_past_the_maximum_length_are_counted_and_classified_on_their_head(tokenizer):
    long = "fine " * 20 + "great"
    result, session = evaluate(tokenizer, dataset([long, "great"], ["neutral", "positive"]),
                               task=SequenceClassification(max_length=8))
    assert result.truncated == 1 and result.accuracy == 1.0  # "great" was cut off: neutral
    assert max(shape[1] for shape in session.shapes) == 8


def test_strict_scoring_is_token_classification_only(tokenizer):
    with pytest.raises(QbenchConfigError, match="scoring='strict' is an entity-level mode"):
        evaluate(tokenizer, spec=DataSpec(None, scoring="strict"))


def test_the_task_gives_its_columns_when_the_case_names_none():
    from pytest_qbench.measure.tasks import columns_for

    text = columns_for(TASKS["text-classification"], DataSpec(None))
    assert (text.input_column, text.label_column) == ("text", "label")
    named = columns_for(TASKS["text-classification"], DataSpec(None, input_column="review", label_column="stars"))
    assert (named.input_column, named.label_column) == ("review", "stars")
    token = columns_for(TASKS["token-classification"], DataSpec(None))
    assert (token.input_column, token.label_column) == ("tokens", "ner_tags")
